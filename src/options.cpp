#include "fanout/options.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fanout/dns.hpp"
#include "fanout/http.hpp"
#include "fanout/model.hpp"
#include "fanout/proxy.hpp"

namespace fanout {

[[noreturn]] void usage_error(const std::string& msg) {
  fprintf(stderr, "fanout: %s\n(fanout --help lists the options)\n", msg.c_str());
  exit(2);
}

namespace {

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

// curl's "[+]HOST:PORT:ADDR[,ADDR]...": each ADDR numeric (IPv6 in
// brackets or bare); HOST "*" is any host. (curl's "+", for entries that
// time out, changes nothing here: entries last the run.)
ResolveEntry parse_resolve(const std::string& arg) {
  std::string s = !arg.empty() && arg[0] == '+' ? arg.substr(1) : arg;
  size_t a = s.find(':'), b = a == std::string::npos ? a : s.find(':', a + 1);
  if (a == std::string::npos || b == std::string::npos || a == 0 || b + 1 == s.size())
    usage_error("--resolve takes HOST:PORT:ADDR[,ADDR...], not \"" + arg + "\"");
  ResolveEntry e;
  e.host = s.substr(0, a);
  for (auto& c : e.host) c = char(tolower((unsigned char)c));
  e.port = uint16_t(number("--resolve port", s.substr(a + 1, b - a - 1).c_str(), 1, 65535));
  for (size_t at = b + 1; at <= s.size();) {
    size_t comma = std::min(s.find(',', at), s.size());
    std::string addr = s.substr(at, comma - at);
    Addr test;
    if (!numeric_addr(addr, e.port, test))
      usage_error("--resolve: \"" + addr + "\" is not a numeric IPv4 or IPv6 address");
    e.addrs.push_back(addr);
    at = comma + 1;
  }
  return e;
}

// "ADDR:PORT", "[V6]:PORT", or a bare address (port 53).
std::string parse_dns_server(const std::string& s) {
  std::string host = s, port = "53";
  if (s.empty()) usage_error("--dns-server takes ADDR:PORT, not \"\"");
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

std::vector<int> status_list(const char* s) {
  std::vector<int> out;
  std::string list = s;
  for (size_t at = 0; at <= list.size();) {
    size_t comma = std::min(list.find(',', at), list.size());
    out.push_back(int(number("--retry-on status", list.substr(at, comma - at).c_str(), 100, 599)));
    at = comma + 1;
  }
  return out;
}

using C = Config;
using V = const char*;

const Option kOptions[] = {
  {nullptr, 0, nullptr, "Concurrency:", nullptr},
  {"model", 'm', "NAME", "seq, threads, procs, async, hybrid or uring (default\nthreads)", [](C& c, V v) {
     if (!find_model(v)) usage_error(std::string("unknown model \"") + v + "\" (models: " + model_names() + ")");
     c.model = v;
     if (c.model == "uring") c.uring = true;
   }},
  {"concurrency", 'c', "N", "threads, processes, or requests in flight (default 10)",
   [](C& c, V v) { c.concurrency = int(number("-c", v, 1, 100000)); }},
  {"workers", 'w', "N", "hybrid: processes, each an async loop (default: CPUs)",
   [](C& c, V v) { c.workers = int(number("-w", v, 1, 1024)); }},
  {"io-uring", 0, nullptr, "hybrid: each worker's loop waits on io_uring, as\n-m uring does", [](C& c, V) { c.uring = true; }},
  {"per-host", 0, "N", "at most N connections to one host:port per pool\n(procs, hybrid: per worker; default: no cap)",
   [](C& c, V v) { c.per_host = int(number("--per-host", v, 1, 100000)); }},
  {"stack-size", 0, "SIZE", "threads: each thread's stack, in bytes or with K\nor M (default 64K: a TLS handshake fits)",
   [](C& c, V v) { c.stack_size = byte_size("--stack-size", v, 16 * 1024, 64 << 20); }},
  {"rate", 0, "N/s", "at most N request starts a second (/m, /h; a bare N\nis per hour, as curl), over all workers of any model",
   [](C& c, V v) { c.rate = parse_rate(v); }},

  {nullptr, 0, nullptr, "Requests:", nullptr},
  {"head", 'I', nullptr, "HEAD instead of GET (with --output-dir: no files)", [](C& c, V) { c.head = true; }},
  {"header", 'H', "'N: v'", "add a request header (repeatable; 'N:' removes one)", [](C& c, V v) {
     std::string why = http::check_header_arg(v);
     if (!why.empty()) usage_error(std::string("-H \"") + v + "\": " + why);
     c.headers.push_back(v);
   }},
  {"globoff", 'g', nullptr, "no globs: [ ] { } in a line are the URL's own", [](C& c, V) { c.globoff = true; }},
  {"resolve", 0, "H:P:A[,A]", "connect to these addresses for host H and port P, as\ncurl does (H * : any host)",
   [](C& c, V v) { c.resolve.push_back(parse_resolve(v)); }},
  {"ipv4", '4', nullptr, "IPv4 addresses only", [](C& c, V) { c.family = AF_INET; }},
  {"ipv6", '6', nullptr, "IPv6 addresses only", [](C& c, V) { c.family = AF_INET6; }},
  {"happy-eyeballs-timeout-ms", 0, "MS", "a host with several addresses: the next one is tried\nafter MS without waiting for the one before to\nfail, the first to connect wins (default 200, curl's)",
   [](C& c, V v) { c.happy_eyeballs_ms = int(number("--happy-eyeballs-timeout-ms", v, 0, 600000)); }},
  {"proxy", 'x', "URL", "through this proxy: http://, socks5:// or socks5h://\n(the proxy resolves names), [user:pass@]host[:port]\n(default port 1080); \"\": none, not even http_proxy's",
   [](C& c, V v) { c.proxy_arg = v, c.proxy_given = true; }},
  {"noproxy", 0, "LIST", "hosts reached without the proxy: names (and the\nnames below them), addresses, CIDR ranges; * all\n(instead of no_proxy's)",
   [](C& c, V v) { c.noproxy = v, c.noproxy_given = true; }},
  {"dns-server", 0, "A:P", "ask this DNS server instead of resolv.conf's",
   [](C& c, V v) { c.dns_server = parse_dns_server(v); }},
  {"cacert", 0, "FILE", "trust these CA certificates instead of the system's", [](C& c, V v) { c.cacert = v; }},
  {"insecure", 'k', nullptr, "do not verify TLS certificates", [](C& c, V) { c.insecure = true; }},
  {"no-session-reuse", 0, nullptr, "a full TLS handshake on every connection (no\nresumption; for measuring)",
   [](C& c, V) { c.session_reuse = false; }},
  {"no-sessionid", 0, nullptr, "the same (curl's name)", [](C& c, V) { c.session_reuse = false; }},
  {"http2", 0, nullptr, "HTTPS offers HTTP/2 and HTTP/1.1 (ALPN), the\nserver picks (the default, as curl's)",
   [](C& c, V) { c.http11 = false; }},
  {"http1.1", 0, nullptr, "HTTP/1.1 only", [](C& c, V) { c.http11 = true, c.h2c = false; }},
  {"http2-prior-knowledge", 0, nullptr, "http:// URLs speak HTTP/2 from the first byte (h2c)",
   [](C& c, V) { c.h2c = true, c.http11 = false; }},
  {"max-streams", 0, "N", "async, hybrid: up to N requests at once as HTTP/2\nstreams on one connection (default 100; 1: a\nconnection each, as threads and procs)",
   [](C& c, V v) { c.max_streams = int(number("--max-streams", v, 1, 1000)); }},

  {nullptr, 0, nullptr, "Redirects, retries and time:", nullptr},
  {"location", 'L', nullptr, "follow redirects (301, 302, 303, 307, 308)", [](C& c, V) { c.follow = true; }},
  {"max-redirs", 0, "N", "at most N redirects with -L (default 10)",
   [](C& c, V v) { c.max_redirs = int(number("--max-redirs", v, 0, 1000)); }},
  {"allow-downgrade", 0, nullptr, "let -L follow https to http", [](C& c, V) { c.allow_downgrade = true; }},
  {"retry", 0, "N", "try again up to N times after a timeout, a\nconnection error or a --retry-on status",
   [](C& c, V v) { c.retry = int(number("--retry", v, 0, 1000)); }},
  {"retry-delay", 0, "SEC", "the first wait before a retry, doubling, with\nfull jitter (default 1); Retry-After wins on 429/503",
   [](C& c, V v) { c.retry_delay = seconds("--retry-delay", v, true); }},
  {"retry-max-time", 0, "SEC", "no retry starts after this (default: no limit)",
   [](C& c, V v) { c.retry_max_time = seconds("--retry-max-time", v, true); }},
  {"retry-on", 0, "LIST", "statuses worth a retry (default 408,429,500,502,503,504)",
   [](C& c, V v) { c.retry_on = status_list(v); }},
  {"retry-all-errors", 0, nullptr, "retry after any error (DNS, TLS, HTTP) too", [](C& c, V) { c.retry_all_errors = true; }},
  {"max-time", 0, "SEC", "time for one try, resolve to last byte (default 30)",
   [](C& c, V v) { c.timeout = seconds("--max-time", v, false); }},
  {"timeout", 0, "SEC", "the same as --max-time", [](C& c, V v) { c.timeout = seconds("--timeout", v, false); }},
  {"connect-timeout", 0, "SEC", "time to resolve, connect and handshake",
   [](C& c, V v) { c.connect_timeout = seconds("--connect-timeout", v, false); }},
  {"deadline", 0, "SEC", "the whole run: then unfinished lines get a timeout",
   [](C& c, V v) { c.deadline = seconds("--deadline", v, false); }},

  {nullptr, 0, nullptr, "Jobs and output:", nullptr},
  {"output", 'o', "FILE", "every 2xx body into FILE ('-': stdout), in input order", [](C& c, V v) { c.out = v; }},
  {"output-dir", 'P', "DIR", "download: save each 2xx body under DIR/HOST_PORT/PATH\n(the folders are made as needed)",
   [](C& c, V v) { c.output_dir = v; }},
  {"directory-prefix", 0, "DIR", "the same as --output-dir (wget's name)", [](C& c, V v) { c.output_dir = v; }},
  {"remote-header-name", 'J', nullptr, "download: name the file as Content-Disposition says\n(only its last part, in the URL's folder; a name\nanother URL of the run took: the URL's own)",
   [](C& c, V) { c.remote_header_name = true; }},
  {"polite", 0, nullptr, "each host's concurrency follows its answers: a 429,\n503 or refused connection halves it (Retry-After\nholds the host), successes raise it, up to --per-host;\nRateLimit headers honoured; 429/503 tried again",
   [](C& c, V) { c.polite = true; }},
  {"timestamping", 'N', nullptr, "download: a file already there is asked for only if\nchanged (If-Modified-Since from its time, If-None-Match\nfrom the ETag kept with it): a 304 keeps it untouched",
   [](C& c, V) { c.timestamping = true; }},
  {"since", 0, "JOURNAL", "ask each URL with the ETag and Last-Modified that an\nearlier run's --results recorded for it: a 304 is\n\"not_modified\", so the run says what changed",
   [](C& c, V v) { c.since = v; }},
  {"skip-existing", 0, nullptr, "download: a URL whose file is there (not empty) is\nnot fetched",
   [](C& c, V) { c.skip_existing = true; }},
  {"merge-json", 0, "FILE", "each body a JSON array; all their elements as one\narray in FILE, in input order (a page that is not\nan array is that line's error)",
   [](C& c, V v) { c.merge_json = v; }},
  {"pages", 0, "A..B", "the argument is a URL with {page}: fetch pages A to B\n(input lines take curl's globs: [1-100], {a,b})",
   [](C& c, V v) { c.pages = v; }},
  {"json", 0, nullptr, "print one JSON object instead of the summary", [](C& c, V) { c.json = true; }},
  {"results", 0, "FILE", "one JSON line per input line, written as each one\nfinishes (its \"line\" gives the input order)",
   [](C& c, V v) { c.results = v; }},
  {"trace", 0, "FILE", "where the time went: FILE.json (Chrome trace events,\nopens in Perfetto) and FILE.svg (a timeline); a FILE\nending in .json or .svg is that one alone",
   [](C& c, V v) { c.trace = v; }},
  {"progress", 0, nullptr, "show progress on stderr even when it is not a terminal", [](C& c, V) { c.progress = 1; }},
  {"no-progress", 0, nullptr, "never show progress (default: shown on a terminal)", [](C& c, V) { c.progress = 0; }},
  {"silent", 's', nullptr, "no progress, cost report or list of failed lines:\nthe summary and errors only", [](C& c, V) {
     c.silent = true;
     c.progress = 0;
   }},
  {"show-error", 'S', nullptr, "with -s, still list the failed lines (curl's -sS)",
   [](C& c, V) { c.show_error = true; }},
  {"fail", 'f', nullptr, "a status >= 400 fails its line (exit 22)", [](C& c, V) { c.fail = true; }},

  {nullptr, 0, nullptr, "Runs:", nullptr},
  {"resume", 0, nullptr, "skip the lines --results FILE has already, and add\nthe rest to it (after an interrupted run)",
   [](C& c, V) { c.resume = true; }},
  {"grace", 0, "SEC", "after SIGINT or SIGTERM, the time requests in flight\nhave to finish (default 2; a second signal: none)",
   [](C& c, V v) { c.grace = seconds("--grace", v, true); }},
  {"shard", 0, "K/N", "take shard K of N (1 <= K <= N), split by host; without\nit, a Kubernetes Indexed Job's or Slurm array's own\n(JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID)",
   [](C& c, V v) { parse_shard(c, "--shard", v); }},
  {"version", 'V', nullptr, "print the version", [](C&, V) {
     printf("fanout %s\n", FANOUT_VERSION);
     exit(0);
   }},
  {"help", 'h', nullptr, "this text", [](C&, V) {
     fputs(help_text().c_str(), stdout);
     exit(0);
   }},
};

const char kUsageHead[] =
    "usage: fanout [options] FILE|-\n"
    "       fanout [options] --pages A..B URL   (URL with {page} in it)\n"
    "       fanout bench [--help]      (the seeds' table on the local origin)\n"
    "       fanout merge [--json] FILE...  (one summary of several --results files)\n"
    "Fetches every URL in FILE (one a line; '-' is stdin) and prints the status\n"
    "histogram, the time taken and what it cost. man fanout has it all.\n";

const char kUsageTail[] =
    "Exit status: 0 when every line got an HTTP response and every output is\n"
    "complete; else curl's code of the first failed line in input order (6 DNS,\n"
    "7 connect, 28 timeout, 35/60 TLS, 23 write, 22 a status >= 400 with -f or a\n"
    "page missing from --output or --merge-json); 1 input or output failed,\n"
    "2 bad option, 130/143 interrupted by SIGINT/SIGTERM.\n";

const Option* find_long(std::string_view name) {
  for (auto& o : kOptions)
    if (o.name && name == o.name) return &o;
  return nullptr;
}

const Option* find_short(char c) {
  for (auto& o : kOptions)
    if (o.name && o.short_name == c) return &o;
  return nullptr;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string spelled(const Option& o) {
  return std::string("--") + o.name + (o.arg ? std::string(" ") + o.arg : "");
}

}  // namespace

void parse_shard(Config& cfg, const std::string& what, const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) usage_error(what + " takes K/N (shard K of N), not \"" + s + "\"");
  long n = long(number(what.c_str(), s.substr(slash + 1).c_str(), 1, 1000000));
  long k = long(number(what.c_str(), s.substr(0, slash).c_str(), 1, n));
  cfg.shard_k = uint32_t(k - 1);
  cfg.shard_n = uint32_t(n);
  cfg.shard_given = true;
}

void setup_proxies(Config& cfg) {
  auto env = [](const char* a, const char* b = nullptr) -> std::string {
    const char* v = getenv(a);
    if ((!v || !*v) && b) v = getenv(b);
    return v ? v : "";
  };
  std::string for_http, for_https, all;
  const char* from_http = "http_proxy";
  const char* from_https = getenv("https_proxy") && *getenv("https_proxy") ? "https_proxy" : "HTTPS_PROXY";
  if (cfg.proxy_given) {
    for_http = for_https = cfg.proxy_arg;
    from_http = from_https = "-x";
  } else {
    all = env("all_proxy", "ALL_PROXY");
    for_http = env("http_proxy");
    for_https = env("https_proxy", "HTTPS_PROXY");
    if (for_http.empty()) for_http = all, from_http = getenv("all_proxy") ? "all_proxy" : "ALL_PROXY";
    if (for_https.empty()) for_https = all, from_https = getenv("all_proxy") ? "all_proxy" : "ALL_PROXY";
  }
  if (!cfg.noproxy_given) cfg.noproxy = env("no_proxy", "NO_PROXY");
  cfg.proxies.assign(2, Proxy{});
  std::string why;
  if (!for_http.empty() && !parse_proxy(for_http, cfg.proxies[0], why))
    usage_error(std::string(from_http) + ": \"" + mask_password(for_http) + "\": " + why);
  if (!for_https.empty() && !parse_proxy(for_https, cfg.proxies[1], why))
    usage_error(std::string(from_https) + ": \"" + mask_password(for_https) + "\": " + why);
}

long long parse_number(const char* opt, const char* s, long long lo, long long hi) { return number(opt, s, lo, hi); }

std::span<const Option> options() { return kOptions; }

std::string help_text() {
  std::string s = kUsageHead;
  for (auto& o : kOptions) {
    if (!o.name) {
      s += std::string(o.help) + "\n";
      continue;
    }
    std::string left = o.short_name ? std::string("  -") + o.short_name + ", " : "      ";
    left += spelled(o);
    left += left.size() < 24 ? std::string(24 - left.size(), ' ') : "  ";
    std::string text = o.help;
    for (size_t nl = 0; (nl = text.find('\n', nl)) != std::string::npos; nl += 27)
      text.replace(nl, 1, "\n" + std::string(26, ' '));
    s += left + text + "\n";
  }
  return s + kUsageTail;
}

// Names that begin with what was typed, or are a typo or two from it.
std::string suggest(const std::string& name) {
  std::vector<const Option*> hits;
  for (auto& o : kOptions)
    if (o.name && std::string_view(o.name).starts_with(name) && !name.empty()) hits.push_back(&o);
  if (hits.empty()) {
    size_t best = 3;
    for (auto& o : kOptions)
      if (o.name) best = std::min(best, edit_distance(name, o.name));
    for (auto& o : kOptions)
      if (o.name && best < 3 && edit_distance(name, o.name) == best) hits.push_back(&o);
  }
  std::string s;
  for (size_t i = 0; i < hits.size() && i < 4; i++)
    s += (i == 0 ? "" : i + 1 == std::min<size_t>(hits.size(), 4) ? " or " : ", ") + spelled(*hits[i]);
  return s;
}

void parse_options(int argc, char** argv, Config& cfg, std::vector<std::string>& args) {
  auto need = [&](const Option& o, int& i, const char* inline_value) -> const char* {
    if (inline_value) return inline_value;
    if (i + 1 >= argc)
      usage_error((o.short_name ? std::string("-") + o.short_name + ", " : std::string()) + "--" + o.name +
                  " needs a value (" + o.arg + ")");
    return argv[++i];
  };
  bool options_end = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (options_end || a.size() < 2 || a[0] != '-') {
      args.push_back(a);
      continue;
    }
    if (a == "--") {
      options_end = true;
      continue;
    }
    if (a[1] == '-') {  // --name, --name=value, --name value
      size_t eq = a.find('=');
      std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const Option* o = find_long(name);
      if (!o) {
        std::string maybe = suggest(name);
        usage_error("--" + name + " is not an option" + (maybe.empty() ? "" : " (did you mean " + maybe + "?)"));
      }
      if (!o->arg && eq != std::string::npos) usage_error("--" + name + " takes no value (got \"" + a.substr(eq + 1) + "\")");
      o->set(cfg, o->arg ? need(*o, i, eq == std::string::npos ? nullptr : argv[i] + eq + 1) : nullptr);
      continue;
    }
    for (size_t k = 1; k < a.size(); k++) {  // -Ik, -c10, -c 10
      const Option* o = find_short(a[k]);
      if (!o) usage_error(std::string("-") + a[k] + " is not an option" + (a.size() > 2 ? " (in \"" + a + "\")" : ""));
      if (!o->arg) {
        o->set(cfg, nullptr);
        continue;
      }
      o->set(cfg, need(*o, i, k + 1 < a.size() ? argv[i] + k + 1 : nullptr));
      break;
    }
  }
  setup_proxies(cfg);
}

}  // namespace fanout
