// hybrid: asyncio inside a ProcessPoolExecutor. -w forked processes (one
// per CPU by default), each running the async loop over its share of the
// input with its share of -c in flight. Results stream
// back over one pipe per worker; a worker that dies has every request it
// had not yet reported given an error that says how it died.
#include <cerrno>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/loop.hpp"
#include "fanout/model.hpp"
#include "fanout/progress.hpp"
#include "fanout/tls.hpp"
#include "wire.hpp"

namespace fanout {
namespace {

struct Child {
  pid_t pid;
  int fd;  // the read end of its result pipe
  std::vector<uint32_t> order;
  std::string in;
};

// In the child: results go out in batches (a write per result would cost
// as much as the request on a fast origin), and at least every 50 ms.
struct Out {
  Run& run;
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
  static void done(void* ctx, size_t i) {
    auto* o = static_cast<Out*>(ctx);
    wire::put_result(o->buf, uint32_t(i), o->run.results[i]);
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

  std::vector<Child> kids(w);
  size_t c = size_t(run.cfg.concurrency);
  // Worker k runs inflight(k) at once: it gets that share of the lines, so
  // all finish together (with -c 5 over 2 workers: 3 and 2 in flight, 60%
  // and 40% of the lines, in input order interleaved).
  auto inflight = [&](size_t k) { return std::max<size_t>(1, c / w + (k < c % w ? 1 : 0)); };
  for (size_t i = 0; i < n; i++) {
    size_t best = 0;
    for (size_t k = 1; k < w; k++)
      if ((kids[k].order.size() + 1) * inflight(best) < (kids[best].order.size() + 1) * inflight(k)) best = k;
    kids[best].order.push_back(uint32_t(i));
  }
  std::vector<bool> answered(n);
  for (size_t k = 0; k < w; k++) {
    int p[2];
    if (sys::pipe(p) < 0) {
      err = sys::describe("pipe2", errno);
      kids[k].pid = -1;
      kids[k].fd = -1;
      continue;
    }
    fflush(nullptr);
    pid_t pid = sys::fork();
    if (pid == 0) {
      sys::counters() = {};  // fork copied the parent's counts
      for (size_t j = 0; j < k; j++)
        if (kids[j].fd >= 0) sys::close(kids[j].fd);
      sys::close(p[0]);
      Out out{run, p[1], {}, Clock::now()};
      Totals t;
      {
        Loop loop(int(k), run.cfg);
        run_loop(loop, run.job, run.reqs, run.results, &kids[k].order, inflight(k), Out::done, &out);
        t = Totals::of(loop);
      }
      sys::count(sys::WRITE);  // the flush below, counted before it is made
      wire::put_totals(out.buf, child_totals(t));
      out.flush_uncounted();
      _exit(0);
    }
    sys::close(p[1]);
    if (pid < 0) {
      err = sys::describe("fork", errno);
      sys::close(p[0]);
      p[0] = -1;
    }
    kids[k].pid = pid;
    kids[k].fd = p[0];
    run.totals.workers++;
  }

  size_t live = 0, count = 0;
  for (auto& k : kids) live += k.fd >= 0;
  std::vector<pollfd> pfds;
  while (live > 0) {
    pfds.clear();
    for (auto& k : kids) pfds.push_back({k.fd, POLLIN, 0});  // fd -1 is skipped
    if (sys::poll(pfds.data(), pfds.size(), -1) < 0 && errno != EINTR) break;
    for (size_t j = 0; j < kids.size(); j++) {
      if (!pfds[j].revents) continue;
      Child& k = kids[j];
      char buf[65536];
      ssize_t got = sys::read(k.fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got > 0) {
        k.in.append(buf, size_t(got));
        wire::take(
            k.in,
            [&](uint32_t i, Result& r) {
              if (i >= n) return;
              r.line = run.reqs[i].line;
              r.worker = int(j);
              run.results[i] = std::move(r);
              answered[i] = true;
              progress::done(!run.results[i].ok());
              if (++count == n) run.mark_finished();
            },
            [&](const Totals& t) { run.totals.add(t); });
        continue;
      }
      sys::close(k.fd);
      k.fd = -1;
      live--;
      int st = 0;
      while (sys::waitpid(k.pid, &st, 0) < 0 && errno == EINTR) {}
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
      for (uint32_t i : k.order) {
        if (answered[i]) continue;
        run.results[i] = wire::died(run.reqs[i].line, int(j), k.pid, st);
        answered[i] = true;
        progress::done(true);
        if (++count == n) run.mark_finished();
      }
    }
  }
  for (size_t i = 0; i < n; i++) {  // a worker that could not be started
    if (answered[i]) continue;
    run.results[i].line = run.reqs[i].line;
    run.results[i].fail(Cause::worker, "worker: none could be started: " + err);
  }
  return true;
}

}  // namespace fanout
