// The seeds' download job: each page saved to disk. A body is written to
// a temporary name beside its final one and renamed when it is complete, so
// a file under DIR is always whole; on any error the temporary is removed.
// Every folder is opened below DIR's descriptor with O_NOFOLLOW, one name
// at a time, so no URL can lead outside DIR: not by "..", not by an
// absolute path, not through a symlink someone left there.
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout/http.hpp"
#include "fanout/job.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

// Bytes kept as they are in a file name: RFC 3986's unreserved and
// sub-delims, ':' and '@' (what a URL path may hold unescaped), less '%'.
bool safe(unsigned char c, bool host) {
  if (isalnum(c)) return true;
  if (c == '_') return !host;  // in the host, '_' would blur "HOST_PORT"
  if (host && (c == '[' || c == ']')) return true;
  return c && strchr("-.~!$&'()*+,;=:@", c) != nullptr;
}

std::string escape(std::string_view s, bool host = false) {
  std::string out;
  for (unsigned char c : s) {
    if (safe(c, host)) {
      out += char(c);
    } else {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  if (out == "." || out == "..") out = out == "." ? "%2E" : "%2E%2E";
  return out;
}

class DownloadSink : public Sink {
 public:
  DownloadSink(int root, bool skip_existing) : root_(root), skip_existing_(skip_existing) {}
  ~DownloadSink() override { discard(); }

  // --skip-existing: a regular file already at the URL's name, found
  // without following a symlink, is not fetched again (wget's -nc).
  bool have(const Request& rq, Result& r) override {
    if (!skip_existing_ || !rq.error.empty()) return false;
    std::vector<std::string> parts = save_path(rq.url);
    int dir = root_;
    for (size_t i = 0; i + 1 < parts.size() && dir >= 0; i++) {
      int next = sys::openat(dir, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (dir != root_) sys::close(dir);
      dir = next;
    }
    struct stat st;
    bool there = dir >= 0 && sys::fstatat(dir, parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    if (dir >= 0 && dir != root_) sys::close(dir);
    if (!there) return false;
    r.file.clear();
    for (auto& p : parts) r.file += (r.file.empty() ? "" : "/") + p;
    return true;
  }

  void begin(const Request& rq) override {
    discard();  // a try before this one is void
    rq_ = &rq;
    write_from_ = write_ns_ = 0;
  }

  void head(const http::ResponseParser& p) override {
    if (p.status() < 200 || p.status() > 299) return;  // only a page is saved
    std::vector<std::string> parts = save_path(rq_->url);
    dir_ = root_;
    rel_.clear();
    for (size_t i = 0; i + 1 < parts.size(); i++) {
      rel_ += parts[i] + "/";
      if (sys::mkdirat(dir_, parts[i].c_str(), 0755) < 0 && errno != EEXIST) return failed("mkdir");
      int next = sys::openat(dir_, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0) return failed("open");
      close_dir();
      dir_ = next;
    }
    leaf_ = parts.back();
    rel_ += leaf_;
    static std::atomic<unsigned> counter{0};  // with the pid and thread: unique among workers
    tmp_ = ".fanout-" + std::to_string(getpid()) + "-" + std::to_string(gettid()) + "-" + std::to_string(counter++) + ".part";
    fd_ = sys::openat(dir_, tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) failed("open");
  }

  void body(const char* p, size_t n) override {
    if (fd_ < 0 || err_) return;
    int64_t t = now_ns();
    if (!write_from_) write_from_ = t;
    if (!sys::write_all(fd_, p, n)) failed("write");
    write_ns_ += now_ns() - t;
  }

  void end(Result& r) override {
    if (err_ && r.ok()) r.fail(Cause::write, sys::describe(std::string(call_) + "(" + rel_ + ")", err_));
    int64_t t = now_ns();
    if (fd_ >= 0 && r.ok()) {
      int fd = fd_;
      fd_ = -1;
      if (sys::close(fd) < 0) failed("close");
      else if (sys::renameat(dir_, tmp_.c_str(), dir_, leaf_.c_str()) < 0) failed("rename");
      if (err_) r.fail(Cause::write, sys::describe(std::string(call_) + "(" + rel_ + ")", err_));
      else {
        tmp_.clear();
        r.file = rel_;
      }
      // The trace's write span: from the first write to the rename, and
      // how long the writes, the close and the rename took in all.
      if (!write_from_) write_from_ = t;
      r.write_from = write_from_;
      r.write_ns = write_ns_ + (now_ns() - t);
    }
    discard();
  }

 private:
  void failed(const char* call) {
    err_ = errno;
    call_ = call;
  }
  void close_dir() {
    if (dir_ != root_ && dir_ >= 0) sys::close(dir_);
    dir_ = root_;
  }
  // Whatever a try left: its temporary file goes.
  void discard() {
    if (fd_ >= 0) sys::close(fd_);
    fd_ = -1;
    if (!tmp_.empty()) sys::unlinkat(dir_, tmp_.c_str());
    tmp_.clear();
    close_dir();
    err_ = 0;
  }

  int root_;
  bool skip_existing_;
  int64_t write_from_ = 0, write_ns_ = 0;
  const Request* rq_ = nullptr;
  int dir_ = -1, fd_ = -1, err_ = 0;
  const char* call_ = "";
  std::string leaf_, tmp_, rel_;
};

class DownloadJob : public Job {
 public:
  DownloadJob(int root, bool skip_existing) : root_(root), skip_existing_(skip_existing) {}
  ~DownloadJob() override { ::close(root_); }
  const char* name() const override { return "download"; }
  std::unique_ptr<Sink> sink(int) override { return std::make_unique<DownloadSink>(root_, skip_existing_); }

 private:
  int root_;
  bool skip_existing_;
};

}  // namespace

std::vector<std::string> save_path(const Url& u) {
  std::vector<std::string> parts;
  std::string host = u.kind == Url::HostKind::ipv6 ? "[" + u.host + "]" : u.host;
  parts.push_back(escape(host, true) + (u.https && u.port == 443 ? "" : "_" + std::to_string(u.port)));
  std::string_view path = std::string_view(u.path).substr(1);  // always starts with '/'
  for (size_t at = 0;;) {
    size_t slash = path.find('/', at);
    std::string_view seg = path.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
    bool last = slash == std::string_view::npos;
    if (!last) parts.push_back(seg.empty() ? "%00" : escape(seg));
    else parts.push_back(seg.empty() ? "index.html" : seg == "index.html" ? "index%2Ehtml" : escape(seg));
    if (last) break;
    at = slash + 1;
  }
  if (!u.query.empty()) parts.back() += "%3F" + escape(std::string_view(u.query).substr(1));
  return parts;
}

std::unique_ptr<Job> make_download_job(const Config& cfg, std::string& err) {
  mkdir(cfg.output_dir.c_str(), 0755);  // one level, as curl --create-dirs would; it may exist
  int root = sys::open(cfg.output_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    err = "--output-dir " + sys::describe("open(" + cfg.output_dir + ")", errno);
    return nullptr;
  }
  return std::make_unique<DownloadJob>(root, cfg.skip_existing);
}

}  // namespace fanout
