// The seeds' download job: each page saved to disk. A body is written to
// a file with no name (O_TMPFILE) in its folder, linked under a temporary
// name and renamed when it is complete, so a file under DIR is always whole,
// and a run that ends any way at all (SIGKILL too) leaves no part behind;
// where O_TMPFILE is not to be had, a named temporary, removed on an error.
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
#include "fanout/json.hpp"
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

int upper_hex(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

// The byte of "%XX" at s[i] (upper-case hex, as the URL parser writes), or -1.
int escaped(std::string_view s, size_t i) {
  if (i + 2 >= s.size() || s[i] != '%') return -1;
  int a = upper_hex(s[i + 1]), b = upper_hex(s[i + 2]);
  return a < 0 || b < 0 ? -1 : a * 16 + b;
}

// How many "%XX" at s[i] spell one whole, valid UTF-8 character (2 to 4),
// or 0.
size_t utf8_escapes(std::string_view s, size_t i) {
  std::string bytes;
  for (int b; bytes.size() < 4 && (b = escaped(s, i + 3 * bytes.size())) >= 0x80;) bytes += char(b);
  size_t n = bytes.empty() ? 0 : json::utf8_len(bytes, 0);
  return n >= 2 ? n : 0;
}

// A file name from a URL's path segment or query. Bytes that are not safe
// are written %XX, '%' too (so "%2F" is "%252F": no escape in the URL is
// ever undone into a '/'), except the escapes the URL parser itself makes
// of a space, " < > ` { } ^ and of whole UTF-8 characters: those are
// undone ("with space.txt", "été.html"). Those bytes never stand bare in a
// parsed URL and are never written %XX here, so two URLs still make two
// names.
std::string escape(std::string_view s, bool host = false) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = s[i];
    if (!host && c == '%') {
      int b = escaped(s, i);
      if (b > 0 && b < 0x80 && strchr(" \"<>`{}^", b)) {
        out += char(b);
        i += 2;
        continue;
      }
      if (size_t n = utf8_escapes(s, i)) {
        for (size_t k = 0; k < n; k++) out += char(escaped(s, i + 3 * k));
        i += 3 * n - 1;
        continue;
      }
    }
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
  DownloadSink(int root, bool skip_existing, bool head_only, bool use_tmpfile)
      : root_(root), skip_existing_(skip_existing), head_only_(head_only), use_tmpfile_(use_tmpfile) {}
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
    bool there = dir >= 0 && sys::fstatat(dir, parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                 st.st_size > 0;  // empty: what a HEAD run, or an older fanout's failed one, left
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

  void head(const http::Head& h) override {
    if (head_only_ || h.status < 200 || h.status > 299) return;  // only a page is saved; -I: nothing
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
    std::string tmp = ".fanout-" + std::to_string(getpid()) + "-" + std::to_string(gettid()) + "-" + std::to_string(counter++) + ".part";
    // A file with no name (O_TMPFILE) until it is whole: however the run
    // ends (a signal, SIGKILL, a crash), nothing half-written is left.
    // Where the file system cannot (or /proc is not there), a named one.
    anon_ = use_tmpfile_ && (fd_ = sys::openat(dir_, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644)) >= 0;
    if (anon_) {
      link_as_ = tmp;
      return;
    }
    if (use_tmpfile_ && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return failed("open");
    tmp_ = tmp;
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
    // A body that could not be kept keeps its response's status (curl's 23
    // keeps the 200 it got).
    int status = r.status;
    if (err_ && r.ok()) r.fail(Cause::write, sys::describe(std::string(call_) + "(" + rel_ + ")", err_)), r.status = status;
    int64_t t = now_ns();
    if (fd_ >= 0 && r.ok()) {
      int fd = fd_;
      fd_ = -1;
      if (anon_) {  // named now, under a temporary name, then renamed over the old one
        std::string self = "/proc/self/fd/" + std::to_string(fd);
        if (sys::linkat(AT_FDCWD, self.c_str(), dir_, link_as_.c_str(), AT_SYMLINK_FOLLOW) < 0) failed("link");
        else tmp_ = link_as_;
      }
      if (err_) sys::close(fd);
      else if (sys::close(fd) < 0) failed("close");
      else if (sys::renameat(dir_, tmp_.c_str(), dir_, leaf_.c_str()) < 0) failed("rename");
      if (err_) r.fail(Cause::write, sys::describe(std::string(call_) + "(" + rel_ + ")", err_)), r.status = status;
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
    anon_ = false;
    close_dir();
    err_ = 0;
  }

  int root_;
  bool skip_existing_, head_only_, use_tmpfile_, anon_ = false;
  std::string link_as_;  // an O_TMPFILE's name-to-be, until renamed
  int64_t write_from_ = 0, write_ns_ = 0;
  const Request* rq_ = nullptr;
  int dir_ = -1, fd_ = -1, err_ = 0;
  const char* call_ = "";
  std::string leaf_, tmp_, rel_;
};

// linkat() names an O_TMPFILE file through /proc/self/fd (AT_EMPTY_PATH
// would need CAP_DAC_READ_SEARCH).
bool proc_fd() {
  struct stat st;
  return sys::fstatat(AT_FDCWD, "/proc/self/fd", &st, 0) == 0;
}

class DownloadJob : public Job {
 public:
  DownloadJob(int root, bool skip_existing, bool head_only)
      : root_(root), skip_existing_(skip_existing), head_only_(head_only),
        use_tmpfile_(proc_fd()) {}
  ~DownloadJob() override { ::close(root_); }
  const char* name() const override { return "download"; }
  std::unique_ptr<Sink> sink(int) override {
    return std::make_unique<DownloadSink>(root_, skip_existing_, head_only_, use_tmpfile_);
  }

 private:
  int root_;
  bool skip_existing_, head_only_, use_tmpfile_;
};

}  // namespace

std::vector<std::string> save_path(const Url& u) {
  std::vector<std::string> parts;
  std::string host = u.kind == Url::HostKind::ipv6 ? "[" + u.host + "]" : u.host;
  // http: HOST_PORT; https: HOST on 443, else HOST_https_PORT, so that http
  // and https on one port never share a folder ('_' in a host is %5F).
  std::string port = std::to_string(u.port);
  parts.push_back(escape(host, true) + (!u.https ? "_" + port : u.port == 443 ? "" : "_https_" + port));
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
  // Every folder on the way, as mkdir -p (curl's --create-dirs); they may exist.
  for (size_t at = 1; (at = cfg.output_dir.find('/', at)) != std::string::npos; at++)
    mkdir(cfg.output_dir.substr(0, at).c_str(), 0755);
  mkdir(cfg.output_dir.c_str(), 0755);
  int root = sys::open(cfg.output_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    err = "--output-dir " + sys::describe("open(" + cfg.output_dir + ")", errno);
    return nullptr;
  }
  return std::make_unique<DownloadJob>(root, cfg.skip_existing, cfg.head);
}

}  // namespace fanout
