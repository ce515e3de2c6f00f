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
  REQUIRE(r.status == 0);
  auto v = t::jsonl(results);
  REQUIRE(v.size() == 1);
  return v[0]["status"].is_null() ? v[0]["error"].str : std::to_string(int(v[0]["status"].num));
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
    std::vector<std::string> bad = {"--cacert", "/nonexistent/ca.pem"};
    CHECK(fetch_one(bad, "https://127.0.0.1:1/") == "connect(127.0.0.1:1): ECONNREFUSED (Connection refused)");
  }
}

TEST_CASE("tls: mbedTLS' own test certificates") {
  std::string d = t::corpora() + "/mbedtls-certs", probe;
  if (!t::read_file(d + "/server5.crt", probe)) {
    t::skip("mbedTLS test certificates: " + d + " not found");
    return;
  }
  struct Case { const char* cert; const char* want; };
  const Case cases[] = {
    {"server5.crt", "200"},
    {"server5-expired.crt", "tls: localhost: certificate verify failed: certificate has expired"},
    {"server5-future.crt", "tls: localhost: certificate verify failed: certificate is not yet valid"},
    {"server5-badsign.crt", "tls: localhost: certificate verify failed: certificate is not trusted (unknown issuer)"},
    {"server5-selfsigned.crt", "tls: localhost: certificate verify failed: certificate is not for host localhost; certificate is not trusted (unknown issuer)"},
  };
  for (auto& c : cases) {
    INFO(c.cert);
    t::Origin o({}, d + "/" + c.cert, d + "/server5.key");
    std::vector<std::string> args = resolve(o);
    args.insert(args.end(), {"--cacert", d + "/test-ca2.crt"});
    CHECK(fetch_one(args, o.tls_url("/status/200")) == c.want);
  }
}
