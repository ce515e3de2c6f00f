// hybrid: asyncio inside a ProcessPoolExecutor, whose chunks go to
// whichever process is free. -w forked processes (one per CPU by default),
// each running the async loop with its share of -c in flight. The parent
// reads the input, deals it out by share, and keeps each worker a little
// ahead of what it has in flight as its results stream back; a worker with
// room takes from one stuck on slow hosts. A worker that dies has every
// request it had not yet reported given an error that says how.
#include <cerrno>
#include <deque>
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
// or (at most once a millisecond) when the worker is about to run out of work.
struct PipeFeed : Feed {
  Loop& loop;
  int in_fd, out_fd;
  size_t low;  // fewer queued than this: the parent should hear now
  std::string in, out;
  std::deque<Request> queue;
  bool eof = false;
  Deadline oldest = Deadline::max();  // of the results not yet sent
  Clock::time_point sent_at{};
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
    if (!out.empty() && !sys::pipe_write_all(out_fd, out.data(), out.size())) _exit(3);
    out.clear();
    oldest = Deadline::max();
    sent_at = Clock::now();
  }
  Deadline due() override {
    if (out.empty()) return Deadline::max();
    Deadline by = oldest + std::chrono::milliseconds(50);
    return queue.size() < low ? std::min(by, sent_at + std::chrono::milliseconds(1)) : by;
  }
  void tick() override {
    if (Clock::now() >= due()) send();
  }
  static void done(void* ctx, const Request& rq, Result& r) {
    auto* f = static_cast<PipeFeed*>(ctx);
    wire::put_result(f->out, rq.seq, r);
    if (f->oldest == Deadline::max()) f->oldest = Clock::now();
    // Running low asks at most once a millisecond: a busy parent is not
    // helped by a write for every result.
    bool low = f->queue.size() < f->low && Clock::now() - f->sent_at > std::chrono::milliseconds(1);
    if (f->out.size() > 16384 || low) f->send();
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
    ssize_t n = sys::pipe_read(f.in_fd, buf, sizeof buf);
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
  size_t w = hybrid_workers(run.cfg);
  // Worker k runs inflight(k) at once (with -c 5 over 2 workers: 3 and 2).
  size_t c = size_t(run.cfg.concurrency);
  auto inflight = [&](size_t k) { return std::max<size_t>(1, c / w + (k < c % w ? 1 : 0)); };
  auto most_ahead = [&](size_t k) { return 4 * inflight(k) + 64; };

  // The first requests, taken before any fork: no worker without work, and
  // the CA bundle parsed once, before fork, if any of them is HTTPS.
  std::deque<Request> first;
  Request rq;
  if (run.take(rq)) first.push_back(std::move(rq));  // the first may be waited for; the rest are what is there
  while (first.size() < most_ahead(0) * w && run.try_take(rq) == Run::Take::got) first.push_back(std::move(rq));
  w = std::max<size_t>(1, std::min(w, first.size()));
  bool https = false;
  for (auto& r : first) https |= r.error.empty() && r.url.https;
  std::string ca_err;
  if (https) tls_load_ca(run.cfg, ca_err);  // before fork: children inherit it

  Supervisor sup(run);
  std::vector<size_t> slot_of;  // the worker number behind each supervisor index
  for (size_t k = 0; k < w; k++) {
    auto body = [&run, k, &inflight](int id, int result_fd, int work_fd) {
      Totals t;
      Loop loop(id, run.cfg, inflight(k));
      std::vector<RingBatch> batches;  // --trace with --io-uring: the ring's, sent up before the totals
      if (SocketRing* ring = loop.reactor.ring(); ring && !run.cfg.trace.empty()) ring->keep_batches(&batches);
      PipeFeed feed(loop, work_fd, result_fd, inflight(k));
      read_work(feed).start(nullptr, nullptr);
      run_loop(loop, run.job, feed, inflight(k), PipeFeed::done, &feed);
      if (!batches.empty()) {
        loop.reactor.ring()->keep_batches(nullptr);
        wire::put_batches(feed.out, batches);
        feed.send();
      }
      t = Totals::of(loop);
      sys::count(sys::WRITE);  // the write below, counted before it is made
      sys::count(sys::PIPE_CALLS);
      sys::count(sys::PIPE_BYTES, feed.out.size() + wire::kTotalsBytes);
      wire::put_totals(feed.out, child_totals(t));
      feed.send_uncounted();
      _exit(0);
    };
    if (sup.spawn(body, true, err)) slot_of.push_back(k);  // else the others take its share
  }
  size_t n = sup.size();
  if (n == 0) {
    for (auto& r : first) run.land_failed(r, Cause::worker, "worker: none could be started: " + err);
    sup.fail_unanswered("worker: none could be started: " + err);
    return true;
  }

  // Requests are dealt in input order by share of -c (so with equal
  // latencies all workers end on the same round), into a queue per worker
  // here, and sent as each has room. A worker with room and an empty queue
  // takes from one more than a round of its slots behind (slow hosts), so a
  // stuck worker holds up little beyond what it has been sent.
  std::vector<std::deque<Request>> queued(n);
  std::vector<uint64_t> dealt(n, 0), sent(n, 0);
  // Each worker is sent what it has in flight and about 20 ms of its own
  // results more (at least 8, at most most_ahead): a fast origin gets big
  // batches (few writes a request), a worker on slow hosts a short queue.
  struct Pace {
    Clock::time_point at = Clock::now();
    uint64_t done = 0;
    double per_s = 0;  // results a second, smoothed
  };
  std::vector<Pace> pace(n);
  auto ahead = [&](size_t k) {
    Pace& p = pace[k];
    uint64_t done = sent[k] - sup.held(k);
    double dt = std::chrono::duration<double>(Clock::now() - p.at).count();
    if (dt >= 0.005) {
      p.per_s = p.per_s * 0.5 + double(done - p.done) / dt * 0.5;
      p.at = Clock::now();
      p.done = done;
    }
    size_t m = inflight(slot_of[k]), extra = size_t(p.per_s * 0.02);
    return std::min(most_ahead(slot_of[k]), m + std::max<size_t>(8, extra));
  };
  size_t waiting = 0;  // requests in all the queues
  bool input_done = false;
  std::vector<bool> closed(n, false);  // told there is no more work, or dead
  auto deal = [&](Request r) {  // to the open worker furthest below its share
    size_t best = n;
    for (size_t k = 0; k < n; k++)
      if (!closed[k] && (best == n || (dealt[k] + 1) * inflight(slot_of[best]) < (dealt[best] + 1) * inflight(slot_of[k])))
        best = k;
    if (best == n) return run.land_failed(r, Cause::worker, "worker: every worker had died before it");
    dealt[best]++;
    queued[best].push_back(std::move(r));
    waiting++;
  };
  for (; !first.empty(); first.pop_front()) deal(std::move(first.front()));
  auto fill = [&](size_t k) {  // true: the input had nothing yet
    Run::Take t = Run::Take::got;
    if (closed[k]) return false;
    for (size_t room = ahead(k); sup.held(k) < room;) {
      while (queued[k].empty() && !input_done && waiting < 4 * n * most_ahead(0) && (t = run.try_take(rq)) == Run::Take::got)
        deal(std::move(rq));
      input_done |= t == Run::Take::end;
      if (queued[k].empty()) {
        // The one furthest behind, in rounds of its slots; taken from only
        // if it is more than a round behind what k would be with one more.
        auto rounds = [&](size_t j, size_t more) { return double(queued[j].size() + sup.held(j) + more) / double(inflight(slot_of[j])); };
        size_t v = 0;
        for (size_t j = 1; j < n; j++)
          if (rounds(j, 0) > rounds(v, 0)) v = j;
        if (queued[v].empty() || rounds(v, 0) <= rounds(k, 1) + 1) break;
        queued[k].push_back(std::move(queued[v].back()));
        queued[v].pop_back();
      }
      sup.send(k, std::move(queued[k].front()));
      queued[k].pop_front();
      waiting--;
      sent[k]++;
    }
    if (input_done && waiting == 0)  // nothing left anywhere: every worker may finish
      for (size_t j = 0; j < n; j++)
        if (!closed[j]) {
          closed[j] = true;
          sup.no_more_work(j);
        }
    return t == Run::Take::wait;
  };
  // After worker k reports: k, and any worker with a free slot (an idle
  // one reports nothing, so only this can give it another's backlog).
  auto top_up = [&](size_t k) {
    bool starved = fill(k);
    for (size_t j = 0; j < n; j++)
      if (j != k && sup.held(j) < inflight(slot_of[j]) && !closed[j]) starved |= fill(j);
    return starved;
  };
  // A worker that died gets nothing more; what was queued for it goes to
  // the others (its requests in flight have their errors already).
  auto died = [&](size_t k) {
    closed[k] = true;
    std::deque<Request> orphans;
    orphans.swap(queued[k]);
    waiting -= orphans.size();
    for (auto& r : orphans) deal(std::move(r));
  };
  sup.wait(top_up, died);
  // What is left when no worker is: all died.
  sup.fail_unanswered("worker: every worker had died before it");
  return true;
}

}  // namespace fanout
