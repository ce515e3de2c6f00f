// Proxies as curl has them: -x/--proxy, --noproxy, and the variables
// http_proxy, https_proxy, all_proxy, no_proxy; and the handshake that
// opens a tunnel through one (HTTP CONNECT, SOCKS5), without I/O: bytes to
// send, bytes heard, a verdict (STYLE 13). The engine drives it.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fanout/addr.hpp"
#include "fanout/core.hpp"

namespace fanout {

// The proxy's host and port, as a URL the resolver takes.
Url proxy_url(const Proxy& p);

// Parses what -x or a variable gives: [scheme://][user:pass@]host[:port]
// (no scheme: http; no port: 1080, curl's). false: why says what is wrong.
bool parse_proxy(std::string_view s, Proxy& out, std::string& why);

// curl's no_proxy rules: "*" is every host; otherwise a comma-separated
// list of names (each matching itself and the names below it, a leading
// dot or not), addresses and CIDR ranges. Ports are not compared.
bool no_proxy_match(const std::string& list, const Url& u);

// The proxy for u under the run's settings, or null: straight there.
const Proxy* proxy_for(const Config& cfg, const Url& u);

// Reads -x's value or the environment's, as curl does: -x wins (-x ""
// turns proxies off); else http_proxy for http:// (only lowercase: a
// CGI's HTTP_PROXY is the client's header), https_proxy or HTTPS_PROXY for
// https://, all_proxy or ALL_PROXY for either; --noproxy wins over no_proxy
// and NO_PROXY. A value that is no proxy is a usage error that names it.
// (In options.cpp, beside the other options.)
void setup_proxies(Config& cfg);

// The tunnel through a proxy to the origin: CONNECT for an http proxy,
// RFC 1928's exchange (and RFC 1929's password) for SOCKS5.
class Tunnel {
 public:
  enum State { more, done, failed };
  // target: the origin; addr: its address where the client resolves it
  // (socks5), else null.
  void start(const Proxy& p, const Url& target, const Addr* addr);
  std::string_view unsent() const { return std::string_view(out_).substr(off_); }
  void sent(size_t n) { off_ += n; }
  // Bytes from the proxy. done: the tunnel is open (bytes past the
  // proxy's answer are an error: nothing may speak before the client).
  State received(const char* p, size_t n);
  const Failure& failure() const { return failure_; }

 private:
  State fail(std::string why, int code);
  State socks_step();
  const Proxy* p_ = nullptr;
  std::string host_;  // the origin's, as asked for
  uint16_t port_ = 0;
  Addr addr_;
  bool have_addr_ = false;
  std::string out_, in_;
  size_t off_ = 0;
  enum Phase { connect_head, hello, auth, request, reply } phase_ = connect_head;
  Failure failure_;
};

}  // namespace fanout
