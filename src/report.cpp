#include "fanout/report.hpp"

#include <cerrno>
#include <cstring>
#include <map>
#include <sys/resource.h>

namespace fanout {

std::string json_string(std::string_view s) {
  std::string o = "\"";
  for (unsigned char c : s) {
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
          o += char(c);  // UTF-8 passes through; invalid bytes too (input is bytes)
        }
    }
  }
  return o + "\"";
}

namespace {

// Every message starts with its cause ("connect(...)", "dns: ...", "http: ...").
const std::string& error_text(const Result& r) { return r.error; }

std::string statuses_json(const std::vector<Result>& results, bool with_errors) {
  std::map<int, int> st;
  int errors = 0;
  for (auto& r : results) {
    if (r.ok()) st[r.status]++;
    else errors++;
  }
  std::string s = "{";
  for (auto& [code, n] : st) s += (s.size() > 1 ? ", " : "") + std::string("\"") + std::to_string(code) + "\": " + std::to_string(n);
  if (with_errors && errors) s += (s.size() > 1 ? ", " : "") + std::string("\"error\": ") + std::to_string(errors);
  return s + "}";
}

}  // namespace

std::string histogram(const std::vector<Result>& results) { return statuses_json(results, true); }

void print_summary(FILE* out, const Run& run, double seconds) {
  int c = run.cfg.model == "seq" ? 1 : run.cfg.concurrency;
  fprintf(out, "%s\ntook %.3f seconds (%s, c=%d, %zu urls)\n", histogram(run.results).c_str(), seconds,
          run.cfg.model.c_str(), c, run.results.size());
  if (run.totals.inflight)
    fprintf(out, "coroutine frames: %llu bytes per request in flight (%llu in flight, %.1f KiB at the peak)\n",
            (unsigned long long)(run.totals.frame_bytes / run.totals.inflight), (unsigned long long)run.totals.inflight,
            double(run.totals.frame_bytes) / 1024);
}

void print_json(FILE* out, const Run& run, double seconds) {
  std::map<std::string, int> errors;
  for (auto& r : run.results)
    if (!r.ok()) errors[cause_name(r.cause)]++;
  std::string e = "{";
  for (auto& [k, n] : errors) e += (e.size() > 1 ? ", " : "") + json_string(k) + ": " + std::to_string(n);
  e += "}";
  int c = run.cfg.model == "seq" ? 1 : run.cfg.concurrency;
  std::string frames;
  if (run.totals.inflight)
    frames = ", \"frames\": {\"bytes_per_request\": " + std::to_string(run.totals.frame_bytes / run.totals.inflight) +
             ", \"in_flight\": " + std::to_string(run.totals.inflight) + ", \"peak_bytes\": " +
             std::to_string(run.totals.frame_bytes) + "}";
  rusage self{}, kids{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  std::string rss = ", \"peak_rss_kb\": {\"parent\": " + std::to_string(self.ru_maxrss) +
                    ", \"largest_child\": " + std::to_string(kids.ru_maxrss) + "}";
  std::string conns = rss + ", \"connections\": {\"opened\": " + std::to_string(run.totals.connections) +
                      ", \"reused\": " + std::to_string(run.totals.reused) + "}";
  fprintf(out, "{\"model\": %s, \"concurrency\": %d, \"urls\": %zu, \"statuses\": %s, \"errors\": %s, \"seconds\": %.3f%s%s}\n",
          json_string(run.cfg.model).c_str(), c, run.results.size(), statuses_json(run.results, false).c_str(),
          e.c_str(), seconds, conns.c_str(), frames.c_str());
}

bool write_results(const std::string& path, const Run& run, std::string& err) {
  FILE* f = path == "-" ? stdout : fopen(path.c_str(), "w");
  if (!f) {
    err = "--results " + path + ": " + strerror(errno);
    return false;
  }
  for (size_t i = 0; i < run.results.size(); i++) {
    const Result& r = run.results[i];
    fprintf(f, "{\"line\": %u, \"url\": %s, \"status\": %s, \"bytes\": %llu, \"ms\": %.3f, \"error\": %s, \"worker\": %d}\n",
            run.reqs[i].line, json_string(run.reqs[i].text).c_str(),
            r.ok() ? std::to_string(r.status).c_str() : "null", (unsigned long long)r.bytes, r.ms,
            r.ok() ? "null" : json_string(error_text(r)).c_str(), r.worker);
  }
  bool ok = !ferror(f);
  if (f != stdout) ok = fclose(f) == 0 && ok;
  if (!ok) err = "--results " + path + ": write failed";
  return ok;
}

}  // namespace fanout
