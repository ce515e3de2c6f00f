// threads: ThreadPoolExecutor / Queue workers of the seeds. -c pthreads pull
// the next request from one shared queue (the run's input) and block in
// their own calls; the kernel switches between them. Each thread owns its
// Worker; totals are added after pthread_join, as wrk does. After SIGINT
// or SIGTERM the threads take no more; what is still running when the
// grace is over is cancelled, and those threads are left to the exit.
#include <cerrno>
#include <ctime>
#include <deque>
#include <pthread.h>

#include "fanout/model.hpp"
#include "fanout/stop.hpp"
#include "fanout/worker.hpp"

namespace fanout {
namespace {

// Each thread's stack: --stack-size (64 KiB by default; glibc's 8 MiB
// each is what a router lacks). The sanitizers' runtimes need several
// times more for the same calls.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FANOUT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FANOUT_SANITIZED 1
#endif
#endif
#ifdef FANOUT_SANITIZED
constexpr size_t kSanitizerStack = 8;
#else
constexpr size_t kSanitizerStack = 1;
#endif

struct Shared {
  Run& run;  // the queue: run.take() gives the next request
  // Shared, because kept-alive connections move between threads: a TLS
  // connection must never point into a thread's state after it has ended.
  TlsClient tls;
  Pool conns;  // keep-alive connections (after tls: they point into it)
};

struct Thread {
  Shared* pool = nullptr;
  int id = 0;
  Request first;  // taken before the thread starts: no thread without work
  pthread_t tid;
  Totals totals;
  sys::Event done;  // set as it ends (after totals)
};

void* thread_main(void* arg) {
  auto* t = static_cast<Thread*>(arg);
  Run& run = t->pool->run;
  {
    Worker w(t->id, run.cfg, run.job, {&t->pool->conns, &t->pool->tls});
    Request rq = std::move(t->first);
    Result r;
    do {
      fetch_blocking(w, rq, r);
      run.land(rq, r);
    } while (run.take(rq));
    t->totals = Totals::of(w);
  }
  t->totals.add_calls(sys::counters());
  t->done.set();  // the last thing it touches: t may be gone after
  return nullptr;
}

// Waits for a thread's end, looking up every 200 ms (and when the journal
// is due): false once a signal's grace is over and the thread is still
// running. Threads are detached (glibc frees their stacks as they end), and
// their end is our own futex, not pthread_join's: the cost report counts it.
bool join(Run& run, Thread& t) {
  for (;;) {
    run.flush_due();
    Deadline until = std::min({stop::cancel_at(), run.flush_by(), Clock::now() + std::chrono::milliseconds(200)});
    if (t.done.wait(std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count())) return true;
    if (Clock::now() >= stop::cancel_at()) return false;
  }
}

}  // namespace

bool run_threads(Run& run, std::string& err) {
  // On the heap: an interrupted run leaves threads that still use them.
  auto* pool = new Shared{run, TlsClient(run.cfg), Pool(run.cfg.per_host, idle_cap(size_t(run.cfg.concurrency), 2))};
  auto& threads = *new std::deque<Thread>;  // grows as threads start: -c 100000 over 3 lines makes 3
  const size_t most = size_t(run.cfg.concurrency);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, run.cfg.stack_size * kSanitizerStack);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // A thread for each request the input has ready, up to -c, before any
  // starts (so a fast origin cannot let one thread do it all); then one
  // more for each line a slow pipe brings, while fewer than -c run.
  std::vector<Request> ready;
  Request rq;
  if (run.take(rq)) ready.push_back(std::move(rq));
  while (ready.size() < most && run.try_take(rq) == Run::Take::got) ready.push_back(std::move(rq));
  size_t started = 0;
  bool have = false;  // a request no thread could be started for
  for (size_t next = 0; started < most; started++) {
    if (next < ready.size()) rq = std::move(ready[next++]);
    else if (!run.take(rq)) break;
    Thread& t = threads.emplace_back();
    t.pool = pool;
    t.id = int(started);
    t.first = std::move(rq);
    int rc = sys::thread_create(&t.tid, &attr, thread_main, &t);
    if (rc != 0) {
      have = true;
      err = sys::describe("pthread_create", rc);
      rq = std::move(threads.back().first);
      threads.pop_back();
      for (; next < ready.size(); next++) run.land_failed(ready[next], Cause::worker, "worker: " + err);
      break;  // run with the threads we have; with none, fail
    }
  }
  pthread_attr_destroy(&attr);
  if (started == 0) {  // an empty input (nothing to do), or no thread could start
    delete &threads;
    delete pool;
    if (!have) err.clear();
    return !have;
  }
  if (have) run.land_failed(rq, Cause::worker, "worker: " + err);  // the request of a thread that never ran
  for (size_t i = 0; i < started; i++) {
    if (!join(run, threads[i])) {
      run.interrupt();
      return true;
    }
    run.totals.add(threads[i].totals);
  }
  err.clear();
  run.totals.add_pool(pool->conns.stats());
  run.totals.add_tls(pool->tls);
  delete &threads;
  delete pool;
  return true;
}

}  // namespace fanout
