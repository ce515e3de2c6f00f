// Issue 10's promise, tried in one run: a list of every broken server
// origin can play (/fault/NAME and its fault ports), every DNS failure
// dnsd can give and every TLS failure certgen's certificates make, with
// good URLs between them. In every model each line gets exactly one
// result, with the cause its case names, the same line by line in all
// five, and the good ones succeed.
#include <doctest/doctest.h>
#include <algorithm>
#include <map>

#include "proc.hpp"
#include "util.hpp"

namespace {

struct Case {
  std::string url;
  int status = 0;      // > 0: this status, no error
  int64_t bytes = -1;  // with a status: this many body bytes (-1: any)
  std::string error;   // otherwise: exactly this error (its cause is the word before ':')
  int code = 0;        // and this exitcode: curl 7.88's for the same failure (the README's table)
};

Case ok(const std::string& url, int status = 200, int64_t bytes = -1) { return {url, status, bytes, ""}; }
Case bad(const std::string& url, const std::string& error, int code) { return {url, 0, -1, error, code}; }

std::string cause_of(const std::string& error) {
  std::string c = error.substr(0, error.find_first_of(":("));
  return c == "connect" ? "connect" : c;
}

}  // namespace

TEST_CASE("faults: every broken server, DNS answer and TLS peer in one list, alike in every model") {
  std::string pki = t::certs();
  t::Origin o({"--fault-ports"}, pki + "/server.crt", pki + "/server.key");
  t::Origin v6({"--listen", "::1"});
  t::Dnsd dns;
  std::map<std::string, std::unique_ptr<t::Origin>> tls;  // one origin a certificate
  for (const char* c : {"expired", "notyet", "wronghost", "selfsigned", "untrusted", "badsig"})
    tls[c] = std::make_unique<t::Origin>(std::vector<std::string>{}, pki + "/" + c + ".crt", pki + "/server.key");

  auto f = [&](const std::string& name) { return o.url("/fault/" + name); };
  auto named = [&](const std::string& host, const std::string& path = "/") {  // through dnsd
    return "http://" + host + ":" + std::to_string(o.http) + path;
  };
  const std::string host = "localhost: ";
  std::vector<Case> cases = {
    // 1. origin's broken servers
    bad(f("empty"), "http: empty reply from server", 52),
    bad(f("short-body"), "http: connection closed before the end of the body", 18),
    bad(f("cut-chunked"), "http: connection closed before the end of the body", 18),
    bad(f("bad-chunk-size"), "http: bad chunk size", 56),
    bad(f("huge-chunk-size"), "http: chunk size too large", 56),
    ok(f("chunk-ext-space"), 200, 5),
    ok(f("one-byte-chunks"), 200, 100),
    bad(f("huge-chunk-ext"), "http: chunk header or trailers too large", 56),
    bad(f("te-and-cl"), "http: both Transfer-Encoding and Content-Length", 8),
    bad(f("two-cl"), "http: conflicting Content-Length headers", 8),
    ok(f("same-cl-twice"), 200, 5),
    bad(f("cl-negative"), "http: bad Content-Length", 8),
    bad(f("cl-text"), "http: bad Content-Length", 8),
    bad(f("cl-2-64"), "http: Content-Length too large", 8),
    bad(f("te-unknown"), "http: unsupported Transfer-Encoding (fanout undoes chunked only)", 61),  // as curl
    ok(f("no-length"), 200, 1000),
    ok(f("204-body"), 204, 0),
    ok(f("304-body"), 304, 0),
    ok(f("head-body"), 200, 5),
    ok(f("interim"), 200, 2),
    bad(f("switching"), "http: unexpected 101 Switching Protocols", 8),
    bad(f("status-000"), "http: unsupported status code (below 100)", 8),
    bad(f("status-099"), "http: unsupported status code (below 100)", 8),
    bad(f("status-1000"), "http: bad status code", 8),
    bad(f("status-2x0"), "http: bad status code", 8),
    ok(f("status-600"), 600, 0),  // three digits: curl takes it too
    ok(f("status-no-reason"), 200, 2),
    ok(f("status-http10"), 200, 2),
    bad(f("status-http2"), "http: bad status line", 8),
    bad(f("not-http"), "http: response does not start with HTTP/", 8),
    bad(f("header-nul"), "http: control character in header value", 8),
    bad(f("header-bare-cr"), "http: CR without LF in response head", 8),
    bad(f("header-no-colon"), "http: bad header name", 8),
    bad(f("header-space-name"), "http: bad header name", 8),
    ok(f("header-obs-fold"), 200, 2),
    bad(f("header-fold-te"), "http: folded Content-Length or Transfer-Encoding header", 8),
    bad(f("header-100k"), "http: response head larger than 32768 bytes", 27),
    bad(f("header-many"), "http: more than 100 headers", 8),
    bad(f("header-endless"), "http: response head larger than 32768 bytes", 27),
    ok(f("redirect-no-location"), 302, 0),
    bad(f("redirect-bad-location"), "redirect: Location \"http://[::1\": unterminated IPv6 address", 47),
    bad(o.url("/loop"), "redirect: too many redirects (--max-redirs 5)", 47),
    ok(f("drip-ok"), 200, 10),
    bad(f("drip-slow"), "timeout: receiving the body", 28),
    bad(f("idle-body"), "timeout: receiving the body", 28),
    bad(f("endless-body"), "timeout: receiving the body", 28),
    bad(f("reset-body"), "recv: ECONNRESET (Connection reset by peer)", 56),
    bad(f("silent"), "timeout: waiting for the response", 28),
    ok(o.url("/unasked?status=408"), 200, 2),
    ok(o.url("/blanks/40000"), 200),
    bad("http://127.0.0.1:" + std::to_string(o.hangup) + "/", "http: empty reply from server", 52),
    ok("http://127.0.0.1:" + std::to_string(o.eager) + "/", 200, 6),  // answered before it was asked
    // 2. dnsd's answers
    bad(named("nx.test"), "dns: nx.test: Domain name not found (ARES_ENOTFOUND)", 6),
    bad(named("elsewhere.invalid"),
        "dns: elsewhere.invalid: Domain name not found (ARES_ENOTFOUND)", 6),
    bad(named("servfail.test"),
        "dns: servfail.test: no DNS server answered (each refused, failed or said SERVFAIL) (ARES_ECONNREFUSED)", 6),
    bad(named("nodata.test"),
        "dns: nodata.test: DNS server returned answer with no data (ARES_ENODATA)", 6),
    bad(named("malformed.test"), "dns: malformed.test: Misformatted DNS reply (ARES_EBADRESP)", 6),
    bad(named("silent.test"), "timeout: resolving silent.test", 28),
    ok(named("slow.test", "/status/201"), 201),
    ok(named("tc.test", "/status/202"), 202),  // over TCP
    ok("http://v6.test:" + std::to_string(v6.http) + "/status/203", 203),  // AAAA only
    ok(named("cname-3.test", "/status/204"), 204),
    ok(named("ip-127-0-0-1.test", "/status/205"), 205),
    // 3. TLS peers and certificates
    ok(o.tls_url("/status/200"), 200),
    bad(tls["expired"]->tls_url("/"), "tls: " + host + "certificate verify failed: certificate has expired", 60),
    bad(tls["notyet"]->tls_url("/"), "tls: " + host + "certificate verify failed: certificate is not yet valid", 60),
    bad(tls["wronghost"]->tls_url("/"), "tls: " + host + "certificate verify failed: certificate is not for host localhost", 60),
    bad(tls["selfsigned"]->tls_url("/"), "tls: " + host + "certificate verify failed: certificate is self-signed and not trusted", 60),
    bad(tls["untrusted"]->tls_url("/"), "tls: " + host + "certificate verify failed: certificate is not trusted (unknown issuer)", 60),
    bad(tls["badsig"]->tls_url("/"),
        "tls: " + host + "certificate verify failed: certificate signature does not verify (issuer is trusted)", 60),
    bad("https://localhost:" + std::to_string(o.hangup) + "/", "tls: localhost: connection closed during the TLS handshake", 35),
    bad("https://localhost:" + std::to_string(o.http) + "/",
        "tls: localhost: the server does not speak TLS (its answer is not a TLS record; a plain HTTP port?)", 35),
    ok(o.tls_url("/fault/interim"), 200, 2),
    bad(o.tls_url("/fault/short-body"), "http: connection closed before the end of the body", 18),
  };
  // Good URLs between the bad ones: every fourth line.
  std::vector<Case> list;
  for (size_t i = 0; i < cases.size(); i++) {
    if (i % 3 == 0) list.push_back(ok(o.url("/status/200?good=" + std::to_string(i)), 200));
    list.push_back(cases[i]);
  }
  std::string text;
  for (auto& c : list) text += c.url + "\n";
  std::vector<std::string> common = {"-c", "8", "-w", "2", "-L", "--max-redirs", "5", "--max-time", "1",
                                     "--connect-timeout", "1", "--dns-server", dns.server(), "--cacert", pki + "/ca.crt",
                                     "--json", "--http1.1"};  // the faults are HTTP/1.1's bytes (origin's TLS port offers h2)
  std::vector<int> ports = {o.https, o.hangup, o.http};
  for (auto& [name, origin] : tls) ports.push_back(origin->https);
  for (int p : ports) common.insert(common.end(), {"--resolve", "localhost:" + std::to_string(p) + ":127.0.0.1"});

  std::vector<std::string> first;  // the first model's outcome, line by line
  for (const char* model : t::models()) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/faults-" + model + ".jsonl";
    std::vector<std::string> args = {"-m", model, "--results", results, "-"};
    args.insert(args.begin(), common.begin(), common.end());
    t::Ran r = t::fanout(args, text);
    CHECK(r.err.find("Sanitizer") == std::string::npos);
    auto got = t::results(results);
    REQUIRE(got.size() == list.size());  // one result a line, in order
    CHECK(r.status == t::exit_rule(got));
    CHECK(r.status != 0);
    std::vector<std::string> outcome;
    for (size_t i = 0; i < list.size(); i++) {
      const Case& c = list[i];
      tj::Value& v = got[i];
      INFO("line " << i + 1 << ": " << c.url << " got " << v["http_code"].num << " " << (v["errormsg"].is_null() ? "" : v["errormsg"].str));
      CHECK(v["line"].num == double(i + 1));
      if (c.status) {
        CHECK(v["errormsg"].is_null());
        CHECK(v["http_code"].num == c.status);
        if (c.bytes >= 0) CHECK(v["size_download"].num == double(c.bytes));
        outcome.push_back(std::to_string(c.status));
      } else {
        CHECK(v["errormsg"].str == c.error);
        CHECK(v["cause"].str == cause_of(c.error));
        CHECK(v["exitcode"].num == c.code);
        outcome.push_back(v["cause"].str + " " + v["errormsg"].str);
      }
    }
    if (first.empty()) first = outcome;
    else CHECK(outcome == first);
    // The summary counts the same lines: every good one among the statuses.
    tj::Value j = tj::parse(r.out);
    CHECK(j["urls"].num == double(list.size()));
    // Memory stays bounded whatever came: the endless body and headers too.
    if (!t::kAsan && !t::kTsan && t::qemu().empty()) CHECK(j["peak_rss_kb"]["parent"].num < 32 * 1024);
  }
  // The TCP fallback was taken for the truncated answer.
  std::string log;
  t::read_file(dns.log, log);
  CHECK(log.find("udp A tc.test") != std::string::npos);
  CHECK(log.find("tcp A tc.test") != std::string::npos);
}

TEST_CASE("faults: a body sent to HEAD is not the next response, in every model") {
  t::Origin o;
  std::string list = o.url("/fault/head-body") + "\n" + o.url("/status/201") + "\n";
  for (const char* model : t::models()) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/head-body-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-c", "1", "-w", "1", "-I", "--json", "--results", results, "-"}, list);
    REQUIRE(r.status == 0);
    auto v = t::results(results);
    REQUIRE(v.size() == 2);
    CHECK(v[0]["http_code"].num == 200);
    CHECK(v[0]["size_download"].num == 0);
    CHECK(v[1]["errormsg"].is_null());
    CHECK(v[1]["http_code"].num == 201);
    // The connection with five unasked bytes on it is not used again.
    CHECK(tj::parse(r.out)["connections"]["opened"].num == 2);
  }
}

TEST_CASE("faults: thousands of distinct hosts, each its own lookup and connection") {
  t::Origin o;
  t::Dnsd dns;
  const int n = t::kTsan || t::kAsan ? 300 : 2000;
  std::string list;
  for (int i = 0; i < n; i++) list += "http://h" + std::to_string(i) + ".test:" + std::to_string(o.http) + "/\n";
  for (const char* model : {"threads", "async"}) {
    INFO("model " << std::string(model));
    t::Ran r = t::fanout({"-m", model, "-c", "50", "--dns-server", dns.server(), "--json", "-"}, list);
    REQUIRE(r.status == 0);
    tj::Value j = tj::parse(r.out);
    CHECK(j["statuses"]["200"].num == n);
    CHECK(j["cost"]["connections_opened"].num == n);
    CHECK(j["cost"]["dns_queries"].num == n);
  }
}
