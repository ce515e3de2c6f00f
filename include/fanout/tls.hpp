// TLS with mbedTLS. The CA chain is loaded once per process and then only
// read, so threads share it and forked workers inherit it. Each worker owns
// its DRBG and its ssl_config (STYLE 8). mbedTLS reaches the socket only
// through our BIO callbacks, so its syscalls are counted like ours.
#pragma once
#include <string>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>

#include "fanout/core.hpp"

namespace fanout {

// Loads --cacert, or the system bundle; a no-op with -k. Thread-safe, once.
bool tls_load_ca(const Config& cfg, std::string& err);

class TlsClient {
 public:
  TlsClient() = default;
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;
  bool init(const Config& cfg, std::string& err);  // on first use
  bool ready() const { return ready_; }
  mbedtls_ssl_config conf;
  uint64_t handshakes = 0;

 private:
  bool ready_ = false;
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

// One TLS session on a connected socket. With a deadline the socket is
// blocking and the BIO waits in poll() until then (seq, threads, procs).
class TlsConn {
 public:
  TlsConn();
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;
  int setup(TlsClient& c, int fd, const std::string& host, const Deadline* dl);
  int handshake() { return mbedtls_ssl_handshake(&ssl_); }
  int read(char* p, size_t n) { return mbedtls_ssl_read(&ssl_, reinterpret_cast<unsigned char*>(p), n); }
  int write(const char* p, size_t n) { return mbedtls_ssl_write(&ssl_, reinterpret_cast<const unsigned char*>(p), n); }
  // What a failed call's return value means, for the user.
  Cause cause(int ret) const;
  std::string describe(int ret, const std::string& host, const char* during) const;

  int fd = -1;
  const Deadline* dl = nullptr;
  int sys_errno = 0;       // errno of a failed send/recv in the BIO
  bool timed_out = false;  // the BIO's poll() ran out of time

 private:
  mbedtls_ssl_context ssl_;
};

}  // namespace fanout
