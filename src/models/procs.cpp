// procs: multiprocessing.Pool of the seeds, with chunksize 1. The parent
// forks -c workers. Each reads its next request from its work pipe and
// writes the result back on its result pipe, which is also its request for
// more work. So the parent always knows the one request each worker holds:
// when a worker dies, that request gets an error result naming how it
// died, and a new worker takes its place.
//
// Children share the CA chain with the parent (fork copies it on write);
// everything random or stateful (DRBG, c-ares channel, TLS sessions) is
// created in the child, after fork, so no two workers share it.
#include <cerrno>
#include <unistd.h>

#include "fanout/model.hpp"
#include "fanout/tls.hpp"
#include "fanout/worker.hpp"
#include "supervisor.hpp"
#include "wire.hpp"

namespace fanout {
namespace {

// One request off the work pipe (blocking); false when it closed.
bool read_request(int fd, std::string& in, Request& rq) {
  for (;;) {
    size_t off = 0;
    if (wire::take_request(in, &off, rq)) {
      in.erase(0, off);
      return true;
    }
    char buf[4096];
    ssize_t n = sys::pipe_read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // no more work
    in.append(buf, size_t(n));
  }
}

[[noreturn]] void child_main(Run& run, int id, int result_fd, int work_fd) {
  Totals t;
  {
    Worker w(id, run.cfg, run.job);
    Request rq;
    Result r;
    std::string in;
    while (read_request(work_fd, in, rq)) {
      fetch_blocking(w, rq, r);
      std::string rec;
      wire::put_result(rec, rq.seq, r);
      if (!sys::pipe_write_all(result_fd, rec.data(), rec.size())) _exit(3);
    }
    t = Totals::of(w);
  }
  std::string rec;
  sys::count(sys::WRITE);  // the write below, counted before it is made
  sys::count(sys::PIPE_CALLS);
  sys::count(sys::PIPE_BYTES, wire::kTotalsBytes);
  wire::put_totals(rec, child_totals(t));
  ::write(result_fd, rec.data(), rec.size());  // fits in the pipe buffer: one call
  _exit(0);
}

}  // namespace

bool run_procs(Run& run, std::string& err) {
  // The first request of each worker, taken before it is forked: no
  // worker without work, and the CA bundle parsed once, before fork, if
  // any of them is HTTPS.
  std::vector<Request> first;
  Request rq;
  if (run.take(rq)) first.push_back(std::move(rq));  // the first may be waited for; the rest are what is there
  while (first.size() < size_t(run.cfg.concurrency) && run.try_take(rq) == Run::Take::got) first.push_back(std::move(rq));
  bool https = false;
  for (auto& r : first) https |= r.error.empty() && r.url.https;
  std::string ca_err;
  if (https) tls_load_ca(run.cfg, ca_err);  // an error shows per request

  Supervisor sup(run);
  auto body = [&](int id, int result_fd, int work_fd) { child_main(run, id, result_fd, work_fd); };
  auto more = [&](size_t k) {  // an idle worker's next request, or the word that there is none
    if (sup.held(k) > 0) return false;
    switch (run.try_take(rq)) {
      case Run::Take::got: sup.send(k, std::move(rq)); return false;
      case Run::Take::end: sup.no_more_work(k); return false;
      case Run::Take::wait: return true;
    }
    return false;
  };
  for (auto& r : first) {
    if (!sup.spawn(body, false, err)) {
      if (sup.size() == 0) {
        for (auto& f : first) run.land_failed(f, Cause::worker, "worker: none could be started: " + err);
        break;
      }
      run.land_failed(r, Cause::worker, "worker: " + err);
      continue;
    }
    sup.send(sup.size() - 1, std::move(r));
  }
  auto replace = [&](size_t) {  // a dead worker's place goes to a new one
    if (!run.take(rq)) return;
    if (sup.spawn(body, false, err)) sup.send(sup.size() - 1, std::move(rq));
    else run.land_failed(rq, Cause::worker, "worker: " + err);
  };
  sup.wait(more, replace);
  sup.fail_unanswered("worker: none could be started: " + err);  // fork failed, none left
  return true;
}

}  // namespace fanout
