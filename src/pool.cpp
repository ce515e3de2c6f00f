#include "fanout/pool.hpp"

#include "fanout/coro.hpp"
#include "sys.hpp"

namespace fanout {

Conn::~Conn() {
  tls.reset();
  if (fd < 0) return;
  if (reactor) reactor->close(fd);
  else sys::close(fd);
}

std::string pool_key(const Url& u) {
  std::string host = u.kind == Url::HostKind::ipv6 ? "[" + u.host + "]" : u.host;
  return (u.https ? "https://" : "http://") + host + ":" + std::to_string(u.port);
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
    if (!fresh && !h.idle.empty()) {
      out = std::move(h.idle.back());
      h.idle.pop_back();
      out->reused = true;
      stats_.reused++;
      return true;
    }
    if (per_host_ <= 0 || h.open < per_host_) {
      h.open++;
      out.reset();
      return true;
    }
    if (fresh && !h.idle.empty()) {  // make room: drop an idle one for a new one
      std::unique_ptr<Conn> drop = std::move(h.idle.back());
      h.idle.pop_back();
      out.reset();
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
  while (!fresh && !h.idle.empty()) {
    std::unique_ptr<Conn> c = std::move(h.idle.back());
    h.idle.pop_back();
    // Bytes or a FIN arrived while it sat idle: the server is done with it.
    if (r_.ready(c->fd, false)) {
      h.open--;
      continue;
    }
    c->reused = true;
    stats_.reused++;
    out = std::move(c);
    return true;
  }
  if (fresh && per_host_ > 0 && h.open >= per_host_ && !h.idle.empty()) {
    h.idle.pop_back();  // make room for the new one
    h.open--;
  }
  if (per_host_ <= 0 || h.open < per_host_) {
    h.open++;
    out.reset();
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
