#include "fanout/model.hpp"
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "fanout/loop.hpp"
#include "fanout/progress.hpp"
#include "fanout/report.hpp"
#include "fanout/worker.hpp"

namespace fanout {

static const Model kModels[] = {
  {"seq", run_seq},
  {"threads", run_threads},
  {"procs", run_procs},
  {"async", run_async},
  {"hybrid", run_hybrid},
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

Run::~Run() {
  std::string err;
  close_journal(err);
}

bool Run::open_journal(std::string& err) {
  if (!cfg.results.empty()) {
    journal_ = cfg.results == "-" ? stdout : fopen(cfg.results.c_str(), "w");
    if (!journal_) {
      err = "--results " + cfg.results + ": " + strerror(errno);
      return false;
    }
  }
  const std::string& pages = cfg.merge_json.empty() ? cfg.out : cfg.merge_json;
  if (pages.empty()) return true;
  pages_ = pages == "-" ? stdout : fopen(pages.c_str(), "w");
  if (!pages_) err = (cfg.merge_json.empty() ? "--out " : "--merge-json ") + pages + ": " + strerror(errno);
  else if (!cfg.merge_json.empty()) fputc('[', pages_);
  return pages_ != nullptr;
}

// Pages come out in input order, whatever order they landed in: a payload
// waits until every one before it is out.
void Run::write_payload(size_t i) {
  waiting_[i] = std::move(results[i].payload);
  results[i].payload = std::string();
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first == next_page_; it = waiting_.erase(it)) {
    const std::string& p = it->second;
    if (!cfg.merge_json.empty() && !p.empty()) {
      if (merged_any_) fputc(',', pages_);
      merged_any_ = true;
    }
    fwrite(p.data(), 1, p.size(), pages_);
    next_page_++;
  }
}

void Run::land(size_t i) {
  progress::done(!results[i].ok());
  std::lock_guard<std::mutex> lock(mu_);
  if (journal_) {
    std::string line = result_line(reqs[i], results[i]);
    fwrite(line.data(), 1, line.size(), journal_);
    // Out to the file at most every 100 ms, not a write per line: a fast
    // run lands tens of thousands of results a second.
    if (Clock::now() - flushed_ > std::chrono::milliseconds(100)) {
      fflush(journal_);
      flushed_ = Clock::now();
    }
  }
  if (pages_) write_payload(i);
  if (++landed_ == results.size()) mark_finished();
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
  bool ok = done(pages_, cfg.merge_json.empty() ? "--out " + cfg.out : "--merge-json " + cfg.merge_json);
  return done(journal_, "--results " + cfg.results) && ok;
}

void Totals::add(const Totals& o) {
  connections += o.connections;
  reused += o.reused;
  dns_queries += o.dns_queries;
  tls_handshakes += o.tls_handshakes;
  tls_resumed += o.tls_resumed;
  for (int i = 0; i < sys::NCALLS; i++) syscalls[i] += o.syscalls[i];
  workers += o.workers;
  frame_bytes += o.frame_bytes;
  frames_total += o.frames_total;
  inflight += o.inflight;
  children_rss_kb += o.children_rss_kb;
}

void Totals::add_calls(const sys::Counters& c) {
  for (int i = 0; i < sys::NCALLS; i++) syscalls[i] += c.n[i];
}

Totals child_totals(Totals t) {
  t.add_calls(sys::counters());
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  t.children_rss_kb = uint64_t(ru.ru_maxrss);
  return t;
}

void Totals::add_tls(const TlsClient& c) {
  tls_handshakes += c.handshakes;
  tls_resumed += c.resumed;
}

Totals Totals::of(const Worker& w) {
  Totals t;
  if (w.own) {  // a shared pool is counted once, by its model
    t.connections = w.own->stats().opened;
    t.reused = w.own->stats().reused;
  }
  t.dns_queries = w.dns.queries();
  if (w.own_tls) t.add_tls(*w.own_tls);  // a shared client too is counted once, by its model
  t.workers = 1;
  return t;
}

Totals Totals::of(const Loop& l) {
  Totals t;
  t.connections = l.pool.stats().opened;
  t.reused = l.pool.stats().reused;
  t.dns_queries = l.dns.queries();
  t.add_tls(l.tls);
  t.workers = 1;
  t.frame_bytes = l.arena.peak_bytes;
  t.frames_total = l.arena.total_frames;
  t.inflight = l.inflight;
  return t;
}

}  // namespace fanout
