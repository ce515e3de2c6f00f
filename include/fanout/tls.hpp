// TLS with mbedTLS. The CA chain is loaded once per process and then only
// read, so threads share it and forked workers inherit it. A TlsClient (the
// ssl_config, its DRBG and the session cache) belongs to one worker: a
// thread pool shares one, because its pooled connections move between
// threads and must never point at a finished thread's state. A TlsConn is
// TLS as bytes (STYLE 13): mbedTLS reads the peer's ciphertext from one
// buffer and writes its own into another, and never sees a socket; the
// transport (transport.cpp) moves the ciphertext with its own calls, so a
// driver that reads into buffers by completion (io_uring) can feed it too.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "sys.hpp"
#include <string>
#include <string_view>

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
  // On first use; thread-safe. false: err says why, and code is curl's
  // exit code for it (77 the CA certificates, 35 the rest).
  bool init(const Config& cfg, std::string& err, int& code);

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
  sys::Lock mu_;  // threads share one client
  const bool reuse_;
  bool ready_ = false;
  std::string err_;
  int err_code_ = 35;
  std::map<std::string, Session> sessions_;
  std::map<std::string, Clock::time_point> good_chains_;  // SHA-256 of host and chain: when checked
  bool verify_ = false;
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

// Bytes waiting in one heap block, which grows as needed and is freed when
// the last byte is taken: an idle connection holds none.
class ByteQueue {
 public:
  size_t size() const { return tail_ - head_; }
  const char* data() const { return p_.get() + head_; }
  char* space(size_t n);  // room for n more bytes after the last
  void added(size_t n) { tail_ += n; }
  void take(size_t n);

 private:
  std::unique_ptr<char[]> p_;
  size_t cap_ = 0, head_ = 0, tail_ = 0;
};

// One TLS session, bytes in and bytes out.
class TlsConn {
 public:
  TlsConn();
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;
  // Ready to handshake; resumes key's cached session if there is one.
  int setup(TlsClient& c, const std::string& host, const std::string& key);
  int setup_server(const mbedtls_ssl_config* conf);
  void close_notify() { mbedtls_ssl_close_notify(&ssl_); }

  // The peer's ciphertext: room for it, then how much came (0: the peer
  // closed the connection, and mbedTLS is told so once the rest is read).
  char* recv_space(size_t n) { return in_.space(n); }
  void received(size_t n) {
    in_.added(n);
    eof_ = n == 0;
  }
  // Ciphertext for the peer, and how much of it went.
  std::string_view unsent() const { return {out_.data(), out_.size()}; }
  void sent(size_t n) { out_.take(n); }

  // mbedTLS' calls: 0 or a byte count, WANT_READ (it needs what the peer
  // has not sent yet), or an error. They never wait to write: their
  // records wait in unsent().
  int handshake();
  // After the handshake: true if the server chose HTTP/2 (ALPN "h2").
  bool h2() const;
  int read(char* p, size_t n) { return mbedtls_ssl_read(&ssl_, reinterpret_cast<unsigned char*>(p), n); }
  int write(const char* p, size_t n) { return mbedtls_ssl_write(&ssl_, reinterpret_cast<const unsigned char*>(p), n); }
  // Plaintext already decrypted, or ciphertext already received: no need
  // to wait for the peer.
  bool pending() { return in_.size() > 0 || mbedtls_ssl_get_bytes_avail(&ssl_) > 0 || mbedtls_ssl_check_pending(&ssl_); }
  // What a failed call's return value means, for the user.
  std::string describe(int ret, const std::string& host, const char* during) const;

  size_t owed = 0;          // plaintext write() took whose records have not all gone
  bool resumed = false;     // the server took our session: no public-key work
  uint32_t verify_flags = 0;  // why the server's chain was refused
  const char* untrusted = nullptr;  // with BADCERT_NOT_TRUSTED: in what way

 private:
  friend class TlsClient;
  mbedtls_ssl_context ssl_;
  TlsClient* client_ = nullptr;
  std::string host_;
  ByteQueue in_, out_;
  bool eof_ = false;
  static int bio_send(void* self, const unsigned char* p, size_t n);
  static int bio_recv(void* self, unsigned char* p, size_t n);
};

}  // namespace fanout
