// Keep-alive connections, pooled per scheme://host:port.
//   threads: one Pool shared by all threads (connections move between
//            threads; mbedTLS' DRBG locks, its config is read-only);
//   seq, procs: a Pool per process; async, hybrid: a LoopPool per loop.
// --per-host N caps the connections (in use and idle) to one host:port;
// a request that finds the cap reached waits for a connection to come back.
#pragma once
#include <condition_variable>
#include <coroutine>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fanout/core.hpp"
#include "fanout/transport.hpp"
#include "reactor.hpp"

namespace fanout {

std::string pool_key(const Url& u);  // "https://host:443"

struct PoolStats {
  uint64_t opened = 0, reused = 0;
};

// What both pools keep per host:port.
struct HostConns {
  std::vector<std::unique_ptr<Conn>> idle;
  // The newest idle connection the server has not closed or written to
  // while it sat idle, or null; the dead ones are closed.
  std::unique_ptr<Conn> take_idle(PoolStats& st);
  int open = 0;  // connections in use or idle: what --per-host caps
  // c goes idle (keep) or its slot is freed; returns what is to be closed.
  std::unique_ptr<Conn> put_back(std::unique_ptr<Conn> c, bool keep, PoolStats& st);
};

// For the blocking models. Thread-safe.
class Pool {
 public:
  explicit Pool(int per_host) : per_host_(per_host) {}
  // An idle connection, or a new one not yet opened. fresh: never an idle
  // one (the retry after a reused connection failed). false: the deadline
  // came while waiting for the per-host cap.
  bool acquire(const std::string& key, bool fresh, Deadline dl, std::unique_ptr<Conn>& out);
  // Back to the pool (keep) or closed; a null or unopened c frees its slot.
  void release(const std::string& key, std::unique_ptr<Conn> c, bool keep);
  PoolStats stats();

 private:
  using Host = HostConns;
  int per_host_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Host> hosts_;
  PoolStats stats_;
};

// For a loop: no locks, and waiting for the cap is a coroutine wait.
class LoopPool {
 public:
  LoopPool(Reactor& r, int per_host) : r_(r), per_host_(per_host) {}
  struct Acquire {
    LoopPool& pool;
    const std::string& key;
    bool fresh;
    Deadline dl;
    std::unique_ptr<Conn>& out;
    Waiter w{};
    bool await_ready() { return pool.try_take(key, fresh, out); }
    void await_suspend(std::coroutine_handle<> h);
    // kGot; kAgain: woken, but a newcomer took the room first (wait again);
    // kTimeout: the deadline came first.
    enum { kTimeout = -1, kAgain = 0, kGot = 1 };
    int await_resume();
    bool suspended = false;
  };
  Acquire acquire(const std::string& key, bool fresh, Deadline dl, std::unique_ptr<Conn>& out) {
    return Acquire{*this, key, fresh, dl, out};
  }
  void release(const std::string& key, std::unique_ptr<Conn> c, bool keep);
  PoolStats stats() const { return stats_; }

 private:
  struct Host : HostConns {
    std::deque<Waiter*> waiting;  // for the per-host cap, first come first served
  };
  bool try_take(const std::string& key, bool fresh, std::unique_ptr<Conn>& out);
  Reactor& r_;
  int per_host_;
  std::unordered_map<std::string, Host> hosts_;
  PoolStats stats_;
};

}  // namespace fanout
