// The portable baseline: poll() over every registered fd each time. O(n)
// per wait, which is the point when comparing it with epoll under strace.
#include <poll.h>
#include <vector>

#include "poller.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

class Poll : public Poller {
 public:
  const char* name() const override { return "poll"; }
  bool edge() const override { return false; }
  int add(int fd, uint32_t m) override {
    if (fd >= int(index_.size())) index_.resize(size_t(fd) + 1, -1);
    if (index_[size_t(fd)] >= 0) return -1;
    index_[size_t(fd)] = int(fds_.size());
    fds_.push_back({fd, events(m), 0});
    return 0;
  }
  int modify(int fd, uint32_t m) override {
    if (fd >= int(index_.size()) || index_[size_t(fd)] < 0) return -1;
    fds_[size_t(index_[size_t(fd)])].events = events(m);
    return 0;
  }
  int remove(int fd) override {
    if (fd >= int(index_.size()) || index_[size_t(fd)] < 0) return -1;
    size_t i = size_t(index_[size_t(fd)]);
    fds_[i] = fds_.back();  // swap the last one into the hole
    index_[size_t(fds_[i].fd)] = int(i);
    fds_.pop_back();
    index_[size_t(fd)] = -1;
    return 0;
  }
  int wait(PollEvent* out, int max, int64_t timeout_us) override {
    int n = sys::poll(fds_.data(), fds_.size(), ceil_ms(timeout_us));
    if (n <= 0) return n;
    int k = 0;
    for (auto& p : fds_) {
      if (!p.revents) continue;
      if (k == max) break;
      out[k++] = {p.fd, (p.revents & POLLIN ? kReadable : 0) | (p.revents & POLLOUT ? kWritable : 0) |
                            (p.revents & (POLLERR | POLLHUP | POLLNVAL) ? kHangup : 0)};
    }
    return k;
  }

 private:
  static short events(uint32_t m) { return short((m & kReadable ? POLLIN : 0) | (m & kWritable ? POLLOUT : 0)); }
  std::vector<pollfd> fds_;
  std::vector<int> index_;  // fd -> position in fds_, or -1
};

}  // namespace

std::unique_ptr<Poller> make_poll_poller() { return std::make_unique<Poll>(); }

#if defined(FANOUT_BACKEND_POLL)
#define BACKEND poll
#elif defined(__linux__)
#define BACKEND epoll
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || defined(__DragonFly__)
#define BACKEND kqueue
#else
#define BACKEND poll
#endif
#define MAKE(b) make_##b##_poller
#define MAKE_OF(b) MAKE(b)
#define NAME(b) #b
#define NAME_OF(b) NAME(b)

std::unique_ptr<Poller> Poller::create() { return MAKE_OF(BACKEND)(); }
const char* Poller::backend() { return NAME_OF(BACKEND); }

}  // namespace fanout
