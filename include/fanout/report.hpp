// What a run prints: the seeds' status histogram and "took" line, or one
// JSON object (--json); and one JSON line per input line (--results).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "fanout/model.hpp"

namespace fanout {

std::string json_string(std::string_view s);
std::string plural(uint64_t n, const char* one, const char* many);  // "1 url", "2 urls"
// listed: the requests the list makes (an interrupted run did not take
// them all); the summary says what became of those it did not finish.
void print_summary(FILE* out, const Run& run, double seconds, uint64_t listed);
// The whole cost of a run, measured the same way for every model.
struct Cost {
  double wall = 0, user = 0, sys = 0;  // seconds; CPU includes reaped workers
  long rss_kb = 0, children_rss_kb = 0;
  long vcsw = 0, ivcsw = 0, minflt = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0;  // ms
};
Cost measure(const Run& run, double seconds);  // after the model is done
void print_cost(FILE* out, const Run& run, const Cost& c);  // the table on stderr
std::string cost_json(const Run& run, const Cost& c);
// --rate: "\"latency_corrected_ms\": {...}, " (with the comma), else "".
std::string corrected_json(const Latency& k);
// The hosts with the most failures and the slowest p90, top 10 each:
// ", \"hosts\": {...}" for --json, and lines for the summary (none for a
// run of one host without failures).
std::string hosts_json(const Hosts& h);
void print_hosts(FILE* out, const Hosts& h);
void print_json(FILE* out, const Run& run, double seconds, const Cost& c);
// One line of --results, with curl's names where the meaning is curl's:
// {"line": 3, "url": ..., "http_code": 200, "size_download": ..., "exitcode": 0, ...}.
std::string result_line(const Request& rq, const Result& r, bool fail = false);  // fail: -f
// curl's exit code for what went wrong, as the failure said it where it
// happened (6 DNS, 7 connect, 28 timeout, 35 TLS, 60 certificate, 77 the CA
// certificates, 47 redirects, 52 empty reply, 18 a body cut short, 55 send,
// 56 receive, 8 a reply that is not HTTP, 3 a bad URL, 1 an unsupported
// scheme, 23 a download that could not be written, 16 HTTP/2, 92 an HTTP/2
// stream); 0 for a response; -1 where curl has none (a worker that died).
int curl_exitcode(const Result& r);
// What r means for the run's exit status: 0, or the exit code of a failed
// line (curl's; 22 for a status >= 400 under -f, or a body that an output
// needed and did not get: a non-2xx page under --output, --merge-json or
// --output-dir; 1 where curl has no code).
int exit_code(const Config& cfg, const Result& r);
void note_failure(Failures& f, const Config& cfg, const Request& rq, const Result& r);  // if it failed
// The failed lines on stderr, grouped by what went wrong, the first of
// each in full; and the same for --json (bounded).
void print_failures(FILE* out, const Run& run);
// The same for lines of `results`; all says where every line is ("--results FILE has every line").
void print_failures(FILE* out, const Failures& f, uint64_t results, const std::string& all);
std::string failures_json(const Failures& f);

}  // namespace fanout
