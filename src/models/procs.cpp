// procs: multiprocessing.Pool of the seeds, with chunksize 1. The parent
// forks -c workers. Each has its own work pipe (the parent writes the index
// of the next request) and result pipe (the worker writes the result back,
// which is also its request for more work). So the parent always knows the
// one request each worker holds: when a worker dies, that request gets an
// error result naming how it died, and a new worker takes its place.
//
// Children share the parsed input and the CA chain with the parent (fork
// copies them on write); everything random or stateful (DRBG, c-ares
// channel) is created in the child, after fork, so no two workers share it.
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/model.hpp"
#include "fanout/progress.hpp"
#include "fanout/tls.hpp"
#include "fanout/worker.hpp"
#include "wire.hpp"

namespace fanout {
namespace {

struct Proc {
  int id;
  pid_t pid;
  int work_fd;    // parent writes request indexes; -1 once closed
  int result_fd;  // parent reads results
  long holding;   // the index this worker is fetching, or -1
  std::string in;
};

[[noreturn]] void child_main(Run& run, int id, int work_fd, int result_fd) {
  Totals t;
  {
    Worker w(id, run.cfg, run.job);
    Result r;
    for (;;) {
      uint32_t idx;
      size_t got = 0;
      while (got < sizeof idx) {
        ssize_t n = sys::read(work_fd, reinterpret_cast<char*>(&idx) + got, sizeof idx - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += size_t(n);
      }
      if (got < sizeof idx || idx >= run.reqs.size()) break;  // no more work
      fetch_blocking(w, run.reqs[idx], r);
      std::string rec;
      wire::put_result(rec, idx, r);
      if (!sys::write_all(result_fd, rec.data(), rec.size())) _exit(3);
    }
    t = Totals::of(w);
  }
  std::string rec;
  sys::count(sys::WRITE);  // the write below, counted before it is made
  wire::put_totals(rec, child_totals(t));
  ::write(result_fd, rec.data(), rec.size());  // fits in the pipe buffer: one call
  _exit(0);
}

class Workers {
 public:
  explicit Workers(Run& run) : run_(run) {}

  bool run(std::string& err) {
    size_t n = run_.reqs.size();
    size_t want = std::max<size_t>(1, std::min<size_t>(size_t(run_.cfg.concurrency), n));
    for (size_t i = 0; i < want; i++)
      if (!spawn(err) && procs_.empty()) break;
    while (!procs_.empty()) {
      std::vector<pollfd> pfds;
      for (auto& p : procs_) pfds.push_back({p.result_fd, POLLIN, 0});
      if (sys::poll(pfds.data(), pfds.size(), -1) < 0 && errno != EINTR) {
        err = sys::describe("poll", errno);
        break;
      }
      for (size_t i = pfds.size(); i-- > 0;)
        if (pfds[i].revents) drain(i);
    }
    // Whatever no worker could take (fork failed and none are left).
    for (; next_ < n; next_++) {
      run_.results[next_].line = run_.reqs[next_].line;
      run_.results[next_].fail(Cause::worker, "worker: none could be started: " + err);
    }
    return true;
  }

 private:
  bool spawn(std::string& err) {
    int work[2], result[2];
    if (sys::pipe(work) < 0) { err = sys::describe("pipe2", errno); return false; }
    if (sys::pipe(result) < 0) {
      err = sys::describe("pipe2", errno);
      sys::close(work[0]);
      sys::close(work[1]);
      return false;
    }
    fflush(nullptr);
    int id = next_id_++;
    pid_t pid = sys::fork();
    if (pid < 0) {
      err = sys::describe("fork", errno);
      for (int fd : {work[0], work[1], result[0], result[1]}) sys::close(fd);
      return false;
    }
    if (pid == 0) {
      sys::counters() = {};  // fork copied the parent's counts
      // Drop the parent's ends of every pipe, or a sibling's EOF never comes.
      for (auto& p : procs_) {
        if (p.work_fd >= 0) sys::close(p.work_fd);
        sys::close(p.result_fd);
      }
      sys::close(work[1]);
      sys::close(result[0]);
      child_main(run_, id, work[0], result[1]);
    }
    sys::close(work[0]);
    sys::close(result[1]);
    procs_.push_back({id, pid, work[1], result[0], -1, {}});
    run_.totals.workers++;
    dispatch(procs_.back());
    return true;
  }

  void dispatch(Proc& p) {
    if (next_ >= run_.reqs.size()) {
      if (p.work_fd >= 0) sys::close(p.work_fd);
      p.work_fd = -1;
      return;
    }
    uint32_t idx = uint32_t(next_++);
    p.holding = long(idx);
    // A dead reader gives EPIPE here; its EOF on the result pipe says the rest.
    sys::write_all(p.work_fd, &idx, sizeof idx);
  }

  void drain(size_t i) {
    Proc& p = procs_[i];
    char buf[16384];
    ssize_t n = sys::read(p.result_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return;
    if (n > 0) {
      p.in.append(buf, size_t(n));
      parse(p);
      return;
    }
    reap(i);
  }

  void parse(Proc& p) {
    wire::take(
        p.in,
        [&](uint32_t index, Result& got) {
          if (index >= run_.results.size()) return;
          got.line = run_.reqs[index].line;
          got.worker = p.id;
          run_.results[index] = std::move(got);
          progress::done(!run_.results[index].ok());
          if (++answered_ == run_.results.size()) run_.mark_finished();
          p.holding = -1;
          dispatch(p);
        },
        [&](const Totals& t) { run_.totals.add(t); });
  }

  void reap(size_t i) {
    Proc p = std::move(procs_[i]);
    procs_.erase(procs_.begin() + long(i));
    sys::close(p.result_fd);
    if (p.work_fd >= 0) sys::close(p.work_fd);
    int st = 0;
    while (sys::waitpid(p.pid, &st, 0) < 0 && errno == EINTR) {}
    if (p.holding < 0) return;
    run_.results[size_t(p.holding)] = wire::died(run_.reqs[size_t(p.holding)].line, p.id, p.pid, st);
    progress::done(true);
    if (++answered_ == run_.results.size()) run_.mark_finished();
    std::string err;
    if (next_ < run_.reqs.size()) spawn(err);  // a new worker takes its place
  }

  Run& run_;
  std::vector<Proc> procs_;
  size_t next_ = 0, answered_ = 0;
  int next_id_ = 0;
};

}  // namespace

bool run_procs(Run& run, std::string& err) {
  // Parse the CA bundle once, before fork, so children inherit it.
  bool https = false;
  for (auto& r : run.reqs) https |= r.error.empty() && r.url.https;
  std::string ca_err;
  if (https) tls_load_ca(run.cfg, ca_err);  // an error shows per request
  Workers pool(run);
  return pool.run(err);
}

}  // namespace fanout
