// HTTPS against origin: verification on by default, and each way it can
// fail says why. Certificates come from build/certgen, and from mbedTLS'
// own test certificates in ../shared/corpora when they are there.
#include <doctest/doctest.h>

#include "proc.hpp"
#include "util.hpp"

namespace {

std::string fetch_one(const std::vector<std::string>& opts, const std::string& url) {
  std::string results = t::temp_dir() + "/tls.jsonl";
  std::vector<std::string> args = opts;
  args.insert(args.end(), {"-m", "seq", "--results", results, "-"});
  t::Ran r = t::fanout(args, url + "\n");
  auto v = t::results(results);
  REQUIRE(v.size() == 1);
  REQUIRE(r.status == t::exit_rule(v));  // 35 or 60 when the handshake failed
  return v[0]["errormsg"].is_null() ? std::to_string(int(v[0]["http_code"].num)) : v[0]["errormsg"].str;
}

std::vector<std::string> resolve(const t::Origin& o) {
  return {"--resolve", "localhost:" + std::to_string(o.https) + ":127.0.0.1"};
}

}  // namespace

TEST_CASE("tls: verified with --cacert, refused without, and every failure says why") {
  std::string d = t::certs();
  {
    t::Origin o({}, d + "/server.crt", d + "/server.key");
    auto r = resolve(o);
    std::vector<std::string> ca = r;
    ca.insert(ca.end(), {"--cacert", d + "/ca.crt"});
    CHECK(fetch_one(ca, o.tls_url("/status/200")) == "200");
    CHECK(fetch_one(r, o.tls_url("/status/200")) ==
          "tls: localhost: certificate verify failed: certificate is not trusted (unknown issuer)");
    std::vector<std::string> k = r;
    k.push_back("-k");
    CHECK(fetch_one(k, o.tls_url("/status/200")) == "200");
    // The name in the URL is what is checked, not the address.
    std::vector<std::string> other = {"--resolve", "other.test:" + std::to_string(o.https) + ":127.0.0.1",
                                      "--cacert", d + "/ca.crt"};
    CHECK(fetch_one(other, "https://other.test:" + std::to_string(o.https) + "/") ==
          "tls: other.test: certificate verify failed: certificate is not for host other.test");
  }
  {
    t::Origin o({}, d + "/expired.crt", d + "/server.key");
    std::vector<std::string> ca = resolve(o);
    ca.insert(ca.end(), {"--cacert", d + "/ca.crt"});
    CHECK(fetch_one(ca, o.tls_url("/")) == "tls: localhost: certificate verify failed: certificate has expired");
  }
  {
    t::Origin o({}, d + "/wronghost.crt", d + "/server.key");
    std::vector<std::string> ca = resolve(o);
    ca.insert(ca.end(), {"--cacert", d + "/ca.crt"});
    CHECK(fetch_one(ca, o.tls_url("/")) == "tls: localhost: certificate verify failed: certificate is not for host localhost");
  }
  {
    // A good chain, but a key the server may not sign its key exchange with.
    t::Origin o({}, d + "/keyusage.crt", d + "/server.key");
    std::vector<std::string> ca = resolve(o);
    ca.insert(ca.end(), {"--cacert", d + "/ca.crt"});
    CHECK(fetch_one(ca, o.tls_url("/")) ==
          "tls: localhost: certificate verify failed: certificate may not be used by a server for this key exchange (key usage)");
  }
  {
    // A CA file that is not there, against a server that is: the handshake
    // is what fails, and says which file (issue 10: it used to be a closed
    // port, so the file was never read).
    t::Origin o({}, d + "/server.crt", d + "/server.key");
    std::vector<std::string> bad = resolve(o);
    bad.insert(bad.end(), {"--cacert", "/nonexistent/ca.pem"});
    CHECK(fetch_one(bad, o.tls_url("/")) == "tls: CA certificates: stat(/nonexistent/ca.pem): ENOENT (No such file or directory)");
  }
}

TEST_CASE("tls: mbedTLS' own test certificates") {
  std::string d = t::corpora() + "/mbedtls-certs", probe;
  if (!t::read_file(d + "/server5.crt", probe)) {
    t::no_corpus("mbedTLS test certificates: " + d + " not found");
    return;
  }
  struct Case { const char* cert; const char* want; };
  const Case cases[] = {
    {"server5.crt", "200"},
    {"server5-expired.crt", "tls: localhost: certificate verify failed: certificate has expired"},
    {"server5-future.crt", "tls: localhost: certificate verify failed: certificate is not yet valid"},
    {"server5-badsign.crt", "tls: localhost: certificate verify failed: certificate signature does not verify (issuer is trusted)"},
    {"server5-selfsigned.crt", "tls: localhost: certificate verify failed: certificate is not for host localhost; certificate is self-signed and not trusted"},
  };
  for (auto& c : cases) {
    INFO(c.cert);
    t::Origin o({}, d + "/" + c.cert, d + "/server5.key");
    std::vector<std::string> args = resolve(o);
    args.insert(args.end(), {"--cacert", d + "/test-ca2.crt"});
    CHECK(fetch_one(args, o.tls_url("/status/200")) == c.want);
  }
}

// Threads share one pool: a connection a thread made goes on to serve
// others after that thread has ended. Each of those requests must still
// get its answer (it used to fail with "invalid SSL record" near the end of
// a run, once the thread that made the connection had freed its TLS state).
// Sleeps of different lengths make threads finish at different times.
TEST_CASE("tls: many HTTPS URLs under every model, workers finishing at different times") {
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  std::string list;
  const int n = 3000;
  for (int i = 0; i < n; i++) list += o.tls_url("/sleep?ms=" + std::to_string(i % 7 == 0 ? i % 23 : 0) + "&i=" + std::to_string(i)) + "\n";
  std::string input = t::temp_dir() + "/many-https.txt";
  t::write_file(input, list);
  for (const char* model : {"threads", "async", "hybrid", "procs", "seq"}) {
    INFO("model " << std::string(model));
    std::string c = std::string(model) == "seq" ? "1" : "50";
    t::Ran r = t::fanout({"-m", model, "-c", c, "-w", "2", "--cacert", d + "/ca.crt", "--json", "--resolve",
                          "localhost:" + std::to_string(o.https) + ":127.0.0.1", input});
    REQUIRE(r.status == 0);
    tj::Value v = tj::parse(r.out);
    CHECK(v["statuses"]["200"].num == n);
    CHECK(v["errors"].keys.empty());
    const tj::Value& cost = v["cost"];
    double full = cost["tls_handshakes"].num - cost["tls_resumed"].num;
    CHECK(cost["tls_handshakes"].num == cost["connections_opened"].num);
    // One full handshake per TLS client: threads share one, a loop has
    // one, and each forked worker has its own.
    double clients = std::string(model) == "hybrid" ? 2 : std::string(model) == "procs" ? 50 : 1;
    CHECK(full <= clients);
    CHECK(full >= 1);
    CHECK(cost["dns_queries"].num == 0);  // --resolve
    CHECK(cost["poller"].str == (std::string(model) == "async" || std::string(model) == "hybrid" ? "epoll" : "poll"));
  }
}

// The threads model's stacks are small for routers (--stack-size, 64 KiB by
// default): a full TLS handshake with verification, a DNS lookup through
// c-ares and reading the input all fit, with room to spare at half of it.
// (Reading the input used to put a 64 KiB buffer on the stack: a crash.)
TEST_CASE("tls: full handshakes and DNS lookups fit the threads model's default stack, and half of it") {
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  t::Dnsd dns;
  std::string list;
  for (int i = 0; i < 30; i++) list += o.tls_url("/?i=" + std::to_string(i)) + "\n";
  for (int i = 0; i < 30; i++) list += "http://h" + std::to_string(i) + ".test:" + std::to_string(o.http) + "/\n";
  for (const char* size : {"", "32K"}) {
    INFO("--stack-size " << size);
    // Connection: close (HTTP/1.1's): a handshake for every https line,
    // however the threads are scheduled (a slow, sanitized run would reuse more).
    std::vector<std::string> args = {"-m", "threads", "-c", "10", "--http1.1", "--no-session-reuse", "--cacert", d + "/ca.crt",
                                     "-H", "Connection: close", "--dns-server", dns.server(), "--json", "-"};
    if (*size) args.insert(args.begin(), {"--stack-size", size});
    t::Ran r = t::fanout(args, list);
    REQUIRE(r.status == 0);
    tj::Value j = tj::parse(r.out);
    CHECK(j["statuses"]["200"].num == 60);
    CHECK(j["cost"]["tls_handshakes"].num == 30);
    CHECK(j["cost"]["tls_resumed"].num == 0);
  }
  t::Ran bad = t::fanout({"-m", "threads", "--stack-size", "8K", "-"}, "");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--stack-size takes a size from 16K to 64M") != std::string::npos);
}

TEST_CASE("tls: CA certificates that cannot be read are curl's 77, on every https line, in every model") {
  t::Origin o({}, t::certs() + "/server.crt", t::certs() + "/server.key");
  std::string missing = t::temp_dir() + "/no-such-ca.crt";
  std::string list = o.tls_url("/status/200?a") + "\n" + o.url("/status/200") + "\n" + o.tls_url("/status/200?b") + "\n";
  for (const char* model : {"seq", "threads", "procs", "async", "hybrid"}) {
    INFO("model " << model);
    std::string results = t::temp_dir() + "/ca77-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-c", "2", "-w", "2", "--cacert", missing, "--results", results, "-"}, list);
    auto v = t::results(results);
    REQUIRE(v.size() == 3);
    CHECK(r.status == 77);  // CURLE_SSL_CACERT_BADFILE, as curl --cacert says it
    for (int i : {0, 2}) {
      CHECK(v[i]["exitcode"].num == 77);
      CHECK(v[i]["errormsg"].str.rfind("tls: CA certificates: stat(" + missing + "): ENOENT", 0) == 0);
    }
    CHECK(v[1]["http_code"].num == 200);  // plain http needs no CA
  }
}
