// The coroutine driver, used by async and hybrid: it carries out the
// engine's steps on the loop. Where fetch.cpp would wait in poll(), this
// awaits the reactor. Readiness is edge-triggered: the transport tells the
// reactor when a call found the socket empty, and only then do we wait.
#include <cstdio>
#include <memory>
#include <unistd.h>

#include "fanout/engine.hpp"
#include "fanout/loop.hpp"
#include "fanout/stop.hpp"

namespace fanout {

namespace {

bool again(Io io) { return io == Io::want_read || io == Io::want_write; }

// Waits until *slot's owner wakes it (slot is cleared then), or until
// *dl (none: for ever), or for fd when one is given.
struct Parked {
  Reactor& r;
  void*& slot;
  const Deadline* dl;
  int fd = -1;
  bool write = false;
  Waiter w{};
  bool await_ready() const { return fd >= 0 && r.ready(fd, write); }
  void await_suspend(std::coroutine_handle<> h) {
    w.fn = resume_waiter;
    w.ctx = h.address();
    slot = &w;
    if (fd >= 0) r.wait(&w, fd, write, dl);
    else r.sleep(&w, dl ? *dl : Deadline::max());
  }
  int await_resume() {
    if (slot == &w) slot = nullptr;
    return w.result;
  }
};

void wake(Reactor& r, void*& slot) {
  if (!slot) return;
  r.wake(static_cast<Waiter*>(slot));
  slot = nullptr;
}

// What a shared connection's session has to send, sent: Io::ok when all
// of it went.
Io flush(Conn& c) {
  H2Link& k = *c.h2;
  std::string& out = k.s.out();
  size_t n = 0;
  while (!out.empty()) {
    size_t len = k.retry_len ? k.retry_len : out.size();
    Io io = c.t->write(c, out.data(), len, &n);
    if (io != Io::ok) {
      if (io != Io::error) k.retry_len = len;
      return io;
    }
    k.retry_len = 0;
    out.erase(0, n);
  }
  k.unsent = 0;
  return Io::ok;
}

// Requests that open streams in one turn go out in one write, but no more
// than this many wait for it: the server starts on the first while the
// rest are made.
constexpr size_t kBatch = 32;

// A shared HTTP/2 connection's one reader and writer: it sends what the
// session has for every stream (HEADERS, RST_STREAM, WINDOW_UPDATE, PING's
// answer) in one write, reads for every stream, and wakes the streams that
// heard something. It ends when the connection carries no stream, and
// gives it back to the pool. A stream that opens or ends wakes it.
Task pump(Loop& l, std::string key, Conn& c) {
  H2Link& k = *c.h2;
  size_t n = 0;
  while (k.streams() > 0) {
    Io io = k.over() ? Io::ok : flush(c);
    if (io == Io::ok && !k.over()) {  // all sent: read
      if (!c.t->pending(c) && !l.reactor.ready(c.fd, false)) io = Io::want_read;
      else if ((io = c.t->read(c, l.scratch.data(), l.scratch.size(), &n)) == Io::ok) k.feed(l.scratch.data(), n);
    }
    if (io == Io::error) k.broke = c.failure(k.s.out().empty() ? "receiving the body" : "sending the request");
    if (k.over()) k.hear_all();
    for (H2Stream* st : k.heard()) {
      st->heard = false;
      wake(l.reactor, st->parked);
    }
    k.heard().clear();
    if (k.streams() == 0) break;
    // Wait for the socket, or for a stream to open or end; with the
    // connection over, only for the streams to end.
    if (k.over()) co_await Parked{l.reactor, k.pump, nullptr};
    else if (io != Io::ok && co_await Parked{l.reactor, k.pump, nullptr, c.fd, io == Io::want_write} == Waiter::kClosed)
      k.broke = {Cause::recv, "http2: the connection was closed"};
  }
  l.pool.retire(key, &c, !k.over() && k.s.out().empty() && k.s.can_open());
}

// Happy Eyeballs on a loop: each attempt's socket is watched by a task of
// its own, which tells the request (parked until then, or until the next
// attempt's time) when it is writable. What the watchers and the request
// share outlives both; a watcher whose attempt has lost ends when its
// socket is closed.
struct RaceWake {
  void* parked = nullptr;  // the request's waiter
  std::vector<size_t> ready;  // attempts' sockets that said writable (or closed), by fd
  bool over = false;
};

Task watch(Loop& l, std::shared_ptr<RaceWake> s, int fd) {
  co_await writable(l.reactor, fd, nullptr);
  if (s->over) co_return;
  s->ready.push_back(size_t(fd));
  wake(l.reactor, s->parked);
}

Task race(Loop& l, Engine& e, Conn& c) {
  Race race;
  auto s = std::make_shared<RaceWake>();
  while (e.step() == Engine::connect) {
    if (e.start_attempt()) {
      size_t had = race.tries.size();
      race.start(e, c);
      if (e.step() == Engine::connect && race.tries.size() > had) {
        l.helpers++;
        watch(l, s, race.tries.back().conn->fd).start([](void* p) { static_cast<Loop*>(p)->helpers--; }, &l);
      }
      continue;
    }
    if (s->ready.empty()) {
      Deadline until = std::min(e.next_attempt(), e.deadline());
      co_await Parked{l.reactor, s->parked, &until};
    }
    if (!s->ready.empty()) {
      int fd = int(s->ready.back());
      s->ready.pop_back();
      for (size_t k = 0; k < race.tries.size(); k++)
        if (race.tries[k].conn->fd == fd) {
          race.check(e, c, k);
          break;
        }
    } else if (Clock::now() >= e.deadline()) {
      e.timed_out();
    } else if (Clock::now() >= e.next_attempt()) {
      e.attempt_due();
    }
  }
  s->over = true;
  race.end();
}

}  // namespace

Task fetch_async(Loop& l, const Request& rq, Sink& sink, Result& r) {
  Engine e(l.cfg, l.memo, l.env, rq, sink, r, l.id);
  std::unique_ptr<Conn> own;
  Conn* lent = nullptr;  // a shared HTTP/2 connection, carrying this request as a stream
  // HTTP/2 on a loop: the pool's connection from now on, lent to this
  // request too; its pump starts once a stream is on it.
  auto share = [&] { lent = l.pool.share(e.key(), std::move(own)); };
  auto start_pump = [&] {
    l.helpers++;
    pump(l, e.key(), *lent).start([](void* p) { static_cast<Loop*>(p)->helpers--; }, &l);
  };
  Deadline dl;  // the current step's: a try, a connect, each has its own
  for (;;) {
    dl = e.deadline();
    switch (e.step()) {
      case Engine::acquire: {
        bool h2 = l.mux(e.url());
        int got;
        while ((got = co_await l.pool.acquire(e.key(), e.fresh(), h2, dl, own, lent)) == LoopPool::Acquire::kAgain) {}
        if (got != LoopPool::Acquire::kGot) {
          e.no_connection();
          break;
        }
        // An idle HTTP/2 connection that takes a stream is shared again.
        bool again_shared = h2 && own && own->h2 && own->h2->room(size_t(l.cfg.max_streams));
        if (again_shared) share();
        if (lent) e.acquired(true, lent->h2.get());
        else e.acquired(own->reused, own->h2.get(), own->peer);
        if (again_shared) start_pump();  // (the stream is open: room() said it would)
        break;
      }
      case Engine::resolve: {
        Failure f;
        co_await l.dns.resolve(e.lookup(), dl, e.answer(), f);
        e.resolved(std::move(f));
        break;
      }
      case Engine::recv:
        if (!lent && own->probe) {  // the request is sent: the new connection tells what it speaks
          if (own->h2) {
            share();
            start_pump();
          } else {
            l.pool.settled_h1(e.key(), *own);
          }
        }
        if (lent) {
          while (e.h2_waiting() && co_await Parked{l.reactor, e.h2_stream().parked, &dl} != Waiter::kTimedOut) {}
          if (e.h2_waiting()) e.timed_out();
          else e.h2_settle();
          break;
        }
        [[fallthrough]];
      case Engine::tunnel:
      case Engine::connect:
        if (e.step() == Engine::connect && e.racing()) {  // (recv falls through to here)
          co_await race(l, e, *own);
          break;
        }
        [[fallthrough]];
      case Engine::handshake:
      case Engine::send: {
        if (lent) {  // the pump sends it, or this request with those before it
          H2Link& k = *lent->h2;
          if (++k.unsent < kBatch || k.retry_len || flush(*lent) != Io::ok) wake(l.reactor, k.pump);
          e.queued();
          break;
        }
        Conn* c = own.get();
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
        if (lent) {
          wake(l.reactor, lent->h2->pump);  // to send the stream's reset, or to end
          lent = nullptr;
          l.pool.stream_done(e.key());
        } else {
          l.pool.release(e.key(), std::move(own), e.keep());
        }
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

constexpr size_t kStartBatch = 256;

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

namespace {
std::unique_ptr<Poller>& kept_ring() {
  static std::unique_ptr<Poller> ring;
  return ring;
}
}  // namespace

void keep_ring(std::unique_ptr<Poller> ring) { kept_ring() = std::move(ring); }

std::unique_ptr<Poller> loop_poller(const Config& c) {
  if (!c.uring) return Poller::create();
  if (kept_ring()) return std::move(kept_ring());
  std::string why;
  std::unique_ptr<Poller> p = make_uring_poller(why);
  if (!p) {  // it worked when main tried: a limit reached since (a worker's ring too many)
    fprintf(stderr, "fanout: io_uring: %s\n", why.c_str());
    _exit(2);
  }
  return p;
}

void Feed::wake(Reactor& r) {
  for (Waiter* w : parked) r.post(w);
  parked.clear();
}

void run_loop(Loop& l, Job& job, Feed& feed, size_t inflight, void (*done)(void*, const Request&, Result&), void* ctx) {
  Drive d{l, feed, 0, 0, 0, done, ctx};
  size_t n = std::max<size_t>(1, inflight);
  std::vector<std::unique_ptr<Sink>> sinks;
  FrameArena::current = &l.arena;
  // The slots start a batch at a time with a turn between, so the first
  // connections' answers are heard while the last ones connect (with
  // -c 10000 the starts take a third of a second; a ring's connects
  // complete only in a turn).
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && i % kStartBatch == 0) l.reactor.run_once(0);
    sinks.push_back(job.sink(l.id));
    size_t before = ++d.running;
    slot(d, *sinks.back(), int(i)).start([](void* p) { static_cast<Drive*>(p)->running--; }, &d);
    if (d.running < before) break;  // a slot that found no work ended at once: no more
  }
  bool told = false;
  // (Once the requests are done, the HTTP/2 pumps take a turn to hand
  // their connections back.)
  while (d.running > 0 || l.helpers > 0) {
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
    if (!l.reactor.run_once(by == Deadline::max() ? -1 : std::max(1, ms_left(by))) && (d.running > 0 || l.helpers > 0)) {
      fprintf(stderr, "fanout: internal error: %zu requests wait on nothing\n", d.running + l.helpers);
      abort();  // a lost wake-up: better a loud crash (procs/hybrid report it) than a hang
    }
    feed.tick();
  }
  FrameArena::current = nullptr;
  l.inflight = d.most;
}

}  // namespace fanout
