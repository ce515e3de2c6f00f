// procs: multiprocessing.Pool of the seeds, with chunksize 1. The parent
// forks -c workers. Each reads the index of its next request from its work
// pipe and writes the result back on its result pipe, which is also its
// request for more work. So the parent always knows the one request each
// worker holds: when a worker dies, that request gets an error result
// naming how it died, and a new worker takes its place.
//
// Children share the parsed input and the CA chain with the parent (fork
// copies them on write); everything random or stateful (DRBG, c-ares
// channel, TLS sessions) is created in the child, after fork, so no two
// workers share it.
#include <cerrno>
#include <unistd.h>

#include "fanout/model.hpp"
#include "fanout/tls.hpp"
#include "fanout/worker.hpp"
#include "supervisor.hpp"
#include "wire.hpp"

namespace fanout {
namespace {

[[noreturn]] void child_main(Run& run, int id, int result_fd, int work_fd) {
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

}  // namespace

bool run_procs(Run& run, std::string& err) {
  // Parse the CA bundle once, before fork, so children inherit it.
  bool https = false;
  for (auto& r : run.reqs) https |= r.error.empty() && r.url.https;
  std::string ca_err;
  if (https) tls_load_ca(run.cfg, ca_err);  // an error shows per request

  Supervisor sup(run);
  size_t n = run.reqs.size(), next = 0;
  auto body = [&](int id, int result_fd, int work_fd) { child_main(run, id, result_fd, work_fd); };
  auto give = [&](size_t k) {  // the next request, or the word that there is none
    if (next < n) sup.send(k, uint32_t(next++));
    else sup.no_more_work(k);
  };
  size_t want = std::max<size_t>(1, std::min<size_t>(size_t(run.cfg.concurrency), n));
  for (size_t i = 0; i < want && next < n; i++) {
    if (!sup.spawn(body, true, err)) break;
    give(sup.size() - 1);
  }
  auto replace = [&](size_t) {  // a dead worker's place goes to a new one
    if (next < n && sup.spawn(body, true, err)) give(sup.size() - 1);
  };
  sup.wait(give, replace);
  sup.fail_unanswered("worker: none could be started: " + err);  // fork failed, none left
  return true;
}

}  // namespace fanout
