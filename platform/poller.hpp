// One small poller interface; one file per mechanism (epoll.cpp, poll.cpp).
// The backend follows the target compiler's macros (__linux__ -> epoll), so
// cross builds pick the right one; `make BACKEND=poll` overrides it.
// With kEdge a backend that can (epoll: EPOLLET, kqueue: EV_CLEAR) reports
// each change of readiness once; poll() is always level-triggered.
#pragma once
#include <cstdint>
#include <memory>

namespace fanout {

// kPeerClosed: the peer sent FIN (EPOLLRDHUP, EV_EOF): reads return 0 from now on.
constexpr uint32_t kReadable = 1, kWritable = 2, kHangup = 4, kEdge = 8, kPeerClosed = 16;

struct PollEvent {
  int fd;
  uint32_t events;  // kReadable | kWritable | kHangup
};

class Poller {
 public:
  static std::unique_ptr<Poller> create();
  virtual ~Poller() = default;
  virtual const char* name() const = 0;
  virtual bool edge() const = 0;  // does kEdge mean edge-triggered here?
  virtual int add(int fd, uint32_t mask) = 0;     // 0 or -1/errno
  virtual int modify(int fd, uint32_t mask) = 0;
  virtual int remove(int fd) = 0;
  // Up to max ready fds; timeout_ms -1 waits forever. -1/errno on error.
  virtual int wait(PollEvent* out, int max, int timeout_ms) = 0;
};

std::unique_ptr<Poller> make_epoll_poller();
std::unique_ptr<Poller> make_poll_poller();
std::unique_ptr<Poller> make_kqueue_poller();

}  // namespace fanout
