#include "fanout/input.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout/stop.hpp"
#include "sys.hpp"

namespace fanout {

constexpr size_t kChunk = 64 * 1024;  // input is read this much at a time

void Glob::Part::put(std::string& out, uint64_t k) const {
  if (!alts.empty()) {
    out += alts[k];
    return;
  }
  if (letters) {
    out += char(from + k * step);
    return;
  }
  std::string n = std::to_string(from + k * step);
  if (n.size() < width) out.append(width - n.size(), '0');
  out += n;
}

namespace {
bool all_of(std::string_view s, const char* set) { return !s.empty() && s.find_first_not_of(set) == std::string_view::npos; }

// "[::1]", "[fe80::1%25eth0]": an address in brackets, not a range (curl
// looks the same way before it globs).
bool ipv6_literal(std::string_view in) {
  std::string_view addr = in.substr(0, in.find('%'));
  return addr.find(':') != std::string_view::npos && all_of(addr, "0123456789abcdefABCDEF:.");
}

// "1-100", "001-100", "a-z", "A-Z", with ":STEP" after: curl's ranges.
bool range(std::string_view in, uint64_t& from, uint64_t& count, uint64_t& step, size_t& width, bool& letters,
           std::string& why) {
  size_t colon = in.find(':');
  step = 1;
  if (colon != std::string_view::npos) {
    std::string_view st = in.substr(colon + 1);
    if (!all_of(st, "0123456789") || st.size() > 12 || (step = std::stoull(std::string(st))) == 0) {
      why = "has a step (\"" + std::string(st) + "\") that is not a whole number above 0";
      return false;
    }
    in = in.substr(0, colon);
  }
  size_t dash = in.find('-', 1);
  if (dash == std::string_view::npos) {
    why = "has no range A-B";
    return false;
  }
  std::string_view a = in.substr(0, dash), b = in.substr(dash + 1);
  uint64_t lo, hi;
  if (a.size() == 1 && b.size() == 1 && isalpha((unsigned char)a[0]) && isalpha((unsigned char)b[0]) &&
      !islower((unsigned char)a[0]) == !islower((unsigned char)b[0])) {
    letters = true;
    lo = uint64_t(a[0]), hi = uint64_t(b[0]);
    width = 0;
  } else if (all_of(a, "0123456789") && all_of(b, "0123456789") && a.size() <= 12 && b.size() <= 12) {
    letters = false;
    lo = std::stoull(std::string(a)), hi = std::stoull(std::string(b));
    width = a.size() > 1 && a[0] == '0' ? a.size() : 0;
  } else {
    why = "is not a range of numbers or of letters";
    return false;
  }
  if (lo > hi) {
    why = "goes down";
    return false;
  }
  from = lo;
  count = (hi - lo) / step + 1;
  return true;
}
}  // namespace

// curl's globs, and its errors: a bracket or brace that does not close, a
// range that is none, globs in globs. A backslash makes [ ] { } literal.
bool Glob::parse(std::string_view s, std::string& why) {
  parts_.clear();
  std::string lit;
  double total = 1;
  auto flush = [&] {
    if (!lit.empty()) parts_.push_back(Part{{lit}});
    lit.clear();
  };
  auto bad = [&](size_t col, const std::string& what) {
    why = "bad glob at column " + std::to_string(col + 1) + ": " + what + " (-g, --globoff: [ ] { } are the URL's own)";
    return false;
  };
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && strchr("[]{}", s[i + 1])) {
      lit += s[++i];
      continue;
    }
    if (c == '{') {
      Part p;
      std::string alt;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '}'; j++) {
        if (s[j] == '\\' && j + 1 < s.size() && strchr("[]{},", s[j + 1])) {
          alt += s[++j];
        } else if (s[j] == '{' || s[j] == '[') {
          return bad(j, std::string("a ") + s[j] + " inside {} (globs do not nest)");
        } else if (s[j] == ',') {
          p.alts.push_back(std::move(alt));
          alt.clear();
        } else {
          alt += s[j];
        }
      }
      if (j == s.size()) return bad(i, "{ without its }");
      p.alts.push_back(std::move(alt));
      flush();
      total *= double(p.alts.size());
      parts_.push_back(std::move(p));
      i = j;
      continue;
    }
    if (c == '[') {
      size_t close = s.find(']', i);
      if (close == std::string_view::npos) {
        // "http://[::1/": the URL's own error (an unterminated address).
        if (i >= 3 && s.substr(i - 3, 3) == "://") {
          lit += c;
          continue;
        }
        return bad(i, "[ without its ]");
      }
      std::string_view in = s.substr(i + 1, close - i - 1);
      if (ipv6_literal(in)) {
        lit.append(s.substr(i, close - i + 1));
        i = close;
        continue;
      }
      Part p;
      std::string what;
      if (!range(in, p.from, p.count, p.step, p.width, p.letters, what))
        return bad(i, "[" + std::string(in) + "] " + what + " (ranges: [1-100], [001-100], [a-z], [1-100:10])");
      flush();
      total *= double(p.count);
      parts_.push_back(std::move(p));
      i = close;
      continue;
    }
    if (c == '}' || c == ']') return bad(i, std::string("a ") + c + " that closes nothing");
    lit += c;
  }
  if (total > 1e7) {
    why = "the globs make more than 10,000,000 URLs";
    return false;
  }
  flush();
  at_.assign(parts_.size(), 0);
  more_ = true;
  return true;
}

bool Glob::next(std::string& out) {
  if (!more_) return false;
  out.clear();
  for (size_t k = 0; k < parts_.size(); k++) parts_[k].put(out, at_[k]);
  size_t k = parts_.size();
  while (k > 0 && ++at_[k - 1] == parts_[k - 1].size()) at_[--k] = 0;
  more_ = k > 0;
  return true;
}

bool expand_globs(std::string_view s, std::vector<std::string>& out, std::string& why) {
  Glob g;
  if (!g.parse(s, why)) return false;
  for (std::string u; g.next(u);) out.push_back(u);
  return true;
}

std::unique_ptr<Source> Source::file(const std::string& path, std::string& err) {
  int fd = path == "-" ? 0 : sys::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = sys::describe("open(" + path + ")", errno);
    return nullptr;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    err = sys::describe("open(" + path + ")", EISDIR);
    if (fd) sys::close(fd);
    return nullptr;
  }
  std::unique_ptr<Source> s(new Source);
  s->fd_ = fd;
  s->path_ = path;
  s->regular_ = S_ISREG(st.st_mode);
  return s;
}

std::unique_ptr<Source> Source::text(std::string text) {
  std::unique_ptr<Source> s(new Source);
  s->buf_ = std::move(text);
  s->eof_ = true;
  return s;
}

std::unique_ptr<Source> Source::pages(std::string url, uint64_t a, uint64_t b) {
  std::unique_ptr<Source> s(new Source);
  s->page_url_ = std::move(url);
  s->page_ = a;
  s->last_page_ = b;
  s->paging_ = true;
  s->eof_ = true;
  return s;
}

Source::~Source() {
  if (fd_ > 0) sys::close(fd_);
}

namespace {
// Where a or b first is in s from `from` on, or npos: find_first_of, in one
// pass (it is run over every byte of the input).
size_t find_either(std::string_view s, char a, char b, size_t from = 0) {
  for (size_t i = from; i < s.size(); i++)
    if (s[i] == a || s[i] == b) return i;
  return std::string_view::npos;
}
// Has the line a glob's bracket or brace? (find_first_of("[]{}") in one pass)
bool has_glob(std::string_view s) {
  for (char c : s)
    if (c == '[' || c == ']' || c == '{' || c == '}') return true;
  return false;
}
}  // namespace

Source::Take Source::line(std::string& out, bool block) {
  if (paging_) {
    if (page_ > last_page_) return Take::end;
    out = page_url_;
    std::string k = std::to_string(page_++);
    for (size_t at; (at = out.find("{page}")) != std::string::npos;) out.replace(at, 6, k);
    return Take::got;
  }
  for (;;) {
    // A line ends at LF, CRLF or a lone CR (old Mac files): a CR at the end
    // of what is read waits for the next byte, which may be its LF.
    size_t nl = find_either(buf_, '\r', '\n', pos_);
    bool cr_last = nl != std::string::npos && buf_[nl] == '\r' && nl + 1 == buf_.size() && !eof_;
    if ((nl != std::string::npos && !cr_last) || (eof_ && pos_ < buf_.size())) {
      size_t end = nl == std::string::npos ? buf_.size() : nl;
      out.assign(buf_, pos_, end - pos_);
      pos_ = end + 1 + (end + 1 < buf_.size() && buf_[end] == '\r' && buf_[end + 1] == '\n');
      if (line_ == 0 && out.compare(0, 3, "\xEF\xBB\xBF") == 0) out.erase(0, 3);  // a UTF-8 BOM is no part of a URL
      return Take::got;
    }
    if (eof_) return Take::end;
    buf_.erase(0, pos_);  // what is left is the start of a line
    pos_ = 0;
    if (!regular_) {  // a pipe: has it more? A signal ends a wait for it
      pollfd p{fd_, POLLIN, 0};
      int r = sys::poll(&p, 1, block ? -1 : 0);
      if (r == 0) return Take::wait;
      if (r < 0 && errno == EINTR) {
        if (stop::requested()) return Take::end;
        continue;
      }
    }
    // Straight into buf_: a 64 KiB array would be a threads-model thread's
    // whole stack (--stack-size; reading the input happens on those).
    size_t had = buf_.size();
    buf_.resize(had + kChunk);
    ssize_t n = sys::read(fd_, buf_.data() + had, kChunk);
    buf_.resize(had + (n > 0 ? size_t(n) : 0));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err_ = sys::describe("read(" + path_ + ")", errno);
    if (n > 0) continue;
    eof_ = true;
    if (fd_ > 0) sys::close(fd_);  // now, not at exit: the cost report counts it
    fd_ = -1;
  }
}

void Source::make(std::string_view u, const std::string& why, Request& r) {
  r = Request{};
  r.line = line_;
  r.text = guess_scheme(u);  // "example.com" is http://example.com, as curl and wget take it
  r.text += u;
  u = r.text;
  std::string because;
  if (!why.empty()) {
    because = why;
  } else if (auto bad = std::find_if(u.begin(), u.end(), [](char c) { return (unsigned char)c <= 0x20 || c == 0x7f; });
             bad != u.end()) {
    because = u.find_first_of(" \t") != std::string_view::npos ? "space in URL (encode it as %20)" : "control character in URL";
  } else if (UrlError e = parse_url(u, r.url, &because); e == UrlError::none) {
    return;
  } else if (e == UrlError::scheme) {
    r.code = 1;  // CURLE_UNSUPPORTED_PROTOCOL
  }
  r.error = "input: line " + std::to_string(line_) + ": " + because;
}

Source::Take Source::take(Request& out, bool block) {
  std::string text;
  for (;;) {
    if (globbing_ && glob_.next(text)) {
      make(text, "", out);
    } else {
      globbing_ = false;
      if (Take t = line(text, block); t != Take::got) return t;
      line_++;
      std::string_view l = text;
      while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
      while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
      if (l.empty() || l.front() == '#') continue;
      std::string why;
      if (!globoff && has_glob(l)) {
        if (glob_.parse(l, why)) {
          globbing_ = true;
          continue;  // one request per URL the line makes
        }
      }
      make(l, why, out);
    }
    if (keep && !keep(out)) continue;
    out.seq = seq_++;
    return Take::got;
  }
}

uint64_t Glob::size() const {
  uint64_t n = 1;
  for (auto& p : parts_) n *= p.size();
  return n;
}

uint64_t Source::count_ahead() const {
  if (paging_) return last_page_ >= page_ ? last_page_ - page_ + 1 : 0;
  if (path_.empty() || path_ == "-") return 0;
  int fd = sys::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {  // a pipe or a FIFO cannot be read twice
    sys::close(fd);
    return 0;
  }
  uint64_t n = 0;
  std::string part;
  std::vector<char> chunk(kChunk);
  auto one = [&](std::string_view l) {
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.empty() || l.front() == '#') return;
    Glob g;
    std::string why;
    n += !globoff && l.find_first_of("[{") != std::string_view::npos && g.parse(l, why) ? g.size() : 1;
  };
  for (ssize_t got; (got = sys::read(fd, chunk.data(), chunk.size())) > 0;) {
    part.append(chunk.data(), size_t(got));
    size_t at = 0;
    // (CRLF makes an empty line between: skipped, as blank lines are.)
    for (size_t nl; (nl = part.find_first_of("\r\n", at)) != std::string::npos; at = nl + 1)
      one(std::string_view(part).substr(at, nl - at));
    part.erase(0, at);
  }
  one(part);
  sys::close(fd);
  return n;
}

void parse_input(std::string_view text, std::vector<Request>& out) {
  auto src = Source::text(std::string(text));
  for (Request r; src->next(r);) out.push_back(r);
}

// The journal keeps URLs with any password masked: the key is of that.
uint64_t request_key(uint32_t line, std::string_view text) {
  return fnv1a(mask_password(text), fnv1a(std::to_string(line) + "\t"));
}

uint32_t shard_of(const Request& rq, uint32_t n) {
  return uint32_t(fnv1a(rq.error.empty() ? std::string_view(rq.url.host) : std::string_view(rq.text)) % n);
}

}  // namespace fanout
