#if defined(__linux__)
#include <cerrno>
#include <sys/epoll.h>
#include <unistd.h>

#include "poller.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

uint32_t to_epoll(uint32_t m) {
  return (m & kReadable ? uint32_t(EPOLLIN | EPOLLRDHUP) : 0u) | (m & kWritable ? uint32_t(EPOLLOUT) : 0u) |
         (m & kEdge ? uint32_t(EPOLLET) : 0u);
}

class Epoll : public Poller {
 public:
  Epoll() : ep_((sys::count(sys::EPOLL_CREATE), epoll_create1(EPOLL_CLOEXEC))) {}
  ~Epoll() override { if (ep_ >= 0) sys::close(ep_); }
  const char* name() const override { return "epoll"; }
  bool edge() const override { return true; }
  int add(int fd, uint32_t m) override { return ctl(EPOLL_CTL_ADD, fd, m); }
  int modify(int fd, uint32_t m) override { return ctl(EPOLL_CTL_MOD, fd, m); }
  int remove(int fd) override { return ctl(EPOLL_CTL_DEL, fd, 0); }
  void closing(int) override {}  // close(2) takes it out of the set
  int wait(PollEvent* out, int max, int64_t timeout_us) override {
    epoll_event evs[256];
    int cap = max < 256 ? max : 256, n = -1;
    // epoll_pwait2 (Linux 5.11) takes a timespec: timers fire on time
    // instead of up to a millisecond late. Older kernels: epoll_wait.
    if (pwait2_) {
      timespec ts{time_t(timeout_us / 1000000), long(timeout_us % 1000000) * 1000};
      sys::count(sys::EPOLL_PWAIT2);
      n = epoll_pwait2(ep_, evs, cap, timeout_us < 0 ? nullptr : &ts, nullptr);
      if (n < 0 && errno == ENOSYS) pwait2_ = false;
    }
    if (!pwait2_) {
      sys::count(sys::EPOLL_WAIT);
      n = epoll_wait(ep_, evs, cap, ceil_ms(timeout_us));
    }
    for (int i = 0; i < n; i++) {
      uint32_t e = evs[i].events;
      out[i] = {evs[i].data.fd, (e & (EPOLLIN | EPOLLRDHUP) ? kReadable : 0) | (e & EPOLLOUT ? kWritable : 0) |
                                    (e & (EPOLLERR | EPOLLHUP) ? kHangup : 0) | (e & EPOLLRDHUP ? kPeerClosed : 0)};
    }
    return n;
  }

 private:
  int ctl(int op, int fd, uint32_t m) {
    epoll_event ev{};
    ev.events = to_epoll(m);
    ev.data.fd = fd;
    sys::count(sys::EPOLL_CTL);
    return epoll_ctl(ep_, op, fd, &ev);
  }
  int ep_;
  bool pwait2_ = true;
};

}  // namespace

std::unique_ptr<Poller> make_epoll_poller() { return std::make_unique<Epoll>(); }

}  // namespace fanout
#endif
