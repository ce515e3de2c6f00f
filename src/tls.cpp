#include "fanout/tls.hpp"

#include <cerrno>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
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

int bio_send(void* ctx, const unsigned char* p, size_t n) {
  auto* c = static_cast<TlsConn*>(ctx);
  ssize_t w = sys::send(c->fd, p, n, MSG_NOSIGNAL);
  if (w >= 0) return int(w);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
  c->sys_errno = errno;
  return MBEDTLS_ERR_NET_SEND_FAILED;
}

int bio_recv(void* ctx, unsigned char* p, size_t n) {
  auto* c = static_cast<TlsConn*>(ctx);
  if (c->dl) {
    pollfd pfd{c->fd, POLLIN, 0};
    int r;
    while ((r = sys::poll(&pfd, 1, ms_left(*c->dl))) < 0 && errno == EINTR) {}
    if (r == 0) {
      c->timed_out = true;
      return MBEDTLS_ERR_SSL_TIMEOUT;
    }
  }
  ssize_t got = sys::recv(c->fd, p, n, 0);
  if (got >= 0) return int(got);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
  c->sys_errno = errno;
  return MBEDTLS_ERR_NET_RECV_FAILED;
}

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

bool TlsClient::init(const Config& cfg, std::string& err) {
  if (ready_) return true;
  if (!tls_load_ca(cfg, err)) return false;
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
    err = std::string("TLS set-up: ") + buf;
    return false;
  }
  mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg_);
  if (cfg.insecure) {
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
  } else {
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &g_ca, nullptr);
  }
  return true;
}

TlsConn::TlsConn() { mbedtls_ssl_init(&ssl_); }
TlsConn::~TlsConn() { mbedtls_ssl_free(&ssl_); }

int TlsConn::setup(TlsClient& c, int sock, const std::string& host, const Deadline* deadline) {
  fd = sock;
  dl = deadline;
  int r = mbedtls_ssl_setup(&ssl_, &c.conf);
  if (r == 0) r = mbedtls_ssl_set_hostname(&ssl_, host.c_str());  // SNI and the name check
  if (r == 0) mbedtls_ssl_set_bio(&ssl_, this, bio_send, bio_recv, nullptr);
  c.handshakes++;
  return r;
}

Cause TlsConn::cause(int ret) const {
  if (timed_out || ret == MBEDTLS_ERR_SSL_TIMEOUT) return Cause::timeout;
  if (ret == MBEDTLS_ERR_NET_SEND_FAILED) return Cause::send;
  if (ret == MBEDTLS_ERR_NET_RECV_FAILED) return Cause::recv;
  return Cause::tls;
}

std::string TlsConn::describe(int ret, const std::string& host, const char* during) const {
  if (timed_out || ret == MBEDTLS_ERR_SSL_TIMEOUT) return std::string("timeout: ") + during;
  if (ret == MBEDTLS_ERR_NET_SEND_FAILED) return sys::describe("send", sys_errno);
  if (ret == MBEDTLS_ERR_NET_RECV_FAILED) return sys::describe("recv", sys_errno);
  if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    uint32_t f = mbedtls_ssl_get_verify_result(&ssl_);
    std::string why;
    auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
    if (f & MBEDTLS_X509_BADCERT_EXPIRED) add("certificate has expired");
    if (f & MBEDTLS_X509_BADCERT_FUTURE) add("certificate is not yet valid");
    if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH) add("certificate is not for host " + host);
    if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED) add("certificate is not trusted (unknown issuer)");
    if (why.empty()) {
      char buf[512];
      mbedtls_x509_crt_verify_info(buf, sizeof buf, "", f);
      for (char* p = buf; *p; p++) if (*p == '\n') *p = ' ';
      add(buf);
    }
    return "tls: " + host + ": certificate verify failed: " + why;
  }
  if (ret == MBEDTLS_ERR_SSL_CONN_EOF) return std::string("tls: ") + host + ": connection closed during " + during;
  char buf[160];
  mbedtls_strerror(ret, buf, sizeof buf);
  char code[16];
  snprintf(code, sizeof code, "-0x%04x", unsigned(-ret));
  return std::string("tls: ") + host + ": " + during + ": " + buf + " (" + code + ")";
}

}  // namespace fanout
