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
                    bool keep_alive, bool absolute, std::string_view proxy_auth) {
  using namespace std::literals;
  static constexpr auto kUserAgent = "User-Agent: fanout/" FANOUT_VERSION "\r\n"sv;
  size_t size = 96 + kUserAgent.size() + url.path.size() + url.query.size() + url.host.size();
  for (auto& h : extra) size += h.size() + 2;
  std::string r;
  r.reserve(size);  // one allocation: pieces appended by their lengths
  r.append(head ? "HEAD "sv : "GET "sv);
  if (absolute) {  // to an http:// proxy: the whole URL (RFC 9112 3.2.2)
    r.append("http://"sv);
    url.append_authority(r);
  }
  r.append(url.path).append(url.query).append(" HTTP/1.1\r\n"sv);
  if (!proxy_auth.empty()) r.append(proxy_auth).append("\r\n"sv);
  if (!user_has(extra, "Host"sv)) {
    r.append("Host: "sv);
    url.append_authority(r);
    r.append("\r\n"sv);
  }
  if (!user_has(extra, "User-Agent"sv)) r.append(kUserAgent);
  if (!user_has(extra, "Accept"sv)) r.append("Accept: */*\r\n"sv);
  if (!url.userinfo.empty() && !user_has(extra, "Authorization"sv))
    r.append("Authorization: Basic "sv).append(base64(credentials(url))).append("\r\n"sv);
  for (auto& h : extra)
    if (!trim(std::string_view(h).substr(h.find(':') + 1)).empty()) r.append(h).append("\r\n"sv);
  if (!keep_alive && !user_has(extra, "Connection"sv)) r.append("Connection: close\r\n"sv);
  r.append("\r\n"sv);
  return r;
}

}  // namespace fanout::http
