#include "fanout/pool.hpp"

#include "fanout/coro.hpp"
#include "sys.hpp"

namespace fanout {

std::string pool_key(const Url& u) {
  std::string host = u.kind == Url::HostKind::ipv6 ? "[" + u.host + "]" : u.host;
  return (u.https ? "https://" : "http://") + host + ":" + std::to_string(u.port);
}

namespace {

// Bytes or a FIN that came while c sat idle: the server is done with it.
// A loop's reactor knows when the last read emptied the socket; when it
// cannot tell (a TLS record read to its exact end), or off a loop, one
// poll asks, as curl does before it reuses a connection.
bool quiet(Conn& c) {
  if (c.reactor && !c.reactor->ready(c.fd, false)) return true;
  pollfd p{c.fd, POLLIN, 0};
  if (sys::poll(&p, 1, 0) != 0) return false;
  if (c.reactor) c.reactor->drained(c.fd, false);
  return true;
}

}  // namespace

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
  if (c && c->fd >= 0 && !c->reused) st.opened++;
  if (keep && c && c->fd >= 0) {
    idle.push_back(std::move(c));
    return nullptr;
  }
  open--;
  return c;
}

bool Pool::acquire(const std::string& key, bool fresh, Deadline dl, std::unique_ptr<Conn>& out) {
  std::unique_lock<std::mutex> lock(mu_);
  Host& h = hosts_[key];
  for (;;) {
    if (!fresh && (out = h.take_idle(stats_))) return true;
    if (per_host_ <= 0 || h.open < per_host_) {
      h.open++;
      out = std::make_unique<Conn>();
      return true;
    }
    if (fresh && !h.idle.empty()) {  // make room: drop an idle one for a new one
      std::unique_ptr<Conn> drop = std::move(h.idle.back());
      h.idle.pop_back();
      out = std::make_unique<Conn>();
      return true;  // drop's slot becomes ours; it closes as it goes
    }
    if (cv_.wait_until(lock, dl) == std::cv_status::timeout) return false;
  }
}

void Pool::release(const std::string& key, std::unique_ptr<Conn> c, bool keep) {
  std::unique_ptr<Conn> drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    drop = hosts_[key].put_back(std::move(c), keep, stats_);  // closed outside the lock
  }
  cv_.notify_one();
}

PoolStats Pool::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

bool LoopPool::try_take(const std::string& key, bool fresh, std::unique_ptr<Conn>& out) {
  Host& h = hosts_[key];
  if (!fresh && (out = h.take_idle(stats_))) return true;
  if (fresh && per_host_ > 0 && h.open >= per_host_ && !h.idle.empty()) {
    h.idle.pop_back();  // make room for the new one
    h.open--;
  }
  if (per_host_ <= 0 || h.open < per_host_) {
    h.open++;
    out = std::make_unique<Conn>();
    out->reactor = &r_;
    return true;
  }
  return false;
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
    return kTimeout;
  }
  return pool.try_take(key, fresh, out) ? kGot : kAgain;
}

void LoopPool::release(const std::string& key, std::unique_ptr<Conn> c, bool keep) {
  Host& h = hosts_[key];
  h.put_back(std::move(c), keep, stats_);  // what it returns closes here
  if (!h.waiting.empty()) {  // the first in line goes next
    Waiter* w = h.waiting.front();
    h.waiting.pop_front();
    r_.cancel(w);
    r_.post(w);
  }
}

}  // namespace fanout
