// kqueue (BSD, macOS). It cannot run on the Linux machines this project is
// built and tested on; it is written to the same interface and compiled
// wherever <sys/event.h> exists. EV_CLEAR gives the edge semantics kEdge asks for.
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || defined(__DragonFly__)
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include "poller.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

class Kqueue : public Poller {
 public:
  Kqueue() : kq_(kqueue()) {}
  ~Kqueue() override { if (kq_ >= 0) ::close(kq_); }
  const char* name() const override { return "kqueue"; }
  bool edge() const override { return true; }
  int add(int fd, uint32_t m) override { return set(fd, m, true); }
  int modify(int fd, uint32_t m) override { return set(fd, m, false); }
  int remove(int fd) override {
    struct kevent ch[2];
    EV_SET(&ch[0], fd, EVFILT_READ, EV_DELETE, 0, 0, nullptr);
    EV_SET(&ch[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
    sys::count(sys::KEVENT);
    kevent(kq_, ch, 2, nullptr, 0, nullptr);  // a filter never added is ENOENT: fine
    return 0;
  }
  void closing(int) override {}  // close(2) deletes its filters
  int wait(PollEvent* out, int max, int64_t timeout_us) override {
    struct kevent evs[256];
    timespec ts{time_t(timeout_us / 1000000), long(timeout_us % 1000000) * 1000};
    sys::count(sys::KEVENT);
    int n = kevent(kq_, nullptr, 0, evs, max < 256 ? max : 256, timeout_us < 0 ? nullptr : &ts);
    for (int i = 0; i < n; i++) {
      uint32_t e = evs[i].filter == EVFILT_READ ? kReadable : kWritable;
      if (evs[i].flags & EV_ERROR) e |= kHangup;
      if (evs[i].flags & EV_EOF) e |= evs[i].filter == EVFILT_READ ? kPeerClosed : kHangup;
      out[i] = {int(evs[i].ident), e};
    }
    return n;  // a fd ready both ways comes twice; the reactor handles that
  }

 private:
  int set(int fd, uint32_t m, bool) {
    struct kevent ch[2];
    unsigned short clear = m & kEdge ? EV_CLEAR : 0;
    EV_SET(&ch[0], fd, EVFILT_READ, (m & kReadable ? EV_ADD | EV_ENABLE : EV_ADD | EV_DISABLE) | clear, 0, 0, nullptr);
    EV_SET(&ch[1], fd, EVFILT_WRITE, (m & kWritable ? EV_ADD | EV_ENABLE : EV_ADD | EV_DISABLE) | clear, 0, 0, nullptr);
    sys::count(sys::KEVENT);
    return kevent(kq_, ch, 2, nullptr, 0, nullptr);
  }
  int kq_;
};

}  // namespace

std::unique_ptr<Poller> make_kqueue_poller() { return std::make_unique<Kqueue>(); }

}  // namespace fanout
#endif
