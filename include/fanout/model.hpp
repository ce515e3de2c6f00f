// A model decides who drives which request, and when. Every model fills
// exactly one Result per Request, in input order, whatever happens.
#pragma once
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fanout/core.hpp"
#include "fanout/job.hpp"
#include "sys.hpp"

namespace fanout {

class Worker;
class TlsClient;
class Loop;

// What workers did, added up after join/waitpid (each worker counts alone).
struct Totals {
  uint64_t connections = 0, reused = 0, dns_queries = 0, tls_handshakes = 0, tls_resumed = 0;
  uint64_t syscalls[sys::NCALLS] = {};
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

// One run of a model over the input. Every finished request goes through
// land(), in whichever thread or process holds the results: progress, the
// count, and the results journal (--results), written as results land.
struct Run {
  Run(const Config& c, const std::vector<Request>& r, Job& j) : cfg(c), reqs(r), job(j), results(r.size()) {}
  ~Run();
  const Config& cfg;
  const std::vector<Request>& reqs;
  Job& job;
  std::vector<Result> results;
  Totals totals;
  // When the last result was in: "took" ends here, before the model closes
  // its idle keep-alive connections and reaps its workers.
  Clock::time_point finished{};
  void mark_finished() { finished = Clock::now(); }

  bool open_journal(std::string& err);  // --results FILE, and --out or --merge-json FILE, before the run
  // results[i] is final. Any thread; the journal gets its line now.
  void land(size_t i);
  bool close_journal(std::string& err);  // after the run: flushed, closed

 private:
  std::mutex mu_;
  void write_payload(size_t i);  // --out, --merge-json: in input order, as soon as it can
  size_t landed_ = 0;
  FILE* journal_ = nullptr;
  Clock::time_point flushed_{};
  FILE* pages_ = nullptr;                   // --out or --merge-json
  std::map<size_t, std::string> waiting_;   // payloads landed before an earlier one
  size_t next_page_ = 0;
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
std::string model_names();  // "seq, threads, procs"

bool run_seq(Run& run, std::string& err);
bool run_threads(Run& run, std::string& err);
bool run_procs(Run& run, std::string& err);
bool run_async(Run& run, std::string& err);
bool run_hybrid(Run& run, std::string& err);

}  // namespace fanout
