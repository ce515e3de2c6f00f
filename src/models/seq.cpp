// seq: the naive checker of the seeds. One loop; each request waits for the
// one before it. Its time is the sum of every latency, and its cost is the
// floor every other model is measured against.
#include "fanout/model.hpp"
#include "fanout/worker.hpp"

namespace fanout {

bool run_seq(Run& run, std::string&) {
  Worker w(0, run.cfg, run.job);
  Request rq;
  Result r;
  while (run.take(rq)) {
    fetch_blocking(w, rq, r);
    run.land(rq, r);
  }
  run.totals.add(Totals::of(w));
  return true;
}

}  // namespace fanout
