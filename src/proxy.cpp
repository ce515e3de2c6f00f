#include "fanout/proxy.hpp"

#include <arpa/inet.h>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>

#include "fanout/http.hpp"

namespace fanout {
namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = char(tolower((unsigned char)c));
  return o;
}

std::string unescape(std::string_view s) {
  std::string o;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
      o += char(strtol(std::string(s.substr(i + 1, 2)).c_str(), nullptr, 16));
      i += 2;
    } else {
      o += s[i];
    }
  }
  return o;
}

// "127.0.0.0/8", "::1/128": bits of a against the range's.
bool in_cidr(const std::string& range, const Url& u) {
  size_t slash = range.find('/');
  std::string net = range.substr(0, slash);
  int bits = slash == std::string::npos ? -1 : atoi(range.c_str() + slash + 1);
  unsigned char a[16], b[16];
  int len = 0;
  if (u.kind == Url::HostKind::ipv4 && inet_pton(AF_INET, u.host.c_str(), a) == 1 && inet_pton(AF_INET, net.c_str(), b) == 1) len = 4;
  else if (u.kind == Url::HostKind::ipv6 && inet_pton(AF_INET6, u.host.c_str(), a) == 1 && inet_pton(AF_INET6, net.c_str(), b) == 1) len = 16;
  if (!len) return false;
  if (bits < 0 || bits > len * 8) bits = len * 8;
  for (int i = 0; i < bits; i++)
    if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1) return false;
  return true;
}

void put16(std::string& o, unsigned v) {
  o += char(v >> 8);
  o += char(v & 0xff);
}

}  // namespace

Url proxy_url(const Proxy& p) {
  Url u;
  u.host = p.host;
  u.port = p.port;
  in6_addr a6;
  in_addr a4;
  u.kind = inet_pton(AF_INET, p.host.c_str(), &a4) == 1    ? Url::HostKind::ipv4
           : inet_pton(AF_INET6, p.host.c_str(), &a6) == 1 ? Url::HostKind::ipv6
                                                           : Url::HostKind::name;
  return u;
}

bool parse_proxy(std::string_view s, Proxy& out, std::string& why) {
  out = Proxy{};
  std::string_view rest = s;
  size_t sep = s.find("://");
  std::string scheme = sep == std::string_view::npos ? "http" : lower(s.substr(0, sep));
  if (sep != std::string_view::npos) rest = s.substr(sep + 3);
  if (scheme == "http") out.kind = Proxy::http;
  else if (scheme == "socks5") out.kind = Proxy::socks5;
  else if (scheme == "socks5h") out.kind = Proxy::socks5h;
  else if (scheme == "https") return why = "https:// proxies are not supported (http://, socks5://, socks5h://)", false;
  else return why = "unsupported proxy scheme \"" + scheme + "\" (http://, socks5://, socks5h://)", false;
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return why = "a proxy is a host and a port, not a path", false;
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    size_t colon = cred.find(':');
    out.user = unescape(cred.substr(0, colon));
    if (colon != std::string_view::npos) out.pass = unescape(cred.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  std::string_view host = rest, port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return why = "unterminated [ in the proxy's address", false;
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return why = "bad proxy address", false;
      port = rest.substr(close + 2);
    }
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return why = "no host in the proxy", false;
  out.host = lower(host);
  if (!port.empty()) {
    char* end;
    std::string p(port);
    long v = strtol(p.c_str(), &end, 10);
    if (*end || v < 1 || v > 65535) return why = "bad proxy port \"" + p + "\"", false;
    out.port = uint16_t(v);
  }
  bool v6 = out.host.find(':') != std::string::npos;
  out.text = scheme + "://" + (v6 ? "[" + out.host + "]" : out.host) + ":" + std::to_string(out.port);
  out.url = proxy_url(out);
  if (out.kind == Proxy::http && out.secret()) out.auth = "Proxy-Authorization: Basic " + http::base64(out.user + ":" + out.pass);
  return true;
}

bool no_proxy_match(const std::string& list, const Url& u) {
  std::string host = lower(u.host);
  for (size_t at = 0; at <= list.size();) {
    size_t end = std::min(list.find(',', at), list.size());
    std::string e = lower(http::trim(std::string_view(list).substr(at, end - at)));
    at = end + 1;
    if (e == "*") return true;
    if (!e.empty() && e[0] == '.') e.erase(0, 1);
    if (e.size() > 2 && e.front() == '[' && e.back() == ']') e = e.substr(1, e.size() - 2);
    if (e.empty()) continue;
    if (u.kind != Url::HostKind::name) {
      if (e == host || (e.find('/') != std::string::npos && in_cidr(e, u))) return true;
      continue;
    }
    if (host == e || (host.size() > e.size() && host.compare(host.size() - e.size(), e.size(), e) == 0 &&
                      host[host.size() - e.size() - 1] == '.'))
      return true;
  }
  return false;
}

const Proxy* proxy_for(const Config& cfg, const Url& u) {
  if (cfg.proxies.size() < 2) return nullptr;
  const Proxy& p = cfg.proxies[u.https ? 1 : 0];
  if (p.host.empty() || no_proxy_match(cfg.noproxy, u)) return nullptr;
  return &p;
}

// ---- the tunnel -----------------------------------------------------------

void Tunnel::start(const Proxy& p, const Url& target, const Addr* addr) {
  p_ = &p;
  host_ = target.host;
  port_ = target.port;
  have_addr_ = addr != nullptr;
  if (addr) addr_ = *addr;
  out_.clear();
  in_.clear();
  off_ = 0;
  failure_ = {};
  if (p.kind == Proxy::http) {
    std::string auth = target.authority();
    if (target.default_port()) auth += ":" + std::to_string(target.port);  // CONNECT names the port always
    out_ = "CONNECT " + auth + " HTTP/1.1\r\nHost: " + auth + "\r\n";
    if (p.secret()) out_ += "Proxy-Authorization: Basic " + http::base64(p.user + ":" + p.pass) + "\r\n";
    out_ += "User-Agent: fanout/" FANOUT_VERSION "\r\n\r\n";
    phase_ = connect_head;
    return;
  }
  out_ = {5, 1, 0};  // version 5, one method: none
  if (p.secret()) out_ = {5, 2, 0, 2};  // or a user and password (RFC 1929)
  phase_ = hello;
}

Tunnel::State Tunnel::fail(std::string why, int code) {
  failure_ = {code == 97 ? Cause::proxy : Cause::recv, "proxy " + p_->text + ": " + why, code};
  return failed;
}

Tunnel::State Tunnel::received(const char* p, size_t n) {
  if (n == 0) return fail("the proxy closed the connection", p_->kind == Proxy::http ? 56 : 97);
  in_.append(p, n);
  if (p_->kind != Proxy::http) return socks_step();
  size_t end = in_.find("\r\n\r\n");
  if (end == std::string::npos) return in_.size() > 16384 ? fail("CONNECT: the answer's head is too long", 56) : more;
  int status = 0;
  if (in_.compare(0, 5, "HTTP/") == 0 && in_.size() > 12) status = atoi(in_.c_str() + 9);
  if (status < 200 || status > 299) {
    std::string line = in_.substr(0, in_.find("\r\n"));
    return fail("CONNECT tunnel failed, response " + std::to_string(status) + " (" + line + ")", 56);
  }
  if (end + 4 != in_.size()) return fail("CONNECT: bytes after the answer, before the client spoke", 56);
  return done;
}

// RFC 1928: the method chosen, RFC 1929's verdict, then the reply to
// CONNECT; each answer is taken whole, then the next request goes.
Tunnel::State Tunnel::socks_step() {
  static const char* const kReplies[] = {"succeeded", "general SOCKS server failure", "connection not allowed by ruleset",
                                         "network unreachable", "host unreachable", "connection refused", "TTL expired",
                                         "command not supported", "address type not supported"};
  auto u8 = [&](size_t i) { return (unsigned char)in_[i]; };
  switch (phase_) {
    case hello: {
      if (in_.size() < 2) return more;
      if (u8(0) != 5) return fail("not a SOCKS5 server (version " + std::to_string(u8(0)) + ")", 97);
      if (u8(1) == 0xff) return fail(p_->secret() ? "no acceptable authentication method" : "the proxy wants a user and password", 97);
      bool pw = u8(1) == 2;
      if (u8(1) != 0 && !(pw && p_->secret())) return fail("the proxy chose an authentication method not offered", 97);
      in_.erase(0, 2);
      if (pw) {
        if (p_->user.size() > 255 || p_->pass.size() > 255) return fail("user or password longer than 255 bytes", 97);
        out_ = {1, char(p_->user.size())};
        out_ += p_->user;
        out_ += char(p_->pass.size());
        out_ += p_->pass;
        off_ = 0;
        phase_ = auth;
        return in_.empty() ? more : socks_step();
      }
      [[fallthrough]];
    }
    case auth:
      if (phase_ == auth) {
        if (in_.size() < 2) return more;
        if (u8(1) != 0) return fail("the proxy refused the user and password", 97);
        in_.erase(0, 2);
      }
      out_ = {5, 1, 0};
      if (p_->kind == Proxy::socks5 && have_addr_) {
        if (addr_.v6()) {
          out_ += char(4);
          out_.append(reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in6*>(&addr_.ss)->sin6_addr), 16);
        } else {
          out_ += char(1);
          out_.append(reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in*>(&addr_.ss)->sin_addr), 4);
        }
      } else {
        if (host_.size() > 255) return fail("the host name is longer than 255 bytes", 97);
        out_ += char(3);
        out_ += char(host_.size());
        out_ += host_;
      }
      put16(out_, port_);
      off_ = 0;
      phase_ = reply;
      return in_.empty() ? more : socks_step();
    case reply: {
      if (in_.size() < 5) return more;
      if (u8(0) != 5) return fail("not a SOCKS5 reply", 97);
      if (u8(1) != 0)
        return fail(std::string("CONNECT ") + host_ + ":" + std::to_string(port_) + ": " +
                        (u8(1) < 9 ? kReplies[u8(1)] : "reply " + std::to_string(u8(1))),
                    97);
      size_t need = u8(3) == 1 ? 10 : u8(3) == 4 ? 22 : u8(3) == 3 ? 7 + u8(4) : 0;
      if (!need) return fail("bad address type in the reply", 97);
      if (in_.size() < need) return more;
      if (in_.size() > need) return fail("bytes after the reply, before the client spoke", 97);
      return done;
    }
    default:
      return fail("the tunnel's handshake is confused", 97);
  }
}

}  // namespace fanout
