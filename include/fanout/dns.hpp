// Name resolution with c-ares, one channel per worker (a channel is not
// thread-safe). Numeric hosts and --resolve entries never reach c-ares;
// names go through /etc/hosts first, then DNS (c-ares' default "fb" order).
#pragma once
#include <coroutine>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "fanout/addr.hpp"
#include "fanout/core.hpp"
#include "reactor.hpp"

struct ares_channeldata;

namespace fanout {

class Resolver {
 public:
  explicit Resolver(const Config& cfg) : cfg_(cfg) {}
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Blocks (in poll) until the answer or the deadline. On failure, f says why.
  bool resolve(const Url& url, Deadline dl, std::vector<Addr>& out, Failure& f);
  uint64_t queries() const { return queries_; }

 private:
  bool init(std::string& err);
  static void sock_state(void* data, int fd, int readable, int writable);  // ares_socket_t is int

  const Config& cfg_;
  ares_channeldata* ch_ = nullptr;
  struct Sock { int fd; bool r, w; };
  std::vector<Sock> socks_;
  uint64_t queries_ = 0;
};

// The same on a reactor: c-ares' sockets and timeouts become reactor
// waits, and resolve() is awaited. An answer c-ares gives at once (from
// /etc/hosts) does not suspend at all.
class LoopResolver {
 public:
  LoopResolver(Reactor& r, const Config& cfg) : r_(r), cfg_(cfg) {}
  ~LoopResolver();
  LoopResolver(const LoopResolver&) = delete;
  LoopResolver& operator=(const LoopResolver&) = delete;

  struct Pending;
  struct Query {
    LoopResolver& res;
    const Url& url;
    Deadline dl;
    std::vector<Addr>& out;
    Failure& f;
    Pending* p = nullptr;
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    bool await_resume();  // false: f says why
    ~Query();
  };
  Query resolve(const Url& url, Deadline dl, std::vector<Addr>& out, Failure& f) { return {*this, url, dl, out, f}; }
  uint64_t queries() const { return queries_; }

 private:
  struct Sock {  // one c-ares socket and its two waits
    LoopResolver* res;
    int fd;
    bool want_r = false, want_w = false, live = true;
    Waiter rd, wr;
  };
  bool init(std::string& err);
  void arm();  // c-ares' own timeout as a reactor sleep
  static void sock_state(void* data, int fd, int readable, int writable);
  static void on_sock(Waiter* w);
  static void on_timer(Waiter* w);

  Reactor& r_;
  const Config& cfg_;
  ares_channeldata* ch_ = nullptr;
  std::vector<std::unique_ptr<Sock>> socks_;  // kept until the end: queued waiters may point in
  Waiter timer_;
  uint64_t queries_ = 0;
};

}  // namespace fanout
