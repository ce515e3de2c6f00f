// The coroutine driver, used by async and hybrid: it carries out the
// engine's steps on the loop. Where fetch.cpp would wait in poll(), this
// awaits the reactor. Readiness is edge-triggered: the transport tells the
// reactor when a call found the socket empty, and only then do we wait.
#include "fanout/engine.hpp"
#include "fanout/loop.hpp"
#include "fanout/stop.hpp"

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
  Feed& feed;
  size_t running = 0;
  size_t busy = 0, most = 0;  // slots in a request now, and at most
  void (*done)(void*, const Request&, Result&);
  void* ctx;
};

struct Park {
  Feed& feed;
  Waiter w{};
  bool await_ready() const { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    w.fn = resume_waiter;
    w.ctx = h.address();
    feed.parked.push_back(&w);
  }
  void await_resume() const {}
};

// One of the `inflight` slots: asyncio's Semaphore(c), as a loop. Its one
// request and result are used again and again: a forked worker then
// writes nothing into memory it shares with its parent.
Task slot(Drive& d, Sink& sink, int lane) {
  Request rq;
  Result r;
  for (;;) {
    Feed::Got got = d.feed.next(rq);
    if (got == Feed::end) break;
    if (got == Feed::wait) {
      co_await Park{d.feed};
      continue;
    }
    d.most = std::max(d.most, ++d.busy);
    co_await fetch_async(d.loop, rq, sink, r);
    d.busy--;
    r.lane = lane;
    d.done(d.ctx, rq, r);
  }
}

}  // namespace

void Feed::wake(Reactor& r) {
  for (Waiter* w : parked) r.post(w);
  parked.clear();
}

void run_loop(Loop& l, Job& job, Feed& feed, size_t inflight, void (*done)(void*, const Request&, Result&), void* ctx) {
  Drive d{l, feed, 0, 0, 0, done, ctx};
  size_t n = std::max<size_t>(1, inflight);
  std::vector<std::unique_ptr<Sink>> sinks;
  FrameArena::current = &l.arena;
  for (size_t i = 0; i < n && d.running == i; i++) {  // a slot that found no work ended at once: no more
    sinks.push_back(job.sink(l.id));
    d.running++;
    slot(d, *sinks.back(), int(i)).start([](void* p) { static_cast<Drive*>(p)->running--; }, &d);
  }
  bool told = false;
  while (d.running > 0) {
    // SIGINT/SIGTERM: the slots take no more (a parked one hears it now);
    // once the grace is over, what is still in flight is left, and the run
    // counts it as cancelled.
    if (stop::requested() && !told) {
      told = true;
      feed.wake(l.reactor);
    }
    Deadline cancel = stop::cancel_at();
    if (Clock::now() >= cancel) break;
    Deadline by = std::min(cancel, feed.due());
    if (!l.reactor.run_once(by == Deadline::max() ? -1 : std::max(1, ms_left(by))) && d.running > 0) {
      fprintf(stderr, "fanout: internal error: %zu requests wait on nothing\n", d.running);
      abort();  // a lost wake-up: better a loud crash (procs/hybrid report it) than a hang
    }
    feed.tick();
  }
  FrameArena::current = nullptr;
  l.inflight = d.most;
}

}  // namespace fanout
