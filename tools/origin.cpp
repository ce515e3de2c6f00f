// origin: the loopback HTTP/1.1 (and HTTPS) server every test and benchmark
// of fanout talks to. It runs on fanout's own reactor: one thread, one
// coroutine per connection, keep-alive, and latency that is a timer, never
// a sleep, so 10,000 slow connections cost nothing.
//
//   origin [--port N] [--tls-port N --cert F --key F] [--latency MS]
//          [--latency-lognormal MEDIAN,P90] [--idle-close MS] [--listen ADDR]
//          [--lifetime SEC] [--fault-ports] [--h2-max-requests N]
// Prints "http PORT" (and "https PORT") on stdout once it listens.
// --latency-lognormal: each URL's latency is drawn from its target (path
// and query: include/fanout/latency.hpp), the same in every run.
//
// Endpoints: /status/N  /sleep?ms=N  /bytes/N  /chunked/N  /eof/N
//            /redirect/N  /  (anything else is 404). HEAD works on all.
//   /redirect-to?url=U[&status=S]  S (302) to U (percent-decoded)
//   /loop                          302 to itself, for ever
//   /flaky/ID?fail=N[&status=S][&retry_after=R]  the first N requests for
//       ID get S (503), with Retry-After: R if given; then 200
//   /headers                       the request's headers, as the body
//   /versioned/ID                  a document with ETag and Last-Modified, 304 to a
//       request whose If-None-Match (or If-Modified-Since) is current
//   /bump?ids=A,B                  those documents' next version
//   /quota[?old=1]                 200 with RateLimit: "burst";r=0;t=1 (old:
//       RateLimit-Remaining: 0, RateLimit-Reset: 1): the quota is spent
//   /named?cd=V[&...]              200, Content-Disposition: V (percent-decoded);
//       the body is the request-target
//   /now                           the monotonic clock (us) when the request came
//   /stall?after=N&ms=MS[&key=K]   the Nth request to /stall (with this key) begins a
//       stall of MS: it and every /stall request that comes during it are answered at its end
//   /echo/ANYTHING                 200; the body is the request-target
//   /json/N?per=K[&flaky=1]        a JSON array of K objects {"page": N, "item": i};
//       flaky: pages with N % 10 == 3 fail their first request (500/502/504)
//   /unasked?status=S              200 "ok", then at once, unasked, a second
//       response with status S on the same kept-alive connection
//   /blanks/N                      N bytes of CRLF before the status line
//   /stats[?reset=1]               {"open": N, "max_open": M}: connections open
//       now (this one too) and the most at once (reset: from now)
//   /fault/NAME                    a broken server, one NAME each (see faults())
// --fault-ports: two more listeners, printed as "fault NAME PORT": hangup
// (reads what comes, a TLS client's hello say, and closes) and eager (answers
// 200 before the request is read). A request that does not start with a
// letter (a TLS hello on the plain port) gets a 400, as nginx answers it.
// --max-inflight N: more than N requests at once (HTTP/1.1) and the rest get
// 429 with Retry-After: 1, counted in /stats' "rejected": --polite's test.
// --idle-close: close a keep-alive connection idle that long, as real
// servers do; what a client's pool must survive.
// --h2-max-requests: an HTTP/2 connection takes N streams, then says GOAWAY
// (NO_ERROR), answers what it took and closes, as nginx does after
// keepalive_requests (1000): the streams a client opened past the Nth must
// go again on a new connection.
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <strings.h>
#include <map>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

#include "fanout/coro.hpp"
#include "fanout/h2_session.hpp"
#include "fanout/http.hpp"
#include "fanout/latency.hpp"
#include "fanout/transport.hpp"
#include "reactor.hpp"

using namespace fanout;

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

constexpr uint64_t kMaxBody = 1ull << 30;
constexpr size_t kMaxRequest = 64 * 1024;
constexpr size_t kFill = 64 * 1024;

// Connections open now and the most at once, for /stats (one thread).
int g_open = 0, g_max_open = 0;
struct Counted {
  Counted() { g_max_open = std::max(g_max_open, ++g_open); }
  ~Counted() { g_open--; }
};

struct Settings {
  LatencyProfile latency;  // fixed, or lognormal like real sites', by target
  int idle_close_ms = 0;
  mbedtls_ssl_config* tls = nullptr;
  const char* fault_port = nullptr;  // --fault-ports: "hangup" or "eager"
  uint32_t h2_max_requests = 0;      // 0: no limit
  int max_inflight = 0;              // --max-inflight: past it, 429 with Retry-After (HTTP/1.1)
};
int g_inflight = 0;     // requests taken and not yet answered (--max-inflight)
uint64_t g_rejected = 0;  // the 429s it gave for it

// Resumption as real servers offer it: session tickets (RFC 5077) and a
// session-ID cache, so a client's second connection can skip the full
// handshake.
struct Tls {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_ssl_ticket_context tickets;
  mbedtls_ssl_cache_context cache;
};

const char* reason(int s) {
  switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

const std::string& pattern() {
  static const std::string s = [] {
    std::string p(kFill, 'x');
    for (size_t i = 0; i < p.size(); i++) p[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37];
    return p;
  }();
  return s;
}

// Broken servers, one path each (/fault/NAME): the bytes go out as they
// are, and then the connection is closed, reset, left hanging, kept for the
// next request, dripped a byte at a time, or fed for ever.
enum class Then { close, reset, hang, keep, drip, endless };
struct Fault {
  std::string bytes;
  Then then;
  std::string more;  // drip: a byte every ms; endless: again and again, every ms
  int ms;
  Fault(std::string b, Then t = Then::close, std::string m = "", int every = 0)
      : bytes(std::move(b)), then(t), more(std::move(m)), ms(every) {}
};

const Fault* fault(const std::string& name) {
  static const std::map<std::string, Fault> table = [] {
    const std::string ok = "HTTP/1.1 200 OK\r\n", te = ok + "Transfer-Encoding: chunked\r\n\r\n";
    const std::string empty = "Content-Length: 0\r\n\r\n";
    auto with = [](const std::string& head, const std::string& body) {
      return head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    };
    std::string ones, many;
    for (int i = 0; i < 100; i++) ones += "1\r\nx\r\n";
    for (int i = 0; i < 200; i++) many += "X-H" + std::to_string(i) + ": v\r\n";
    std::map<std::string, Fault> t = {
      {"empty", {""}},
      {"short-body", {ok + "Content-Length: 100\r\n\r\n0123456789"}},
      {"cut-chunked", {te + "5\r\nhello\r\n"}},
      {"bad-chunk-size", {te + "zz\r\nhello\r\n0\r\n\r\n"}},
      {"huge-chunk-size", {te + "10000000000000000\r\nhello\r\n0\r\n\r\n"}},
      {"chunk-ext-space", {te + "5 ;name=value\r\nhello\r\n0\r\n\r\n", Then::keep}},
      {"one-byte-chunks", {te + ones + "0\r\n\r\n", Then::keep}},
      {"huge-chunk-ext", {te + "5;ext=" + std::string(40000, 'x') + "\r\nhello\r\n0\r\n\r\n"}},
      {"te-and-cl", {ok + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}},
      {"two-cl", {ok + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"}},
      {"same-cl-twice", {ok + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", Then::keep}},
      {"cl-negative", {ok + "Content-Length: -1\r\n\r\n"}},
      {"cl-text", {ok + "Content-Length: five\r\n\r\nhello"}},
      {"cl-2-64", {ok + "Content-Length: 18446744073709551616\r\n\r\nhello"}},
      {"te-unknown", {ok + "Transfer-Encoding: gzip\r\n\r\nnot really gzip"}},
      {"no-length", {ok + "\r\n" + std::string(1000, 'n')}},
      {"json-latin1", {with(ok, "[\"caf\xe9\"]"), Then::keep}},  // a JSON array, not in UTF-8
      {"204-body", {"HTTP/1.1 204 No Content\r\n\r\nhello", Then::keep}},
      {"304-body", {"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello", Then::keep}},
      {"head-body", {with(ok, "hello"), Then::keep}},  // to HEAD too
      {"interim", {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
                   with(ok, "ok"), Then::keep}},
      {"switching", {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", Then::hang}},
      {"status-000", {"HTTP/1.1 000 Zero\r\n" + empty}},
      {"status-099", {"HTTP/1.1 099 Low\r\n" + empty}},
      {"status-1000", {"HTTP/1.1 1000 High\r\n" + empty}},
      {"status-2x0", {"HTTP/1.1 2x0 OK\r\n" + empty}},
      {"status-600", {"HTTP/1.1 600 Beyond\r\n" + empty, Then::keep}},
      {"status-no-reason", {with("HTTP/1.1 200\r\n", "ok"), Then::keep}},
      {"status-http10", {with("HTTP/1.0 200 OK\r\n", "ok")}},
      {"status-http2", {"HTTP/2 200\r\n\r\n"}},
      {"not-http", {"ICY 200 OK\r\n\r\n"}},
      {"header-nul", {ok + std::string("X-A: a\0b\r\n", 10) + empty}},
      {"header-bare-cr", {ok + "X-A: a\rb\r\n" + empty}},
      {"header-no-colon", {ok + "X-A value\r\n" + empty}},
      {"header-space-name", {ok + "X-A : v\r\n" + empty}},
      {"header-obs-fold", {with(ok + "X-A: a\r\n  b\r\n", "ok"), Then::keep}},
      {"header-fold-te", {ok + "Transfer-Encoding: gzip,\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}},
      {"header-100k", {ok + "X-Big: " + std::string(100 * 1024, 'a') + "\r\n" + empty}},
      {"header-many", {ok + many + empty}},
      {"header-endless", {ok + "X-Endless: ", Then::endless, std::string(1024, 'a'), 1}},
      {"redirect-no-location", {"HTTP/1.1 302 Found\r\n" + empty, Then::keep}},
      {"redirect-bad-location", {"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\n" + empty, Then::keep}},
      {"drip-ok", {ok + "Content-Length: 10\r\n\r\n", Then::drip, "0123456789", 20}},
      {"drip-slow", {ok + "Content-Length: 1000\r\n\r\n", Then::drip, std::string(1000, 'd'), 100}},
      {"idle-body", {ok + "Content-Length: 100\r\n\r\n", Then::hang}},
      {"endless-body", {te, Then::endless, "4000\r\n" + std::string(0x4000, 'e') + "\r\n", 1}},
      {"reset-body", {ok + "Content-Length: 100000\r\n\r\n" + std::string(1000, 'r'), Then::reset}},
      {"silent", {"", Then::hang}},
    };
    return t;
  }();
  auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

struct Response {
  std::string head;
  uint64_t body = 0;  // bytes to generate
  bool chunked = false, close = false;
  int delay_ms = 0;
  const Fault* fault = nullptr;  // /fault/NAME: played as it is
};

// /versioned/ID's versions (one thread: no lock).
std::map<std::string, int>& versions() {
  static std::map<std::string, int> v;
  return v;
}

// A request header's value (the first of that name, any case), or "".
std::string header_value(const std::string& head, const std::string& name) {
  for (size_t at = head.find("\r\n"); at != std::string::npos && at + 2 < head.size(); at = head.find("\r\n", at + 2)) {
    size_t colon = head.find(':', at + 2), end = head.find("\r\n", at + 2);
    if (colon == std::string::npos || colon > end || colon - at - 2 != name.size()) continue;
    if (strncasecmp(head.c_str() + at + 2, name.c_str(), name.size()) != 0) continue;
    return std::string(fanout::http::trim(std::string_view(head).substr(colon + 1, end - colon - 1)));
  }
  return "";
}

// %XX escapes of a query parameter, and '+' as a space.
std::string decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
      out += char(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

bool number(const std::string& s, uint64_t& v) {
  if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  v = strtoull(s.c_str(), nullptr, 10);
  return true;
}

// What to answer to one request head (request line and headers).
Response route(const std::string& head, const Settings& set) {
  Response resp;
  size_t sp1 = head.find(' '), sp2 = sp1 == std::string::npos ? sp1 : head.find(' ', sp1 + 1);
  auto simple = [&](int status) {
    std::string body = std::to_string(status) + "\n";
    resp.head = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    resp.close = true;
    return resp;
  };
  if (sp2 == std::string::npos) return simple(400);
  std::string method = head.substr(0, sp1), target = head.substr(sp1 + 1, sp2 - sp1 - 1);
  resp.close = head.compare(sp2 + 1, 8, "HTTP/1.0") == 0;
  for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
    const char* line = head.c_str() + at + 2;
    if (strncasecmp(line, "connection:", 11) == 0) {
      std::string v = head.substr(at + 13, head.find("\r\n", at + 2) - at - 13);
      if (strcasestr(v.c_str(), "close")) resp.close = true;
      if (strcasestr(v.c_str(), "keep-alive")) resp.close = false;
    }
    if (strncasecmp(line, "content-length:", 15) == 0 || strncasecmp(line, "transfer-encoding:", 18) == 0)
      return simple(400);  // request bodies are not served here
  }
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) return simple(405);

  std::string path = target.substr(0, target.find('?'));
  std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
  auto param = [&](const char* name) {  // value of name=... in the query
    std::string q = "&" + query + "&", key = std::string("&") + name + "=";
    size_t at = q.find(key);
    if (at == std::string::npos) return std::string();
    at += key.size();
    return q.substr(at, q.find('&', at) - at);
  };
  uint64_t n = 0;
  int status = 200;
  uint64_t bytes = 3;  // a short generated body, as for any other path
  bool eof = false;
  std::string location, extra, body_text;
  std::string before, after;  // bytes before the status line, and after the response (faults)
  resp.delay_ms = latency_ms(set.latency, target);  // the same for this URL in every run
  if (path == "/") {
  } else if (path.rfind("/status/", 0) == 0 && number(path.substr(8), n) && n >= 200 && n <= 599) {
    status = int(n);
  } else if (path == "/sleep" && number(param("ms"), n) && n <= 600000) {
    resp.delay_ms += int(n);
  } else if (path.rfind("/bytes/", 0) == 0 && number(path.substr(7), n) && n <= kMaxBody) {
    bytes = n;
  } else if (path.rfind("/chunked/", 0) == 0 && number(path.substr(9), n) && n <= kMaxBody) {
    bytes = n;
    resp.chunked = true;
  } else if (path.rfind("/eof/", 0) == 0 && number(path.substr(5), n) && n <= kMaxBody) {
    bytes = n;
    eof = true;
  } else if (path.rfind("/versioned/", 0) == 0 && path.size() > 11) {
    // -N's and --since's tests: a document with a version (0 until bumped),
    // its ETag and Last-Modified, and a 304 when the request's validators
    // say the client has it (If-None-Match wins over If-Modified-Since).
    std::string id = path.substr(11);
    int v = versions()[id];
    std::string etag = "\"" + id + "-v" + std::to_string(v) + "\"";
    int64_t modified = 1600000000 + int64_t(v) * 86400;
    extra = "ETag: " + etag + "\r\nLast-Modified: " + fanout::http::format_date(modified) + "\r\n";
    std::string inm = header_value(head, "if-none-match"), ims = header_value(head, "if-modified-since");
    bool fresh = !inm.empty() ? inm.find(etag) != std::string::npos || inm == "*"
                              : !ims.empty() && fanout::http::parse_date(ims) >= modified;
    if (fresh) status = 304;
    else body_text = id + " version " + std::to_string(v) + "\n";
  } else if (uint64_t ms = 0; path == "/stall" && number(param("after"), n) && n > 0 && number(param("ms"), ms) && ms <= 600000) {
    // Coordinated omission's test: the Nth request to /stall begins a stall
    // of MS, and every /stall request that comes before it is over is
    // answered when it is (the server froze once, as a GC pause or a failover
    // does); before and after, at once. Counted by key= (one test, one key).
    static std::map<std::string, std::pair<uint64_t, Clock::time_point>> stalls;
    auto& [seen, until] = stalls[param("key")];
    if (++seen == n) until = Clock::now() + std::chrono::milliseconds(ms);
    if (auto now = Clock::now(); now < until)
      resp.delay_ms += int(std::chrono::ceil<std::chrono::milliseconds>(until - now).count());
  } else if (path == "/quota") {  // --polite's: a quota spent, back in a second (IETF RateLimit fields)
    extra = param("old") == "1" ? "RateLimit-Remaining: 0\r\nRateLimit-Reset: 1\r\n" : "RateLimit: \"burst\";r=0;t=1\r\n";
    body_text = "ok\n";
  } else if (path == "/bump") {  // /bump?ids=a,b: those documents' next version
    std::string ids = param("ids");
    for (size_t at = 0; at <= ids.size();) {
      size_t comma = std::min(ids.find(',', at), ids.size());
      versions()[ids.substr(at, comma - at)]++;
      at = comma + 1;
    }
    body_text = "ok\n";
  } else if (path == "/named" && !param("cd").empty()) {  // -J's tests: the header as given, the target as the body
    extra = "Content-Disposition: " + decode(param("cd")) + "\r\n";
    body_text = target + "\n";
  } else if (path == "/redirect-to" && !param("url").empty()) {
    status = number(param("status"), n) && n >= 300 && n <= 399 ? int(n) : 302;
    location = decode(param("url"));
  } else if (path == "/loop") {
    status = 302;
    location = "/loop";
  } else if (path.rfind("/flaky/", 0) == 0 && number(param("fail"), n)) {
    static std::map<std::string, uint64_t> seen;  // one thread: no lock
    if (seen[path]++ < n) {
      uint64_t s = 0;
      status = number(param("status"), s) && s >= 400 && s <= 599 ? int(s) : 503;
      if (!param("retry_after").empty()) extra = "Retry-After: " + decode(param("retry_after")) + "\r\n";
    }
  } else if (path.rfind("/json/", 0) == 0 && number(path.substr(6), n)) {
    // A page of an API: per objects, {"page": N, "item": i}. With flaky=1,
    // every tenth page (N % 10 == 3) fails its first request with 500, 502 or 504.
    static std::map<uint64_t, int> asked;
    uint64_t per = 0;
    if (!number(param("per"), per) || per > 100000) per = 3;
    if (param("flaky") == "1" && n % 10 == 3 && asked[n]++ == 0) {
      status = n % 30 == 3 ? 500 : n % 30 == 13 ? 502 : 504;
    } else {
      body_text = "[";
      for (uint64_t i = 0; i < per; i++)
        body_text += (i ? ", " : "") + std::string("{\"page\": ") + std::to_string(n) + ", \"item\": " + std::to_string(i) + "}";
      body_text += "]\n";
    }
  } else if (path == "/unasked") {
    uint64_t s = 0;
    body_text = "ok";
    after = "HTTP/1.1 " + std::string(number(param("status"), s) && s >= 100 && s <= 599 ? std::to_string(s) : "408") +
            " Unasked\r\nContent-Length: 0\r\n\r\n";
  } else if (path.rfind("/blanks/", 0) == 0 && number(path.substr(8), n) && n <= 1000000) {
    before.assign(size_t(n / 2) * 2, '\n');
    for (size_t k = 0; k < before.size(); k += 2) before[k] = '\r';
  } else if (path.rfind("/fault/", 0) == 0 && (resp.fault = fault(path.substr(7)))) {
    return resp;
  } else if (path == "/stats") {
    if (param("reset") == "1") g_max_open = g_open, g_rejected = 0;
    body_text = "{\"open\": " + std::to_string(g_open) + ", \"max_open\": " + std::to_string(g_max_open) +
                ", \"rejected\": " + std::to_string(g_rejected) + "}\n";
  } else if (path.rfind("/echo/", 0) == 0) {
    body_text = target;  // 200, and the body is the request-target itself
  } else if (path == "/headers") {
    body_text = head.substr(head.find("\r\n") + 2);
  } else if (path == "/now") {  // when the request came, by this machine's monotonic clock (microseconds)
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    body_text = std::to_string(int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000) + "\n";
  } else if (path.rfind("/redirect/", 0) == 0 && number(path.substr(10), n) && n <= 1000) {
    if (n > 0) {
      status = 302;
      location = "/redirect/" + std::to_string(n - 1);
    }
  } else {
    status = 404;
  }
  std::string& h = resp.head;
  h = before + "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  h += "Server: fanout-origin\r\nContent-Type: text/plain\r\n";
  if (!location.empty()) h += "Location: " + location + "\r\n";
  h += extra;
  if (!body_text.empty()) {  // a fixed body: no generated bytes
    h += "Content-Length: " + std::to_string(body_text.size()) + "\r\n";
    if (resp.close) h += "Connection: close\r\n";
    h += "\r\n";
    if (!head_only) h += body_text;
    h += after;
    resp.body = 0;
    return resp;
  }
  if (status == 204 || status == 304) {
    bytes = 0;
    resp.chunked = false;
  } else if (resp.chunked) {
    h += "Transfer-Encoding: chunked\r\n";
  } else if (eof) {
    resp.close = true;
  } else {
    h += "Content-Length: " + std::to_string(bytes) + "\r\n";
  }
  if (resp.close) h += "Connection: close\r\n";
  h += "\r\n";
  resp.body = head_only ? 0 : bytes;
  if (head_only) resp.chunked = false;
  else if (resp.chunked && bytes == 0) h += "0\r\nX-Origin-Trailer: done\r\n\r\n";
  return resp;
}

// Up to kFill more body bytes (with chunk framing) for out.
void generate(Response& resp, std::string& out) {
  size_t take = size_t(std::min<uint64_t>(resp.body, kFill));
  if (resp.chunked) {
    // Chunks of varied sizes, an extension now and then, and a trailer:
    // the client parser's paths get exercised by plain use.
    take = std::min<size_t>(take, 1000 + (resp.body % 3000));
    char size[48];
    snprintf(size, sizeof size, take % 2 ? "%zx;n=%zu\r\n" : "%zx\r\n", take, take);
    out += size;
    out.append(pattern(), 0, take);
    out += "\r\n";
    resp.body -= take;
    if (resp.body == 0) out += "0\r\nX-Origin-Trailer: done\r\n\r\n";
    return;
  }
  out.append(pattern(), 0, take);
  resp.body -= take;
}

Task send_all(Reactor& r, Conn& c, std::string_view s, bool& ok) {
  ok = true;
  for (size_t off = 0; off < s.size();) {
    size_t n = 0;
    Io io = c.t->write(c, s.data() + off, s.size() - off, &n);
    if (io == Io::ok) off += n;
    else if (io == Io::error || co_await IoWait{r, c.fd, io == Io::want_write, nullptr} != Waiter::kReady) ok = false;
    if (!ok) co_return;
  }
}

// Reads (and drops) until the peer closes, or until what came holds
// `until`; a close with unread bytes would be a reset, not the fault meant.
Task drain(Reactor& r, Conn& c, std::string& in, const char* until) {
  char buf[16384];
  while (!until || in.find(until) == std::string::npos) {
    size_t n = 0;
    Io io = c.t->read(c, buf, sizeof buf, &n);
    if (io == Io::error || (io == Io::ok && n == 0)) co_return;
    if (io == Io::ok) in.append(buf, std::min(n, kMaxRequest - std::min(in.size(), kMaxRequest)));
    else if (co_await IoWait{r, c.fd, io == Io::want_write, nullptr} != Waiter::kReady) co_return;
  }
}

// A half close, then what the peer still sends: its reads see our bytes
// and then the end, never a reset.
Task lingering_close(Reactor& r, Conn& c) {
  std::string sink;
  shutdown(c.fd, SHUT_WR);
  co_await drain(r, c, sink, nullptr);
}

// One /fault/NAME response. keep: the connection serves the next request.
Task play(Reactor& r, Conn& c, const Fault& f, bool& keep) {
  keep = false;
  bool ok = true;
  co_await send_all(r, c, f.bytes, ok);
  auto pause = [&] { return sleep_until(r, Clock::now() + std::chrono::milliseconds(f.ms)); };
  if (f.then == Then::drip)
    for (size_t i = 0; ok && i < f.more.size(); i++) {
      co_await pause();
      co_await send_all(r, c, std::string_view(f.more).substr(i, 1), ok);
    }
  while (ok && f.then == Then::endless) {  // until the peer goes
    co_await send_all(r, c, f.more, ok);
    co_await pause();
  }
  if (!ok) co_return;
  if (f.then == Then::keep) keep = true;
  else if (f.then == Then::close) co_await lingering_close(r, c);
  else if (f.then == Then::hang) {  // nothing more, until the peer gives up
    std::string sink;
    co_await drain(r, c, sink, nullptr);
  }
  else if (f.then == Then::reset) {
    linger l{1, 0};  // close() now sends RST
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
}

// HTTP/2: h2c after the client preface on the plain port, or ALPN h2 on
// the TLS port. The same routes come from route(), whose HTTP/1.1 head is
// read back as fields; each stream is answered when its latency is up, its
// body sent as the client's windows allow, from the same session code
// fanout uses. /fault/h2-NAME is a broken HTTP/2 server:
//   h2-rst     the head, then RST_STREAM INTERNAL_ERROR
//   h2-goaway  GOAWAY that did not take this stream, then the end
//   h2-frame   a DATA frame of 20000 bytes (past the 16384 the client allows)
//   h2-headers a header list of 70000 bytes
//   h2-hpack   a header block with an index that is not in the table
//   h2-stall   the head, then no body ever (as if its window never opened)
class H2Origin final : public h2::Handler {
 public:
  explicit H2Origin(const Settings& set) : s(h2::Session::server, *this), set_(set) {}
  h2::Session s;
  bool close_after = false;  // a fault that ends the connection once sent
  uint32_t taken = 0;        // streams taken, for --h2-max-requests
  bool leaving = false;      // GOAWAY sent: close once what was taken is answered
  bool done() const { return leaving && streams_.empty(); }

  void on_headers(uint32_t id, std::span<const h2::Field> f, bool) override {
    if (leaving) return;  // past the last stream GOAWAY took: the client knows it was not taken
    if (set_.h2_max_requests && ++taken == set_.h2_max_requests) {
      s.goaway(h2::NO_ERROR, "");
      leaving = true;
    }
    std::string method, path, authority, head;
    for (auto& x : f) {
      if (x.name == ":method") method = x.value;
      else if (x.name == ":path") path = x.value;
      else if (x.name == ":authority") authority = x.value;
      else if (x.name[0] != ':') head += x.name + ": " + x.value + "\r\n";
    }
    Stream st;
    st.id = id;
    st.at = Clock::now();
    if (path.rfind("/fault/h2-", 0) == 0) st.fault = path.substr(10);
    if (st.fault.empty()) {
      st.resp = route(method + " " + path + " HTTP/1.1\r\nhost: " + authority + "\r\n" + head, set_);
      st.at += std::chrono::milliseconds(st.resp.delay_ms);
      if (st.resp.fault) st.fault = "http1";  // HTTP/1.1's broken bytes mean nothing here
    }
    streams_.push_back(std::move(st));
  }
  void on_data(uint32_t, const uint8_t*, size_t, bool) override {}
  void on_reset(uint32_t id, uint32_t, const char*) override { drop(id); }
  void on_goaway(uint32_t, uint32_t) override {}

  // Answers what is due, as far as the windows allow, until about 256 KB
  // wait to be sent; the earliest time a stream falls due, or none.
  bool pump(Deadline& next) {
    bool any = false;
    for (size_t i = 0; i < streams_.size() && s.out().size() < 256 * 1024;) {
      Stream& st = streams_[i];
      if (st.at > Clock::now()) {
        next = any ? std::min(next, st.at) : st.at;
        any = true;
        i++;
        continue;
      }
      if (answer(st)) streams_.erase(streams_.begin() + long(i));
      else i++;
    }
    return any;
  }

 private:
  struct Stream {
    uint32_t id = 0;
    Response resp;
    Deadline at{};
    std::string fault;
    bool head_sent = false, stalled = false;
    std::string buf;
    size_t off = 0;
  };

  void drop(uint32_t id) {
    for (size_t i = 0; i < streams_.size(); i++)
      if (streams_[i].id == id) streams_.erase(streams_.begin() + long(i--));
  }

  static std::string frame(uint8_t type, uint8_t flags, uint32_t id, const std::string& payload) {
    std::string o;
    h2::put_frame(o, type, flags, id, payload.data(), payload.size());
    return o;
  }

  // The stream's next step; true when it has nothing more to send.
  bool answer(Stream& st) {
    std::vector<h2::Field> ok = {{":status", "200"}, {"content-type", "text/plain"}};
    if (!st.head_sent && !st.fault.empty()) {
      st.head_sent = true;
      const std::string& f = st.fault;
      if (f == "rst" || f == "stall" || f == "frame") s.respond(st.id, ok.data(), ok.size(), false);
      if (f == "rst") s.reset(st.id, h2::INTERNAL_ERROR);
      else if (f == "frame") s.raw(frame(h2::DATA, 0, st.id, std::string(20000, 'x')));
      else if (f == "stall") st.stalled = true;
      else if (f == "headers") {
        ok.push_back({"x-big", std::string(70000, 'h')});
        s.respond(st.id, ok.data(), ok.size(), true);
      } else if (f == "hpack") {
        s.raw(frame(h2::HEADERS, h2::END_HEADERS | h2::END_STREAM, st.id, "\xff\x10"));
      } else if (f == "goaway") {
        std::string p;
        h2::put32(p, st.id >= 2 ? st.id - 2 : 0);  // the stream before this one was the last taken
        h2::put32(p, h2::NO_ERROR);
        s.raw(frame(h2::GOAWAY, 0, 0, p));
        close_after = true;
      } else {  // no such fault, or an HTTP/1.1 one: 501 Not Implemented
        std::vector<h2::Field> nf = {{":status", f == "http1" ? "501" : "404"}};
        s.respond(st.id, nf.data(), nf.size(), true);
      }
      return !st.stalled;
    }
    if (st.stalled) {
      st.at = Clock::now() + std::chrono::hours(24);
      return false;
    }
    Response& resp = st.resp;
    if (!st.head_sent) {
      st.head_sent = true;
      std::vector<h2::Field> f;
      head_fields(resp, f, st.buf);
      bool end = st.buf.empty() && resp.body == 0;
      s.respond(st.id, f.data(), f.size(), end);
      if (end) return true;
    }
    for (;;) {
      if (st.off == st.buf.size() && resp.body > 0) {
        st.buf.clear();
        st.off = 0;
        generate(resp, st.buf);
      }
      bool last = resp.body == 0;
      size_t left = st.buf.size() - st.off;
      size_t n = s.send_data(st.id, st.buf.data() + st.off, left, last);
      st.off += n;
      if (n < left) return false;  // the windows are shut: the rest when they open
      if (last) return true;
      if (s.out().size() >= 256 * 1024) return false;
    }
  }

  // route()'s HTTP/1.1 head as HTTP/2 fields, and a fixed body after it.
  static void head_fields(Response& resp, std::vector<h2::Field>& f, std::string& body) {
    const std::string& h = resp.head;
    size_t start = h.find_first_not_of("\r\n"), end = h.find("\r\n\r\n", start);
    body = resp.chunked ? "" : h.substr(end + 4);  // (a chunked head may hold its last chunk)
    resp.chunked = false;                          // HTTP/2 frames the body itself
    f.push_back({":status", h.substr(start + 9, 3)});
    for (size_t at = h.find("\r\n", start); at < end;) {
      size_t eol = h.find("\r\n", at + 2), colon = h.find(':', at + 2);
      std::string name = h.substr(at + 2, colon - at - 2);
      for (auto& c : name) c = char(tolower((unsigned char)c));
      if (name != "connection" && name != "transfer-encoding" && name != "keep-alive")
        f.push_back({name, h.substr(colon + 2, eol - colon - 2)});
      at = eol;
    }
  }

  const Settings& set_;
  std::vector<Stream> streams_;
};

Task serve_h2(Reactor& r, Conn& c, std::string in, const Settings& set) {
  H2Origin o(set);
  bool ok = o.s.feed(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  char buf[16384];
  while (ok) {
    Deadline next;
    bool due = o.pump(next);
    std::string out;
    out.swap(o.s.out());
    if (!out.empty()) co_await send_all(r, c, out, ok);
    if (!ok || o.s.dead() || o.close_after || o.done()) break;
    if (!out.empty()) continue;  // one pump sends 256 KB at most: there may be more
    size_t n = 0;
    Io io = c.t->read(c, buf, sizeof buf, &n);
    if (io == Io::error || (io == Io::ok && n == 0)) co_return;
    if (io == Io::ok) {
      ok = o.s.feed(reinterpret_cast<const uint8_t*>(buf), n);
      continue;
    }
    int w = co_await IoWait{r, c.fd, io == Io::want_write, due ? &next : nullptr};
    if (w == Waiter::kClosed) co_return;
  }
  std::string out;
  out.swap(o.s.out());  // a GOAWAY owed
  if (!out.empty()) co_await send_all(r, c, out, ok);
  if (ok) co_await lingering_close(r, c);
}

// One connection, plain or TLS, through fanout's own transport table.
Task serve(Reactor& r, int fd, const Settings& set) {
  Counted counted;
  Conn c;
  c.fd = fd;
  c.reactor = &r;
  if (set.tls && !c.accept_tls(set.tls)) co_return;
  auto wait = [&](Io io, const Deadline* dl) { return IoWait{r, fd, io == Io::want_write, dl}; };
  for (Io io; (io = c.t->handshake(c)) != Io::ok;)
    if (io == Io::error || co_await wait(io, nullptr) != Waiter::kReady) co_return;  // refused: fine in tests
  std::string in, out;
  if (c.tls && c.tls->h2()) {  // ALPN chose h2
    co_await serve_h2(r, c, "", set);
    co_return;
  }
  if (set.fault_port) {
    if (strcmp(set.fault_port, "hangup") == 0) {  // what the first read brings, then close
      co_await readable(r, fd, nullptr);
      size_t n = 0;
      char one[16384];
      c.t->read(c, one, sizeof one, &n);
      co_return;
    }
    bool ok = true;  // eager: the answer first, then the request
    co_await send_all(r, c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\neager\n", ok);
    if (ok) co_await drain(r, c, in, "\r\n\r\n");
    if (ok) co_await lingering_close(r, c);
    co_return;
  }
  char buf[16384];
  for (;;) {
    // Read until a whole request head is in.
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      size_t n = 0;
      Io io = c.t->read(c, buf, sizeof buf, &n);
      if (io == Io::error || (io == Io::ok && n == 0) || in.size() > kMaxRequest) co_return;
      if (io == Io::ok) {
        in.append(buf, n);
        if (!isalpha((unsigned char)in[0])) {  // not HTTP (a TLS hello, say): 400, as nginx
          bool ok = true;
          co_await send_all(r, c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", ok);
          if (ok) co_await lingering_close(r, c);
          co_return;
        }
        continue;
      }
      Deadline idle = Clock::now() + std::chrono::milliseconds(set.idle_close_ms);
      if (co_await wait(io, set.idle_close_ms > 0 && in.empty() ? &idle : nullptr) != Waiter::kReady)
        co_return;  // idle too long, or closed
    }
    if (in.rfind("PRI * HTTP/2.0\r\n\r\n", 0) == 0) {  // h2c with prior knowledge: the rest is HTTP/2
      co_await serve_h2(r, c, in, set);
      co_return;
    }
    Response resp = route(in.substr(0, end + 2), set);
    in.erase(0, end + 4);
    if (resp.fault) {
      bool keep = false;
      co_await play(r, c, *resp.fault, keep);
      if (keep) continue;
      co_return;
    }
    // --max-inflight: a host that takes so many at once and turns the rest
    // away, as rate limiters do (429, come back in a second).
    bool busy = set.max_inflight > 0 && g_inflight >= set.max_inflight;
    if (busy) {
      g_rejected++;
      resp = Response{};
      resp.head = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n";
    }
    struct InFlight {
      bool on;
      explicit InFlight(bool o) : on(o) { g_inflight += on; }
      ~InFlight() { g_inflight -= on; }
    } counted(!busy && set.max_inflight > 0);
    if (resp.delay_ms > 0) co_await sleep_until(r, Clock::now() + std::chrono::milliseconds(resp.delay_ms));
    out = std::move(resp.head);
    if (resp.body) generate(resp, out);  // head and first bytes in one send
    for (size_t off = 0;;) {
      if (off == out.size()) {
        if (resp.body == 0) break;
        out.clear();
        off = 0;
        generate(resp, out);
        continue;
      }
      size_t n = 0;
      Io io = c.t->write(c, out.data() + off, out.size() - off, &n);
      if (io == Io::error) co_return;
      if (io == Io::ok) off += n;
      else if (co_await wait(io, nullptr) != Waiter::kReady) co_return;
    }
    if (resp.close) {
      c.close_notify();
      co_return;
    }
  }
}

// The reactor's next turn: what is ready runs before this goes on.
struct Yield {
  Reactor& r;
  Waiter w{};
  bool await_ready() const { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    w.fn = resume_waiter;
    w.ctx = h.address();
    r.post(&w);
  }
  void await_resume() const {}
};

// At most kAcceptTurn connections a turn, then the others' turn (nginx's
// multi_accept off, in batches): a client that connects faster than this
// accepts (a ring's connects go 256 at a time) would otherwise hold the
// loop in accept4 until it stopped, and no request would be read meanwhile.
constexpr int kAcceptTurn = 64;

Task listen_loop(Reactor& r, int lfd, const Settings& set) {
  for (;;) {
    if (co_await readable(r, lfd, nullptr) != Waiter::kReady) co_return;
    for (int n = 0;; n++) {
      if (n == kAcceptTurn) {
        co_await Yield{r};
        n = 0;
      }
      int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) fprintf(stderr, "origin: accept4: %s\n", strerror(errno));
        r.drained(lfd, false);
        break;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      r.add(fd);
      serve(r, fd, set).start(nullptr, nullptr);
    }
  }
}

int listen_on(const std::string& addr, int port, int& bound) {
  sockaddr_storage ss{};
  socklen_t len;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
    if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) return -2;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(uint16_t(port));
    len = sizeof *s4;
  } else if (inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) return -2;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(uint16_t(port));
    len = sizeof *s6;
  } else {
    return -2;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || listen(fd, 4096) < 0) {
    perror("origin: bind/listen");
    return -1;
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  bound = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
  return fd;
}

bool tls_setup(Tls& t, const char* cert, const char* key) {
  mbedtls_entropy_init(&t.entropy);
  mbedtls_ctr_drbg_init(&t.drbg);
  mbedtls_ssl_config_init(&t.conf);
  mbedtls_x509_crt_init(&t.cert);
  mbedtls_pk_init(&t.key);
  mbedtls_ssl_ticket_init(&t.tickets);
  mbedtls_ssl_cache_init(&t.cache);
  int r = mbedtls_ctr_drbg_seed(&t.drbg, mbedtls_entropy_func, &t.entropy, nullptr, 0);
  if (!r) r = mbedtls_x509_crt_parse_file(&t.cert, cert);
  if (!r) r = mbedtls_pk_parse_keyfile(&t.key, key, nullptr);
  if (!r) r = mbedtls_ssl_config_defaults(&t.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (!r) {
    mbedtls_ssl_conf_rng(&t.conf, mbedtls_ctr_drbg_random, &t.drbg);
    r = mbedtls_ssl_conf_own_cert(&t.conf, &t.cert, &t.key);
  }
  if (!r) r = mbedtls_ssl_ticket_setup(&t.tickets, mbedtls_ctr_drbg_random, &t.drbg, MBEDTLS_CIPHER_AES_256_GCM, 86400);
  if (!r) {
    // As nginx and OpenSSL do: x25519 first. (mbedTLS' own default takes
    // the largest curve the client offers.)
    static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                                  MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};
    mbedtls_ssl_conf_curves(&t.conf, curves);
    mbedtls_ssl_conf_session_tickets_cb(&t.conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &t.tickets);
    mbedtls_ssl_cache_set_max_entries(&t.cache, 100000);
    mbedtls_ssl_conf_session_cache(&t.conf, &t.cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
    // HTTP/2 for a client that offers it (ALPN), else HTTP/1.1.
    static const char* alpn[] = {"h2", "http/1.1", nullptr};
    r = mbedtls_ssl_conf_alpn_protocols(&t.conf, alpn);
  }
  if (r) {
    char buf[160];
    mbedtls_strerror(r, buf, sizeof buf);
    fprintf(stderr, "origin: TLS set-up (%s, %s): %s\n", cert, key, buf);
    return false;
  }
  return true;
}

const char kUsage[] =
    "usage: origin [--port N] [--tls-port N --cert F --key F] [--latency MS]\n"
    "              [--latency-lognormal MEDIAN,P90] [--idle-close MS] [--listen ADDR]\n"
    "              [--lifetime SEC] [--fault-ports] [--h2-max-requests N]\n"
    "The test origin fanout's tests and benches fetch from, on loopback. Prints\n"
    "\"http PORT\" (and \"https PORT\") when it listens; --port 0 takes a free one.\n"
    "--lifetime ends it after SEC seconds; SIGTERM or SIGINT at once.\n";

[[noreturn]] void usage(const char* why) {
  fprintf(stderr, "origin: %s\n%s", why, kUsage);
  exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_addr = "127.0.0.1";
  int port = 0, tls_port = -1;
  const char *cert = nullptr, *key = nullptr;
  Settings plain;
  long lifetime = 0;
  bool fault_ports = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--port") port = atoi(val());
    else if (a == "--tls-port") tls_port = atoi(val());
    else if (a == "--cert") cert = val();
    else if (a == "--key") key = val();
    else if (a == "--latency") plain.latency = {double(atoi(val())), 0};
    else if (a == "--idle-close") plain.idle_close_ms = atoi(val());
    else if (a == "--max-inflight") plain.max_inflight = atoi(val());
    else if (a == "--h2-max-requests") plain.h2_max_requests = uint32_t(atoi(val()));
    else if (a == "--latency-lognormal") {  // MEDIAN,P90 in ms
      double median = 0, p90 = 0;
      if (sscanf(val(), "%lf,%lf", &median, &p90) != 2 || median <= 0 || p90 <= median)
        usage("--latency-lognormal takes MEDIAN,P90 in ms, with P90 > MEDIAN");
      plain.latency = LatencyProfile::lognormal(median, p90);
    }
    else if (a == "--listen") listen_addr = val();
    else if (a == "--lifetime") lifetime = atol(val());
    else if (a == "--fault-ports") fault_ports = true;
    else usage(("unknown option " + a).c_str());
  }
  // Thousands of connections: take every file descriptor we are allowed.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  Reactor r;
  FrameArena arena;
  FrameArena::current = &arena;
  int bound = 0;
  int http_fd = listen_on(listen_addr, port, bound);
  if (http_fd == -2) usage("--listen takes a loopback address (127.0.0.0/8 or ::1)");
  if (http_fd < 0) return 1;
  printf("http %d\n", bound);
  r.add(http_fd);
  listen_loop(r, http_fd, plain).start(nullptr, nullptr);
  Tls tls;
  Settings secure = plain;
  if (tls_port >= 0) {
    if (!cert || !key) usage("--tls-port needs --cert and --key");
    if (!tls_setup(tls, cert, key)) return 1;
    secure.tls = &tls.conf;
    int https_fd = listen_on(listen_addr, tls_port, bound);
    if (https_fd < 0) return 1;
    printf("https %d\n", bound);
    r.add(https_fd);
    listen_loop(r, https_fd, secure).start(nullptr, nullptr);
  }
  Settings hangup = plain, eager = plain;
  hangup.fault_port = "hangup";
  eager.fault_port = "eager";
  for (const Settings* f : {&hangup, &eager}) {
    if (!fault_ports) break;
    int fd = listen_on(listen_addr, 0, bound);
    if (fd < 0) return 1;
    printf("fault %s %d\n", f->fault_port, bound);
    r.add(fd);
    listen_loop(r, fd, *f).start(nullptr, nullptr);
  }
  fflush(stdout);
  Deadline end = Clock::now() + std::chrono::seconds(lifetime > 0 ? lifetime : 1L << 30);
  while (!g_stop && Clock::now() < end) r.run_once(200);  // wake now and then for signals
  // Everything lives until the process ends (listeners, connections still
  // open, the TLS state): the kernel frees it at once, rather than piece by
  // piece and, under LeakSanitizer, as a report of every frame still alive.
  fflush(stdout);
  _exit(0);
}
