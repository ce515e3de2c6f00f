// libFuzzer: what a proxy answers, as the tunnel's handshake hears it
// (HTTP CONNECT, SOCKS5 with and without a password), whole and in pieces
// the second byte picks: both must end alike; a failure names the proxy
// and never its password; nothing is heard past the end. Then the same
// bytes as a proxy URL and as a no_proxy list.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fanout/proxy.hpp"

using namespace fanout;

namespace {

struct Outcome {
  Tunnel::State st = Tunnel::more;
  size_t used = 0;  // the bytes heard until the verdict
};

Outcome run(const Proxy& p, const Url& target, const uint8_t* d, size_t n, size_t piece) {
  Tunnel t;
  t.start(p, target, nullptr);
  Outcome o;
  while (o.used < n && o.st == Tunnel::more) {
    size_t k = std::min(piece, n - o.used);
    t.sent(t.unsent().size());
    o.st = t.received(reinterpret_cast<const char*>(d + o.used), k);
    o.used += k;
  }
  if (o.st == Tunnel::failed) {
    const std::string& why = t.failure().error;
    if (why.rfind("proxy " + p.text + ": ", 0) != 0) __builtin_trap();
    // (The proxy's status line is quoted: the password only if it sent it.)
    std::string heard(reinterpret_cast<const char*>(d), n);
    if (why.find("pw-secret") != std::string::npos && heard.find("pw-secret") == std::string::npos) __builtin_trap();
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  if (n < 2) return 0;
  Proxy p;
  p.kind = Proxy::Kind(d[0] % 3);
  p.host = "proxy.test";
  p.port = 3128;
  p.text = "http://proxy.test:3128";
  if (d[0] & 4) p.user = "fan", p.pass = "pw-secret";
  Url target;
  parse_url("https://origin.test:8443/", target);
  size_t piece = 1 + d[1] % 7;
  // In pieces, the verdict comes at some byte: the same bytes at once, up
  // to there, must reach the same one.
  Outcome bits = run(p, target, d + 2, n - 2, piece);
  if (bits.st != Tunnel::more && run(p, target, d + 2, bits.used, bits.used).st != bits.st) __builtin_trap();
  std::string s(reinterpret_cast<const char*>(d + 2), n - 2);
  Proxy q;
  std::string why;
  if (parse_proxy(s, q, why) && (q.host.empty() || q.port == 0 || q.text.find('@') != std::string::npos)) __builtin_trap();
  no_proxy_match(s, target);
  return 0;
}
