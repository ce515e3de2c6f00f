// tools/origin: one thread holds 10,000 open connections, each waiting on
// a timer, and answers all of them.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.hpp"
#include "util.hpp"

namespace {

// The head and its 3-byte body ("Content-Length: 3") have all arrived.
bool complete(const std::string& r) {
  size_t end = r.find("\r\n\r\n");
  return end != std::string::npos && r.size() >= end + 4 + 3;
}

int count_fds(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(path.c_str());
  if (!d) return -1;
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n - 2;
}

}  // namespace

TEST_CASE("origin: one thread holds 10,000 connections") {
  const int n = 10000;
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (t::kTsan) {
    t::skip("origin 10,000 connections: ThreadSanitizer keeps file descriptors of its own");
    return;
  }
  if (rl.rlim_max < rlim_t(n + 100)) {
    t::skip("origin 10,000 connections: RLIMIT_NOFILE hard limit is " + std::to_string(rl.rlim_max));
    return;
  }
  rlimit saved = rl;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  t::Origin o;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(o.http));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<pollfd> fds;
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int r = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    REQUIRE((r == 0 || errno == EINPROGRESS));
    fds.push_back({fd, POLLOUT, 0});
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  // Send one slow request on each as soon as it is connected.
  const std::string req = "GET /sleep?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n";
  int sent = 0;
  while (sent < n && std::chrono::steady_clock::now() < deadline) {
    poll(fds.data(), fds.size(), 1000);
    for (auto& p : fds) {
      if (p.events != POLLOUT || !(p.revents & POLLOUT)) continue;
      REQUIRE(send(p.fd, req.data(), req.size(), MSG_NOSIGNAL) == ssize_t(req.size()));
      p.events = POLLIN;
      p.revents = 0;
      sent++;
    }
  }
  REQUIRE(sent == n);
  // All open at once, in one process (the connections stay open after
  // their responses: keep-alive). Under a sanitizer on a busy machine the
  // accepts lag the sends by seconds: look until they have all come.
  int open_fds = 0;
  for (int i = 0; i < 100 && (open_fds = count_fds(o.pid)) < n; i++) usleep(100000);
  CHECK(open_fds >= n);
  std::vector<std::string> got(static_cast<size_t>(n));
  int done = 0;
  while (done < n && std::chrono::steady_clock::now() < deadline) {
    poll(fds.data(), fds.size(), 1000);
    for (size_t i = 0; i < fds.size(); i++) {
      if (fds[i].events != POLLIN || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[512];
      ssize_t r = recv(fds[i].fd, buf, sizeof buf, 0);
      if (r > 0) got[i].append(buf, size_t(r));
      if (r <= 0 || complete(got[i])) {
        fds[i].events = 0;
        done++;
      }
    }
  }
  int ok = 0;
  for (size_t i = 0; i < fds.size(); i++) {
    ok += got[i].rfind("HTTP/1.1 200 OK\r\n", 0) == 0 && got[i].find("Content-Length: 3\r\n") != std::string::npos &&
          complete(got[i]);
    close(fds[i].fd);
  }
  CHECK(ok == n);
  setrlimit(RLIMIT_NOFILE, &saved);
}

TEST_CASE("dns: /etc/hosts is honoured and IPv6 literals work") {
  t::Origin o;
  std::string closed = "127.0.0.1:" + std::to_string(t::free_port());
  std::string hosts;
  if (t::read_file("/etc/hosts", hosts) && hosts.find("localhost") != std::string::npos) {
    // DNS points at a closed port: only the hosts file can answer.
    t::Ran r = t::fanout({"-m", "seq", "--dns-server", closed, "-"},
                         "http://localhost:" + std::to_string(o.http) + "/status/200\n");
    CHECK(r.out.rfind("{\"200\": 1}\n", 0) == 0);
  } else {
    t::skip("/etc/hosts has no localhost");
  }
  t::Origin o6({"--listen", "::1"});
  t::Ran r = t::fanout({"-m", "seq", "-"}, "http://[::1]:" + std::to_string(o6.http) + "/status/204\n");
  CHECK(r.out.rfind("{\"204\": 1}\n", 0) == 0);
}
