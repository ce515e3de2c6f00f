// A Loop is the async worker: one reactor, its frame arena, its resolver
// and TLS state, and a scratch buffer every request on the loop reads into
// (bytes are parsed before the next suspension, so one buffer serves all).
#pragma once
#include <memory>
#include <vector>

#include "fanout/coro.hpp"
#include "fanout/dns.hpp"
#include "fanout/engine.hpp"
#include "fanout/job.hpp"
#include "fanout/pool.hpp"
#include "fanout/tls.hpp"

namespace fanout {

class Loop {
 public:
  static constexpr size_t kScratch = 64 * 1024;
  Loop(int loop_id, const Config& c)
      : id(loop_id), cfg(c), dns(reactor, c), tls(c), scratch(kScratch), pool(reactor, c.per_host) {}
  int id;
  const Config& cfg;
  Reactor reactor;
  FrameArena arena;
  LoopResolver dns;
  Memo memo;
  TlsClient tls;
  std::vector<char> scratch;
  LoopPool pool;  // after reactor and tls: its connections close through one and point into the other
  size_t inflight = 0;  // the most requests it ran at once
};

// The coroutine driver: the same pipeline as fetch_blocking, awaiting
// where that one blocks. Always fills r.
Task fetch_async(Loop& l, const Request& rq, Sink& sink, Result& r);

// Runs reqs[order[k]] for every k (all of reqs when order is null), at most
// inflight at once, handing each result to done(ctx, i, result) as it ends.
void run_loop(Loop& l, Job& job, const std::vector<Request>& reqs, const std::vector<uint32_t>* order,
              size_t inflight, void (*done)(void*, size_t, Result&), void* ctx);

}  // namespace fanout
