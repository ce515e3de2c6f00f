// The coroutine driver, used by async and hybrid: it carries out the
// engine's steps on the loop. Where fetch.cpp would wait in poll(), this
// awaits the reactor. Readiness is edge-triggered: the transport tells the
// reactor when a call found the socket empty, and only then do we wait.
#include "fanout/engine.hpp"
#include "fanout/loop.hpp"

namespace fanout {

namespace {

bool again(Io io) { return io == Io::want_read || io == Io::want_write; }

}  // namespace

Task fetch_async(Loop& l, const Request& rq, Sink& sink, Result& r) {
  Engine e(l.cfg, l.memo, l.tls, rq, sink, r, l.id);
  std::unique_ptr<Conn> c;
  Deadline dl;  // the current step's: a try, a connect, each has its own
  for (;;) {
    dl = e.deadline();
    switch (e.step()) {
      case Engine::acquire: {
        int got;
        while ((got = co_await l.pool.acquire(e.key(), e.fresh(), dl, c)) == LoopPool::Acquire::kAgain) {}
        if (got == LoopPool::Acquire::kGot) e.acquired(*c);
        else e.no_connection();
        break;
      }
      case Engine::resolve:
        e.resolved(co_await l.dns.resolve(e.url(), dl, e.answer(), r));
        break;
      case Engine::connect:
      case Engine::handshake:
      case Engine::send:
      case Engine::recv: {
        // A response is awaited before it is read (no recv that says EAGAIN
        // first), unless the reactor knows the socket is readable already.
        bool ready = e.step() != Engine::recv || c->t->pending(*c) ||
                     co_await readable(l.reactor, c->fd, &dl) == Waiter::kReady;
        Io io;
        while (ready && again(io = perform(e, *c, l.tls, l.cfg, l.scratch.data(), l.scratch.size())))
          ready = co_await IoWait{l.reactor, c->fd, io == Io::want_write, &dl} == Waiter::kReady;
        if (!ready) e.timed_out();
        break;
      }
      case Engine::release:
        l.pool.release(e.key(), std::move(c), e.keep());
        e.released();
        break;
      case Engine::wait:
        co_await sleep_until(l.reactor, e.until());
        e.waited();
        break;
      case Engine::done:
        co_return;
    }
  }
}

namespace {

struct Drive {
  Loop& loop;
  const std::vector<Request>& reqs;
  const std::vector<uint32_t>* order;
  size_t count;
  size_t next = 0;
  size_t running = 0;
  void (*done)(void*, size_t, Result&);
  void* ctx;
};

// One of the `inflight` slots: asyncio's Semaphore(c), as a loop. Its one
// result goes to done() and is used again: a forked worker then writes
// nothing into the parent's results, which fork shared copy-on-write.
Task slot(Drive& d, Sink& sink, int lane) {
  Result r;
  for (;;) {
    size_t k = d.next++;
    if (k >= d.count) break;
    size_t i = d.order ? (*d.order)[k] : k;
    co_await fetch_async(d.loop, d.reqs[i], sink, r);
    r.lane = lane;
    d.done(d.ctx, i, r);
  }
}

}  // namespace

void run_loop(Loop& l, Job& job, const std::vector<Request>& reqs, const std::vector<uint32_t>* order,
              size_t inflight, void (*done)(void*, size_t, Result&), void* ctx) {
  Drive d{l, reqs, order, order ? order->size() : reqs.size(), 0, 0, done, ctx};
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
