#include "fanout/tls.hpp"
#include <cstring>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <mbedtls/error.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl_internal.h>  // handshake->resume: was the session taken?
#include <mbedtls/x509_crt.h>
#include <mutex>
#include <sys/stat.h>

#include "sys.hpp"

namespace fanout {
namespace {

constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";
mbedtls_x509_crt g_ca;
std::once_flag g_ca_once;
std::string g_ca_err;

}  // namespace

bool tls_load_ca(const Config& cfg, std::string& err) {
  if (cfg.insecure) return true;
  std::call_once(g_ca_once, [&] {
    mbedtls_x509_crt_init(&g_ca);
    std::string path = cfg.cacert.empty() ? kSystemBundle : cfg.cacert;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      g_ca_err = "CA certificates: " + sys::describe("stat(" + path + ")", errno) +
                 (cfg.cacert.empty() ? "; use --cacert FILE or -k" : "");
      return;
    }
    int r = mbedtls_x509_crt_parse_file(&g_ca, path.c_str());
    if (r < 0 || g_ca.version == 0) {
      char buf[128];
      mbedtls_strerror(r, buf, sizeof buf);
      g_ca_err = "CA certificates: " + path + ": " + buf;
    }
  });
  err = g_ca_err;
  return err.empty();
}

TlsClient::~TlsClient() {
  if (!ready_) return;
  mbedtls_ssl_config_free(&conf);
  mbedtls_ctr_drbg_free(&drbg_);
  mbedtls_entropy_free(&entropy_);
}

bool TlsClient::init(const Config& cfg, std::string& err, int& code) {
  std::lock_guard<sys::Lock> lock(mu_);
  if (ready_ || !err_.empty()) {
    err = err_;
    code = err_code_;
    return ready_;
  }
  if (!tls_load_ca(cfg, err_)) {
    err = err_;
    code = err_code_ = 77;  // CURLE_SSL_CACERT_BADFILE
    return false;
  }
  mbedtls_entropy_init(&entropy_);
  mbedtls_ctr_drbg_init(&drbg_);
  mbedtls_ssl_config_init(&conf);
  ready_ = true;
  static const unsigned char pers[] = "fanout";
  int r = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, pers, sizeof pers - 1);
  if (r == 0)
    r = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (r != 0) {
    char buf[128];
    mbedtls_strerror(r, buf, sizeof buf);
    err = err_ = std::string("TLS set-up: ") + buf;
    code = err_code_;
    return ready_ = false;
  }
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg_);
  // mbedTLS offers its curves largest first, so a server that takes the
  // client's order does ECDHE on P-521: several ms of CPU on each side.
  // x25519 is the cheapest, P-256 what nearly every server has.
  static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                                MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};
  mbedtls_ssl_conf_curves(&conf, curves);
  mbedtls_ssl_conf_session_tickets(&conf, reuse_ ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED
                                                 : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  // The chain is checked by verify(), at the end of every full handshake,
  // before a byte of the request is sent; mbedTLS checks the key exchange.
  mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
  verify_ = !cfg.insecure;
  // ALPN (RFC 7301): HTTP/2 first, as curl offers it, unless --http1.1.
  static const char* alpn[] = {"h2", "http/1.1", nullptr};
  if (!cfg.http11) mbedtls_ssl_conf_alpn_protocols(&conf, alpn);
  return true;
}

TlsClient::Turn TlsClient::turn(const std::string& key) {
  if (!reuse_) return go;
  std::lock_guard<sys::Lock> lock(mu_);
  Session& s = sessions_[key];
  if (s.state == Session::first) return wait;
  if (s.state != Session::none) return go;
  s.state = Session::first;
  return first;
}

void TlsClient::first_done(const std::string& key, bool) {
  if (!reuse_) return;
  std::lock_guard<sys::Lock> lock(mu_);
  Session& s = sessions_[key];
  // Failed, or no session to resume: the others go on their own.
  if (s.state == Session::first) s.state = Session::open;
}

void TlsClient::finished(TlsConn& c, const std::string& key) {
  if (c.resumed) resumed++;
  if (!reuse_ || c.resumed) return;
  std::lock_guard<sys::Lock> lock(mu_);
  Session& s = sessions_[key];  // a full handshake: its session is the one to offer next
  mbedtls_ssl_session_free(&s.s);
  mbedtls_ssl_session_init(&s.s);
  if (mbedtls_ssl_get_session(&c.ssl_, &s.s) == 0) s.state = Session::have;
}

uint32_t TlsClient::verify(const mbedtls_x509_crt* chain, const std::string& host) {
  if (!chain) return MBEDTLS_X509_BADCERT_MISSING;
  mbedtls_sha256_context sha;
  mbedtls_sha256_init(&sha);
  mbedtls_sha256_starts_ret(&sha, 0);
  mbedtls_sha256_update_ret(&sha, reinterpret_cast<const unsigned char*>(host.c_str()), host.size() + 1);
  for (const mbedtls_x509_crt* c = chain; c; c = c->next) {
    unsigned char len[4] = {uint8_t(c->raw.len >> 24), uint8_t(c->raw.len >> 16), uint8_t(c->raw.len >> 8), uint8_t(c->raw.len)};
    mbedtls_sha256_update_ret(&sha, len, sizeof len);
    mbedtls_sha256_update_ret(&sha, c->raw.p, c->raw.len);
  }
  std::string key(32, '\0');
  mbedtls_sha256_finish_ret(&sha, reinterpret_cast<unsigned char*>(key.data()));
  mbedtls_sha256_free(&sha);
  // Checked less than a minute ago: certificates do not expire by the second.
  auto now = Clock::now();
  {
    std::lock_guard<sys::Lock> lock(mu_);
    auto it = good_chains_.find(key);
    if (it != good_chains_.end() && now - it->second < std::chrono::minutes(1)) return 0;
  }
  // An address (https://127.0.0.1/) is checked against the certificate's
  // iPAddress names here: mbedTLS 2.28 matches dNSNames only (and the CN).
  unsigned char ip[16];
  size_t ip_len = inet_pton(AF_INET, host.c_str(), ip) == 1 ? 4 : inet_pton(AF_INET6, host.c_str(), ip) == 1 ? 16 : 0;
  uint32_t flags = 0;
  if (mbedtls_x509_crt_verify_with_profile(const_cast<mbedtls_x509_crt*>(chain), &g_ca, nullptr,
                                           &mbedtls_x509_crt_profile_default, ip_len ? nullptr : host.c_str(), &flags,
                                           nullptr, nullptr) != 0 && flags == 0)
    flags = MBEDTLS_X509_BADCERT_OTHER;
  if (ip_len) {
    bool named = false;
    for (const mbedtls_x509_sequence* n = &chain->subject_alt_names; n && !named; n = n->next)
      named = n->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && n->buf.len == ip_len && memcmp(n->buf.p, ip, ip_len) == 0;
    if (!named) flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  }
  if (flags == 0) {
    std::lock_guard<sys::Lock> lock(mu_);
    if (good_chains_.size() >= 4096) good_chains_.clear();
    good_chains_[key] = now;
  }
  return flags;
}

// mbedTLS has one flag for "no trusted issuer" and "the trusted issuer's
// signature does not verify"; the names in the chain tell them apart.
const char* why_untrusted(const mbedtls_x509_crt* chain) {
  auto same = [](const mbedtls_x509_buf& a, const mbedtls_x509_buf& b) {
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
  };
  for (const mbedtls_x509_crt* c = chain; c; c = c->next)
    for (const mbedtls_x509_crt* ca = &g_ca; ca && ca->raw.len; ca = ca->next)
      if (same(c->issuer_raw, ca->subject_raw)) return "certificate signature does not verify (issuer is trusted)";
  const mbedtls_x509_crt* top = chain;
  while (top && top->next) top = top->next;
  if (top && same(top->issuer_raw, top->subject_raw)) return "certificate is self-signed and not trusted";
  return "certificate is not trusted (unknown issuer)";
}

char* ByteQueue::space(size_t n) {
  if (cap_ - tail_ >= n) return p_.get() + tail_;
  size_t have = size();
  if (cap_ - have >= n) {
    memmove(p_.get(), data(), have);
  } else {
    std::unique_ptr<char[]> q(new char[have + n]);
    if (have) memcpy(q.get(), data(), have);
    p_ = std::move(q);
    cap_ = have + n;
  }
  head_ = 0;
  tail_ = have;
  return p_.get() + tail_;
}

void ByteQueue::take(size_t n) {
  head_ += n;
  if (head_ < tail_) return;
  p_.reset();
  cap_ = head_ = tail_ = 0;
}

TlsConn::TlsConn() { mbedtls_ssl_init(&ssl_); }
TlsConn::~TlsConn() { mbedtls_ssl_free(&ssl_); }

// mbedTLS' BIO: buffers, never a socket.
int TlsConn::bio_send(void* self, const unsigned char* p, size_t n) {
  auto& t = *static_cast<TlsConn*>(self);
  memcpy(t.out_.space(n), p, n);
  t.out_.added(n);
  return int(n);
}

int TlsConn::bio_recv(void* self, unsigned char* p, size_t n) {
  auto& t = *static_cast<TlsConn*>(self);
  size_t have = t.in_.size();
  if (!have) return t.eof_ ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
  n = std::min(n, have);
  memcpy(p, t.in_.data(), n);
  t.in_.take(n);
  return int(n);
}

int TlsConn::setup_server(const mbedtls_ssl_config* conf) {
  int r = mbedtls_ssl_setup(&ssl_, conf);
  mbedtls_ssl_set_bio(&ssl_, this, bio_send, bio_recv, nullptr);
  return r;
}

int TlsConn::setup(TlsClient& c, const std::string& host, const std::string& key) {
  client_ = &c;
  host_ = host;
  int r = mbedtls_ssl_setup(&ssl_, &c.conf);
  mbedtls_ssl_set_bio(&ssl_, this, bio_send, bio_recv, nullptr);
  if (r == 0) r = mbedtls_ssl_set_hostname(&ssl_, host.c_str());  // SNI and the name check
  if (r == 0 && c.reuse_) {
    std::lock_guard<sys::Lock> lock(c.mu_);
    auto it = c.sessions_.find(key);
    if (it != c.sessions_.end() && it->second.state == TlsClient::Session::have) mbedtls_ssl_set_session(&ssl_, &it->second.s);
  }
  c.handshakes++;
  return r;
}

// mbedtls_ssl_handshake() step by step, to see whether the server took the
// session we offered (the flag is gone once the handshake is over).
bool TlsConn::h2() const {
  const char* p = mbedtls_ssl_get_alpn_protocol(&ssl_);
  return p && strcmp(p, "h2") == 0;
}

int TlsConn::handshake() {
  while (ssl_.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
    int r = mbedtls_ssl_handshake_step(&ssl_);
    if (ssl_.handshake && ssl_.handshake->resume) resumed = true;
    if (r != 0) return r;
  }
  // A resumed session's chain was checked when the session was made.
  if (!client_ || !client_->verify_ || resumed) return 0;
  const mbedtls_x509_crt* peer = mbedtls_ssl_get_peer_cert(&ssl_);
  verify_flags = client_->verify(peer, host_);
  // What VERIFY_REQUIRED checks besides the chain: that the certificate
  // may be used by a server for this key exchange (key usage, serverAuth).
  const mbedtls_ssl_ciphersuite_t* suite = mbedtls_ssl_ciphersuite_from_id(ssl_.session->ciphersuite);
  uint32_t usage = 0;
  if (peer && suite && mbedtls_ssl_check_cert_usage(peer, suite, MBEDTLS_SSL_IS_CLIENT, &usage) != 0)
    verify_flags |= usage;
  if (verify_flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) untrusted = why_untrusted(peer);
  return verify_flags ? MBEDTLS_ERR_X509_CERT_VERIFY_FAILED : 0;
}

std::string TlsConn::describe(int ret, const std::string& host, const char* during) const {
  if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    uint32_t f = verify_flags;
    std::string why;
    auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
    if (f & MBEDTLS_X509_BADCERT_EXPIRED) add("certificate has expired");
    if (f & MBEDTLS_X509_BADCERT_FUTURE) add("certificate is not yet valid");
    if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH) add("certificate is not for host " + host);
    if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED) add(untrusted ? untrusted : "certificate is not trusted (unknown issuer)");
    if (f & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE))
      add("certificate may not be used by a server for this key exchange (key usage)");
    if (why.empty()) {
      char buf[512];
      mbedtls_x509_crt_verify_info(buf, sizeof buf, "", f);
      for (char* p = buf; *p; p++) if (*p == '\n') *p = ' ';
      add(buf);
    }
    return "tls: " + host + ": certificate verify failed: " + why;
  }
  if (ret == MBEDTLS_ERR_SSL_CONN_EOF) return std::string("tls: ") + host + ": connection closed during " + during;
  if (ret == MBEDTLS_ERR_SSL_INVALID_RECORD && ssl_.state != MBEDTLS_SSL_HANDSHAKE_OVER)  // curl: "wrong version number"
    return std::string("tls: ") + host + ": the server does not speak TLS (its answer is not a TLS record; a plain HTTP port?)";
  char buf[160];
  mbedtls_strerror(ret, buf, sizeof buf);
  char code[16];
  snprintf(code, sizeof code, "-0x%04x", unsigned(-ret));
  return std::string("tls: ") + host + ": " + during + ": " + buf + " (" + code + ")";
}

}  // namespace fanout
