// A model decides who drives which request, and when. Every model fills
// exactly one Result per Request, in input order, whatever happens.
#pragma once
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fanout/core.hpp"
#include "fanout/input.hpp"
#include "fanout/job.hpp"
#include "fanout/tally.hpp"
#include "poller.hpp"
#include "sys.hpp"

namespace fanout {

class Worker;
class TlsClient;
struct PoolStats;
class Loop;

// What workers did, added up after join/waitpid (each worker counts alone).
struct Totals {
  uint64_t connections = 0, reused = 0, dns_queries = 0, tls_handshakes = 0, tls_resumed = 0;
  uint64_t h2_connections = 0, h2_streams = 0;  // connections that spoke HTTP/2, and the streams they carried
  uint64_t h2_most = 0;                         // streams on one connection at once, at most
  void add_pool(const PoolStats& s);
  uint64_t syscalls[sys::NCALLS] = {};
  uint64_t ring_ops[sys::NOPS] = {};  // io_uring: operations submitted, by kind, and completions
  uint64_t waits[sys::NWAITS] = {};   // locks slept for, condition waits, wake-ups; pipe traffic
  int workers = 0;
  // Coroutine frames (async, hybrid): the peak bytes of each loop, added up,
  // and the requests its loop had in flight at once.
  uint64_t frame_bytes = 0, frames_total = 0, inflight = 0;
  uint64_t children_rss_kb = 0;  // each child process's own peak, added up
  void add(const Totals& o);
  void add_calls(const sys::Counters& c);  // the main thread's own calls
  void add_tls(const TlsClient& c);
  // A worker's counts, without syscalls: those are per thread, and are read
  // once its state (pool, resolver) is gone, so its closes count too.
  static Totals of(const Worker& w);
  static Totals of(const Loop& l);
};

// One run of a model over the input. Models take() requests as they are
// ready for them and land() each result, in whichever thread or process
// holds the run: progress, the tally, the results journal (--results) and
// --out/--merge-json are fed as results land, and nothing keeps a list of
// requests or results (only --trace keeps what it draws).
struct Run {
  Run(const Config& c, Source& s, Job& j) : cfg(c), job(j), source_(s) {}
  ~Run();
  const Config& cfg;
  Job& job;
  Tally tally;
  Failures failures;  // the lines that failed, and the one whose exit code the run's is
  Totals totals;
  struct Traced {
    std::string text;
    uint32_t seq;  // input order
    Result r;
  };
  std::vector<Traced> traced;  // --trace: every landed request, in landing order
  std::vector<RingBatch> batches;  // --trace with -m uring: the ring's io_uring_enter calls
  // When the last result was in: "took" ends here, before the model closes
  // its idle keep-alive connections and reaps its workers.
  Clock::time_point finished{};
  void mark_finished() { finished = Clock::now(); }

  bool open_journal(std::string& err);  // --results FILE, and --out or --merge-json FILE, before the run
  // The next request, in input order; false at the end of the input, or
  // once SIGINT/SIGTERM came. Any thread; it may wait for a slow writer.
  bool take(Request& rq);
  // The same for a loop that must not wait: Take::wait when the input is
  // a pipe with no whole line in yet; then wait for input_fd().
  using Take = Source::Take;
  Take try_take(Request& rq);
  int input_fd() const;
  uint64_t taken() const { return taken_; }  // requests taken from the input so far
  // r is rq's final result; the journal gets its line now. Any thread. A
  // cancelled result (SIGINT/SIGTERM) is only counted: no outcome.
  void land(const Request& rq, Result& r);
  void land_failed(const Request& rq, Cause c, const std::string& why);  // rq never ran: why
  // The run was interrupted: whatever was taken and has not landed is
  // cancelled, and nothing lands from now on.
  void interrupt();
  bool close_journal(std::string& err);  // after the run: flushed, closed
  // The journal is at most 100 ms behind the results: a model that waits
  // wakes by flush_by() and calls flush_due() (Deadline::max: nothing to do).
  Deadline flush_by();
  void flush_due();

 private:
  sys::Lock in_mu_, mu_;  // the input; what lands (apart: a slow writer holds up no landing)
  Take next(Request& rq, bool block);
  void write_payload(uint32_t seq, std::string p);  // --out, --merge-json: in input order, as soon as it can
  void flush_pages();
  Source& source_;
  std::atomic<bool> exhausted_{false}, closed_{false};
  std::atomic<uint64_t> taken_{0};
  uint64_t landed_ = 0;
  FILE* journal_ = nullptr;
  Deadline dirty_since_ = Deadline::max();  // the oldest line not flushed
  FILE* pages_ = nullptr;                    // --out or --merge-json
  std::map<uint32_t, std::string> waiting_;  // payloads landed before an earlier one
  uint32_t next_page_ = 0;
  bool merged_any_ = false;
};

// What a child process tells its parent at the end: its totals, its
// syscalls and its own peak RSS (RUSAGE_CHILDREN knows only the largest).
Totals child_totals(Totals t);

struct Model {
  const char* name;
  bool (*run)(Run& run, std::string& err);
};
const Model* find_model(std::string_view name);
// hybrid's -w: as given, or the CPUs this process may use; at most -c.
size_t hybrid_workers(const Config& cfg);
// Raises the soft limit of open files to the hard one; where that is still
// short of what the model needs for -c, lowers cfg.concurrency (and hybrid's
// -w) to fit, and says so (empty: it fits).
std::string fit_fd_limit(Config& cfg);
std::string model_names();  // "seq, threads, procs"

bool run_seq(Run& run, std::string& err);
bool run_threads(Run& run, std::string& err);
bool run_procs(Run& run, std::string& err);
bool run_async(Run& run, std::string& err);
bool run_hybrid(Run& run, std::string& err);
bool run_uring(Run& run, std::string& err);

}  // namespace fanout
