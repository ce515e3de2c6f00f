// Keep-alive connections, pooled per scheme://host:port.
//   threads: one Pool shared by all threads (connections move between
//            threads; mbedTLS' DRBG locks, its config is read-only);
//   seq, procs: a Pool per process; async, hybrid: a LoopPool per loop.
// --per-host N caps the connections (in use and idle) to one host:port;
// a request that finds the cap reached waits for a connection to come back.
// Idle connections over all hosts are capped too (idle_cap): past it, the
// one idle longest is closed, so a list of many hosts never runs out of
// file descriptors or memory. A host with nothing open is forgotten.
#pragma once
#include <coroutine>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fanout/core.hpp"
#include "sys.hpp"
#include "fanout/transport.hpp"
#include "reactor.hpp"

namespace fanout {


struct PoolStats {
  uint64_t opened = 0, reused = 0;
  uint64_t h2_opened = 0, streams = 0;  // of those opened, HTTP/2 ones, and the streams they carried
  uint64_t most_streams = 0;             // on one connection at once
};

// How many idle connections a pool of `slots` (each holding fds_per_slot
// descriptors while busy) may keep: 4 a slot, as curl's connection cache,
// and no more than the open-file limit leaves beside the busy ones.
size_t idle_cap(size_t slots, int fds_per_slot);
// Open files kept for what is not a connection: stdio, the input,
// --results, the poller, c-ares, the CA file (fit_fd_limit keeps it too).
constexpr long kFdReserve = 32;

// What both pools keep per host:port.
struct HostConns {
  std::vector<std::unique_ptr<Conn>> idle;  // oldest first
  // The newest idle connection the server has not closed or written to
  // while it sat idle, or null; the dead ones are closed.
  std::unique_ptr<Conn> take_idle(PoolStats& st);
  int open = 0;  // connections in use or idle: what --per-host caps
  int waiters = 0;  // requests waiting for room under --per-host
  bool unused() const { return open == 0 && idle.empty() && waiters == 0; }
  // c goes idle (keep) or its slot is freed; returns what is to be closed.
  std::unique_ptr<Conn> put_back(std::unique_ptr<Conn> c, bool keep, PoolStats& st);
};

// Every host's idle connections in the order they went idle, for the cap
// over all hosts. An entry whose connection was taken since (its mark has
// changed, or it is gone) is skipped when it comes up.
class IdleOrder {
 public:
  explicit IdleOrder(size_t cap) : cap_(cap) {}
  void kept(const std::string& key, Conn& c);  // c has just gone idle at key's host
  void dropped(size_t n) { idle_ -= n; }      // idle ones taken or closed
  // While more are idle than the cap: the one idle longest, out of its
  // host's list (the caller closes it); *key says which host.
  template <class Map>
  std::unique_ptr<Conn> over(Map& hosts, std::string* key);

 private:
  struct Entry {
    std::string key;
    const Conn* c;
    uint64_t mark;
  };
  // Where e's connection still sits idle, or null: taken since.
  template <class Map>
  static std::unique_ptr<Conn>* live(Map& hosts, const Entry& e, typename Map::iterator* host);
  size_t cap_, idle_ = 0;
  uint64_t marks_ = 0;
  std::deque<Entry> order_;
};

template <class Map>
std::unique_ptr<Conn>* IdleOrder::live(Map& hosts, const Entry& e, typename Map::iterator* host) {
  auto it = hosts.find(e.key);
  if (it == hosts.end()) return nullptr;
  *host = it;
  for (auto& c : it->second.idle)
    if (c.get() == e.c && c->idle_mark == e.mark) return &c;
  return nullptr;
}

template <class Map>
std::unique_ptr<Conn> IdleOrder::over(Map& hosts, std::string* key) {
  typename Map::iterator it;
  while (idle_ > cap_ && !order_.empty()) {
    Entry e = std::move(order_.front());
    order_.pop_front();
    std::unique_ptr<Conn>* slot = live(hosts, e, &it);
    if (!slot) continue;
    std::unique_ptr<Conn> c = std::move(*slot);
    auto& idle = it->second.idle;
    idle.erase(idle.begin() + (slot - idle.data()));
    it->second.open--;
    idle_--;
    *key = std::move(e.key);
    return c;
  }
  if (order_.size() > 2 * idle_ + 64) {  // mostly connections taken since: keep the rest
    std::deque<Entry> rest;
    for (Entry& e : order_)
      if (live(hosts, e, &it)) rest.push_back(std::move(e));
    order_.swap(rest);
  }
  return nullptr;
}

// For the blocking models. Thread-safe.
class Pool {
 public:
  // (The table of hosts is given its first buckets now, not by the first
  // request.)
  Pool(int per_host, size_t idle_cap) : per_host_(per_host), order_(idle_cap) { hosts_.reserve(8); }
  // An idle connection, or a new one not yet opened. fresh: never an idle
  // one (the retry after a reused connection failed). false: the deadline
  // came while waiting for the per-host cap.
  bool acquire(const std::string& key, bool fresh, Deadline dl, std::unique_ptr<Conn>& out);
  // Back to the pool (keep) or closed; a null or unopened c frees its slot.
  void release(const std::string& key, std::unique_ptr<Conn> c, bool keep);
  PoolStats stats();

 private:
  using Host = HostConns;
  void forget_if_unused(const std::string& key);
  int per_host_;
  IdleOrder order_;
  sys::Lock mu_;
  sys::Cond cv_;
  int waiting_ = 0;  // in cv_, for any host: no one, no notify
  std::unordered_map<std::string, Host> hosts_;
  PoolStats stats_;
};

// For a loop: no locks, and waiting for the cap is a coroutine wait.
//
// HTTP/2 (h2: the host may speak it, and the loop multiplexes): requests
// to one host share its HTTP/2 connections, up to max_streams streams on
// each. The pool owns a shared connection while it carries streams; its
// requests borrow it (lent). A new connection to such a host is a probe:
// the others wait until it says whether the host speaks HTTP/2 (share) or
// not (settled_h1), rather than each opening their own.
class LoopPool {
 public:
  LoopPool(Reactor& r, int per_host, size_t idle_cap, size_t max_streams)
      : r_(r), per_host_(per_host), max_streams_(max_streams), order_(idle_cap) {}
  struct Acquire {
    LoopPool& pool;
    const std::string& key;
    bool fresh, h2;
    Deadline dl;
    std::unique_ptr<Conn>& out;
    Conn*& lent;
    Waiter w{};
    bool await_ready() { return pool.try_take(key, fresh, h2, out, lent); }
    void await_suspend(std::coroutine_handle<> h);
    // kGot; kAgain: woken, but a newcomer took the room first (wait again);
    // kTimeout: the deadline came first.
    enum { kTimeout = -1, kAgain = 0, kGot = 1 };
    int await_resume();
    bool suspended = false;
  };
  // out: an idle connection or a new one; or lent: a shared HTTP/2 one.
  Acquire acquire(const std::string& key, bool fresh, bool h2, Deadline dl, std::unique_ptr<Conn>& out, Conn*& lent) {
    return Acquire{*this, key, fresh, h2, dl, out, lent};
  }
  void release(const std::string& key, std::unique_ptr<Conn> c, bool keep);
  // c speaks HTTP/2: the pool owns it from now on, and lends it.
  Conn* share(const std::string& key, std::unique_ptr<Conn> c);
  void settled_h1(const std::string& key, Conn& c);  // the probe speaks HTTP/1.1
  void stream_done(const std::string& key);  // a lent connection has room again
  // A shared connection carries no stream any more: idle (keep) or closed.
  void retire(const std::string& key, Conn* c, bool keep);
  PoolStats stats() const { return stats_; }

 private:
  struct Host : HostConns {
    std::deque<Waiter*> waiting;  // for the per-host cap or a probe, first come first served
    std::vector<std::unique_ptr<Conn>> shared;  // HTTP/2 connections carrying streams
    bool probing = false, h1 = false;  // a probe is under way; the host speaks HTTP/1.1
  };
  bool try_take(const std::string& key, bool fresh, bool h2, std::unique_ptr<Conn>& out, Conn*& lent);
  void forget_if_unused(const std::string& key);
  void wake(Host& h, bool all = false);  // the first waiting for h goes next (or all of them)
  void probed(Host& h, Conn& c);  // c's probe is over
  Reactor& r_;
  int per_host_;
  size_t max_streams_;
  IdleOrder order_;
  std::unordered_map<std::string, Host> hosts_;
  PoolStats stats_;
};

}  // namespace fanout
