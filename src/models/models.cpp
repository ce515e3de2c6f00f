#include "fanout/model.hpp"
#include <sched.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "fanout/input.hpp"
#include "fanout/loop.hpp"
#include "fanout/progress.hpp"
#include "fanout/report.hpp"
#include "fanout/stop.hpp"
#include "fanout/worker.hpp"

namespace fanout {

static const Model kModels[] = {
  {"seq", run_seq},
  {"threads", run_threads},
  {"procs", run_procs},
  {"async", run_async},
  {"hybrid", run_hybrid},
  {"uring", run_uring},
};

const Model* find_model(std::string_view name) {
  for (auto& m : kModels)
    if (name == m.name) return &m;
  return nullptr;
}

std::string model_names() {
  std::string s;
  for (auto& m : kModels) s += std::string(s.empty() ? "" : ", ") + m.name;
  return s;
}

size_t hybrid_workers(const Config& cfg) {
  // The CPUs this process may run on (taskset, cpusets), not all there are.
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  size_t w = size_t(cfg.workers > 0 ? cfg.workers : cpus > 0 ? cpus : 1);
  return std::max<size_t>(1, std::min(w, size_t(cfg.concurrency)));
}

// Open files: what a model needs a slot (threads: the socket and the
// thread's own c-ares socket; async: the socket; procs: the parent's two
// pipes a worker; hybrid: a worker's share of sockets, and the parent's
// pipes), and a reserve for stdio, the input, --results, the poller, c-ares
// and the CA file.
std::string fit_fd_limit(Config& cfg) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || cfg.model == "seq") return "";
  rlim_t most = std::min<rlim_t>(rl.rlim_max, 1 << 20);  // Linux' nr_open
  if (rl.rlim_cur < most) {
    rlimit up = rl;
    up.rlim_cur = most;
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
  }
  long room = std::max<long>(1, long(rl.rlim_cur) - kFdReserve), c = cfg.concurrency, fit = c;
  // Only what a request in flight needs: idle keep-alive connections get
  // what is left (idle_cap), and none where nothing is.
  if (cfg.model == "threads") fit = room / 2;
  else if (cfg.model == "async" || cfg.model == "uring") fit = room;
  else if (cfg.model == "procs") fit = room / 2;  // two pipes a worker in the parent
  else if (cfg.model == "hybrid") {
    long w = long(hybrid_workers(cfg));
    if (2 * w > room) cfg.workers = int(w = std::max<long>(1, room / 2));
    fit = w * room;  // each worker's share, in its own process
  }
  fit = std::max<long>(1, fit);
  if (c <= fit) return "";
  cfg.concurrency = int(fit);
  return "-c " + std::to_string(c) + " needs more open files than the limit of " + std::to_string(rl.rlim_cur) +
         " (ulimit -n; the hard limit is " + std::to_string(rl.rlim_max) + "): running with -c " + std::to_string(fit);
}

Run::~Run() {
  std::string err;
  close_journal(err);
}

bool Run::open_journal(std::string& err) {
  if (!cfg.results.empty()) {
    // --resume appends to what the interrupted run wrote.
    journal_ = cfg.results == "-" ? stdout : fopen(cfg.results.c_str(), cfg.resume ? "a" : "w");
    if (!journal_) {
      err = "--results " + cfg.results + ": " + strerror(errno);
      return false;
    }
  }
  const std::string& pages = cfg.merge_json.empty() ? cfg.out : cfg.merge_json;
  if (pages.empty()) return true;
  pages_ = pages == "-" ? stdout : fopen(pages.c_str(), "w");
  if (!pages_) err = (cfg.merge_json.empty() ? "--output " : "--merge-json ") + pages + ": " + strerror(errno);
  else if (!cfg.merge_json.empty()) fputc('[', pages_);
  return pages_ != nullptr;
}

Run::Take Run::next(Request& rq, bool block) {
  std::lock_guard<sys::Lock> lock(in_mu_);
  if (exhausted_ || closed_ || stop::requested()) return Take::end;
  Take t = source_.take(rq, block);
  if (t == Take::got) taken_++, stop::g_inflight.fetch_add(1, std::memory_order_relaxed);
  if (t != Take::end) return t;
  exhausted_ = true;
  std::lock_guard<sys::Lock> l(mu_);
  if (landed_ == taken_) mark_finished();
  return t;
}

bool Run::take(Request& rq) { return next(rq, true) == Take::got; }
Run::Take Run::try_take(Request& rq) { return next(rq, false); }
int Run::input_fd() const { return source_.fd(); }

Deadline Run::flush_by() {
  std::lock_guard<sys::Lock> lock(mu_);
  return dirty_since_ == Deadline::max() ? dirty_since_ : dirty_since_ + std::chrono::milliseconds(100);
}

void Run::flush_due() {
  std::lock_guard<sys::Lock> lock(mu_);
  if (journal_ && dirty_since_ != Deadline::max() && Clock::now() >= dirty_since_ + std::chrono::milliseconds(100)) {
    fflush(journal_);
    dirty_since_ = Deadline::max();
  }
}

// Pages come out in input order, whatever order they landed in: a payload
// waits until every one before it is out.
void Run::write_payload(uint32_t seq, std::string p) {
  waiting_[seq] = std::move(p);
  flush_pages();
}

void Run::flush_pages() {
  for (auto it = waiting_.begin(); it != waiting_.end() && (it->first == next_page_ || closed_); it = waiting_.erase(it)) {
    const std::string& p = it->second;
    if (!cfg.merge_json.empty() && !p.empty()) {
      if (merged_any_) fputc(',', pages_);
      merged_any_ = true;
    }
    fwrite(p.data(), 1, p.size(), pages_);
    next_page_ = it->first + 1;
  }
}

void Run::land(const Request& rq, Result& r) {
  bool cancelled = r.cause == Cause::cancelled;
  if (!cancelled) progress::done(!r.ok());
  std::lock_guard<sys::Lock> lock(mu_);
  if (closed_) return;  // interrupted: this one was counted as cancelled
  landed_++;
  stop::g_inflight.fetch_sub(1, std::memory_order_relaxed);
  if (cancelled) {
    tally.cancelled++;
  } else {
    tally.add(r);
    static const bool hosts = !getenv("FANOUT_NO_HOSTS");  // tests: the memory the hosts' tables take
    if (rq.error.empty() && hosts) tally.hosts.add(rq.url.authority(), r);
    note_failure(failures, cfg, rq, r);
    if (journal_) {
      std::string line = result_line(rq, r, cfg.fail);
      fwrite(line.data(), 1, line.size(), journal_);
      // Out to the file at once when nothing else is under way, else within
      // 100 ms (flush_by), not a write per line: a fast run lands tens of
      // thousands of results a second.
      auto now = Clock::now();
      if (dirty_since_ == Deadline::max()) dirty_since_ = now;
      if (landed_ == taken_ || now >= dirty_since_ + std::chrono::milliseconds(100)) {
        fflush(journal_);
        dirty_since_ = Deadline::max();
      }
    }
    if (!cfg.trace.empty()) {
      traced.push_back({mask_password(rq.text), rq.seq, r});  // no password in a trace either
      traced.back().r.payload.clear();
    }
  }
  if (pages_) write_payload(rq.seq, std::move(r.payload));
  r.payload = std::string();
  if (exhausted_ && landed_ == taken_) mark_finished();
}

void Run::land_failed(const Request& rq, Cause c, const std::string& why) {
  Result r;
  r.line = rq.line;
  r.fail(c, why);
  land(rq, r);
}

void Run::interrupt() {
  std::lock_guard<sys::Lock> lock(mu_);
  if (closed_) return;
  closed_ = true;
  tally.cancelled += taken_ - landed_;
  if (pages_) flush_pages();  // what landed, in order, without the gaps
  mark_finished();
}

bool Run::close_journal(std::string& err) {
  auto done = [&](FILE*& f, const std::string& what) {
    if (!f) return true;
    bool ok = fflush(f) == 0 && !ferror(f);
    if (f != stdout) ok = fclose(f) == 0 && ok;
    f = nullptr;
    if (!ok) err = what + ": write failed";
    return ok;
  };
  if (pages_ && !cfg.merge_json.empty()) fputs("]\n", pages_);
  bool ok = done(pages_, cfg.merge_json.empty() ? "--output " + cfg.out : "--merge-json " + cfg.merge_json);
  return done(journal_, "--results " + cfg.results) && ok;
}

void Totals::add(const Totals& o) {
  add_pool({o.connections, o.reused, o.h2_connections, o.h2_streams, o.h2_most});
  dns_queries += o.dns_queries;
  tls_handshakes += o.tls_handshakes;
  tls_resumed += o.tls_resumed;
  for (int i = 0; i < sys::NCALLS; i++) syscalls[i] += o.syscalls[i];
  for (int i = 0; i < sys::NOPS; i++) ring_ops[i] += o.ring_ops[i];
  for (int i = 0; i < sys::NWAITS; i++) waits[i] += o.waits[i];
  workers += o.workers;
  frame_bytes += o.frame_bytes;
  frames_total += o.frames_total;
  inflight += o.inflight;
  children_rss_kb += o.children_rss_kb;
}

void Totals::add_calls(const sys::Counters& c) {
  for (int i = 0; i < sys::NCALLS; i++) syscalls[i] += c.n[i];
  for (int i = 0; i < sys::NOPS; i++) ring_ops[i] += c.ops[i];
  for (int i = 0; i < sys::NWAITS; i++) waits[i] += c.waits[i];
}

Totals child_totals(Totals t) {
  t.add_calls(sys::counters());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  t.children_rss_kb = uint64_t(ru.ru_maxrss);
  return t;
}

void Totals::add_pool(const PoolStats& s) {
  connections += s.opened;
  reused += s.reused;
  h2_connections += s.h2_opened;
  h2_streams += s.streams;
  h2_most = std::max(h2_most, s.most_streams);
}

void Totals::add_tls(const TlsClient& c) {
  tls_handshakes += c.handshakes;
  tls_resumed += c.resumed;
}

Totals Totals::of(const Worker& w) {
  Totals t;
  if (w.own) {  // a shared pool is counted once, by its model
    t.add_pool(w.own->stats());
  }
  t.dns_queries = w.dns.queries();
  if (w.own_tls) t.add_tls(*w.own_tls);  // a shared client too is counted once, by its model
  t.workers = 1;
  return t;
}

Totals Totals::of(const Loop& l) {
  Totals t;
  t.add_pool(l.pool.stats());
  t.dns_queries = l.dns.queries();
  t.add_tls(l.tls);
  t.workers = 1;
  t.frame_bytes = l.arena.peak_bytes;
  t.frames_total = l.arena.total_frames;
  t.inflight = l.inflight;
  return t;
}

}  // namespace fanout
