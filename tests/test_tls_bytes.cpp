// TLS as a byte layer: a TlsConn client and a TlsConn server meet through
// their buffers alone, with no socket between them, as a completion-based
// driver would feed them. The certificates come from build/certgen.
#include <doctest/doctest.h>

#include <cstring>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "fanout/tls.hpp"
#include "proc.hpp"

namespace {

struct Server {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  Server(const std::string& crt, const std::string& k) {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
    REQUIRE(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0) == 0);
    REQUIRE(mbedtls_x509_crt_parse_file(&cert, crt.c_str()) == 0);
    REQUIRE(mbedtls_pk_parse_keyfile(&key, k.c_str(), nullptr) == 0);
    REQUIRE(mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT) == 0);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    REQUIRE(mbedtls_ssl_conf_own_cert(&conf, &cert, &key) == 0);
    static const char* alpn[] = {"h2", "http/1.1", nullptr};
    REQUIRE(mbedtls_ssl_conf_alpn_protocols(&conf, alpn) == 0);
  }
  ~Server() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&cert);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
};

// What from wrote goes to to, step bytes at a time (0: all at once).
size_t carry(fanout::TlsConn& from, fanout::TlsConn& to, size_t step = 0) {
  size_t moved = 0;
  for (auto u = from.unsent(); !u.empty(); u = from.unsent()) {
    size_t n = step ? std::min(step, u.size()) : u.size();
    memcpy(to.recv_space(n), u.data(), n);
    to.received(n);
    from.sent(n);
    moved += n;
  }
  return moved;
}

// Both handshakes to their end; the client's return value.
int meet(fanout::TlsConn& c, fanout::TlsConn& s, size_t step = 0) {
  int rc = MBEDTLS_ERR_SSL_WANT_READ, rs = MBEDTLS_ERR_SSL_WANT_READ;
  for (int round = 0; round < 50 && (rc != 0 || rs != 0); round++) {
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) rc = c.handshake();
    carry(c, s, step);
    if (rs == MBEDTLS_ERR_SSL_WANT_READ) rs = s.handshake();
    carry(s, c, step);
    if ((rc != 0 && rc != MBEDTLS_ERR_SSL_WANT_READ) || (rs != 0 && rs != MBEDTLS_ERR_SSL_WANT_READ)) break;
  }
  return rc;
}

}  // namespace

TEST_CASE("tls bytes: a handshake, a request and a response through buffers, no socket") {
  std::string d = t::certs();
  Server srv(d + "/server.crt", d + "/server.key");
  fanout::Config cfg;
  cfg.cacert = d + "/ca.crt";
  fanout::TlsClient client(cfg);
  std::string err;
  int code = 0;
  REQUIRE(client.init(cfg, err, code));

  for (size_t step : {size_t(0), size_t(1), size_t(7)}) {  // whole flights, then split anywhere
    CAPTURE(step);
    fanout::TlsConn c, s;
    REQUIRE(c.setup(client, "localhost", "localhost:443") == 0);
    REQUIRE(s.setup_server(&srv.conf) == 0);
    CHECK(c.unsent().empty());  // nothing is written before it is asked for
    REQUIRE(meet(c, s, step) == 0);
    CHECK(c.verify_flags == 0);
    CHECK(c.h2());  // ALPN chose h2
    CHECK_FALSE(c.pending());

    const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    REQUIRE(c.write(req, sizeof req - 1) == int(sizeof req - 1));
    CHECK(carry(c, s, step) > sizeof req - 1);  // a record: header, the text, its tag
    char buf[65536];
    int n = s.read(buf, sizeof buf);
    REQUIRE(n == int(sizeof req - 1));
    CHECK(std::string(buf, n) == req);

    // 40,000 bytes: three records; the client reads them whole whatever
    // way the ciphertext came.
    std::string body(40000, 'x');
    for (size_t i = 0; i < body.size(); i++) body[i] = char('a' + i % 26);
    for (size_t off = 0; off < body.size();) {
      int w = s.write(body.data() + off, body.size() - off);
      REQUIRE(w > 0);
      off += size_t(w);
    }
    carry(s, c, step);
    CHECK(c.pending());
    std::string got;
    while (got.size() < body.size()) {
      int r = c.read(buf, sizeof buf);
      REQUIRE(r > 0);
      got.append(buf, size_t(r));
    }
    CHECK(got == body);
    CHECK_FALSE(c.pending());
    CHECK(c.read(buf, sizeof buf) == MBEDTLS_ERR_SSL_WANT_READ);  // nothing more came

    s.close_notify();
    carry(s, c, step);
    CHECK(c.read(buf, sizeof buf) == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
  }

  SUBCASE("the peer closing mid-record is the end of the connection, not a wait") {
    fanout::TlsConn c, s;
    REQUIRE(c.setup(client, "localhost", "localhost:443") == 0);
    REQUIRE(s.setup_server(&srv.conf) == 0);
    REQUIRE(meet(c, s) == 0);
    REQUIRE(s.write("hello", 5) == 5);
    auto u = s.unsent();
    memcpy(c.recv_space(u.size() - 3), u.data(), u.size() - 3);
    c.received(u.size() - 3);
    char buf[64];
    CHECK(c.read(buf, sizeof buf) == MBEDTLS_ERR_SSL_WANT_READ);
    c.received(0);  // the socket said the end: mbedtls_ssl_read() says 0, the end
    CHECK(c.read(buf, sizeof buf) == 0);
  }

  SUBCASE("a certificate for another host fails the handshake, with its alert waiting to go") {
    Server wrong(d + "/wronghost.crt", d + "/server.key");
    fanout::TlsConn c, s;
    REQUIRE(c.setup(client, "localhost", "localhost:444") == 0);
    REQUIRE(s.setup_server(&wrong.conf) == 0);
    int r = meet(c, s);
    CHECK(r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
    CHECK((c.verify_flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0);
    CHECK(c.describe(r, "localhost", "the TLS handshake").find("certificate is not for host localhost") != std::string::npos);
  }
}
