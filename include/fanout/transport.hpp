// A connection and the one small table its bytes go through, plain or TLS
// (wrk's net.c and ssl.c, STYLE 3): every call says ok, retry when the
// socket is readable or writable, or error. Sockets are always
// non-blocking; how to wait for a retry is the driver's business.
#pragma once
#include <memory>
#include <string>

#include "fanout/core.hpp"
#include "fanout/dns.hpp"
#include "fanout/tls.hpp"

namespace fanout {

class Reactor;
class SocketRing;
struct H2Link;

enum class Io { ok, want_read, want_write, error };

struct Conn;
struct Transport {
  Io (*handshake)(Conn&);
  // *n: bytes moved; a read of 0 bytes is the end of the stream.
  Io (*read)(Conn&, char* p, size_t cap, size_t* n);
  Io (*write)(Conn&, const char* p, size_t len, size_t* n);
  // Bytes already read from the socket and waiting above it.
  bool (*pending)(Conn&);
};
extern const Transport kPlainTransport, kTlsTransport;

struct Conn {
  int fd = -1;
  const Transport* t = &kPlainTransport;
  std::unique_ptr<TlsConn> tls;
  std::unique_ptr<H2Link> h2;  // HTTP/2's session, when the connection speaks it
  std::string host;  // for TLS errors: "tls: HOST: ..."
  std::string peer;  // "127.0.0.1:80", for connect errors
  bool reused = false;
  bool probe = false;  // a loop's pool: the new connection that finds out if its host speaks HTTP/2
  uint64_t idle_mark = 0;  // the pool's: when it last went idle
  bool connecting = false;  // connect() said EINPROGRESS
  const char* failed_call = nullptr;  // "connect", "send", "recv"; "tls": err is mbedTLS'
  int err = 0;                        // errno, or mbedTLS' code, of the call that failed
  // On a loop: closing goes through the reactor, and every call that finds
  // the socket empty (EAGAIN, a short read) tells it the edge is spent.
  Reactor* reactor = nullptr;
  SocketRing* ring = nullptr;  // on io_uring: the ring the socket's bytes go through
  Conn();  // (out of line: H2Link is whole only there)
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn();
  void close();
  Io fail(const char* call, int code) {
    failed_call = call;
    err = code;
    return Io::error;
  }

  // socket() and connect() at the first call; then how the connect went.
  Io connect(const Addr& a);
  // From now on through TLS (the handshake is the next step). false: err says why.
  bool start_tls(TlsClient& c, const std::string& host, const std::string& key, std::string& err);
  // The server's side (tools/origin): TLS from the client's hello on.
  bool accept_tls(const mbedtls_ssl_config* conf);
  // TLS' close_notify alert, sent if the socket takes it now.
  void close_notify();
  // The failed call as words ("recv: ECONNRESET (...)", "tls: host: ...").
  Failure failure(const char* during) const;
};

}  // namespace fanout
