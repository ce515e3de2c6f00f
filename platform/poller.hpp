// One small poller interface; one file per mechanism (epoll.cpp, poll.cpp).
// The backend follows the target compiler's macros (__linux__ -> epoll), so
// cross builds pick the right one; `make BACKEND=poll` overrides it.
// With kEdge a backend that can (epoll: EPOLLET, kqueue: EV_CLEAR) reports
// each change of readiness once; poll() is always level-triggered.
#pragma once
#include <cstdint>
#include <memory>

namespace fanout {
// Milliseconds for APIs that take them: rounded up, so never early.
inline int ceil_ms(int64_t us) { return us < 0 ? -1 : us > (int64_t(1) << 40) ? 1 << 30 : int((us + 999) / 1000); }
}

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
  static const char* backend();  // what create() makes: "epoll", "kqueue" or "poll"
  virtual ~Poller() = default;
  virtual const char* name() const = 0;
  virtual bool edge() const = 0;  // does kEdge mean edge-triggered here?
  virtual int add(int fd, uint32_t mask) = 0;     // 0 or -1/errno
  virtual int modify(int fd, uint32_t mask) = 0;
  virtual int remove(int fd) = 0;
  // fd is about to be closed. epoll and kqueue drop a closed fd themselves,
  // so they spend no syscall on it; poll() must forget it.
  virtual void closing(int fd) { remove(fd); }
  // Up to max ready fds; timeout_us -1 waits forever. -1/errno on error.
  virtual int wait(PollEvent* out, int max, int64_t timeout_us) = 0;
};

std::unique_ptr<Poller> make_epoll_poller();
std::unique_ptr<Poller> make_poll_poller();
std::unique_ptr<Poller> make_kqueue_poller();

}  // namespace fanout
