// The blocking driver, used by seq, threads and procs. Sockets are plain
// blocking sockets once connected; every wait is a poll() bounded by the
// request's deadline, so strace shows poll + recvfrom pairs and nothing
// else. Protocol knowledge lives in http.cpp; this file only moves bytes.
#include <cerrno>
#include <cstring>
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "fanout/deliver.hpp"
#include "fanout/http.hpp"
#include "fanout/pool.hpp"
#include "fanout/worker.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

// poll() one fd until the deadline: its revents, 0 when time ran out.
short wait_for(int fd, short events, Deadline dl) {
  pollfd p{fd, events, 0};
  int r;
  while ((r = sys::poll(&p, 1, ms_left(dl))) < 0 && errno == EINTR) {}
  return r > 0 ? p.revents : 0;
}

// A non-blocking connect() so the deadline holds, then back to blocking.
int connect_one(const Addr& a, Deadline dl, Result& r) {
  int fd = sys::socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.fail(Cause::connect, sys::describe("socket", errno));
    return -1;
  }
  std::string call = "connect(" + a.text() + ")";
  int err = 0;
  if (sys::connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) < 0) {
    err = errno;
    if (err == EINPROGRESS) {
      short ev = wait_for(fd, POLLOUT, dl);
      if (ev == 0) {
        sys::close(fd);
        r.fail(Cause::timeout, "timeout: " + call);
        return -1;
      }
      err = 0;
      if (ev & (POLLERR | POLLHUP)) {
        socklen_t len = sizeof err;
        sys::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (!err) err = ECONNREFUSED;
      }
    }
  }
  if (!err && sys::set_blocking(fd) < 0) err = errno;
  if (err) {
    sys::close(fd);
    r.fail(Cause::connect, sys::describe(call, err));
    return -1;
  }
  return fd;
}

bool send_all(Conn& c, const std::string& req, Result& r, const std::string& host) {
  size_t off = 0;
  while (off < req.size()) {
    if (c.tls) {
      int w = c.tls->write(req.data() + off, req.size() - off);
      if (w < 0) {
        r.fail(c.tls->cause(w), c.tls->describe(w, host, "sending the request"));
        return false;
      }
      off += size_t(w);
      continue;
    }
    ssize_t w = sys::send(c.fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      r.fail(Cause::send, sys::describe("send", errno));
      return false;
    }
    off += size_t(w);
  }
  return true;
}

// >0 bytes, 0 end of stream, -1 failed (r says why).
ssize_t read_some(Conn& c, char* p, size_t n, Deadline dl, Result& r, const std::string& host,
                  const char* during) {
  if (c.tls) {
    int got = c.tls->read(p, n);
    if (got > 0) return got;
    if (got == 0 || got == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || got == MBEDTLS_ERR_SSL_CONN_EOF) return 0;
    r.fail(c.tls->cause(got), c.tls->describe(got, host, during));
    return -1;
  }
  if (!wait_for(c.fd, POLLIN, dl)) {
    r.fail(Cause::timeout, std::string("timeout: ") + during);
    return -1;
  }
  ssize_t got;
  while ((got = sys::recv(c.fd, p, n, 0)) < 0 && errno == EINTR) {}
  if (got < 0) r.fail(Cause::recv, sys::describe("recv", errno));
  return got;
}

// Reads and parses the response. *any: a response byte came; *keep: the
// connection can carry another request.
void receive(Worker& w, Conn& c, const Request& rq, Deadline dl, Result& r, bool* any, bool* keep) {
  http::ResponseParser p;
  p.reset(w.cfg.head);
  char* buf = w.buf.data();
  size_t have = 0;
  for (;;) {
    Delivered d = deliver(p, buf, have, *w.sink, r);
    if (d.end) {
      *keep = d.keep;
      return;
    }
    memmove(buf, buf + d.used, have - d.used);  // keep the head in progress
    have -= d.used;
    if (have == w.buf.size()) {
      r.fail(Cause::http, "http: response head larger than " + std::to_string(w.buf.size()) + " bytes");
      return;
    }
    const char* during = r.status ? "receiving the body" : "waiting for the response";
    ssize_t n = read_some(c, buf + have, w.buf.size() - have, dl, r, rq.url.host, during);
    if (n < 0) return;
    if (n > 0 && !*any) {
      *any = true;
      r.mark(kFirstByte);
    }
    if (n == 0) {
      if (p.finish().ev != http::ResponseParser::done)
        r.fail(Cause::http, std::string("http: ") + p.error_message());
      return;
    }
    have += size_t(n);
  }
}

// Resolve, connect, TLS: a new connection in c. false: r says why.
bool open_conn(Worker& w, const Request& rq, const Deadline& dl, Conn& c, Result& r) {
  std::vector<Addr> addrs;
  if (!w.dns.resolve(rq.url, dl, addrs, r)) return false;
  r.mark(kDns);
  for (auto& a : addrs) {  // in order, as curl does; the last error stands
    c.fd = connect_one(a, dl, r);
    if (c.fd >= 0 || r.cause == Cause::timeout) break;
  }
  if (c.fd < 0) return false;
  r.clear_error();  // an earlier address's error is moot
  r.mark(kConnect);
  if (!rq.url.https) return true;
  std::string err;
  if (!w.tls.init(w.cfg, err)) {
    r.fail(Cause::tls, "tls: " + err);
    return false;
  }
  // mbedTLS writes a handshake flight as several records; with Nagle the
  // second waits for the server's delayed ACK (40 ms on Linux).
  int one = 1;
  sys::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.tls = std::make_unique<TlsConn>();
  int ret = c.tls->setup(w.tls, c.fd, rq.url.host, &dl);
  if (ret == 0) ret = c.tls->handshake();  // the BIO blocks: no WANT_READ here
  if (ret != 0) {
    r.fail(c.tls->cause(ret), c.tls->describe(ret, rq.url.host, "the TLS handshake"));
    return false;
  }
  r.mark(kTls);
  return true;
}

void run(Worker& w, const Request& rq, Deadline dl, Result& r) {
  if (!rq.error.empty()) {
    r.fail(Cause::input, rq.error);
    return;
  }
  std::string key = pool_key(rq.url);
  for (int attempt = 0; attempt < 2; attempt++) {
    std::unique_ptr<Conn> c;
    if (!w.pool->acquire(key, attempt > 0, dl, c)) {
      r.fail(Cause::timeout, "timeout: waiting for a connection to " + key + " (--per-host)");
      return;
    }
    if (!c) {
      c = std::make_unique<Conn>();
      if (!open_conn(w, rq, dl, *c, r)) {
        w.pool->release(key, std::move(c), false);
        return;
      }
    }
    // The socket's deadline is this request's (the BIO waits with it).
    if (c->tls) c->tls->dl = &dl;
    bool any = false, keep = false;
    if (send_all(*c, http::request(rq.url, w.cfg.head, w.cfg.headers, true), r, rq.url.host)) {
      r.mark(kSent);
      receive(w, *c, rq, dl, r, &any, &keep);
    }
    if (c->tls) c->tls->dl = nullptr;
    bool retry = attempt == 0 && stale_keepalive(*c, any, r);
    w.pool->release(key, std::move(c), keep && r.ok());
    if (!retry) return;
    r.restart();
  }
}

}  // namespace

void fetch_blocking(Worker& w, const Request& rq, Result& r) {
  auto t0 = Clock::now();
  r.begin(rq.line, w.id);
  r.lane = w.id;
  w.sink->begin(rq);
  run(w, rq, deadline_in(w.cfg.timeout), r);
  w.sink->end(r);
  r.mark(kEnd);
  r.ms = ms_since(t0);
}

}  // namespace fanout
