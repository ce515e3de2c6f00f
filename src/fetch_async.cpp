// The coroutine driver, used by async and hybrid. Sockets are non-blocking;
// where fetch.cpp would block, this awaits the reactor. Edge-triggered
// readiness: a call that says EAGAIN (or a read shorter than asked for)
// tells the reactor the edge is spent, and only then do we wait for the next.
#include <cerrno>
#include <cstring>
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "fanout/deliver.hpp"
#include "fanout/http.hpp"
#include "fanout/loop.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

// socket() and connect(); -1 (r says why) or the fd, *pending when the
// connect is still under way.
int connect_start(Loop& l, const Addr& a, Result& r, bool* pending) {
  int fd = sys::socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.fail(Cause::connect, sys::describe("socket", errno));
    return -1;
  }
  l.reactor.add(fd);
  *pending = false;
  if (sys::connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) == 0) return fd;
  if (errno == EINPROGRESS) {
    *pending = true;
    return fd;
  }
  r.fail(Cause::connect, sys::describe("connect(" + a.text() + ")", errno));
  l.reactor.close(fd);
  return -1;
}

int so_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (sys::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  return err;
}

const char* wait_failed(int w) { return w == Waiter::kClosed ? "connection closed" : nullptr; }

// Resolve, connect, TLS: a new connection in c; on failure r says why.
Task open_conn(Loop& l, const Request& rq, const Deadline& dl, Conn& c, Result& r) {
  std::vector<Addr> addrs;
  if (!co_await l.dns.resolve(rq.url, dl, addrs, r)) co_return;
  r.mark(kDns);
  for (const Addr& a : addrs) {  // in order; the last error stands
    bool pending;
    c.fd = connect_start(l, a, r, &pending);
    if (c.fd < 0) continue;
    if (!pending) break;
    // No other address to fall back to, and plain HTTP: send at once and
    // let the send tell how the connect went (on loopback the handshake is
    // done before connect() returns). Saves a wait and a getsockopt.
    if (&a == &addrs.back() && !rq.url.https) {
      c.connecting = true;
      c.peer = a.text();
      break;
    }
    int w = co_await writable(l.reactor, c.fd, &dl);
    int err = w == Waiter::kReady ? so_error(c.fd) : 0;
    if (w == Waiter::kReady && !err) break;
    if (w == Waiter::kTimedOut) r.fail(Cause::timeout, "timeout: connect(" + a.text() + ")");
    else r.fail(Cause::connect, sys::describe("connect(" + a.text() + ")", err ? err : ECONNREFUSED));
    l.reactor.close(c.fd);
    c.fd = -1;
    if (r.cause == Cause::timeout) break;
  }
  if (c.fd < 0) co_return;
  r.clear_error();  // an earlier address's error is moot
  r.mark(kConnect);
  if (!rq.url.https) co_return;
  std::string err;
  if (!l.tls.init(l.cfg, err)) {
    r.fail(Cause::tls, "tls: " + err);
    co_return;
  }
  int one = 1;  // see fetch.cpp: handshake flights are several records
  sys::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.tls = std::make_unique<TlsConn>();
  int ret = c.tls->setup(l.tls, c.fd, rq.url.host, nullptr);
  while (ret == 0 && (ret = c.tls->handshake()) != 0) {
    if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) break;
    bool wr = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
    l.reactor.drained(c.fd, wr);
    if (co_await IoWait{l.reactor, c.fd, wr, &dl} != Waiter::kReady) {
      ret = MBEDTLS_ERR_SSL_TIMEOUT;
      break;
    }
    ret = 0;
  }
  if (ret != 0) r.fail(c.tls->cause(ret), c.tls->describe(ret, rq.url.host, "the TLS handshake"));
  else r.mark(kTls);
}

// Sends the request on c and reads the response. *any: a response byte
// came; *keep: c can carry another request.
Task exchange(Loop& l, const Request& rq, Conn& c, Sink& sink, const Deadline& dl, Result& r, bool* any, bool* keep) {
  std::string req = http::request(rq.url, l.cfg.head, l.cfg.headers, true);
  size_t off = 0;
  while (off < req.size()) {
    ssize_t w;
    bool again;
    if (c.tls) {
      int t = c.tls->write(req.data() + off, req.size() - off);
      again = t == MBEDTLS_ERR_SSL_WANT_WRITE || t == MBEDTLS_ERR_SSL_WANT_READ;
      if (t < 0 && !again) {
        r.fail(c.tls->cause(t), c.tls->describe(t, rq.url.host, "sending the request"));
        co_return;
      }
      w = t;
    } else {
      w = sys::send(c.fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      again = w < 0 && (errno == EAGAIN || errno == EINTR);
      if (w < 0 && !again) {
        if (c.connecting) r.fail(Cause::connect, sys::describe("connect(" + c.peer + ")", errno));
        else r.fail(Cause::send, sys::describe("send", errno));
        co_return;
      }
    }
    if (!again) {
      off += size_t(w);
      c.connecting = false;
      continue;
    }
    l.reactor.drained(c.fd, true);
    if (co_await writable(l.reactor, c.fd, &dl) != Waiter::kReady) {
      r.fail(Cause::timeout, c.connecting ? "timeout: connect(" + c.peer + ")" : "timeout: sending the request");
      co_return;
    }
    if (int err = c.connecting ? so_error(c.fd) : 0) {
      r.fail(Cause::connect, sys::describe("connect(" + c.peer + ")", err));
      co_return;
    }
  }

  r.mark(kSent);
  // Unparsed bytes of a head in progress wait in carry between reads.
  http::ResponseParser p;
  p.reset(l.cfg.head);
  std::string carry;
  for (;;) {
    const char* during = r.status ? "receiving the body" : "waiting for the response";
    if (!c.tls) {
      int w = co_await readable(l.reactor, c.fd, &dl);
      if (w != Waiter::kReady) {
        r.fail(Cause::timeout, std::string("timeout: ") + (wait_failed(w) ? wait_failed(w) : during));
        co_return;
      }
    }
    char* buf = l.scratch.data();
    size_t have = carry.size(), room = l.scratch.size() - have;
    memcpy(buf, carry.data(), have);
    ssize_t got;
    if (c.tls) {
      int t = c.tls->read(buf + have, room);
      if (t == MBEDTLS_ERR_SSL_WANT_READ || t == MBEDTLS_ERR_SSL_WANT_WRITE) {
        bool wr = t == MBEDTLS_ERR_SSL_WANT_WRITE;
        l.reactor.drained(c.fd, wr);
        if (co_await IoWait{l.reactor, c.fd, wr, &dl} != Waiter::kReady) {
          r.fail(Cause::timeout, std::string("timeout: ") + during);
          co_return;
        }
        continue;
      }
      if (t == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || t == MBEDTLS_ERR_SSL_CONN_EOF) t = 0;
      if (t < 0) {
        r.fail(c.tls->cause(t), c.tls->describe(t, rq.url.host, during));
        co_return;
      }
      got = t;
    } else {
      got = sys::recv(c.fd, buf + have, room, 0);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        l.reactor.drained(c.fd, false);
        continue;
      }
      if (got < 0) {
        r.fail(Cause::recv, sys::describe("recv", errno));
        co_return;
      }
      if (size_t(got) < room) l.reactor.drained(c.fd, false);  // a short read empties the socket
    }
    if (got == 0) {
      if (p.finish().ev != http::ResponseParser::done) r.fail(Cause::http, std::string("http: ") + p.error_message());
      co_return;
    }
    if (!*any) r.mark(kFirstByte);
    *any = true;
    size_t n = have + size_t(got);
    Delivered d = deliver(p, buf, n, sink, r);
    if (d.end) {
      *keep = d.keep;
      co_return;
    }
    carry.assign(buf + d.used, n - d.used);
    if (carry.size() >= http::ResponseParser::kMaxHeadBytes) {
      r.fail(Cause::http, "http: response head larger than 32768 bytes");
      co_return;
    }
  }
}

}  // namespace

Task fetch_async(Loop& l, const Request& rq, Sink& sink, Result& r) {
  auto t0 = Clock::now();
  const Deadline dl = deadline_in(l.cfg.timeout);
  r.begin(rq.line, l.id);
  sink.begin(rq);
  if (!rq.error.empty()) r.fail(Cause::input, rq.error);
  std::string key = rq.error.empty() ? pool_key(rq.url) : "";
  for (int attempt = 0; attempt < 2 && r.ok(); attempt++) {
    std::unique_ptr<Conn> c;
    int got;
    while ((got = co_await l.pool.acquire(key, attempt > 0, dl, c)) == LoopPool::Acquire::kAgain) {}
    if (got == LoopPool::Acquire::kTimeout) {
      r.fail(Cause::timeout, "timeout: waiting for a connection to " + key + " (--per-host)");
      break;
    }
    if (!c) {
      c = std::make_unique<Conn>();
      c->reactor = &l.reactor;
      co_await open_conn(l, rq, dl, *c, r);
      if (!r.ok()) {
        l.pool.release(key, std::move(c), false);
        break;
      }
    }
    bool any = false, keep = false;
    co_await exchange(l, rq, *c, sink, dl, r, &any, &keep);
    bool retry = attempt == 0 && stale_keepalive(*c, any, r);
    l.pool.release(key, std::move(c), keep && r.ok());
    if (!retry) break;
    r.restart();
  }
  sink.end(r);
  r.mark(kEnd);
  r.ms = ms_since(t0);
}

namespace {

struct Drive {
  Loop& loop;
  const std::vector<Request>& reqs;
  std::vector<Result>& results;
  const std::vector<uint32_t>* order;
  size_t count;
  size_t next = 0;
  size_t running = 0;
  void (*done)(void*, size_t);
  void* ctx;
};

// One of the `inflight` slots: asyncio's Semaphore(c), as a loop.
Task slot(Drive& d, Sink& sink, int lane) {
  for (;;) {
    size_t k = d.next++;
    if (k >= d.count) break;
    size_t i = d.order ? (*d.order)[k] : k;
    co_await fetch_async(d.loop, d.reqs[i], sink, d.results[i]);
    d.results[i].lane = lane;
    if (d.done) d.done(d.ctx, i);
  }
}

}  // namespace

void run_loop(Loop& l, Job& job, const std::vector<Request>& reqs, std::vector<Result>& results,
              const std::vector<uint32_t>* order, size_t inflight, void (*done)(void*, size_t), void* ctx) {
  Drive d{l, reqs, results, order, order ? order->size() : reqs.size(), 0, 0, done, ctx};
  size_t n = std::max<size_t>(1, std::min(inflight, d.count));
  l.inflight = std::min(n, d.count);
  std::vector<std::unique_ptr<Sink>> sinks;
  FrameArena::current = &l.arena;
  for (size_t i = 0; i < n; i++) {
    sinks.push_back(job.sink(l.id));
    d.running++;
    slot(d, *sinks.back(), int(i)).start([](void* p) { static_cast<Drive*>(p)->running--; }, &d);
  }
  while (d.running > 0) {
    if (!l.reactor.run_once() && d.running > 0) {
      fprintf(stderr, "fanout: internal error: %zu requests wait on nothing\n", d.running);
      abort();  // a lost wake-up: better a loud crash (procs/hybrid report it) than a hang
    }
  }
  FrameArena::current = nullptr;
}

}  // namespace fanout
