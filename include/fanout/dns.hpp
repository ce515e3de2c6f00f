// Name resolution with c-ares, one channel per worker (a channel is not
// thread-safe). Numeric hosts and --resolve entries never reach c-ares;
// names go through /etc/hosts first, then DNS (c-ares' default "fb" order).
#pragma once
#include <string>
#include <sys/socket.h>
#include <vector>

#include "fanout/core.hpp"

struct ares_channeldata;

namespace fanout {

struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string text() const;  // "127.0.0.1:80", "[::1]:80"
};
// Parses a numeric address (IPv6 with or without brackets) and a port.
bool numeric_addr(const std::string& host, uint16_t port, Addr& out);

class Resolver {
 public:
  explicit Resolver(const Config& cfg) : cfg_(cfg) {}
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Blocks (in poll) until the answer or the deadline. On failure fills r.
  bool resolve(const Url& url, Deadline dl, std::vector<Addr>& out, Result& r);
  uint64_t queries() const { return queries_; }

 private:
  bool init(std::string& err);
  static void sock_state(void* data, int fd, int readable, int writable);

  const Config& cfg_;
  ares_channeldata* ch_ = nullptr;
  struct Sock { int fd; bool r, w; };
  std::vector<Sock> socks_;
  uint64_t queries_ = 0;
};

}  // namespace fanout
