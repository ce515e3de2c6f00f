// async: asyncio + aiohttp + Semaphore(c) of the seeds. One thread, one
// reactor; -c coroutines each take the next URL when they finish one, so
// at most c requests are in flight. Nothing blocks: every wait is the
// reactor's, and the kernel sees one thread making all the calls.
#include "fanout/loop.hpp"
#include "fanout/model.hpp"

namespace fanout {

bool run_async(Run& run, std::string&) {
  Loop loop(0, run.cfg);
  auto landed = [](void* ctx, size_t i, Result& r) {
    auto* run = static_cast<Run*>(ctx);
    run->results[i] = std::move(r);
    run->land(i);
  };
  run_loop(loop, run.job, run.reqs, nullptr, size_t(run.cfg.concurrency), landed, &run);
  run.totals.add(Totals::of(loop));
  return true;
}

}  // namespace fanout
