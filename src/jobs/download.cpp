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
#include <sys/xattr.h>
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

int hex(char c) { return isxdigit((unsigned char)c) ? (isdigit((unsigned char)c) ? c - '0' : (c | 32) - 'a' + 10) : -1; }

// A name from Content-Disposition, under the URL names' rules: only its
// last part (no folder: '/' and '\\' end one), bytes that are not safe or
// valid UTF-8 written %XX, never ".", "..", empty, or one of our own
// temporary names.
std::string disposition_leaf(std::string_view raw) {
  size_t cut = raw.find_last_of("/\\");
  if (cut != std::string_view::npos) raw = raw.substr(cut + 1);
  std::string out;
  for (size_t i = 0; i < raw.size(); i++) {
    unsigned char c = raw[i];
    size_t n = c >= 0x80 ? json::utf8_len(raw, i) : 0;
    if (n >= 2) {
      out.append(raw.substr(i, n));
      i += n - 1;
    } else if (c != '%' && (safe(c, false) || c == ' ')) {
      out += char(c);
    } else {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      out += b;
    }
  }
  if (out.empty() || out == "." || out == ".." || out.rfind(".fanout-", 0) == 0) return "";
  return out;
}

class DownloadSink : public Sink {
 public:
  DownloadSink(int root, bool skip_existing, bool head_only, bool use_tmpfile, bool by_header, bool timestamping, std::string run)
      : root_(root), skip_existing_(skip_existing), head_only_(head_only), use_tmpfile_(use_tmpfile), by_header_(by_header),
        timestamping_(timestamping), run_(std::move(run)) {}
  ~DownloadSink() override { discard(); }

  // --skip-existing: a regular file already at the URL's name, found
  // without following a symlink, is not fetched again (wget's -nc).
  bool have(const Request& rq, Result& r) override {
    if (!skip_existing_ || !rq.error.empty()) return false;
    std::vector<std::string> parts = save_path(rq.url);
    int dir = folder_of(parts);
    struct stat st;
    bool there = dir >= 0 && sys::fstatat(dir, parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                 st.st_size > 0;  // empty: what a HEAD run, or an older fanout's failed one, left
    if (dir >= 0 && dir != root_) sys::close(dir);
    if (!there) return false;
    r.file.clear();
    for (auto& p : parts) r.file += (r.file.empty() ? "" : "/") + p;
    return true;
  }

  // -N: the file's time as If-Modified-Since, and the ETag its download
  // kept (user.fanout.etag) as If-None-Match.
  void validators(const Request& rq, std::string& etag, std::string& modified) override {
    if (!timestamping_) return;
    std::vector<std::string> parts = save_path(rq.url);
    int dir = folder_of(parts);
    int fd = dir >= 0 ? sys::openat(dir, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (dir >= 0 && dir != root_) sys::close(dir);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      modified = http::format_date(int64_t(st.st_mtime));
      char b[512];
      ssize_t n = fgetxattr(fd, kEtagAttr, b, sizeof b);
      if (n > 0) etag.assign(b, size_t(n));
    }
    if (fd >= 0) sys::close(fd);
  }

  void begin(const Request& rq) override {
    discard();  // a try before this one is void
    rq_ = &rq;
    write_from_ = write_ns_ = 0;
  }

  void head(const http::Head& h) override {
    if (head_only_ || h.status < 200 || h.status > 299) return;  // only a page is saved; -I: nothing
    etag_.clear();
    modified_ = INT64_MIN;
    if (timestamping_)
      for (const http::Header& x : h.headers) {
        if (http::ieq(x.name, "etag")) etag_ = std::string(http::trim(x.value).substr(0, 500));
        if (http::ieq(x.name, "last-modified")) modified_ = http::parse_date(x.value);
      }
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
    // -J: the name Content-Disposition gives, in the URL's folder; the
    // URL's own name stays the fallback (see end()).
    named_.clear();
    if (by_header_)
      for (const http::Header& x : h.headers)
        if (http::ieq(x.name, "content-disposition")) named_ = disposition_name(x.value);
    url_leaf_ = rel_ + leaf_;
    if (!named_.empty()) std::swap(leaf_, named_);  // named_: the URL's leaf now
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
    // -N's 304: the file there is current, and stays as it is.
    if (r.not_modified && rq_ && r.ok()) {
      r.file.clear();
      for (auto& p : save_path(rq_->url)) r.file += (r.file.empty() ? "" : "/") + p;
    }
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
      if (!err_ && !named_.empty()) mark_run(fd);
      if (!err_ && timestamping_) keep_validators(fd);
      if (err_) sys::close(fd);
      else if (sys::close(fd) < 0) failed("close");
      else if (!named_.empty()) place_named();
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
  // -J's names: two URLs of one run may be given the same one. The file
  // carries the run's id (an extended attribute, as wget2's --xattr keeps
  // its metadata); a name taken by this run is never replaced: the file
  // takes its URL's own name instead. One an earlier run left is replaced.
  static constexpr const char* kRunAttr = "user.fanout.run";
  static constexpr const char* kEtagAttr = "user.fanout.etag";  // -N: the ETag the file came with
  // -N: the file's time is its Last-Modified (as wget's), and its ETag is
  // kept with it for the next run's If-None-Match.
  void keep_validators(int fd) {
    if (modified_ != INT64_MIN) {
      timespec t[2] = {{time_t(modified_), 0}, {time_t(modified_), 0}};
      futimens(fd, t);
    }
    if (!etag_.empty()) fsetxattr(fd, kEtagAttr, etag_.data(), etag_.size(), 0);
    else fremovexattr(fd, kEtagAttr);
  }
  // The folder of a URL's file (save_path's parts but the last), opened
  // one name at a time without following a symlink; -1 if it is not there.
  int folder_of(const std::vector<std::string>& parts) {
    int dir = root_;
    for (size_t i = 0; i + 1 < parts.size() && dir >= 0; i++) {
      int next = sys::openat(dir, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (dir != root_) sys::close(dir);
      dir = next;
    }
    return dir;
  }
  // (Where the file system keeps no attributes, a name already there is
  // never replaced: the file takes its URL's name.)
  void mark_run(int fd) { marked_ = fsetxattr(fd, kRunAttr, run_.data(), run_.size(), 0) == 0; }
  bool this_run(const char* name) {
    int fd = sys::openat(dir_, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    char b[64];
    ssize_t n = fgetxattr(fd, kRunAttr, b, sizeof b);
    sys::close(fd);
    return n == ssize_t(run_.size()) && std::string_view(b, size_t(n)) == run_;
  }
  void place_named() {
    if (renameat2(dir_, tmp_.c_str(), dir_, leaf_.c_str(), RENAME_NOREPLACE) == 0) return;
    if (errno == EEXIST && marked_) {
      // Swapped in at once, then what was there looked at: another URL's
      // of this run goes back, and this one takes its URL's name.
      if (renameat2(dir_, tmp_.c_str(), dir_, leaf_.c_str(), RENAME_EXCHANGE) == 0) {
        if (!this_run(tmp_.c_str())) {
          sys::unlinkat(dir_, tmp_.c_str());
          return;
        }
        if (renameat2(dir_, tmp_.c_str(), dir_, leaf_.c_str(), RENAME_EXCHANGE) < 0) return failed("rename");
      }
    } else if (errno != EEXIST && errno != EINVAL && errno != ENOSYS) {
      return failed("rename");
    }
    // (No RENAME_NOREPLACE here, or the name is taken this run.)
    leaf_ = named_;
    rel_ = url_leaf_;
    if (sys::renameat(dir_, tmp_.c_str(), dir_, leaf_.c_str()) < 0) failed("rename");
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
  bool skip_existing_, head_only_, use_tmpfile_, by_header_, anon_ = false;
  bool timestamping_;            // -N
  std::string etag_;             // -N: the response's ETag and Last-Modified
  int64_t modified_ = INT64_MIN;
  std::string run_;              // this run's id (-J)
  bool marked_ = false;          // the file carries it
  std::string named_, url_leaf_;  // -J: the URL's own leaf, and its path under DIR
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
  DownloadJob(int root, bool skip_existing, bool head_only, bool by_header, bool timestamping)
      : root_(root), skip_existing_(skip_existing), head_only_(head_only),
        use_tmpfile_(proc_fd()), by_header_(by_header), timestamping_(timestamping),
        run_(std::to_string(getpid()) + "-" + std::to_string(now_ns())) {}
  ~DownloadJob() override { ::close(root_); }
  const char* name() const override { return "download"; }
  std::unique_ptr<Sink> sink(int) override {
    return std::make_unique<DownloadSink>(root_, skip_existing_, head_only_, use_tmpfile_, by_header_, timestamping_, run_);
  }

 private:
  int root_;
  bool skip_existing_, head_only_, use_tmpfile_, by_header_, timestamping_;
  std::string run_;  // made before any worker is forked: theirs too
};

}  // namespace

// The file name a Content-Disposition value gives (RFC 6266): filename*
// (RFC 8187: UTF-8 or ISO-8859-1, percent-encoded) over filename (a token
// or a quoted string); "" when it gives none.
std::string disposition_name(std::string_view v) {
  std::string plain, star;
  bool have_star = false;
  size_t i = v.find(';');
  while (i != std::string_view::npos && i < v.size()) {
    i++;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) i++;
    size_t eq = v.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name(http::trim(v.substr(i, eq - i)));
    for (char& c : name) c = char(tolower((unsigned char)c));
    size_t j = eq + 1;
    while (j < v.size() && v[j] == ' ') j++;
    std::string value;
    if (j < v.size() && v[j] == '"') {
      for (j++; j < v.size() && v[j] != '"'; j++) {
        if (v[j] == '\\' && j + 1 < v.size()) j++;
        value += v[j];
      }
      i = v.find(';', j);
    } else {
      size_t end = v.find(';', j);
      value = std::string(http::trim(v.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)));
      i = end;
    }
    if (name == "filename") plain = value;
    if (name == "filename*") {
      size_t q1 = value.find('\''), q2 = q1 == std::string::npos ? q1 : value.find('\'', q1 + 1);
      if (q2 == std::string::npos) continue;
      std::string charset = value.substr(0, q1), bytes;
      for (char& c : charset) c = char(tolower((unsigned char)c));
      for (size_t k = q2 + 1; k < value.size(); k++) {
        if (value[k] == '%' && k + 2 < value.size() && hex(value[k + 1]) >= 0 && hex(value[k + 2]) >= 0) {
          bytes += char(hex(value[k + 1]) * 16 + hex(value[k + 2]));
          k += 2;
        } else {
          bytes += value[k];
        }
      }
      if (charset == "iso-8859-1") {  // to UTF-8
        std::string u;
        for (unsigned char c : bytes) {
          if (c < 0x80) u += char(c);
          else u += char(0xc0 | c >> 6), u += char(0x80 | (c & 0x3f));
        }
        bytes = u;
      } else if (charset != "utf-8") {
        continue;
      }
      star = bytes;
      have_star = true;
    }
  }
  return disposition_leaf(have_star ? star : plain);
}

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
  return std::make_unique<DownloadJob>(root, cfg.skip_existing, cfg.head, cfg.remote_header_name, cfg.timestamping);
}

}  // namespace fanout
