// The transports: plain TCP and TLS over it, both through the same two
// socket calls below, so every byte is counted and, on a loop, the reactor
// learns when the socket is empty (edge-triggered readiness, STYLE 6).
#include "fanout/transport.hpp"

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "fanout/h2_link.hpp"
#include "reactor.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

// On io_uring (c.ring) the bytes are the ring's: what its receives got,
// and sends queued for it to submit; neither is a system call.
ssize_t sock_recv(Conn& c, void* p, size_t n) {
  ssize_t got;
  if (c.ring) got = c.ring->recv(c.fd, p, n);
  else
    while ((got = sys::recv(c.fd, p, n, 0)) < 0 && errno == EINTR) {}
  // A short read empties the socket as surely as EAGAIN does (a ring's
  // bytes may be followed by an end or an error already come: it says).
  if (c.reactor && (got < 0 ? errno == EAGAIN : size_t(got) < n) && !(c.ring && c.ring->has_input(c.fd)))
    c.reactor->drained(c.fd, false);
  return got;
}

ssize_t sock_send(Conn& c, const void* p, size_t n) {
  ssize_t w;
  if (c.ring) w = c.ring->send(c.fd, p, n);
  else
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
    c.connecting = false;  // a connect sent on (send_while_connecting) went through (a ring takes no send before)
    return Io::ok;
  }
  return errno == EAGAIN ? Io::want_write : c.fail("send", errno);
}

bool plain_pending(Conn&) { return false; }

// TLS: mbedTLS works on the TlsConn's buffers; these move its ciphertext.
// One recv takes up to a whole record and more (mbedTLS alone would ask
// for a record's 5-byte header, then for its body: two calls a record).
constexpr size_t kTlsRecv = 17 * 1024;

// Sends the records waiting; want_write while the socket takes only part.
Io tls_send(Conn& c) {
  for (auto out = c.tls->unsent(); !out.empty(); out = c.tls->unsent()) {
    ssize_t w = sock_send(c, out.data(), out.size());
    if (w < 0) return errno == EAGAIN ? Io::want_write : c.fail("send", errno);
    c.tls->sent(size_t(w));
  }
  return Io::ok;
}

// What the socket has, for mbedTLS; want_read if nothing yet.
Io tls_recv(Conn& c) {
  ssize_t got = sock_recv(c, c.tls->recv_space(kTlsRecv), kTlsRecv);
  if (got < 0) return errno == EAGAIN ? Io::want_read : c.fail("recv", errno);
  c.tls->received(size_t(got));
  return Io::ok;
}

// An mbedTLS error: its alert goes out if the socket takes it.
Io tls_fail(Conn& c, int ret) {
  tls_send(c);
  return c.fail("tls", ret);
}

Io tls_handshake(Conn& c) {
  for (;;) {
    if (Io io = tls_send(c); io != Io::ok) return io;
    int r = c.tls->handshake();
    if (r == 0) return tls_send(c);  // our last flight
    if (r != MBEDTLS_ERR_SSL_WANT_READ) return tls_fail(c, r);
    if (!c.tls->unsent().empty()) continue;  // our flight first, then the server's
    if (Io io = tls_recv(c); io != Io::ok) return io;
  }
}

Io tls_read(Conn& c, char* p, size_t cap, size_t* n) {
  *n = 0;
  for (;;) {
    int got = c.tls->read(p, cap);
    if (got > 0) *n = size_t(got);
    if (got >= 0 || got == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || got == MBEDTLS_ERR_SSL_CONN_EOF) break;  // 0: the end
    if (got != MBEDTLS_ERR_SSL_WANT_READ) return tls_fail(c, got);
    if (Io io = tls_recv(c); io != Io::ok) return io;
  }
  if (!c.tls->unsent().empty()) tls_send(c);  // an alert a read made; the next write sends what is left
  return Io::ok;
}

// Takes the plaintext at once (its records wait in the TlsConn); until
// they have all gone, want_write, and the caller comes again with the same
// bytes, as mbedTLS asks of a write that could not finish.
Io tls_write(Conn& c, const char* p, size_t len, size_t* n) {
  *n = 0;
  auto& t = *c.tls;
  if (!t.owed) {
    int w = t.write(p, len);
    if (w < 0) return tls_fail(c, w);
    t.owed = size_t(w);
  }
  if (Io io = tls_send(c); io != Io::ok) return io;
  *n = t.owed;
  t.owed = 0;
  return Io::ok;
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
    int e = ring ? ring->connected(fd) : so_error(fd);
    if (e < 0) {  // (the ring's connect is still out)
      if (reactor) reactor->drained(fd, true);
      return Io::want_write;
    }
    connecting = false;
    if (e) {
      close();
      return fail("connect", e);
    }
    return Io::ok;
  }
  peer = a.text();
  fd = sys::socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && errno == EMFILE && ring) {  // closes queued on the ring free their numbers once submitted
    ring->flush();
    fd = sys::socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (fd < 0) return fail("socket", errno);
  if (ring) ring->adopt(fd);
  if (reactor) reactor->add(fd);
  if (ring) {
    ring->connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len);
    connecting = true;
    return Io::want_write;
  }
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
  int r = tls->setup(c, host, key);
  if (r != 0) why = tls->describe(r, host, "TLS set-up");
  return r == 0;
}

bool Conn::accept_tls(const mbedtls_ssl_config* conf) {
  tls = std::make_unique<TlsConn>();
  t = &kTlsTransport;
  return tls->setup_server(conf) == 0;
}

void Conn::close_notify() {
  if (!tls) return;
  tls->close_notify();
  tls_send(*this);
}

Failure Conn::failure(const char* during) const {
  std::string call = failed_call ? failed_call : "?";
  if (call == "tls")  // curl's 60: the server's certificate; 35 the rest of the handshake
    return {Cause::tls, tls->describe(err, host, during), err == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ? 60 : 35};
  // A send or read on a connect still under way fails with the connect's error.
  if (call == "connect" || connecting) return {Cause::connect, sys::describe("connect(" + peer + ")", err)};
  if (call == "socket") return {Cause::connect, sys::describe("socket", err)};
  return {call == "send" ? Cause::send : Cause::recv, sys::describe(call, err)};
}

}  // namespace fanout
