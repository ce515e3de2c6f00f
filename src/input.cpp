#include "fanout/input.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "sys.hpp"

namespace fanout {

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
    Request r;
    r.line = line;
    r.text = std::string(l);
    std::string where = "input: line " + std::to_string(line) + ": ";
    size_t bad = l.find_first_of(" \t");
    if (bad != std::string_view::npos) {
      r.error = where + "space in URL (encode it as %20)";
    } else if (std::any_of(l.begin(), l.end(), [](char c) { return (unsigned char)c < 0x20 || c == 0x7f; })) {
      r.error = where + "control character in URL";
    } else {
      std::string why;
      if (parse_url(l, r.url, &why) != UrlError::none) r.error = where + why;
    }
    out.push_back(std::move(r));
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
