// threads: ThreadPoolExecutor / Queue workers of the seeds. -c pthreads pull
// the next request from one shared queue (an atomic index over the input)
// and block in their own calls; the kernel switches between them. Each
// thread owns its Worker; totals are added after pthread_join, as wrk does.
#include <atomic>
#include <cerrno>
#include <pthread.h>

#include "fanout/model.hpp"
#include "fanout/worker.hpp"

namespace fanout {
namespace {

// Enough for mbedTLS' handshake and c-ares; 8 MiB each is what a router lacks.
constexpr size_t kStack = 256 * 1024;

struct Shared {
  Run& run;
  std::atomic<size_t> next{0};  // the queue: the index of the next request
  // Shared, because kept-alive connections move between threads: a TLS
  // connection must never point into a thread's state after it has ended.
  TlsClient tls;
  Pool conns;                   // keep-alive connections (after tls: they point into it)
};

struct Thread {
  Shared* pool;
  int id;
  pthread_t tid;
  Totals totals;
};

void* thread_main(void* arg) {
  auto* t = static_cast<Thread*>(arg);
  Run& run = t->pool->run;
  {
    Worker w(t->id, run.cfg, run.job, {&t->pool->conns, &t->pool->tls});
    for (;;) {
      size_t i = t->pool->next.fetch_add(1);
      if (i >= run.reqs.size()) break;
      fetch_blocking(w, run.reqs[i], run.results[i]);
      run.land(i);
    }
    t->totals = Totals::of(w);
  }
  t->totals.add_calls(sys::counters());
  return nullptr;
}

}  // namespace

bool run_threads(Run& run, std::string& err) {
  Shared pool{run, {}, TlsClient(run.cfg), Pool(run.cfg.per_host)};
  size_t n = std::max<size_t>(1, std::min<size_t>(size_t(run.cfg.concurrency), run.reqs.size()));
  std::vector<Thread> threads(n);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kStack);
  size_t started = 0;
  for (; started < n; started++) {
    threads[started] = {&pool, int(started), {}, {}};
    int rc = sys::thread_create(&threads[started].tid, &attr, thread_main, &threads[started]);
    if (rc != 0) {
      err = sys::describe("pthread_create", rc);
      break;  // run with the threads we have; with none, fail
    }
  }
  pthread_attr_destroy(&attr);
  if (started == 0) return false;
  err.clear();
  for (size_t i = 0; i < started; i++) {
    pthread_join(threads[i].tid, nullptr);
    run.totals.add(threads[i].totals);
  }
  run.totals.connections += pool.conns.stats().opened;
  run.totals.reused += pool.conns.stats().reused;
  run.totals.add_tls(pool.tls);
  return true;
}

}  // namespace fanout
