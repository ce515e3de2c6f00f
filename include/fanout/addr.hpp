// A socket address and its text: what a name resolves to and a connection
// is made to. (Apart from the resolver, so the request engine can hold
// addresses without c-ares.)
#pragma once
#include <cstdint>
#include <string>
#include <sys/socket.h>

namespace fanout {

struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string text() const;  // "127.0.0.1:80", "[::1]:80"
  std::string ip() const;    // "127.0.0.1", "::1" (curl's remote_ip)
  uint16_t port() const;
  bool v6() const { return ss.ss_family == AF_INET6; }
};
// Parses a numeric address (IPv6 with or without brackets) and a port.
bool numeric_addr(const std::string& host, uint16_t port, Addr& out);

}  // namespace fanout
