// The records every part of fanout passes around: what to fetch (Request),
// what happened (Result), and how the user asked for it (Config).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fanout/url.hpp"

namespace fanout {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
// Milliseconds until d, at least 0: what poll() takes.
int ms_left(Deadline d);
Deadline deadline_in(double seconds);  // --timeout from now
double ms_since(Clock::time_point t0);

// Why a request has no HTTP status. Stable names: they are JSON keys.
// http2: the connection failed (curl's 16); http2_stream: one stream did (92).
enum class Cause : uint8_t { none, input, dns, connect, tls, send, recv, http, timeout, worker, redirect, write, content, cancelled,
                             http2, http2_stream, proxy };
constexpr int kCauses = int(Cause::proxy) + 1;
const char* cause_name(Cause c);
// curl's exit code for a failure of this cause where nothing more precise
// was said (6 dns, 7 connect, 35 tls, 56 recv ...); -1 where curl has none.
int cause_code(Cause c);

// A failure as a value, made where it happens: its cause, the words for
// the user, and curl's exit code for it (0: the cause's, cause_code()).
struct Failure {
  Cause cause = Cause::none;
  std::string error;
  int code = 0;
};

struct Request {
  uint32_t line = 0;   // 1-based line number in the input
  uint32_t seq = 0;    // its number among the requests of the run (0, 1, 2 ...): input order
  std::string text;    // the line as given (trimmed)
  Url url;
  std::string error;   // set when the line is not a URL fanout can fetch
  int code = 3;        // and curl's exit code for it: 3 a bad URL, 1 an unsupported scheme
};

// Where a request's time went, for --trace: steady-clock nanoseconds (the
// same clock in every thread and forked worker); 0 where it never got.
enum Phase { kStart, kDns, kConnect, kTls, kSent, kFirstByte, kEnd, kPhases };
int64_t now_ns();

// FNV-1a, 64 bits: the same on every run, machine and shard.
inline uint64_t fnv1a(std::string_view s, uint64_t h = 14695981039346656037ULL) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

struct Result {
  uint32_t line = 0;
  int status = 0;      // 0 when there is no HTTP status
  uint64_t bytes = 0;  // body bytes received
  double ms = 0;
  Cause cause = Cause::none;
  std::string error;   // what went wrong; starts with its cause ("dns: ", "connect(...)")
  int16_t code = 0;    // curl's exit code for it (0: none went wrong; -1: curl has none)
  int worker = -1;
  int lane = 0;  // the thread, process or coroutine slot within the worker
  // --rate: how long after its scheduled start (when its turn was due) it
  // began; ms + late_ms is its latency corrected for coordinated omission.
  // -1: no --rate.
  float late_ms = -1;
  uint32_t omitted = 0;  // --rate: turns that went by unused before its own (Pacer::take)
  uint16_t redirects = 0, retries = 0;  // followed, and tried again (--retry)
  std::string url;   // where it ended after redirects (empty: where it began)
  std::string file;  // where the body was saved (download), relative to the folder
  std::string payload;  // what --out or --merge-json takes from it, until it lands
  bool skipped = false;  // --skip-existing: the file was there, nothing was fetched
  uint8_t version = 0;   // of the response: 10, 11 or 20 (0: none came)
  uint16_t remote_port = 0;  // the connection's peer (curl's remote_ip, remote_port; "": none was made)
  std::string remote_ip;
  bool not_modified = false;  // a conditional request (-N, --since) got 304: what was there is current
  std::string etag, last_modified;  // the response's validators, as sent (what --since asks with)
  int64_t write_from = 0, write_ns = 0;  // download: the first write to disk, and the time all writes took
  int64_t at[kPhases] = {};
  // A fresh result (the engine marks when it starts, by its clock).
  void begin(uint32_t input_line, int worker_id) {
    *this = Result{};
    line = input_line;
    worker = worker_id;
  }
  void clear_error() { cause = Cause::none; error.clear(); code = 0; }
  // A second try: what the first one got does not count.
  void restart() {
    clear_error();
    status = 0;
    bytes = 0;
    version = 0;
    remote_ip.clear();
    remote_port = 0;
    not_modified = false;
    etag.clear();
    last_modified.clear();
  }
  bool ok() const { return cause == Cause::none; }
  // The status a response gave stays (curl's http_code after a cut body,
  // too many redirects, a write error): 0 where none came.
  void fail(Cause c, std::string msg, int curl_code = 0) {
    cause = c;
    error = std::move(msg);
    code = int16_t(curl_code ? curl_code : cause_code(c));
  }
  void fail(Failure f) { fail(f.cause, std::move(f.error), f.code); }
};

// --rate: when the next request may start, shared by every thread and
// forked worker of a run (it lives in memory mapped before any fork, and a
// lock-free atomic works across processes).
// The turns one request can stand for (Pacer::take's omitted): each is a
// value in the corrected histogram, so a journal cannot make merge loop.
constexpr unsigned long kMostOmitted = 1000000;
struct Pacer {
  std::atomic<int64_t> next_ns{0};
  int64_t interval_ns = 0;
  // This try's start: now, or its turn (never sooner than one interval
  // after the one before: --rate is a most, as curl's). When nobody was
  // there to take a turn as it came (every slot waiting on a stalled server,
  // say), the schedule slips: *scheduled is when the turn was due, and
  // *omitted how many more turns went by unused since, the requests a
  // steady arrival at the rate would have sent meanwhile (coordinated
  // omission: they are what the corrected percentiles add back).
  Deadline take(Deadline* scheduled = nullptr, uint32_t* omitted = nullptr);
  static Pacer* create(double per_second);  // null if mmap fails
};

struct ResolveEntry {
  std::string host;  // "*": any
  uint16_t port = 0;
  std::vector<std::string> addrs;
};

// A proxy (-x, or the environment's: proxy.hpp).
struct Proxy {
  enum Kind : uint8_t { http, socks5, socks5h } kind = http;  // socks5h: the proxy resolves the name
  std::string host;   // a name, or a numeric address (no brackets)
  uint16_t port = 1080;
  std::string user, pass;  // percent-decoded
  std::string text;        // "http://host:port": what messages say (never the credentials)
  Url url;                 // host and port, as the resolver takes them
  std::string auth;        // "Proxy-Authorization: Basic ..." (http://, with credentials), else empty
  bool secret() const { return !user.empty() || !pass.empty(); }
};

class Polite;

struct Config {
  std::string model = "threads";
  int concurrency = 10;
  int workers = 0;                   // hybrid: processes (0: one per CPU)
  bool uring = false;                // the loops wait on io_uring (-m uring; hybrid --io-uring)
  int per_host = 0;                  // connections per host:port (0: no cap)
  size_t stack_size = 64 * 1024;     // threads: each thread's stack (--stack-size)
  int progress = -1;                 // -1: when stderr is a terminal; 0 off; 1 on
  bool head = false;                 // HEAD instead of GET
  std::vector<std::string> headers;  // -H "Name: value"
  std::vector<ResolveEntry> resolve; // --resolve host:port:addr[,addr]
  int family = 0;                    // -4, -6: AF_INET or AF_INET6 only (0: both)
  int happy_eyeballs_ms = 200;       // --happy-eyeballs-timeout-ms: the next address's attempt starts after this
  std::string proxy_arg;             // -x, --proxy ("": none, not even the environment's)
  bool proxy_given = false;
  std::string noproxy;               // --noproxy, else no_proxy's
  bool noproxy_given = false;
  std::vector<Proxy> proxies;        // what setup_proxies() found: [0] for http://, [1] for https:// (host "": none)
  std::string dns_server;            // --dns-server ADDR:PORT
  std::string cacert;                // --cacert FILE
  bool insecure = false;             // -k
  bool session_reuse = true;         // --no-session-reuse turns TLS resumption off
  bool http11 = false;               // --http1.1: HTTP/1.1 only (no h2 in ALPN)
  bool h2c = false;                  // --http2-prior-knowledge: http:// URLs speak HTTP/2 at once
  int max_streams = 100;             // --max-streams: HTTP/2 streams a connection carries at once (async, hybrid)
  double timeout = 30;               // --max-time (--timeout): seconds for one try, resolve to last byte
  double connect_timeout = 0;        // --connect-timeout: seconds to resolve, connect and handshake (0: --max-time)
  bool follow = false;               // -L
  int max_redirs = 10;               // --max-redirs
  bool allow_downgrade = false;      // --allow-downgrade: follow https -> http
  int retry = 0;                     // --retry N
  double retry_delay = 1;            // --retry-delay: the first backoff, doubling
  double retry_max_time = 0;         // --retry-max-time: no retry starts after this (0: no limit)
  std::vector<int> retry_on = {408, 429, 500, 502, 503, 504};  // --retry-on
  bool retry_all_errors = false;     // --retry-all-errors
  double deadline = 0;               // --deadline: seconds for the whole run (0: none)
  bool fail = false;                 // -f, --fail: exit 22 if any line failed or got >= 400
  double rate = 0;                   // --rate: request starts per second (0: no limit)
  Pacer* pacer = nullptr;            // made from rate as the run starts
  Deadline run_end{};                // when that is, set as the run starts
  bool json = false;
  bool silent = false;               // -s: the summary and errors only
  bool show_error = false;           // -S: with -s, the failed lines still
  bool globoff = false;              // -g: no globs in input lines
  std::string results;               // --results FILE
  std::string trace;                 // --trace FILE.json or FILE.svg
  std::string input = "-";
  std::string output_dir;            // -o, --output-dir: the download job's folder
  std::string out;                   // --out FILE: every 2xx body, in input order
  std::string merge_json;            // --merge-json FILE: the elements of every page's JSON array, in order
  std::string pages;                 // --pages A..B: {page} in the URL given instead of a file
  bool skip_existing = false;        // --skip-existing: a download whose file is there is not fetched
  bool remote_header_name = false;   // -J: a download is named by Content-Disposition
  bool timestamping = false;         // -N: a download already there is asked for only if it changed
  bool polite = false;               // --polite: each host's concurrency follows its answers
  Polite* polite_table = nullptr;    // made as the run starts (polite.hpp)
  std::string since;                 // --since JOURNAL: each URL asked with the validators that run recorded
  // What --since read: a URL (as the journal names it) -> If-None-Match, If-Modified-Since.
  std::unordered_map<std::string, std::pair<std::string, std::string>> validators;
  double grace = 2;                  // --grace: after SIGINT/SIGTERM, seconds for requests in flight
  bool resume = false;               // --resume: skip the lines --results FILE already has
  uint32_t shard_k = 0, shard_n = 1; // --shard K/N: this run takes shard K (0-based here) of N
  bool shard_given = false;          // --shard was given (the environment's shard does not apply)
  int effective_concurrency() const { return model == "seq" ? 1 : concurrency; }  // seq ignores -c
};

}  // namespace fanout
