#include "fanout/input.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "sys.hpp"

namespace fanout {

bool expand_globs(std::string_view s, std::vector<std::string>& out, std::string& why) {
  std::vector<std::vector<std::string>> parts;  // each: its alternatives; a literal has one
  std::string lit;
  double total = 1;
  auto flush = [&] {
    if (!lit.empty()) parts.push_back({lit});
    lit.clear();
  };
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '{') {
      size_t close = s.find('}', i);
      if (close == std::string_view::npos) {
        why = "unmatched { in URL (a glob: {a,b})";
        return false;
      }
      flush();
      std::vector<std::string> alts;
      std::string_view in = s.substr(i + 1, close - i - 1);
      for (size_t at = 0;;) {
        size_t comma = in.find(',', at);
        alts.emplace_back(in.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
        if (comma == std::string_view::npos) break;
        at = comma + 1;
      }
      total *= double(alts.size());
      parts.push_back(std::move(alts));
      i = close;
      continue;
    }
    // [N-M]: digits only, so an IPv6 literal ([::1]) is no glob.
    size_t dash = s[i] == '[' ? s.find_first_not_of("0123456789", i + 1) : std::string_view::npos;
    size_t close = dash != std::string_view::npos && s[dash] == '-' ? s.find_first_not_of("0123456789", dash + 1)
                                                                    : std::string_view::npos;
    if (close == std::string_view::npos || s[close] != ']' || dash == i + 1 || close == dash + 1) {
      lit += s[i];
      continue;
    }
    std::string a(s.substr(i + 1, dash - i - 1)), b(s.substr(dash + 1, close - dash - 1));
    if (a.size() > 12 || b.size() > 12 || std::stoull(a) > std::stoull(b)) {
      why = "range [" + a + "-" + b + "] goes down or is too long";
      return false;
    }
    flush();
    size_t width = a.size() > 1 && a[0] == '0' ? a.size() : 0;  // [001-100] pads
    uint64_t from = std::stoull(a), to = std::stoull(b);
    total *= double(to - from + 1);
    if (total > 1e7) break;
    std::vector<std::string> alts;
    for (uint64_t k = from; k <= to; k++) {
      std::string n = std::to_string(k);
      alts.push_back(std::string(n.size() < width ? width - n.size() : 0, '0') + n);
    }
    parts.push_back(std::move(alts));
    i = close;
  }
  if (total > 1e7) {
    why = "the globs make more than 10,000,000 URLs";
    return false;
  }
  flush();
  // Every combination, the rightmost part varying fastest, as curl does.
  std::vector<size_t> at(parts.size(), 0);
  for (;;) {
    std::string u;
    for (size_t k = 0; k < parts.size(); k++) u += parts[k][at[k]];
    out.push_back(std::move(u));
    size_t k = parts.size();
    while (k > 0 && ++at[k - 1] == parts[k - 1].size()) at[--k] = 0;
    if (k == 0) return true;
  }
}

void parse_input(std::string_view text, std::vector<Request>& out) {
  uint32_t line = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line++;
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.empty() || l.front() == '#') continue;
    std::string where = "input: line " + std::to_string(line) + ": ";
    std::vector<std::string> urls;
    std::string why;
    if (l.find_first_of("[{") == std::string_view::npos) urls.emplace_back(l);
    else if (!expand_globs(l, urls, why)) urls = {std::string(l)};
    for (auto& u : urls) {  // one request per URL the line makes
      Request r;
      r.line = line;
      r.text = u;
      if (!why.empty()) {
        r.error = where + why;
      } else if (u.find_first_of(" \t") != std::string::npos) {
        r.error = where + "space in URL (encode it as %20)";
      } else if (std::any_of(u.begin(), u.end(), [](char c) { return (unsigned char)c < 0x20 || c == 0x7f; })) {
        r.error = where + "control character in URL";
      } else if (parse_url(u, r.url, &why) != UrlError::none) {
        r.error = where + why;
        why.clear();
      }
      out.push_back(std::move(r));
    }
  }
}

bool read_input(const std::string& path, std::vector<Request>& out, std::string& err) {
  int fd = path == "-" ? 0 : sys::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = sys::describe("open(" + path + ")", errno);
    return false;
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = sys::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = sys::describe("read(" + path + ")", errno);
      if (fd) sys::close(fd);
      return false;
    }
    if (n == 0) break;
    text.append(buf, size_t(n));
  }
  if (fd) sys::close(fd);
  parse_input(text, out);
  return true;
}

}  // namespace fanout
