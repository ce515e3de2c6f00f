// HTTP/1.1's request bytes and the header rules both protocols share:
// made once a request, so built for size with the rest (the response
// parser, in http.cpp, is built for speed).
#include "fanout/http.hpp"

namespace fanout::http {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

}  // namespace

bool is_secret_header(std::string_view name) {
  std::string n(name);
  for (auto& c : n) c = lower(c);
  for (const char* w : {"key", "secret", "token", "auth", "cookie"})
    if (n.find(w) != std::string::npos) return true;
  return false;
}

std::string base64(std::string_view in) {
  static const char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = uint32_t((unsigned char)in[i]) << 16;
    if (i + 1 < in.size()) v |= uint32_t((unsigned char)in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= (unsigned char)in[i + 2];
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? k[v & 63] : '=';
  }
  return out;
}

bool user_has(const std::vector<std::string>& extra, std::string_view name) {
  for (auto& h : extra)
    if (ieq(std::string_view(h).substr(0, h.find(':')), name)) return true;
  return false;
}

std::string request(const Url& url, bool head, const std::vector<std::string>& extra,
                    bool keep_alive) {
  std::string r = head ? "HEAD " : "GET ";
  r += url.target();
  r += " HTTP/1.1\r\n";
  if (!user_has(extra, "Host")) r += "Host: " + url.authority() + "\r\n";
  if (!user_has(extra, "User-Agent")) r += "User-Agent: fanout/" FANOUT_VERSION "\r\n";
  if (!user_has(extra, "Accept")) r += "Accept: */*\r\n";
  if (!url.userinfo.empty() && !user_has(extra, "Authorization")) r += "Authorization: Basic " + base64(credentials(url)) + "\r\n";
  for (auto& h : extra)
    if (!trim(std::string_view(h).substr(h.find(':') + 1)).empty()) r += h + "\r\n";
  if (!keep_alive && !user_has(extra, "Connection")) r += "Connection: close\r\n";
  r += "\r\n";
  return r;
}

}  // namespace fanout::http
