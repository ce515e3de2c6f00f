#include "fanout/report.hpp"

#include "fanout/json.hpp"
#include "fanout/polite.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <map>
#include <sys/resource.h>

#include "poller.hpp"

namespace fanout {

// Valid JSON whatever the bytes: UTF-8 passes through, and a byte that is not
// part of valid UTF-8 is \u00XX (json::flat_object reads that back as the byte).
std::string json_string(std::string_view s) {
  std::string o = "\"";
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      if (size_t n = json::utf8_len(s, i)) {
        o.append(s.substr(i, n));
        i += n - 1;
      } else {
        char b[8];
        snprintf(b, sizeof b, "\\u%04x", c);
        o += b;
      }
      continue;
    }
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += char(c);
        }
    }
  }
  return o + "\"";
}

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void print_summary(FILE* out, const Run& run, double seconds, uint64_t listed) {
  const Tally& t = run.tally;
  std::string of = plural(std::max(listed, t.results + t.cancelled), "url", "urls");
  if (t.results < listed) {  // interrupted: what became of the rest
    uint64_t unstarted = listed > t.results + t.cancelled ? listed - t.results - t.cancelled : 0;
    of += ": " + std::to_string(t.results) + " done";
    if (t.cancelled) of += ", " + std::to_string(t.cancelled) + " cancelled";
    if (unstarted) of += ", " + std::to_string(unstarted) + " not started";
  }
  fprintf(out, "%s\ntook %.3f seconds (%s, c=%d, %s)\n", t.histogram().c_str(), seconds, run.cfg.model.c_str(),
          run.cfg.effective_concurrency(), of.c_str());
  if (!run.cfg.polite_table) return;
  auto slowed = run.cfg.polite_table->slowed();
  for (size_t i = 0; i < slowed.size() && i < 10; i++)
    fprintf(out, "polite: %s pushed back %u times (429, 503, refused): slowed to %d at once, %d at the end\n",
            slowed[i].host.c_str(), slowed[i].pushed_back, slowed[i].lowest, slowed[i].now);
  if (slowed.size() > 10) fprintf(out, "polite: ... and %zu more hosts slowed\n", slowed.size() - 10);
}

namespace {
std::string row_json(const Hosts::Row& r, bool slow) {
  char p90[64] = "";
  if (slow) snprintf(p90, sizeof p90, ", \"p90_ms\": %.3f", r.p90_ms);
  return "{\"host\": " + json_string(r.host) + ", \"requests\": " + std::to_string(r.requests) + ", \"failures\": " +
         std::to_string(r.failures) + p90 + ", \"statuses\": " + r.statuses + "}";
}
}  // namespace

std::string hosts_json(const Hosts& h) {
  std::string s = ", \"hosts\": {\"tracked\": " + std::to_string(h.hosts()) + ", \"bytes\": " + std::to_string(h.bytes()) +
                  ", \"method\": \"space-saving\", \"most_failures\": [";
  auto fails = h.most_failures(10);
  for (size_t i = 0; i < fails.size(); i++) s += (i ? ", " : "") + row_json(fails[i], false);
  s += "], \"slowest_p90\": [";
  auto slow = h.slowest(10);
  for (size_t i = 0; i < slow.size(); i++) s += (i ? ", " : "") + row_json(slow[i], true);
  return s + "]}";
}

void print_hosts(FILE* out, const Hosts& h) {
  auto fails = h.most_failures(10);
  if (!fails.empty()) fprintf(out, "hosts with the most failures:\n");
  for (auto& r : fails)
    fprintf(out, "  %-30s %llu failed of %llu  %s\n", r.host.c_str(), (unsigned long long)r.failures, (unsigned long long)r.requests,
            r.statuses.c_str());
  if (h.hosts() < 2) return;
  fprintf(out, "slowest hosts (p90):\n");
  for (auto& r : h.slowest(10))
    fprintf(out, "  %-30s p90 %.1f ms of %llu  %s\n", r.host.c_str(), r.p90_ms, (unsigned long long)r.requests, r.statuses.c_str());
}

std::string polite_json(const Run& run) {
  if (!run.cfg.polite_table) return "";
  std::string s = ", \"polite\": [";
  auto slowed = run.cfg.polite_table->slowed();
  for (size_t i = 0; i < slowed.size() && i < 100; i++)
    s += std::string(i ? ", " : "") + "{\"host\": " + json_string(slowed[i].host) + ", \"pushed_back\": " +
         std::to_string(slowed[i].pushed_back) + ", \"lowest\": " + std::to_string(slowed[i].lowest) +
         ", \"limit\": " + std::to_string(slowed[i].now) + "}";
  return s + "]";
}

void print_json(FILE* out, const Run& run, double seconds, const Cost& cost) {
  std::string e = "{";
  for (auto& [k, n] : run.tally.errors) e += (e.size() > 1 ? ", " : "") + json_string(k) + ": " + std::to_string(n);
  e += "}";
  int c = run.cfg.effective_concurrency();
  std::string frames;
  if (run.totals.inflight)
    frames = ", \"frames\": {\"bytes_per_request\": " + std::to_string(run.totals.frame_bytes / run.totals.inflight) +
             ", \"in_flight\": " + std::to_string(run.totals.inflight) + ", \"peak_bytes\": " +
             std::to_string(run.totals.frame_bytes) + "}";
  std::string rss = ", \"peak_rss_kb\": {\"parent\": " + std::to_string(cost.rss_kb) +
                    ", \"children\": " + std::to_string(cost.children_rss_kb) + "}";
  std::string conns = rss + ", \"cost\": " + cost_json(run, cost) + ", \"connections\": {\"opened\": " + std::to_string(run.totals.connections) +
                      ", \"reused\": " + std::to_string(run.totals.reused) +
                      ", \"http2\": " + std::to_string(run.totals.h2_connections) + ", \"streams\": " +
                      std::to_string(run.totals.h2_streams) + ", \"streams_at_once\": " + std::to_string(run.totals.h2_most) + "}";
  std::string extra;
  if (run.tally.skipped) extra += ", \"skipped\": " + std::to_string(run.tally.skipped);
  if (run.tally.not_modified) extra += ", \"not_modified\": " + std::to_string(run.tally.not_modified);
  extra += polite_json(run) + hosts_json(run.tally.hosts);
  if (run.tally.cancelled) extra += ", \"cancelled\": " + std::to_string(run.tally.cancelled);
  extra += ", \"exitcode\": " + std::to_string(run.failures.first() ? run.failures.first()->code : 0) +
           ", \"failed\": " + failures_json(run.failures);
  fprintf(out, "{\"model\": %s, \"concurrency\": %d, \"urls\": %llu, \"statuses\": %s, \"errors\": %s%s, \"seconds\": %.3f%s%s}\n",
          json_string(run.cfg.model).c_str(), c, (unsigned long long)run.tally.results, run.tally.histogram(false).c_str(),
          e.c_str(), extra.c_str(), seconds, conns.c_str(), frames.c_str());
}

Cost measure(const Run& run, double seconds) {
  Cost c;
  c.wall = seconds;
  rusage self{}, kids{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);  // the reaped workers, added up
  auto secs = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  c.user = secs(self.ru_utime) + secs(kids.ru_utime);
  c.sys = secs(self.ru_stime) + secs(kids.ru_stime);
  c.rss_kb = self.ru_maxrss;
  c.children_rss_kb = long(run.totals.children_rss_kb);
  c.vcsw = self.ru_nvcsw + kids.ru_nvcsw;
  c.ivcsw = self.ru_nivcsw + kids.ru_nivcsw;
  c.minflt = self.ru_minflt + kids.ru_minflt;
  const Latency& l = run.tally.latency;
  c.p50 = l.percentile(0.5);
  c.p90 = l.percentile(0.9);
  c.p99 = l.percentile(0.99);
  c.max = l.max();
  return c;
}

namespace {

// What the model waits with: the loop's poller, or poll() in the blocking driver.
const char* poller_name(const Config& cfg) {
  if (cfg.uring && (cfg.model == "uring" || cfg.model == "hybrid")) return "io_uring";
  return cfg.model == "async" || cfg.model == "hybrid" ? Poller::backend() : "poll";
}

// Syscalls by name, most first. send and recv count under strace's names.
std::vector<std::pair<std::string, uint64_t>> calls_by_name(const Totals& t, uint64_t* total) {
  std::map<std::string, uint64_t> by;
  *total = 0;
  for (int i = 0; i < sys::NCALLS; i++) {
    if (!t.syscalls[i]) continue;
    by[sys::call_name(i)] += t.syscalls[i];
    *total += t.syscalls[i];
  }
  std::vector<std::pair<std::string, uint64_t>> v(by.begin(), by.end());
  std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
  return v;
}

}  // namespace

void print_cost(FILE* out, const Run& run, const Cost& c) {
  // Built whole and written in one call: stderr is unbuffered, and a
  // predictable number of writes after the count is what strace-check
  // leaves out.
  std::string text;
  char line[512];
  auto put = [&](const char* fmt, auto... args) {
    snprintf(line, sizeof line, fmt, args...);
    text += line;
  };
  const Totals& t = run.totals;
  // Per request only where there were requests: no rate made of nothing.
  double n = double(run.tally.results);
  auto u = [](uint64_t v) { return (unsigned long long)v; };
  put("cost (%s, c=%d, %s)\n", run.cfg.model.c_str(), run.cfg.effective_concurrency(),
      plural(run.tally.results, "url", "urls").c_str());
  if (n > 0 && c.wall > 0) put("  wall              %.3f s, %.1f requests/s\n", c.wall, n / c.wall);
  else put("  wall              %.3f s\n", c.wall);
  if (n > 0) put("  cpu               %.3f s user, %.3f s system, %.3f ms per request\n", c.user, c.sys, (c.user + c.sys) * 1000 / n);
  else put("  cpu               %.3f s user, %.3f s system\n", c.user, c.sys);
  put("  peak rss          %.1f MB parent, %.1f MB children (each child's peak, added up)\n",
          double(c.rss_kb) / 1024, double(c.children_rss_kb) / 1024);
  put("  context switches  %ld voluntary, %ld involuntary; %ld minor faults\n", c.vcsw, c.ivcsw, c.minflt);
  put("  poller            %s\n", poller_name(run.cfg));
  put("  created           %llu threads, %llu processes\n", u(t.syscalls[sys::CLONE]), u(t.syscalls[sys::FORK]));
  put("  connections       %llu opened, %llu reused; %llu DNS queries; %llu TLS handshakes, %llu resumed\n",
      u(t.connections), u(t.reused), u(t.dns_queries), u(t.tls_handshakes), u(t.tls_resumed));
  if (t.h2_connections)
    put("  http/2            %llu connections, %llu streams: %.1f streams per connection, up to %llu at once\n",
        u(t.h2_connections), u(t.h2_streams), double(t.h2_streams) / double(t.h2_connections), u(t.h2_most));
  if (t.inflight)
    put("  coroutine frames  %llu made, %llu bytes per request in flight (%llu in flight)\n",
            u(t.frames_total), u(t.frame_bytes / t.inflight), u(t.inflight));
  put("  latency           p50 %.1f, p90 %.1f, p99 %.1f, max %.1f ms\n", c.p50, c.p90, c.p99, c.max);
  if (const Latency& k = run.tally.corrected; k.count())
    put("  corrected         p50 %.1f, p90 %.1f, p99 %.1f, max %.1f ms (from each request's scheduled start under --rate)\n",
        k.percentile(0.5), k.percentile(0.9), k.percentile(0.99), k.max());
  uint64_t total;
  auto calls = calls_by_name(t, &total);
  if (n > 0) {
    put("  syscalls          %llu, %.2f per request:", u(total), double(total) / n);
    for (auto& [name, k] : calls) put(" %s %.2f", name.c_str(), double(k) / n);
  } else {
    put("  syscalls          %llu:", u(total));
    for (auto& [name, k] : calls) put(" %s %llu", name.c_str(), u(k));
  }
  text += "\n";
  // What the model pays to wait for itself: fanout's own locks and
  // condition variables (futex), and the pipes between a parent and its
  // workers. Every model has the line: a single thread's is none.
  uint64_t futex = t.syscalls[sys::FUTEX];
  if (n > 0) put("  waits             futex %.2f per request", double(futex) / n);
  else put("  waits             futex %llu", u(futex));
  put(" (%llu calls: %llu locks slept for, %llu condition waits, %llu wake-ups)",
      u(futex), u(t.waits[sys::LOCK_WAITS]), u(t.waits[sys::COND_WAITS]), u(t.waits[sys::WAKES]));
  if (t.waits[sys::PIPE_CALLS]) {
    if (n > 0) put("; pipes %.2f calls, %.0f bytes per request", double(t.waits[sys::PIPE_CALLS]) / n, double(t.waits[sys::PIPE_BYTES]) / n);
    else put("; pipes %llu calls, %llu bytes", u(t.waits[sys::PIPE_CALLS]), u(t.waits[sys::PIPE_BYTES]));
  }
  text += "\n";
  // io_uring: what the ring carried instead of system calls, per request,
  // and how many operations each io_uring_enter took.
  uint64_t ops = 0;
  for (int i = 0; i < sys::OP_COMPLETIONS; i++) ops += t.ring_ops[i];
  if (ops) {
    uint64_t enters = t.syscalls[sys::IO_URING_ENTER];
    put("  io_uring          %llu operations in %llu io_uring_enter (%.1f each)%s", u(ops), u(enters),
        enters ? double(ops) / double(enters) : 0.0, n > 0 ? ", per request:" : ":");
    for (int i = 0; i <= sys::OP_COMPLETIONS; i++)
      if (t.ring_ops[i]) {
        if (n > 0) put(" %s %.2f", sys::op_name(i), double(t.ring_ops[i]) / n);
        else put(" %s %llu", sys::op_name(i), u(t.ring_ops[i]));
      }
    text += "\n";
  }
  fwrite(text.data(), 1, text.size(), out);
}

// --rate: the latencies from each request's scheduled start, as
// "latency_corrected_ms" (HdrHistogram's sense: corrected for coordinated
// omission); nothing without --rate.
std::string corrected_json(const Latency& k) {
  if (!k.count()) return "";
  char b[160];
  snprintf(b, sizeof b, "\"latency_corrected_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}, ",
           k.percentile(0.5), k.percentile(0.9), k.percentile(0.99), k.max());
  return b;
}

std::string cost_json(const Run& run, const Cost& c) {
  const Totals& t = run.totals;
  double n = double(run.tally.results);
  auto num = [](const char* k, double v, int prec = 0) {
    char b[64];
    if (std::isnan(v)) snprintf(b, sizeof b, "\"%s\": null", k);  // per request, of no request
    else snprintf(b, sizeof b, "\"%s\": %.*f", k, prec, v);
    return std::string(b);
  };
  const double none = std::nan("");
  std::string s = "{" + num("wall", c.wall, 3) + ", " + num("user", c.user, 3) + ", " + num("system", c.sys, 3) + ", " +
                  num("cpu_ms_per_request", n > 0 ? (c.user + c.sys) * 1000 / n : none, 3) + ", " + num("peak_rss_kb", double(c.rss_kb)) +
                  ", " + num("children_peak_rss_kb", double(c.children_rss_kb)) + ", " +
                  num("voluntary_switches", double(c.vcsw)) + ", " + num("involuntary_switches", double(c.ivcsw)) +
                  ", " + num("minor_faults", double(c.minflt)) + ", " +
                  num("threads_created", double(t.syscalls[sys::CLONE])) + ", " +
                  num("processes_created", double(t.syscalls[sys::FORK])) + ", " +
                  num("connections_opened", double(t.connections)) + ", " +
                  num("connections_reused", double(t.reused)) + ", " + num("http2_connections", double(t.h2_connections)) +
                  ", " + num("http2_streams", double(t.h2_streams)) + ", " + num("http2_streams_at_once", double(t.h2_most)) + ", " + num("dns_queries", double(t.dns_queries)) +
                  ", " + num("tls_handshakes", double(t.tls_handshakes)) + ", " +
                  num("tls_resumed", double(t.tls_resumed)) + ", \"poller\": " + json_string(poller_name(run.cfg)) + ", " +
                  num("frames", double(t.frames_total)) + ", " +
                  num("frame_bytes_per_request", double(t.inflight ? t.frame_bytes / t.inflight : 0)) +
                  ", \"latency_ms\": {" + num("p50", c.p50, 3) + ", " + num("p90", c.p90, 3) + ", " +
                  num("p99", c.p99, 3) + ", " + num("max", c.max, 3) + "}, " + corrected_json(run.tally.corrected) +
                  num("requests_per_second", n > 0 && c.wall > 0 ? n / c.wall : none, 1);
  uint64_t total;
  auto calls = calls_by_name(t, &total);
  s += ", " + num("syscalls", double(total)) + ", \"syscalls_by_name\": {";
  for (size_t i = 0; i < calls.size(); i++)
    s += (i ? ", " : "") + json_string(calls[i].first) + ": " + std::to_string(calls[i].second);
  s += "}";
  s += ", " + num("futex_per_request", n > 0 ? double(t.syscalls[sys::FUTEX]) / n : none, 3) + ", \"waits\": {";
  for (int i = 0; i < sys::NWAITS; i++) s += (i ? ", " : "") + json_string(sys::wait_name(i)) + ": " + std::to_string(t.waits[i]);
  s += "}";
  bool ring = false;
  for (int i = 0; i < sys::NOPS; i++) ring |= t.ring_ops[i] != 0;
  if (ring) {  // io_uring: operations submitted by kind, and the completions
    s += ", \"io_uring_ops\": {";
    for (int i = 0; i < sys::NOPS; i++)
      s += (i ? ", " : "") + json_string(sys::op_name(i)) + ": " + std::to_string(t.ring_ops[i]);
    s += "}";
  }
  return s + "}";
}

int curl_exitcode(const Result& r) { return r.ok() ? 0 : r.code ? r.code : cause_code(r.cause); }

std::string result_line(const Request& rq, const Result& r, bool fail) {
  // curl's -w times: seconds from the start to each phase's end, 0 where
  // the request never got there.
  auto at = [&](Phase p) {
    char b[32];
    snprintf(b, sizeof b, "%.6f", r.at[p] ? double(r.at[p] - r.at[kStart]) / 1e9 : 0.0);
    return std::string(b);
  };
  int code = curl_exitcode(r);
  bool refused = fail && r.ok() && r.status >= 400;  // -f: curl's 22, and its words
  if (refused) code = 22;
  std::string s = "{\"line\": " + std::to_string(rq.line) + ", \"url\": " + json_string(mask_password(rq.text));
  // A body that could not be kept (written, or taken as JSON) after a
  // response keeps that response's status, as curl's 23 keeps its 200.
  s += ", \"http_code\": " + std::to_string(r.status);
  s += std::string(", \"http_version\": \"") + (r.version == 20 ? "2" : r.version == 11 ? "1.1" : r.version == 10 ? "1.0" : "0") + "\"";
  s += ", \"size_download\": " + std::to_string(r.bytes);
  s += ", \"remote_ip\": " + json_string(r.remote_ip) + ", \"remote_port\": " + std::to_string(r.remote_port);
  s += ", \"time_namelookup\": " + at(kDns) + ", \"time_connect\": " + at(kConnect) +
       ", \"time_appconnect\": " + at(kTls) + ", \"time_starttransfer\": " + at(kFirstByte) +
       ", \"time_total\": " + at(kEnd);
  if (r.late_ms >= 0) {  // --rate: from the scheduled start
    char b[48];
    snprintf(b, sizeof b, ", \"time_corrected\": %.6f", (r.at[kEnd] ? double(r.at[kEnd] - r.at[kStart]) / 1e9 : 0.0) + r.late_ms / 1e3);
    s += b;
    if (r.omitted) s += ", \"omitted\": " + std::to_string(r.omitted);
  }
  s += ", \"num_redirects\": " + std::to_string(r.redirects) + ", \"num_retries\": " + std::to_string(r.retries);
  s += ", \"url_effective\": " + (!r.url.empty() ? json_string(mask_password(r.url)) : rq.error.empty() ? json_string(mask_password(rq.url.href())) : "null");
  s += ", \"exitcode\": " + (code < 0 ? std::string("null") : std::to_string(code));
  s += ", \"errormsg\": " + (refused ? json_string("The requested URL returned error: " + std::to_string(r.status))
                              : r.ok()  ? std::string("null")
                                        : json_string(mask_password(r.error)));
  if (!r.ok()) s += ", \"cause\": " + json_string(cause_name(r.cause));
  if (!r.file.empty()) s += ", \"filename_effective\": " + json_string(r.file);
  if (r.skipped) s += ", \"skipped\": true";
  if (r.not_modified) s += ", \"not_modified\": true";
  if (!r.etag.empty()) s += ", \"etag\": " + json_string(r.etag);
  if (!r.last_modified.empty()) s += ", \"last_modified\": " + json_string(r.last_modified);
  return s + ", \"worker\": " + std::to_string(r.worker) + "}\n";
}

int exit_code(const Config& cfg, const Result& r) {
  if (r.skipped) return 0;
  if (!r.ok()) return std::max(1, curl_exitcode(r));  // a worker that died, a page that is no JSON array: 1
  if (cfg.fail && r.status >= 400) return 22;
  // A page --output or --merge-json needed and did not get: the file is
  // incomplete. (--output-dir is curl's: a 404 is an answer, 22 only with -f.)
  bool pages = !cfg.out.empty() || !cfg.merge_json.empty();
  return pages && (r.status < 200 || r.status > 299) ? 22 : 0;
}

void note_failure(Failures& f, const Config& cfg, const Request& rq, const Result& r) {
  int code = exit_code(cfg, r);
  if (!code) return;
  FailedLine l;
  l.line = rq.line;
  l.seq = rq.seq;
  l.code = code;
  l.url = mask_password(rq.text);
  std::string what;
  if (r.ok()) {
    l.cause = "status";
    l.error = "HTTP " + std::to_string(r.status) + (cfg.fail && r.status >= 400 ? "" : ": page missing (not a 2xx)");
    what = "HTTP " + std::to_string(r.status);
  } else {
    l.cause = cause_name(r.cause);
    l.error = mask_password(r.error);
    // "input: line 7: unsupported scheme": the list says the line already.
    std::string own = "input: line " + std::to_string(rq.line) + ": ";
    if (l.error.rfind(own, 0) == 0) l.error = "input: " + l.error.substr(own.size());
    what = l.cause;
  }
  f.add(what + " (exit " + std::to_string(code) + ")", std::move(l));
}

void print_failures(FILE* out, const Run& run) {
  print_failures(out, run.failures, run.tally.results,
                 (run.cfg.results.empty() || run.cfg.results == "-" ? std::string("--results FILE") : "--results " + run.cfg.results) +
                     " has every line");
}

void print_failures(FILE* out, const Failures& f, uint64_t results, const std::string& all) {
  if (!f.count()) return;
  std::string text = "fanout: " + plural(f.count(), "line", "lines") + " of " + std::to_string(results) +
                     " failed; exit " + std::to_string(f.first()->code) + ", from line " + std::to_string(f.first()->line) +
                     ", the first in input order\n";
  uint64_t shown = 0;
  for (const auto* g : f.groups()) {
    text += "  " + g->what + ": " + plural(g->count, "line", "lines") + "\n";
    for (auto& l : g->first) {
      text += "    line " + std::to_string(l.line) + "  " + l.url + "  " + l.error + "\n";
      shown++;
    }
    if (g->count > g->first.size())
      text += "    ... and " + std::to_string(g->count - g->first.size()) + " more\n";
  }
  if (shown < f.count())
    text += "  (" + all + ")\n";
  fwrite(text.data(), 1, text.size(), out);
}

std::string failures_json(const Failures& f) {
  std::string s = "{\"count\": " + std::to_string(f.count()) + ", \"lines\": [";
  auto kept = f.kept();
  for (size_t i = 0; i < kept.size(); i++) {
    auto& l = kept[i];
    s += (i ? ", " : "") + std::string("{\"line\": ") + std::to_string(l.line) + ", \"url\": " + json_string(l.url) +
         ", \"exitcode\": " + std::to_string(l.code) + ", \"cause\": " + json_string(l.cause) +
         ", \"errormsg\": " + json_string(l.error) + "}";
  }
  return s + "], \"more\": " + std::to_string(f.count() - kept.size()) + "}";
}

}  // namespace fanout
