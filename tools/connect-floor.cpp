// connect-floor: how long this machine's kernel takes to open N loopback
// TCP connections and send one small request on each, with nothing else
// going on: the least any client can spend before its N-th request is out.
// make bench uses it to tell a slow model from a slow kernel.
//   connect-floor ADDR PORT N      prints seconds
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: connect-floor ADDR PORT N\n");
    return 2;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || (ntohl(a.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "connect-floor: %s is not a loopback address\n", argv[1]);
    return 2;
  }
  int n = atoi(argv[3]);
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  const char req[] = "GET /?floor HTTP/1.1\r\nHost: floor\r\n\r\n";
  std::vector<int> fds;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 && errno != EINPROGRESS)) {
      perror("connect-floor");
      return 1;
    }
    send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
    fds.push_back(fd);
  }
  printf("%.3f\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}
