// fanout: fetch a list of URLs under the concurrency model you choose and
// show what it cost.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include "fanout/dns.hpp"
#include "fanout/http.hpp"
#include "fanout/input.hpp"
#include "fanout/journal.hpp"
#include "fanout/job.hpp"
#include "fanout/model.hpp"
#include "fanout/progress.hpp"
#include "fanout/report.hpp"
#include "fanout/stop.hpp"
#include "fanout/trace.hpp"
#include "sys.hpp"

using namespace fanout;

namespace {

const char kUsage[] =
    "usage: fanout [options] FILE|-\n"
    "       fanout [options] --pages A..B URL   (URL with {page} in it)\n"
    "       fanout bench [--help]      (the seeds' table on the local origin)\n"
    "       fanout merge [--json] FILE...  (one summary of several --results files)\n"
    "Fetches every URL in FILE (one a line; '-' is stdin) and prints the status\n"
    "histogram, the time taken and what it cost. man fanout has it all.\n"
    "\n"
    "Concurrency:\n"
    "  -m, --model NAME        seq, threads, procs, async or hybrid (default threads)\n"
    "  -c, --concurrency N     threads, processes, or requests in flight (default 10)\n"
    "  -w, --workers N         hybrid: processes, each an async loop (default: CPUs)\n"
    "      --per-host N        at most N connections to one host:port per pool\n"
    "                          (procs, hybrid: per worker; default: no cap)\n"
    "      --stack-size SIZE   threads: each thread's stack, in bytes or with K\n"
    "                          or M (default 64K: a TLS handshake fits)\n"
    "      --rate N/s          at most N request starts a second (/m, /h; a bare N\n"
    "                          is per hour, as curl), over all workers of any model\n"
    "Requests:\n"
    "  -I, --head              HEAD instead of GET\n"
    "  -H, --header 'N: v'     add a request header (repeatable; 'N:' removes one)\n"
    "      --resolve H:P:ADDR  connect to ADDR for host H and port P, as curl does\n"
    "      --dns-server A:P    ask this DNS server instead of resolv.conf's\n"
    "      --cacert FILE       trust these CA certificates instead of the system's\n"
    "  -k, --insecure          do not verify TLS certificates\n"
    "      --no-session-reuse  a full TLS handshake on every connection (no\n"
    "                          resumption; for measuring; curl: --no-sessionid)\n"
    "Redirects, retries and time:\n"
    "  -L, --location          follow redirects (301, 302, 303, 307, 308)\n"
    "      --max-redirs N      at most N redirects with -L (default 10)\n"
    "      --allow-downgrade   let -L follow https to http\n"
    "      --retry N           try again up to N times after a timeout, a\n"
    "                          connection error or a --retry-on status\n"
    "      --retry-delay SEC   the first wait before a retry, doubling, with\n"
    "                          full jitter (default 1); Retry-After wins on 429/503\n"
    "      --retry-max-time SEC  no retry starts after this (default: no limit)\n"
    "      --retry-on LIST     statuses worth a retry (default 408,429,500,502,503,504)\n"
    "      --retry-all-errors  retry after any error (DNS, TLS, HTTP) too\n"
    "      --max-time SEC      time for one try, resolve to last byte (default 30;\n"
    "                          --timeout is the same)\n"
    "      --connect-timeout SEC  time to resolve, connect and handshake\n"
    "      --deadline SEC      the whole run: then unfinished lines get a timeout\n"
    "Jobs and output:\n"
    "  -o, --output-dir DIR    download: save each 2xx body under DIR/HOST[_PORT]/PATH\n"
    "      --skip-existing     download: a URL whose file is there is not fetched\n"
    "      --out FILE          every 2xx body into FILE ('-': stdout), in input order\n"
    "      --merge-json FILE   each body a JSON array; all their elements as one\n"
    "                          array in FILE, in input order (a page that is not\n"
    "                          an array is that line's error)\n"
    "      --pages A..B        the argument is a URL with {page}: fetch pages A to B\n"
    "                          (input lines take curl's globs: [1-100], {a,b})\n"
    "      --json              print one JSON object instead of the summary\n"
    "      --results FILE      one JSON line per input line, written as each one\n"
    "                          finishes (its \"line\" gives the input order)\n"
    "      --trace FILE        where the time went: FILE.json (Chrome trace events,\n"
    "                          opens in Perfetto) or FILE.svg (a timeline)\n"
    "      --progress          show progress on stderr even when it is not a terminal\n"
    "      --no-progress       never show progress (default: shown on a terminal)\n"
    "  -f, --fail              exit 22 when any line failed or got a status >= 400\n"
    "Runs:\n"
    "      --resume            skip the lines --results FILE has already, and add\n"
    "                          the rest to it (after an interrupted run)\n"
    "      --grace SEC         after SIGINT or SIGTERM, the time requests in flight\n"
    "                          have to finish before they are cancelled (default 2)\n"
    "      --shard K/N         take shard K of N (1 <= K <= N), split by host; without\n"
    "                          it, a Kubernetes Indexed Job's or Slurm array's own\n"
    "                          (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID)\n"
    "  -V, --version           print the version\n"
    "  -h, --help              this text\n"
    "Exit status: 0 done, 1 input or output failed, 2 bad option, 22 --fail,\n"
    "130/143 interrupted by SIGINT/SIGTERM.\n";

[[noreturn]] void usage_error(const std::string& msg) {
  fprintf(stderr, "fanout: %s\n(fanout --help lists the options)\n", msg.c_str());
  exit(2);
}

// 64 bits on every target: --pages goes to 2^40 on 32-bit boards too.
long long number(const char* opt, const char* s, long long lo, long long hi) {
  char* end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE) v = hi + (hi < LLONG_MAX);
  if (!*s || *end || v < lo || v > hi)
    usage_error(std::string(opt) + " takes a whole number from " + std::to_string(lo) + " to " +
                std::to_string(hi) + ", not \"" + s + "\"");
  return v;
}

// Bytes, or with K or M (binary, as ulimit -s): "64K", "1M", "65536".
size_t byte_size(const char* opt, const char* s, long long lo, long long hi) {
  std::string v = s;
  long long unit = 1;
  if (!v.empty() && (v.back() == 'K' || v.back() == 'k')) unit = 1024;
  else if (!v.empty() && (v.back() == 'M' || v.back() == 'm')) unit = 1024 * 1024;
  if (unit > 1) v.pop_back();
  char* end;
  long long n = strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 0 || n > hi / unit || n * unit < lo)
    usage_error(std::string(opt) + " takes a size from " + std::to_string(lo / 1024) + "K to " +
                std::to_string(hi / 1024 / 1024) + "M (bytes, or with K or M), not \"" + s + "\"");
  return size_t(n * unit);
}

// Seconds: 0 < SEC <= 86400 (zero too where zero means "none").
double seconds(const char* opt, const char* s, bool zero_ok) {
  char* end;
  double v = strtod(s, &end);
  if (!*s || *end || !((zero_ok ? v >= 0 : v > 0) && v <= 86400))
    usage_error(std::string(opt) + " takes seconds (" + (zero_ok ? "0 <=" : "0 <") + " SEC <= 86400), not \"" + s + "\"");
  return v;
}

// curl's --rate: "N/s", "N/m", "N/h", "N/d", or N an hour. Starts a second.
double parse_rate(const std::string& s) {
  size_t slash = s.find('/');
  std::string unit = slash == std::string::npos ? "h" : s.substr(slash + 1);
  double per = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  char* end;
  std::string n = s.substr(0, slash);
  double v = strtod(n.c_str(), &end);
  if (n.empty() || *end || !(v > 0 && v <= 1e7) || per == 0)
    usage_error("--rate takes N/s, N/m, N/h or N/d (N > 0), not \"" + s + "\"");
  return v / per;
}

// "host:port:addr", addr numeric (IPv6 in brackets or bare).
ResolveEntry parse_resolve(const std::string& s) {
  size_t a = s.find(':'), b = a == std::string::npos ? a : s.find(':', a + 1);
  if (a == std::string::npos || b == std::string::npos || a == 0)
    usage_error("--resolve takes HOST:PORT:ADDR, not \"" + s + "\"");
  ResolveEntry e;
  e.host = s.substr(0, a);
  for (auto& c : e.host) c = char(tolower((unsigned char)c));
  e.port = uint16_t(number("--resolve port", s.substr(a + 1, b - a - 1).c_str(), 1, 65535));
  e.addr = s.substr(b + 1);
  Addr test;
  if (!numeric_addr(e.addr, e.port, test))
    usage_error("--resolve: \"" + e.addr + "\" is not a numeric IPv4 or IPv6 address");
  return e;
}

// "ADDR:PORT", "[V6]:PORT", or a bare address (port 53).
std::string parse_dns_server(const std::string& s) {
  std::string host = s, port = "53";
  if (s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos) usage_error("--dns-server: unterminated [");
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') usage_error("--dns-server takes ADDR:PORT, not \"" + s + "\"");
      port = s.substr(close + 2);
    }
  } else if (s.find(':') != std::string::npos && s.find(':') == s.rfind(':')) {
    host = s.substr(0, s.find(':'));
    port = s.substr(s.find(':') + 1);
  }
  long p = number("--dns-server port", port.c_str(), 1, 65535);
  Addr test;
  if (!numeric_addr(host, uint16_t(p), test))
    usage_error("--dns-server: \"" + host + "\" is not a numeric IPv4 or IPv6 address");
  return host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port;
}

bool shard_given = false;

// "K/N", 1 <= K <= N: this run takes the K-th of N shards.
void parse_shard(Config& cfg, const std::string& what, const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) usage_error(what + " takes K/N (shard K of N), not \"" + s + "\"");
  long n = number(what.c_str(), s.substr(slash + 1).c_str(), 1, 1000000);
  long k = number(what.c_str(), s.substr(0, slash).c_str(), 1, n);
  cfg.shard_k = uint32_t(k - 1);
  cfg.shard_n = uint32_t(n);
  shard_given = true;
}

// A Kubernetes Indexed Job (JOB_COMPLETION_INDEX of JOB_COMPLETIONS, from 0)
// or a Slurm job array (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT, from
// SLURM_ARRAY_TASK_MIN): each pod or task takes its own shard.
void shard_from_env(Config& cfg) {
  auto env = [](const char* n) { const char* v = getenv(n); return std::string(v ? v : ""); };
  std::string idx = env("JOB_COMPLETION_INDEX"), count = env("JOB_COMPLETIONS"), from = "0", where = "JOB_COMPLETION_INDEX";
  if (idx.empty() || count.empty()) {
    idx = env("SLURM_ARRAY_TASK_ID"), count = env("SLURM_ARRAY_TASK_COUNT"), where = "SLURM_ARRAY_TASK_ID";
    if (!env("SLURM_ARRAY_TASK_MIN").empty()) from = env("SLURM_ARRAY_TASK_MIN");
  }
  if (idx.empty() || count.empty()) return;
  long k = number(where.c_str(), idx.c_str(), 0, 1000000) - number("SLURM_ARRAY_TASK_MIN", from.c_str(), 0, 1000000);
  parse_shard(cfg, where, std::to_string(k + 1) + "/" + count);
  fprintf(stderr, "fanout: shard %ld/%s (from %s)\n", k + 1, count.c_str(), where.c_str());
}

Config parse_args(int argc, char** argv) {
  enum { kTimeout = 256, kResolve, kDnsServer, kCacert, kJson, kResults, kPerHost, kStackSize, kProgress, kNoProgress, kTrace, kNoReuse,
         kMaxTime, kConnectTimeout, kMaxRedirs, kDowngrade, kRetry, kRetryDelay, kRetryMaxTime, kRetryOn, kRetryAll, kDeadline, kRate, kOut, kMergeJson, kPages,
         kSkipExisting, kGrace, kResume, kShard };
  // (-f has a short name; its long one below maps to 'f'.)
  static const option longs[] = {
    {"model", required_argument, nullptr, 'm'},
    {"concurrency", required_argument, nullptr, 'c'},
    {"workers", required_argument, nullptr, 'w'},
    {"head", no_argument, nullptr, 'I'},
    {"header", required_argument, nullptr, 'H'},
    {"insecure", no_argument, nullptr, 'k'},
    {"timeout", required_argument, nullptr, kTimeout},
    {"max-time", required_argument, nullptr, kMaxTime},
    {"connect-timeout", required_argument, nullptr, kConnectTimeout},
    {"location", no_argument, nullptr, 'L'},
    {"max-redirs", required_argument, nullptr, kMaxRedirs},
    {"allow-downgrade", no_argument, nullptr, kDowngrade},
    {"retry", required_argument, nullptr, kRetry},
    {"retry-delay", required_argument, nullptr, kRetryDelay},
    {"retry-max-time", required_argument, nullptr, kRetryMaxTime},
    {"retry-on", required_argument, nullptr, kRetryOn},
    {"retry-all-errors", no_argument, nullptr, kRetryAll},
    {"deadline", required_argument, nullptr, kDeadline},
    {"fail", no_argument, nullptr, 'f'},
    {"rate", required_argument, nullptr, kRate},
    {"output-dir", required_argument, nullptr, 'o'},
    {"out", required_argument, nullptr, kOut},
    {"merge-json", required_argument, nullptr, kMergeJson},
    {"pages", required_argument, nullptr, kPages},
    {"skip-existing", no_argument, nullptr, kSkipExisting},
    {"grace", required_argument, nullptr, kGrace},
    {"resume", no_argument, nullptr, kResume},
    {"shard", required_argument, nullptr, kShard},
    {"resolve", required_argument, nullptr, kResolve},
    {"dns-server", required_argument, nullptr, kDnsServer},
    {"cacert", required_argument, nullptr, kCacert},
    {"json", no_argument, nullptr, kJson},
    {"results", required_argument, nullptr, kResults},
    {"per-host", required_argument, nullptr, kPerHost},
    {"stack-size", required_argument, nullptr, kStackSize},
    {"progress", no_argument, nullptr, kProgress},
    {"trace", required_argument, nullptr, kTrace},
    {"no-progress", no_argument, nullptr, kNoProgress},
    {"no-session-reuse", no_argument, nullptr, kNoReuse},
    {"no-sessionid", no_argument, nullptr, kNoReuse},
    {"version", no_argument, nullptr, 'V'},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
  };
  Config cfg;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "m:c:w:IH:kLfo:Vh", longs, nullptr)) != -1) {
    switch (c) {
      case 'm':
        if (!find_model(optarg)) usage_error(std::string("unknown model \"") + optarg + "\" (models: " + model_names() + ")");
        cfg.model = optarg;
        break;
      case 'c': cfg.concurrency = int(number("-c", optarg, 1, 100000)); break;
      case 'w': cfg.workers = int(number("-w", optarg, 1, 1024)); break;
      case 'I': cfg.head = true; break;
      case 'H': {
        std::string why = http::check_header_arg(optarg);
        if (!why.empty()) usage_error(std::string("-H \"") + optarg + "\": " + why);
        cfg.headers.push_back(optarg);
        break;
      }
      case 'k': cfg.insecure = true; break;
      case kTimeout: cfg.timeout = seconds("--timeout", optarg, false); break;
      case kMaxTime: cfg.timeout = seconds("--max-time", optarg, false); break;
      case kConnectTimeout: cfg.connect_timeout = seconds("--connect-timeout", optarg, false); break;
      case 'L': cfg.follow = true; break;
      case 'f': cfg.fail = true; break;
      case 'o': cfg.output_dir = optarg; break;
      case kOut: cfg.out = optarg; break;
      case kMergeJson: cfg.merge_json = optarg; break;
      case kPages: cfg.pages = optarg; break;
      case kSkipExisting: cfg.skip_existing = true; break;
      case kGrace: cfg.grace = seconds("--grace", optarg, true); break;
      case kResume: cfg.resume = true; break;
      case kShard: parse_shard(cfg, "--shard", optarg); break;
      case kRate: cfg.rate = parse_rate(optarg); break;
      case kMaxRedirs: cfg.max_redirs = int(number("--max-redirs", optarg, 0, 1000)); break;
      case kDowngrade: cfg.allow_downgrade = true; break;
      case kRetry: cfg.retry = int(number("--retry", optarg, 0, 1000)); break;
      case kRetryDelay: cfg.retry_delay = seconds("--retry-delay", optarg, true); break;
      case kRetryMaxTime: cfg.retry_max_time = seconds("--retry-max-time", optarg, true); break;
      case kRetryOn: {
        cfg.retry_on.clear();
        std::string list = optarg;
        for (size_t at = 0; at <= list.size();) {
          size_t comma = std::min(list.find(',', at), list.size());
          cfg.retry_on.push_back(int(number("--retry-on status", list.substr(at, comma - at).c_str(), 100, 599)));
          at = comma + 1;
        }
        break;
      }
      case kRetryAll: cfg.retry_all_errors = true; break;
      case kDeadline: cfg.deadline = seconds("--deadline", optarg, false); break;
      case kResolve: cfg.resolve.push_back(parse_resolve(optarg)); break;
      case kDnsServer: cfg.dns_server = parse_dns_server(optarg); break;
      case kCacert: cfg.cacert = optarg; break;
      case kJson: cfg.json = true; break;
      case kResults: cfg.results = optarg; break;
      case kPerHost: cfg.per_host = int(number("--per-host", optarg, 1, 100000)); break;
      case kStackSize: cfg.stack_size = byte_size("--stack-size", optarg, 16 * 1024, 64 << 20); break;
      case kProgress: cfg.progress = 1; break;
      case kTrace: cfg.trace = optarg; break;
      case kNoProgress: cfg.progress = 0; break;
      case kNoReuse: cfg.session_reuse = false; break;
      case 'V': printf("fanout %s\n", FANOUT_VERSION); exit(0);
      case 'h': fputs(kUsage, stdout); exit(0);
      default:
        usage_error(optopt ? std::string("option -") + char(optopt) + " is unknown or needs a value"
                           : std::string("option ") + argv[optind - 1] + " is unknown or needs a value");
    }
  }
  if ((!cfg.output_dir.empty()) + (!cfg.out.empty()) + (!cfg.merge_json.empty()) > 1)
    usage_error("one of -o, --out and --merge-json at a time");
  if (cfg.skip_existing && cfg.output_dir.empty()) usage_error("--skip-existing goes with -o DIR");
  if (cfg.resume && (cfg.results.empty() || cfg.results == "-"))
    usage_error("--resume needs --results FILE: the journal of the run it resumes");
  if (cfg.resume && (!cfg.out.empty() || !cfg.merge_json.empty()))
    usage_error("--resume cannot resume --out or --merge-json (their pages would come out of order)");
  if (!shard_given) shard_from_env(cfg);
  if (optind + 1 < argc) usage_error("one input file only (got \"" + std::string(argv[optind + 1]) + "\" too)");
  if (optind < argc) cfg.input = argv[optind];
  else if (isatty(0)) usage_error("no input: give a file of URLs, or - for stdin");
  return cfg;
}

// The summary, and --out/--merge-json or --results when they are '-': a
// full disk or a closed pipe is an error, not exit 0.
bool stdout_ok() {
  if (fflush(stdout) == 0 && !ferror(stdout)) return true;
  fprintf(stderr, "fanout: stdout: write failed: %s\n", strerror(errno));
  return false;
}

// The input: a file, stdin, or --pages; less another shard's lines and,
// with --resume, the lines the journal has already.
std::unique_ptr<Source> open_input(const Config& cfg, std::vector<uint64_t>& done, std::string& err) {
  std::unique_ptr<Source> src;
  if (!cfg.pages.empty()) {  // --pages A..B: the argument is a URL with {page} in it
    size_t dots = cfg.pages.find("..");
    long long a = number("--pages", cfg.pages.substr(0, dots).c_str(), 0, 1LL << 40);
    long long b = dots == std::string::npos ? -1 : number("--pages", cfg.pages.substr(dots + 2).c_str(), a, a + 10000000);
    if (cfg.input.find("{page}") == std::string::npos) usage_error("--pages needs a URL with {page} in it, not \"" + cfg.input + "\"");
    src = Source::pages(cfg.input, uint64_t(a), uint64_t(b));
  } else if (!(src = Source::file(cfg.input, err))) {
    return nullptr;
  }
  if (cfg.resume) {
    // A run killed mid-line left half a record: cut off, so appending starts clean.
    if (!read_results(cfg.results, true, [&](const Record& r) { done.push_back(request_key(r.line, r.url)); }, err)) {
      err = "--resume: " + err;
      return nullptr;
    }
    std::sort(done.begin(), done.end());
  }
  if (cfg.shard_n > 1 || cfg.resume)
    src->keep = [&cfg, &done](const Request& rq) {
      if (cfg.shard_n > 1 && shard_of(rq, cfg.shard_n) != cfg.shard_k) return false;
      return !std::binary_search(done.begin(), done.end(), request_key(rq.line, rq.text));
    };
  return src;
}

// fanout bench is fanout-bench, next to this binary: the bench driver and
// its charts are ~70 KB that a board's fanout does without.
int run_bench(char** argv) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, size_t(n)) : "fanout";
  std::string exe = self.substr(0, self.rfind('/') + 1) + "fanout-bench";
  argv[0] = const_cast<char*>(exe.c_str());
  execv(exe.c_str(), argv);
  fprintf(stderr, "fanout bench: %s: %s (make builds it, make install installs it)\n", exe.c_str(), strerror(errno));
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "bench") return run_bench(argv + 1);
  if (argc > 1 && std::string(argv[1]) == "merge") return merge_main(argc - 1, argv + 1);
  // A closed standard fd would be handed to the first file opened (the
  // summary written into --results, say): /dev/null takes its place, and a
  // closed stdout is refused, for the summary goes there.
  bool no_stdout = false;
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      no_stdout |= fd == 1;
      if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) return 1;
    }
  if (no_stdout) {
    fprintf(stderr, "fanout: stdout is closed: the summary goes there (> /dev/null drops it)\n");
    return 1;
  }
  Config cfg = parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);  // pipes to dead workers; sockets use MSG_NOSIGNAL
  std::string fit = fit_fd_limit(cfg);  // once, before anything is opened
  if (!fit.empty()) fprintf(stderr, "fanout: %s\n", fit.c_str());
  stop::install(cfg.grace);

  std::string err;
  std::vector<uint64_t> done;  // --resume: the journal's lines
  std::unique_ptr<Source> src = open_input(cfg, done, err);
  if (!src) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  bool pages = !cfg.out.empty() || !cfg.merge_json.empty();
  std::unique_ptr<Job> job = !cfg.output_dir.empty() ? make_download_job(cfg, err)
                             : pages                 ? make_pages_job(!cfg.merge_json.empty())
                                                     : make_check_job();
  if (!job) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  Run run(cfg, *src, *job);
  if (!run.open_journal(err)) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  FILE* trace = nullptr;  // every output is opened before the run: a bad path is found now
  if (!cfg.trace.empty() && !(trace = fopen(cfg.trace.c_str(), "w"))) {
    fprintf(stderr, "fanout: --trace %s: %s\n", cfg.trace.c_str(), strerror(errno));
    return 1;
  }
  const Model* model = find_model(cfg.model);
  bool show = cfg.progress == 1 || (cfg.progress < 0 && isatty(2));
  // A total for progress only where it is shown, and only where it can be
  // had cheaply and right (another shard's lines cannot be told apart unparsed).
  uint64_t total = show && cfg.shard_n == 1 ? src->count_ahead() : 0;
  progress::start(size_t(total > done.size() ? total - done.size() : 0), show);
  auto t0 = Clock::now();
  cfg.run_end = t0 + std::chrono::microseconds(int64_t(cfg.deadline * 1e6));
  if (cfg.rate > 0 && !(cfg.pacer = Pacer::create(cfg.rate))) {
    fprintf(stderr, "fanout: --rate: mmap: %s\n", strerror(errno));
    return 1;
  }
  bool ran = model->run(run, err);
  progress::stop();
  if (!ran) {
    fprintf(stderr, "fanout: %s: %s\n", cfg.model.c_str(), err.c_str());
    return 1;
  }
  if (stop::requested()) run.interrupt();  // what was taken and did not land is cancelled
  if (run.finished == Clock::time_point{}) run.mark_finished();
  double seconds = std::chrono::duration<double>(run.finished - t0).count();
  if (!err.empty()) fprintf(stderr, "fanout: %s: %s\n", cfg.model.c_str(), err.c_str());
  run.totals.add_calls(sys::counters());  // the main thread's own, teardown included
  Cost cost = measure(run, seconds);
  // Pages on stdout: the summary goes to stderr, out of their way.
  FILE* out = cfg.out == "-" || cfg.merge_json == "-" ? stderr : stdout;
  if (cfg.json) print_json(out, run, seconds, cost);
  else print_summary(out, run, seconds);
  print_cost(stderr, run, cost);
  if (trace && !write_trace(trace, cfg.trace, run, t0, err)) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  if (!run.close_journal(err)) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  if (!src->error().empty()) {  // the input broke off: what was read is done
    fprintf(stderr, "fanout: %s\n", src->error().c_str());
    return 1;
  }
  if (int sig = stop::signal()) {
    // Threads of an interrupted run may still be in a request: no
    // destructors, no exit handlers; everything written is flushed.
    fprintf(stderr, "fanout: %s: %llu results, %llu requests cancelled (not in --results); %s\n", stop::name(sig),
            (unsigned long long)run.tally.results, (unsigned long long)run.tally.cancelled,
            cfg.results.empty() ? "with --results FILE, --resume would finish the rest"
                                : ("--resume --results " + cfg.results + " finishes the rest").c_str());
    _exit(stdout_ok() ? 128 + sig : 1);
  }
  if (!stdout_ok()) return 1;
  // --fail: curl's 22 ("HTTP page not retrieved") when any line failed.
  return cfg.fail && run.tally.failed ? 22 : 0;
}
