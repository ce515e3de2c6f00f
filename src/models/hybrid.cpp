// hybrid: asyncio inside a ProcessPoolExecutor. -w forked processes (one
// per CPU by default), each running the async loop with its share of -c in
// flight. The parent reads the input and keeps each worker a few requests
// ahead of what it has in flight, topping it up as its results stream back
// (so a worker stuck on slow hosts takes less); a worker that dies has
// every request it had not yet reported given an error that says how.
#include <cerrno>
#include <deque>
#include <sched.h>
#include <unistd.h>

#include "fanout/loop.hpp"
#include "fanout/model.hpp"
#include "fanout/stop.hpp"
#include "fanout/tls.hpp"
#include "supervisor.hpp"
#include "wire.hpp"

namespace fanout {
namespace {

// In the child: requests come from the work pipe, read on the loop, and
// results go back in batches (a write per result would cost as much as the
// request on a fast origin): when 16 KiB are ready, 50 ms after the oldest,
// or at once when the worker is about to run out of work.
struct PipeFeed : Feed {
  Loop& loop;
  int in_fd, out_fd;
  size_t low;  // fewer queued than this: the parent should hear now
  std::string in, out;
  std::deque<Request> queue;
  bool eof = false;
  Deadline oldest = Deadline::max();  // of the results not yet sent
  PipeFeed(Loop& l, int work_fd, int result_fd, size_t low_water)
      : loop(l), in_fd(work_fd), out_fd(result_fd), low(low_water) {
    loop.reactor.add(in_fd);
  }
  Got next(Request& rq) override {
    if (stop::requested()) return end;  // what is queued was never begun: cancelled
    if (queue.empty()) return eof ? end : wait;
    rq = std::move(queue.front());
    queue.pop_front();
    return got;
  }
  void send() {
    if (!out.empty() && !sys::write_all(out_fd, out.data(), out.size())) _exit(3);
    out.clear();
    oldest = Deadline::max();
  }
  Deadline due() override { return oldest == Deadline::max() ? oldest : oldest + std::chrono::milliseconds(50); }
  void tick() override {
    if (Clock::now() >= due()) send();
  }
  static void done(void* ctx, const Request& rq, Result& r) {
    auto* f = static_cast<PipeFeed*>(ctx);
    wire::put_result(f->out, rq.seq, r);
    if (f->oldest == Deadline::max()) f->oldest = Clock::now();
    if (f->out.size() > 16384 || f->queue.size() < f->low) f->send();
  }
  // The last write, after the totals (which count it) are sealed.
  void send_uncounted() {
    for (size_t off = 0; off < out.size();) {
      ssize_t w = ::write(out_fd, out.data() + off, out.size() - off);
      if (w <= 0 && errno != EINTR) _exit(3);
      if (w > 0) off += size_t(w);
    }
  }
};

Task read_work(PipeFeed& f) {
  char buf[65536];
  while (!f.eof) {
    co_await readable(f.loop.reactor, f.in_fd, nullptr);
    ssize_t n = sys::read(f.in_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      f.loop.reactor.drained(f.in_fd, false);
      continue;
    }
    if (n <= 0) f.eof = true;
    else f.in.append(buf, size_t(n));
    size_t off = 0;
    for (Request rq; wire::take_request(f.in, &off, rq);) f.queue.push_back(std::move(rq));
    f.in.erase(0, off);
    f.wake(f.loop.reactor);
  }
}

}  // namespace

bool run_hybrid(Run& run, std::string& err) {
  // The CPUs this process may run on (taskset, cpusets), not all there are.
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  size_t w = size_t(run.cfg.workers > 0 ? run.cfg.workers : cpus > 0 ? cpus : 1);
  // Worker k runs inflight(k) at once (with -c 5 over 2 workers: 3 and 2),
  // and is sent up to ahead(k) requests: those and as many queued.
  size_t c = size_t(run.cfg.concurrency);
  w = std::max<size_t>(1, std::min(w, c));
  auto inflight = [&](size_t k) { return std::max<size_t>(1, c / w + (k < c % w ? 1 : 0)); };
  auto ahead = [&](size_t k) { return 4 * inflight(k) + 64; };

  // The first requests, taken before any fork: no worker without work, and
  // the CA bundle parsed once, before fork, if any of them is HTTPS.
  std::deque<Request> first;
  Request rq;
  if (run.take(rq)) first.push_back(std::move(rq));  // the first may be waited for; the rest are what is there
  while (first.size() < ahead(0) * w && run.try_take(rq) == Run::Take::got) first.push_back(std::move(rq));
  w = std::max<size_t>(1, std::min(w, first.size()));
  bool https = false;
  for (auto& r : first) https |= r.error.empty() && r.url.https;
  std::string ca_err;
  if (https) tls_load_ca(run.cfg, ca_err);  // before fork: children inherit it

  Supervisor sup(run);
  std::vector<size_t> slot_of;  // the worker number behind each supervisor index
  auto top_up = [&](size_t k) {  // true: the input had nothing yet
    while (sup.held(k) < ahead(slot_of[k])) {
      if (Run::Take t = run.try_take(rq); t != Run::Take::got) {
        if (t == Run::Take::wait) return true;
        sup.no_more_work(k);
        return false;
      }
      sup.send(k, std::move(rq));
    }
    return false;
  };
  for (size_t k = 0; k < w; k++) {
    auto body = [&run, k, &inflight](int id, int result_fd, int work_fd) {
      Totals t;
      Loop loop(id, run.cfg);
      PipeFeed feed(loop, work_fd, result_fd, inflight(k));
      read_work(feed).start(nullptr, nullptr);
      run_loop(loop, run.job, feed, inflight(k), PipeFeed::done, &feed);
      t = Totals::of(loop);
      sys::count(sys::WRITE);  // the write below, counted before it is made
      wire::put_totals(feed.out, child_totals(t));
      feed.send_uncounted();
      _exit(0);
    };
    if (sup.spawn(body, true, err)) slot_of.push_back(k);  // else the others take its share
  }
  // The first requests dealt out in turn; wait() tops each worker up.
  for (size_t i = 0; !first.empty(); i++) {
    if (sup.size() == 0) run.land_failed(first.front(), Cause::worker, "worker: none could be started: " + err);
    else sup.send(i % sup.size(), std::move(first.front()));
    first.pop_front();
  }
  sup.wait(top_up, [](size_t) {});
  sup.fail_unanswered("worker: none could be started: " + err);
  return true;
}

}  // namespace fanout
