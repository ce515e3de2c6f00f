#include "reactor.hpp"

#include <cerrno>

#include "sys.hpp"

namespace fanout {

Reactor::Reactor() : Reactor(Poller::create()) {}
Reactor::Reactor(std::unique_ptr<Poller> p)
    : poller_(std::move(p)), edge_(poller_->edge()), ring_(poller_->sockets()), events_(256) {}
Reactor::~Reactor() = default;

int Reactor::add(int fd) {
  if (fd < 0) return -1;
  if (size_t(fd) >= fds_.size()) fds_.resize(size_t(fd) + 1);
  Fd& s = fds_[size_t(fd)];
  uint32_t gen = s.gen;
  s = Fd{};
  s.gen = gen;
  s.watched = true;
  if (!edge_) return poller_->add(fd, 0);
  return poller_->add(fd, kReadable | kWritable | kEdge);
}

void Reactor::forget(int fd) { drop(fd, false); }

void Reactor::close(int fd) {
  drop(fd, true);
  if (!ring_ || !ring_->close(fd)) sys::close(fd);
}

void Reactor::drop(int fd, bool closing) {
  Fd* s = slot(fd);
  if (!s || !s->watched) return;
  if (s->r) enqueue(s->r, Waiter::kClosed);
  if (s->w) enqueue(s->w, Waiter::kClosed);
  if (closing) poller_->closing(fd);
  else poller_->remove(fd);
  uint32_t gen = s->gen + 1;  // waiters queued for this fd run with kClosed
  *s = Fd{};
  s->gen = gen;
}

bool Reactor::ready(int fd, bool write) const {
  if (!edge_ || fd < 0 || size_t(fd) >= fds_.size()) return false;
  const Fd& s = fds_[size_t(fd)];
  return write ? s.wr : s.rr;
}

void Reactor::drained(int fd, bool write) {
  Fd* s = slot(fd);
  if (!s) return;
  if (write) s->wr = false;
  else if (!s->eof) s->rr = false;  // after FIN the next read returns 0 at once
}

void Reactor::update_level(int fd, Fd& s) {
  if (edge_) return;
  uint32_t m = (s.r ? kReadable : 0) | (s.w ? kWritable : 0);
  if (m != s.mask) {
    poller_->modify(fd, m);
    s.mask = m;
  }
}

void Reactor::wait(Waiter* w, int fd, bool write, const Deadline* dl) {
  Fd* s = slot(fd);
  if (!s || !s->watched) {
    post(w);
    w->result = Waiter::kClosed;
    return;
  }
  if (ready(fd, write)) {
    post(w);
    return;
  }
  w->fd = fd;
  w->write = write;
  (write ? s->w : s->r) = w;
  pending_++;
  if (dl) {
    w->when = *dl;
    heap_push(w);
  }
  update_level(fd, *s);
}

void Reactor::sleep(Waiter* w, Deadline when) {
  w->fd = -1;
  w->when = when;
  pending_++;
  heap_push(w);
}

void Reactor::post(Waiter* w) {
  w->fd = -1;
  w->qfd = -1;
  w->result = Waiter::kReady;
  w->queued = true;
  pending_++;
  ready_.push_back(w);
}

void Reactor::cancel(Waiter* w) {
  bool was = false;
  if (w->heap != SIZE_MAX) { heap_erase(w); was = true; }
  if (w->fd >= 0) {
    Fd* s = slot(w->fd);
    if (s && (w->write ? s->w : s->r) == w) {
      (w->write ? s->w : s->r) = nullptr;
      update_level(w->fd, *s);
      was = true;
    }
    w->fd = -1;
  }
  if (was) pending_--;
}

// Takes w off its fd and the heap and puts it on the ready queue.
void Reactor::enqueue(Waiter* w, int result) {
  if (w->heap != SIZE_MAX) heap_erase(w);
  w->qfd = w->fd;
  if (w->fd >= 0) {
    Fd* s = slot(w->fd);
    w->qgen = s ? s->gen : 0;
    if (s && (w->write ? s->w : s->r) == w) {
      (w->write ? s->w : s->r) = nullptr;
      update_level(w->fd, *s);
    }
    w->fd = -1;
  }
  w->result = result;
  w->queued = true;
  ready_.push_back(w);
}

bool Reactor::run_once(int max_ms) {
  if (pending_ == 0) return false;
  turns_++;
  int64_t timeout = max_ms < 0 ? -1 : int64_t(max_ms) * 1000;
  if (!ready_.empty()) {
    timeout = 0;
  } else if (!heap_.empty()) {
    auto left = std::chrono::ceil<std::chrono::microseconds>(heap_[0]->when - Clock::now()).count();
    int64_t t = left < 0 ? 0 : left;
    timeout = timeout < 0 ? t : std::min(timeout, t);
  }
  int n = poller_->wait(events_.data(), int(events_.size()), timeout);
  for (int i = 0; i < n; i++) {
    Fd* s = slot(events_[size_t(i)].fd);
    if (!s || !s->watched) continue;
    uint32_t e = events_[size_t(i)].events;
    if (e & kPeerClosed) s->eof = true;
    if (e & (kReadable | kHangup)) {
      s->rr = true;
      if (s->r) enqueue(s->r, Waiter::kReady);
    }
    if (e & (kWritable | kHangup)) {
      s->wr = true;
      if (s->w) enqueue(s->w, Waiter::kReady);
    }
  }
  if (!heap_.empty()) {
    auto now = Clock::now();
    while (!heap_.empty() && heap_[0]->when <= now) enqueue(heap_[0], Waiter::kTimedOut);
  }
  // Run what is due. Waiters queued while running wait for the next turn,
  // so a busy coroutine cannot starve the poller.
  running_.swap(ready_);
  for (Waiter* w : running_) {
    w->queued = false;
    if (w->qfd >= 0 && fds_[size_t(w->qfd)].gen != w->qgen) w->result = Waiter::kClosed;
    pending_--;
    w->fn(w);
  }
  running_.clear();
  return pending_ > 0;
}

void Reactor::heap_push(Waiter* w) {
  w->heap = heap_.size();
  heap_.push_back(w);
  heap_up(w->heap);
}

void Reactor::heap_erase(Waiter* w) {
  size_t i = w->heap;
  Waiter* last = heap_.back();
  heap_.pop_back();
  w->heap = SIZE_MAX;
  if (i == heap_.size()) return;
  heap_[i] = last;
  last->heap = i;
  heap_up(i);
  heap_down(last->heap);
}

void Reactor::heap_up(size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (heap_[p]->when <= heap_[i]->when) break;
    std::swap(heap_[p], heap_[i]);
    heap_[p]->heap = p;
    heap_[i]->heap = i;
    i = p;
  }
}

void Reactor::heap_down(size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_.size() && heap_[l]->when < heap_[m]->when) m = l;
    if (r < heap_.size() && heap_[r]->when < heap_[m]->when) m = r;
    if (m == i) return;
    std::swap(heap_[m], heap_[i]);
    heap_[m]->heap = m;
    heap_[i]->heap = i;
    i = m;
  }
}

}  // namespace fanout
