// A Loop is the async worker: one reactor, its frame arena, its resolver
// and TLS state, and a scratch buffer every request on the loop reads into
// (bytes are parsed before the next suspension, so one buffer serves all).
#pragma once
#include <memory>
#include <vector>

#include "fanout/coro.hpp"
#include "fanout/dns.hpp"
#include "fanout/job.hpp"
#include "fanout/perform.hpp"
#include "fanout/pool.hpp"
#include "fanout/tls.hpp"

namespace fanout {

// What a loop waits with: io_uring where the run asks for it (c.uring:
// main made sure the kernel gives a ring), else the build's poller.
std::unique_ptr<Poller> loop_poller(const Config& c);
// The ring main made to see that io_uring is allowed: -m uring's one loop
// takes it rather than make a second (a forked worker makes its own: a
// ring is its maker's).
void keep_ring(std::unique_ptr<Poller> ring);

class Loop {
 public:
  static constexpr size_t kScratch = 64 * 1024;
  // slots: the requests it runs at once (what its pool's idle cap is made from).
  Loop(int loop_id, const Config& c, size_t slots)
      : id(loop_id), cfg(c), reactor(loop_poller(c)), dns(reactor, c), tls(c), scratch(kScratch), pool(reactor, c.per_host, idle_cap(slots, 1), size_t(c.max_streams)), env(c, tls) {}
  // Requests to u's host share HTTP/2 connections (--max-streams).
  bool mux(const Url& u) const { return cfg.max_streams > 1 && (u.https ? !cfg.http11 : cfg.h2c); }
  int id;
  const Config& cfg;
  Reactor reactor;
  FrameArena arena;
  LoopResolver dns;
  Memo memo;
  TlsClient tls;
  std::vector<char> scratch;
  LoopPool pool;  // after reactor and tls: its connections close through one and point into the other
  LiveEnv env;
  size_t inflight = 0;  // the most requests it ran at once
  size_t helpers = 0;   // tasks of their own running now: HTTP/2 pumps, connect attempts' watchers (fetch_async.cpp)
};

// The coroutine driver: the same pipeline as fetch_blocking, awaiting
// where that one blocks. Always fills r.
Task fetch_async(Loop& l, const Request& rq, Sink& sink, Result& r);

// Where a loop's slots get their requests: the run's input (async), or
// the parent's work pipe (hybrid). A slot told "wait" parks until wake().
struct Feed {
  enum Got { got, wait, end };
  virtual ~Feed() = default;
  virtual Got next(Request& out) = 0;
  // What the feed must do by a time of its own (flush what it has landed):
  // the loop wakes by due() and calls tick().
  virtual Deadline due() { return Deadline::max(); }
  virtual void tick() {}
  void wake(Reactor& r);  // work came, or the end: the parked slots look again
  std::vector<Waiter*> parked;
};

// Runs every request the feed gives, at most inflight at once, handing
// each result to done(ctx, request, result) as it ends. After SIGINT or
// SIGTERM it returns when the grace is over, whatever is still running.
void run_loop(Loop& l, Job& job, Feed& feed, size_t inflight, void (*done)(void*, const Request&, Result&), void* ctx);

}  // namespace fanout
