// hybrid: asyncio inside a ProcessPoolExecutor. -w forked processes (one
// per CPU by default), each running the async loop over its share of the
// input with its share of -c in flight. Results stream
// back over one pipe per worker; a worker that dies has every request it
// had not yet reported given an error that says how it died.
#include <cerrno>
#include <sched.h>
#include <unistd.h>

#include "fanout/loop.hpp"
#include "fanout/model.hpp"
#include "fanout/tls.hpp"
#include "supervisor.hpp"
#include "wire.hpp"

namespace fanout {
namespace {

// In the child: results go out in batches (a write per result would cost
// as much as the request on a fast origin), and at least every 50 ms.
struct Out {
  int fd;
  std::string buf;
  Clock::time_point last = Clock::now();
  void flush() {
    if (!buf.empty() && !sys::write_all(fd, buf.data(), buf.size())) _exit(3);
    buf.clear();
    last = Clock::now();
  }
  // The last write, after the totals (which count it) are sealed.
  void flush_uncounted() {
    for (size_t off = 0; off < buf.size();) {
      ssize_t w = ::write(fd, buf.data() + off, buf.size() - off);
      if (w <= 0 && errno != EINTR) _exit(3);
      if (w > 0) off += size_t(w);
    }
  }
  static void done(void* ctx, size_t i, Result& r) {
    auto* o = static_cast<Out*>(ctx);
    wire::put_result(o->buf, uint32_t(i), r);
    if (o->buf.size() > 16384 || Clock::now() - o->last > std::chrono::milliseconds(50)) o->flush();
  }
};

}  // namespace

bool run_hybrid(Run& run, std::string& err) {
  size_t n = run.reqs.size();
  // The CPUs this process may run on (taskset, cpusets), not all there are.
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  size_t w = size_t(run.cfg.workers > 0 ? run.cfg.workers : cpus > 0 ? cpus : 1);
  w = std::max<size_t>(1, std::min(w, n));
  bool https = false;
  for (auto& r : run.reqs) https |= r.error.empty() && r.url.https;
  std::string ca_err;
  if (https) tls_load_ca(run.cfg, ca_err);  // before fork: children inherit it

  // Worker k runs inflight(k) at once: it gets that share of the lines, so
  // all finish together (with -c 5 over 2 workers: 3 and 2 in flight, 60%
  // and 40% of the lines, in input order interleaved).
  size_t c = size_t(run.cfg.concurrency);
  auto inflight = [&](size_t k) { return std::max<size_t>(1, c / w + (k < c % w ? 1 : 0)); };
  std::vector<std::vector<uint32_t>> order(w);
  for (size_t i = 0; i < n; i++) {
    size_t best = 0;
    for (size_t k = 1; k < w; k++)
      if ((order[k].size() + 1) * inflight(best) < (order[best].size() + 1) * inflight(k)) best = k;
    order[best].push_back(uint32_t(i));
  }

  Supervisor sup(run);
  for (size_t k = 0; k < w; k++) {
    auto body = [&](int id, int result_fd, int) {
      Out out{result_fd, {}, Clock::now()};
      Totals t;
      {
        Loop loop(id, run.cfg);
        run_loop(loop, run.job, run.reqs, &order[k], inflight(k), Out::done, &out);
        t = Totals::of(loop);
      }
      sys::count(sys::WRITE);  // the flush below, counted before it is made
      wire::put_totals(out.buf, child_totals(t));
      out.flush_uncounted();
      _exit(0);
    };
    if (!sup.spawn(body, false, err)) continue;  // its lines get an error below
    for (uint32_t i : order[k]) sup.hold(sup.size() - 1, i);
  }
  sup.wait([](size_t) {}, [](size_t) {});
  sup.fail_unanswered("worker: none could be started: " + err);
  return true;
}

}  // namespace fanout
