// async: asyncio + aiohttp + Semaphore(c) of the seeds. One thread, one
// reactor; -c coroutines each take the next URL when they finish one, so
// at most c requests are in flight. Nothing blocks: every wait is the
// reactor's, and the kernel sees one thread making all the calls; even a
// slow writer of the input is waited for on the reactor.
#include "fanout/loop.hpp"
#include "fanout/model.hpp"

namespace fanout {
namespace {

struct RunFeed : Feed {
  Run& run;
  Loop& loop;
  bool watching = false;
  RunFeed(Run& r, Loop& l) : run(r), loop(l) {}
  Got next(Request& out) override {
    switch (run.try_take(out)) {
      case Run::Take::got: return got;
      case Run::Take::end: return end;
      case Run::Take::wait: break;
    }
    if (!watching) watch_input(*this).start(nullptr, nullptr);
    return wait;
  }
  Deadline due() override { return run.flush_by(); }
  void tick() override { run.flush_due(); }

  // The input is a pipe with no whole line in it: the parked slots look
  // again when it is readable (or closed).
  static Task watch_input(RunFeed& f) {
    f.watching = true;
    int fd = f.run.input_fd();
    if (f.loop.reactor.add(fd) == 0) {
      co_await readable(f.loop.reactor, fd, nullptr);
      f.loop.reactor.forget(fd);  // the input closes it at its end, not the reactor
    }
    f.watching = false;
    f.wake(f.loop.reactor);
  }
};

}  // namespace

// uring: the same loop, waiting on io_uring (platform/uring.cpp).
bool run_uring(Run& run, std::string& err) { return run_async(run, err); }

bool run_async(Run& run, std::string&) {
  Loop loop(0, run.cfg, size_t(run.cfg.concurrency));
  if (SocketRing* ring = loop.reactor.ring(); ring && !run.cfg.trace.empty()) ring->keep_batches(&run.batches);
  RunFeed feed(run, loop);
  auto landed = [](void* ctx, const Request& rq, Result& r) { static_cast<Run*>(ctx)->land(rq, r); };
  run_loop(loop, run.job, feed, size_t(run.cfg.concurrency), landed, &run);
  run.totals.add(Totals::of(loop));
  return true;
}

}  // namespace fanout
