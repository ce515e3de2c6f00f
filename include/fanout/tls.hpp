// TLS with mbedTLS. The CA chain is loaded once per process and then only
// read, so threads share it and forked workers inherit it. A TlsClient (the
// ssl_config, its DRBG and the session cache) belongs to one worker: a
// thread pool shares one, because its pooled connections move between
// threads and must never point at a finished thread's state. mbedTLS
// reaches the socket only through our BIO, so its syscalls are counted.
#pragma once
#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>

#include "fanout/core.hpp"

namespace fanout {

// Loads --cacert, or the system bundle; a no-op with -k. Thread-safe, once.
bool tls_load_ca(const Config& cfg, std::string& err);

class TlsConn;

class TlsClient {
 public:
  explicit TlsClient(const Config& cfg) : reuse_(cfg.session_reuse) {}
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  bool init(const Config& cfg, std::string& err);  // on first use; thread-safe

  // Session resumption, one cached session per host:port. Connections
  // opened at once to a new host cannot resume a session nobody has yet:
  // the first does the full handshake (turn() says first), the others are
  // told to wait until it is done (first_done()).
  enum Turn { go, first, wait };
  Turn turn(const std::string& key);
  void first_done(const std::string& key, bool ok);
  // After a handshake that succeeded: keeps a new session, counts a resumed one.
  void finished(TlsConn& c, const std::string& key);

  // The server's chain, checked against the CAs and the host name. A chain
  // this worker has already found good for this host is not checked again
  // (two ECDSA verifications in the full handshake's 4 ms are one; the
  // server's signature over the key exchange is still checked every time).
  // 0, or the failure flags mbedtls_x509_crt_verify() gives.
  uint32_t verify(const mbedtls_x509_crt* chain, const std::string& host);

  mbedtls_ssl_config conf;
  std::atomic<uint64_t> handshakes{0}, resumed{0};

 private:
  friend class TlsConn;
  struct Session {
    mbedtls_ssl_session s;
    enum { none, first, have, open } state = none;  // open: nobody waits
    Session() { mbedtls_ssl_session_init(&s); }
    ~Session() { mbedtls_ssl_session_free(&s); }
  };
  std::mutex mu_;  // threads share one client
  const bool reuse_;
  bool ready_ = false;
  std::string err_;
  std::map<std::string, Session> sessions_;
  std::map<std::string, Clock::time_point> good_chains_;  // SHA-256 of host and chain: when checked
  bool verify_ = false;
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

// One TLS session on a connected non-blocking socket.
class TlsConn {
 public:
  TlsConn();
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;
  // Ready to handshake; resumes key's cached session if there is one.
  int setup(TlsClient& c, const std::string& host, const std::string& key);
  int setup_server(const mbedtls_ssl_config* conf) { return mbedtls_ssl_setup(&ssl_, conf); }
  void close_notify() { mbedtls_ssl_close_notify(&ssl_); }
  // Where the bytes go: our BIO, with the connection as its context.
  void set_bio(void* ctx, mbedtls_ssl_send_t* send, mbedtls_ssl_recv_t* recv) {
    mbedtls_ssl_set_bio(&ssl_, ctx, send, recv, nullptr);
  }
  int handshake();  // 0, WANT_READ/WANT_WRITE, or an error
  // After the handshake: true if the server chose HTTP/2 (ALPN "h2").
  bool h2() const;
  int read(char* p, size_t n) { return mbedtls_ssl_read(&ssl_, reinterpret_cast<unsigned char*>(p), n); }
  int write(const char* p, size_t n) { return mbedtls_ssl_write(&ssl_, reinterpret_cast<const unsigned char*>(p), n); }
  // Plaintext already decrypted, or a record already read: no need to wait.
  bool pending() { return mbedtls_ssl_get_bytes_avail(&ssl_) > 0 || mbedtls_ssl_check_pending(&ssl_); }
  // What a failed call's return value means, for the user.
  Cause cause(int ret) const;
  std::string describe(int ret, const std::string& host, const char* during) const;

  int sys_errno = 0;        // errno of a failed send/recv in the BIO
  bool resumed = false;     // the server took our session: no public-key work
  uint32_t verify_flags = 0;  // why the server's chain was refused
  const char* untrusted = nullptr;  // with BADCERT_NOT_TRUSTED: in what way

 private:
  friend class TlsClient;
  mbedtls_ssl_context ssl_;
  TlsClient* client_ = nullptr;
  std::string host_;
};

}  // namespace fanout
