// The coroutine driver, used by async and hybrid. Sockets are non-blocking;
// where fetch.cpp would block, this awaits the reactor. Edge-triggered
// readiness: a call that says EAGAIN (or a read shorter than asked for)
// tells the reactor the edge is spent, and only then do we wait for the next.
#include <cerrno>
#include <cstring>
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "fanout/http.hpp"
#include "fanout/loop.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

struct BodyCtx {
  Sink& sink;
  Result& r;
};
void on_body(void* ctx, const char* p, size_t n) {
  auto* b = static_cast<BodyCtx*>(ctx);
  b->r.bytes += n;
  b->sink.body(p, n);
}

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

}  // namespace

Task fetch_async(Loop& l, const Request& rq, Sink& sink, Result& r) {
  auto t0 = Clock::now();
  const Deadline dl = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(l.cfg.timeout));
  r = Result{};
  r.line = rq.line;
  r.worker = l.id;
  sink.begin(rq);
  int fd = -1;
  std::unique_ptr<TlsConn> tls;
  std::vector<Addr> addrs;
  do {
    if (!rq.error.empty()) {
      r.fail(Cause::input, rq.error);
      break;
    }
    if (!co_await l.dns.resolve(rq.url, dl, addrs, r)) break;

    for (const Addr& a : addrs) {  // in order; the last error stands
      bool pending;
      fd = connect_start(l, a, r, &pending);
      if (fd < 0) continue;
      if (pending) {
        int w = co_await writable(l.reactor, fd, &dl);
        int err = w == Waiter::kReady ? so_error(fd) : 0;
        if (w != Waiter::kReady || err) {
          if (w == Waiter::kTimedOut) r.fail(Cause::timeout, "timeout: connect(" + a.text() + ")");
          else r.fail(Cause::connect, sys::describe("connect(" + a.text() + ")", err ? err : ECONNREFUSED));
          l.reactor.close(fd);
          fd = -1;
          if (r.cause == Cause::timeout) break;
          continue;
        }
      }
      break;
    }
    if (fd < 0) break;
    r = Result{r.line, 0, 0, 0, Cause::none, {}, r.worker};
    l.connections++;

    if (rq.url.https) {
      std::string err;
      if (!l.tls.init(l.cfg, err)) {
        r.fail(Cause::tls, "tls: " + err);
        break;
      }
      int one = 1;  // see fetch.cpp: handshake flights are several records
      sys::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      tls = std::make_unique<TlsConn>();
      int ret = tls->setup(l.tls, fd, rq.url.host, nullptr);
      while (ret == 0 && (ret = tls->handshake()) != 0) {
        if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE) break;
        bool wr = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
        l.reactor.drained(fd, wr);
        int w = co_await IoWait{l.reactor, fd, wr, &dl};
        if (w != Waiter::kReady) {
          ret = MBEDTLS_ERR_SSL_TIMEOUT;
          break;
        }
        ret = 0;
      }
      if (ret != 0) {
        r.fail(tls->cause(ret), tls->describe(ret, rq.url.host, "the TLS handshake"));
        break;
      }
    }

    // Send the request.
    {
      std::string req = http::request(rq.url, l.cfg.head, l.cfg.headers, false);
      size_t off = 0;
      bool failed = false;
      while (off < req.size()) {
        ssize_t w;
        bool again;
        if (tls) {
          int t = tls->write(req.data() + off, req.size() - off);
          again = t == MBEDTLS_ERR_SSL_WANT_WRITE || t == MBEDTLS_ERR_SSL_WANT_READ;
          if (t < 0 && !again) {
            r.fail(tls->cause(t), tls->describe(t, rq.url.host, "sending the request"));
            failed = true;
            break;
          }
          w = t;
        } else {
          w = sys::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
          again = w < 0 && (errno == EAGAIN || errno == EINTR);
          if (w < 0 && !again) {
            r.fail(Cause::send, sys::describe("send", errno));
            failed = true;
            break;
          }
        }
        if (!again) {
          off += size_t(w);
          continue;
        }
        l.reactor.drained(fd, true);
        if (co_await writable(l.reactor, fd, &dl) != Waiter::kReady) {
          r.fail(Cause::timeout, "timeout: sending the request");
          failed = true;
          break;
        }
      }
      if (failed) break;
    }

    // Receive and parse. Unparsed bytes of a head in progress wait in carry.
    http::ResponseParser p;
    p.reset(l.cfg.head);
    BodyCtx ctx{sink, r};
    std::string carry;
    for (;;) {
      const char* during = r.status ? "receiving the body" : "waiting for the response";
      if (!tls) {
        int w = co_await readable(l.reactor, fd, &dl);
        if (w != Waiter::kReady) {
          r.fail(Cause::timeout, std::string("timeout: ") + (wait_failed(w) ? wait_failed(w) : during));
          break;
        }
      }
      char* buf = l.scratch.data();
      size_t have = carry.size(), room = l.scratch.size() - have;
      memcpy(buf, carry.data(), have);
      ssize_t got;
      if (tls) {
        int t = tls->read(buf + have, room);
        if (t == MBEDTLS_ERR_SSL_WANT_READ || t == MBEDTLS_ERR_SSL_WANT_WRITE) {
          l.reactor.drained(fd, t == MBEDTLS_ERR_SSL_WANT_WRITE);
          if (co_await IoWait{l.reactor, fd, t == MBEDTLS_ERR_SSL_WANT_WRITE, &dl} != Waiter::kReady) {
            r.fail(Cause::timeout, std::string("timeout: ") + during);
            break;
          }
          continue;
        }
        if (t == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || t == MBEDTLS_ERR_SSL_CONN_EOF) t = 0;
        if (t < 0) {
          r.fail(tls->cause(t), tls->describe(t, rq.url.host, during));
          break;
        }
        got = t;
      } else {
        got = sys::recv(fd, buf + have, room, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
          l.reactor.drained(fd, false);
          continue;
        }
        if (got < 0) {
          r.fail(Cause::recv, sys::describe("recv", errno));
          break;
        }
        if (size_t(got) < room) l.reactor.drained(fd, false);  // a short read empties the socket
      }
      if (got == 0) {
        if (p.finish().ev != http::ResponseParser::done) r.fail(Cause::http, std::string("http: ") + p.error_message());
        break;
      }
      size_t n = have + size_t(got), off = 0;
      bool end = false;
      for (;;) {
        auto s = p.feed(buf + off, n - off, on_body, &ctx);
        off += s.used;
        if (s.ev == http::ResponseParser::head) {
          r.status = p.status();
          sink.head(p);
          continue;
        }
        if (s.ev == http::ResponseParser::done) end = true;
        if (s.ev == http::ResponseParser::error) {
          r.fail(Cause::http, std::string("http: ") + p.error_message());
          end = true;
        }
        if (end || s.used == 0) break;
      }
      if (end) break;
      carry.assign(buf + off, n - off);
      if (carry.size() >= http::ResponseParser::kMaxHeadBytes) {
        r.fail(Cause::http, "http: response head larger than 32768 bytes");
        break;
      }
    }
  } while (false);
  tls.reset();
  if (fd >= 0) l.reactor.close(fd);
  sink.end(r);
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
Task slot(Drive& d, Sink& sink) {
  for (;;) {
    size_t k = d.next++;
    if (k >= d.count) break;
    size_t i = d.order ? (*d.order)[k] : k;
    co_await fetch_async(d.loop, d.reqs[i], sink, d.results[i]);
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
    slot(d, *sinks.back()).start([](void* p) { static_cast<Drive*>(p)->running--; }, &d);
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
