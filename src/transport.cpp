// The transports: plain TCP and TLS over it, both through the same two
// socket calls below, so every byte is counted and, on a loop, the reactor
// learns when the socket is empty (edge-triggered readiness, STYLE 6).
#include "fanout/transport.hpp"

#include <cerrno>
#include <mbedtls/net_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "fanout/h2_link.hpp"
#include "reactor.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

ssize_t sock_recv(Conn& c, void* p, size_t n) {
  ssize_t got;
  while ((got = sys::recv(c.fd, p, n, 0)) < 0 && errno == EINTR) {}
  // A short read empties the socket as surely as EAGAIN does.
  if (c.reactor && (got < 0 ? errno == EAGAIN : size_t(got) < n)) c.reactor->drained(c.fd, false);
  return got;
}

ssize_t sock_send(Conn& c, const void* p, size_t n) {
  ssize_t w;
  while ((w = sys::send(c.fd, p, n, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
  if (c.reactor && (w < 0 ? errno == EAGAIN : size_t(w) < n)) c.reactor->drained(c.fd, true);
  return w;
}

Io no_handshake(Conn&) { return Io::ok; }

Io plain_read(Conn& c, char* p, size_t cap, size_t* n) {
  ssize_t got = sock_recv(c, p, cap);
  if (got >= 0) {
    *n = size_t(got);
    return Io::ok;
  }
  return errno == EAGAIN ? Io::want_read : c.fail("recv", errno);
}

Io plain_write(Conn& c, const char* p, size_t len, size_t* n) {
  ssize_t w = sock_send(c, p, len);
  if (w >= 0) {
    *n = size_t(w);
    c.connecting = false;  // a connect sent on (send_while_connecting) went through
    return Io::ok;
  }
  return errno == EAGAIN ? Io::want_write : c.fail("send", errno);
}

bool plain_pending(Conn&) { return false; }

// mbedTLS' BIO: our socket calls, never its own (net_sockets.c calls fcntl
// on every EAGAIN).
int bio_send(void* ctx, const unsigned char* p, size_t n) {
  auto& c = *static_cast<Conn*>(ctx);
  ssize_t w = sock_send(c, p, n);
  if (w >= 0) return int(w);
  if (errno == EAGAIN) return MBEDTLS_ERR_SSL_WANT_WRITE;
  c.tls->sys_errno = errno;
  return MBEDTLS_ERR_NET_SEND_FAILED;
}

int bio_recv(void* ctx, unsigned char* p, size_t n) {
  auto& c = *static_cast<Conn*>(ctx);
  ssize_t got = sock_recv(c, p, n);
  if (got >= 0) return int(got);
  if (errno == EAGAIN) return MBEDTLS_ERR_SSL_WANT_READ;
  c.tls->sys_errno = errno;
  return MBEDTLS_ERR_NET_RECV_FAILED;
}

// mbedTLS' return codes as the table's three outcomes.
Io tls_io(Conn& c, int ret) {
  if (ret >= 0) return Io::ok;
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return Io::want_read;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return Io::want_write;
  return c.fail("tls", ret);
}

Io tls_handshake(Conn& c) { return tls_io(c, c.tls->handshake()); }

Io tls_read(Conn& c, char* p, size_t cap, size_t* n) {
  int got = c.tls->read(p, cap);
  if (got == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || got == MBEDTLS_ERR_SSL_CONN_EOF) got = 0;
  *n = got > 0 ? size_t(got) : 0;
  return tls_io(c, got);
}

Io tls_write(Conn& c, const char* p, size_t len, size_t* n) {
  int w = c.tls->write(p, len);
  *n = w > 0 ? size_t(w) : 0;
  return tls_io(c, w);
}

bool tls_pending(Conn& c) { return c.tls->pending(); }

int so_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (sys::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  return err;
}

}  // namespace

const Transport kPlainTransport = {no_handshake, plain_read, plain_write, plain_pending};
const Transport kTlsTransport = {tls_handshake, tls_read, tls_write, tls_pending};

Conn::Conn() = default;
Conn::~Conn() { close(); }

void Conn::close() {
  h2.reset();
  tls.reset();
  if (fd < 0) return;
  if (reactor) reactor->close(fd);
  else sys::close(fd);
  fd = -1;
}

Io Conn::connect(const Addr& a) {
  if (connecting) {  // the socket became writable: how did it go?
    connecting = false;
    if (int e = so_error(fd)) {
      close();
      return fail("connect", e);
    }
    return Io::ok;
  }
  peer = a.text();
  fd = sys::socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket", errno);
  if (reactor) reactor->add(fd);
  if (sys::connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) == 0) return Io::ok;
  if (errno == EINPROGRESS) {
    connecting = true;
    return Io::want_write;
  }
  int e = errno;
  close();
  return fail("connect", e);
}

bool Conn::start_tls(TlsClient& c, const std::string& name, const std::string& key, std::string& why) {
  host = name;
  // mbedTLS writes a handshake flight as several records; with Nagle the
  // second waits for the server's delayed ACK (40 ms on Linux).
  int one = 1;
  sys::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  tls = std::make_unique<TlsConn>();
  t = &kTlsTransport;
  tls->set_bio(this, bio_send, bio_recv);
  int r = tls->setup(c, host, key);
  if (r != 0) why = tls->describe(r, host, "TLS set-up");
  return r == 0;
}

bool Conn::accept_tls(const mbedtls_ssl_config* conf) {
  tls = std::make_unique<TlsConn>();
  t = &kTlsTransport;
  tls->set_bio(this, bio_send, bio_recv);
  return tls->setup_server(conf) == 0;
}

Failure Conn::failure(const char* during) const {
  std::string call = failed_call ? failed_call : "?";
  if (call == "tls") return {tls->cause(err), tls->describe(err, host, during)};
  // A send or read on a connect still under way fails with the connect's error.
  if (call == "connect" || connecting) return {Cause::connect, sys::describe("connect(" + peer + ")", err)};
  if (call == "socket") return {Cause::connect, sys::describe("socket", err)};
  return {call == "send" ? Cause::send : Cause::recv, sys::describe(call, err)};
}

}  // namespace fanout
