#include "fanout/pool.hpp"

#include <algorithm>
#include <sys/resource.h>

#include "fanout/coro.hpp"
#include "fanout/h2_link.hpp"
#include "sys.hpp"

namespace fanout {


namespace {

// Bytes or a FIN that came while c sat idle: the server is done with it.
// A loop's reactor knows when the last read emptied the socket; when it
// cannot tell (a TLS record read to its exact end), or off a loop, one
// poll asks, as curl does before it reuses a connection.
bool quiet(Conn& c) {
  if (c.ring) return !c.ring->has_input(c.fd);  // (what came is in the ring, not the socket)
  if (c.reactor && !c.reactor->ready(c.fd, false)) return true;
  pollfd p{c.fd, POLLIN, 0};
  if (sys::poll(&p, 1, 0) != 0) return false;
  if (c.reactor) c.reactor->drained(c.fd, false);
  return true;
}

}  // namespace

size_t idle_cap(size_t slots, int fds_per_slot) {
  rlimit rl;
  long files = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? long(std::min<rlim_t>(rl.rlim_cur, 1 << 20)) : 1024;
  long room = files - kFdReserve - long(slots) * fds_per_slot;
  return size_t(std::clamp<long>(room, 0, 4 * long(slots)));
}

void IdleOrder::kept(const std::string& key, Conn& c) {
  c.idle_mark = ++marks_;
  order_.push_back({key, &c, c.idle_mark});
  idle_++;
}

std::unique_ptr<Conn> HostConns::take_idle(PoolStats& st) {
  while (!idle.empty()) {
    std::unique_ptr<Conn> c = std::move(idle.back());
    idle.pop_back();
    if (quiet(*c)) {
      c->reused = true;
      st.reused++;
      return c;
    }
    open--;
  }
  return nullptr;
}

std::unique_ptr<Conn> HostConns::put_back(std::unique_ptr<Conn> c, bool keep, PoolStats& st) {
  if (c && c->fd >= 0 && !c->reused) st.opened += 1, st.h2_opened += c->h2 != nullptr;
  if (c && c->h2) {
    st.streams += c->h2->opened - c->h2->counted;
    c->h2->counted = c->h2->opened;
    st.most_streams = std::max<uint64_t>(st.most_streams, c->h2->most);
  }
  if (keep && c && c->fd >= 0) {
    idle.push_back(std::move(c));
    return nullptr;
  }
  open--;
  return c;
}

bool Pool::acquire(const std::string& key, bool fresh, Deadline dl, std::unique_ptr<Conn>& out) {
  std::unique_ptr<Conn> drop;  // closed as it goes, outside the lock
  std::lock_guard<sys::Lock> lock(mu_);
  Host& h = hosts_[key];
  for (;;) {
    size_t idle = h.idle.size();
    if (!fresh) out = h.take_idle(stats_);
    order_.dropped(idle - h.idle.size());
    if (out) return true;
    if (per_host_ <= 0 || h.open < per_host_) {
      h.open++;
      out = std::make_unique<Conn>();
      return true;
    }
    if (fresh && !h.idle.empty()) {  // make room: drop an idle one for a new one
      drop = std::move(h.idle.back());
      h.idle.pop_back();
      order_.dropped(1);
      out = std::make_unique<Conn>();
      return true;  // drop's slot becomes ours
    }
    h.waiters++;
    waiting_++;
    bool timeout = !cv_.wait(mu_, dl == Deadline::max() ? -1 : std::chrono::duration_cast<std::chrono::nanoseconds>(dl.time_since_epoch()).count());
    waiting_--;
    h.waiters--;
    if (timeout) {
      forget_if_unused(key);
      return false;
    }
  }
}

void Pool::release(const std::string& key, std::unique_ptr<Conn> c, bool keep) {
  std::vector<std::unique_ptr<Conn>> drop;  // closed outside the lock
  bool elsewhere = false, waiting = false;
  {
    std::lock_guard<sys::Lock> lock(mu_);
    waiting = waiting_ > 0;
    Host& h = hosts_[key];
    bool kept = keep && c && c->fd >= 0;  // what put_back keeps idle
    drop.push_back(h.put_back(std::move(c), keep, stats_));
    if (kept) order_.kept(key, *h.idle.back());
    std::string from;
    while (auto old = order_.over(hosts_, &from)) {  // over the cap: the one idle longest goes
      drop.push_back(std::move(old));
      elsewhere |= from != key;
      forget_if_unused(from);
    }
    forget_if_unused(key);
  }
  if (!waiting) return;
  if (elsewhere) cv_.notify_all();  // room at another host too
  else cv_.notify_one();
}

void Pool::forget_if_unused(const std::string& key) {
  auto it = hosts_.find(key);
  if (it != hosts_.end() && it->second.unused()) hosts_.erase(it);
}

PoolStats Pool::stats() {
  std::lock_guard<sys::Lock> lock(mu_);
  return stats_;
}

bool LoopPool::try_take(const std::string& key, bool fresh, bool h2, std::unique_ptr<Conn>& out, Conn*& lent) {
  Host& h = hosts_[key];
  h2 = h2 && !h.h1;
  if (h2) {
    for (auto& c : h.shared)
      if (c->h2->room(max_streams_)) {
        lent = c.get();
        stats_.reused++;
        return true;
      }
    if (h.probing) return false;  // the probe will tell: wait for it
  }
  size_t idle = h.idle.size();
  if (!fresh) out = h.take_idle(stats_);
  if (fresh && per_host_ > 0 && h.open >= per_host_ && !h.idle.empty()) {
    h.idle.pop_back();  // make room for the new one
    h.open--;
  }
  order_.dropped(idle - h.idle.size());
  if (out) return true;
  if (per_host_ <= 0 || h.open < per_host_) {
    h.open++;
    out = std::make_unique<Conn>();
    out->reactor = &r_;
    out->ring = r_.ring();
    out->probe = h.probing = h2;
    return true;
  }
  return false;
}

Conn* LoopPool::share(const std::string& key, std::unique_ptr<Conn> c) {
  Host& h = hosts_[key];
  probed(h, *c);
  h.shared.push_back(std::move(c));
  wake(h, true);
  return h.shared.back().get();
}

void LoopPool::settled_h1(const std::string& key, Conn& c) {
  Host& h = hosts_[key];
  h.h1 = true;
  probed(h, c);
}

void LoopPool::probed(Host& h, Conn& c) {
  if (!c.probe) return;
  c.probe = h.probing = false;
  wake(h, true);
}

void LoopPool::stream_done(const std::string& key) { wake(hosts_[key]); }

void LoopPool::retire(const std::string& key, Conn* c, bool keep) {
  Host& h = hosts_[key];
  for (auto& s : h.shared)
    if (s.get() == c) {
      std::unique_ptr<Conn> own = std::move(s);
      s = std::move(h.shared.back());
      h.shared.pop_back();
      return release(key, std::move(own), keep);
    }
}

void LoopPool::Acquire::await_suspend(std::coroutine_handle<> h) {
  suspended = true;
  w.fn = resume_waiter;
  w.ctx = h.address();
  pool.hosts_[key].waiting.push_back(&w);
  pool.r_.sleep(&w, dl);
}

int LoopPool::Acquire::await_resume() {
  if (!suspended) return kGot;  // await_ready took it
  auto& q = pool.hosts_[key].waiting;
  if (w.result == Waiter::kTimedOut) {
    for (auto it = q.begin(); it != q.end(); ++it)
      if (*it == &w) { q.erase(it); break; }
    pool.forget_if_unused(key);
    return kTimeout;
  }
  return pool.try_take(key, fresh, h2, out, lent) ? kGot : kAgain;
}

void LoopPool::release(const std::string& key, std::unique_ptr<Conn> c, bool keep) {
  Host& h = hosts_[key];
  if (c) probed(h, *c);  // it failed before it could tell
  bool kept = keep && c && c->fd >= 0;
  h.put_back(std::move(c), keep, stats_);  // what it returns closes here
  if (kept) order_.kept(key, *h.idle.back());
  wake(h);
  std::string from;
  while (auto old = order_.over(hosts_, &from)) {  // over the cap: the one idle longest closes
    old.reset();
    wake(hosts_[from]);
    forget_if_unused(from);
  }
  forget_if_unused(key);
}

void LoopPool::wake(Host& h, bool all) {
  while (!h.waiting.empty()) {
    Waiter* w = h.waiting.front();
    h.waiting.pop_front();
    if (!r_.wake(w)) continue;  // it timed out, and goes anyway: the next
    if (!all) return;
  }
}

void LoopPool::forget_if_unused(const std::string& key) {
  auto it = hosts_.find(key);
  if (it != hosts_.end() && it->second.unused() && it->second.waiting.empty()) hosts_.erase(it);
}

}  // namespace fanout
