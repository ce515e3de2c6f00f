// A model decides who drives which request, and when. Every model fills
// exactly one Result per Request, in input order, whatever happens.
#pragma once
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

struct Run {
  const Config& cfg;
  const std::vector<Request>& reqs;
  Job& job;
  std::vector<Result> results;  // sized to reqs by the caller
  Totals totals;
  // When the last result was in: "took" ends here, before the model closes
  // its idle keep-alive connections and reaps its workers.
  Clock::time_point finished{};
  void mark_finished() { finished = Clock::now(); }
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
