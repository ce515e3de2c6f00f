// What the drivers share for carrying out the engine's steps: the live
// Env (the clock, the stop state, --rate's pacer, the TLS client's turns,
// retry jitter) and perform(), one attempt at an I/O step.
#pragma once
#include <random>

#include "fanout/engine.hpp"
#include "fanout/tls.hpp"
#include "fanout/transport.hpp"

namespace fanout {

// Retry jitter's random numbers: a generator per thread, seeded on first
// use. A worker seeds its own as it starts, so that a forked worker's
// first request does not pay for the seed (nor bind it lazily: see the
// Makefile).
std::mt19937& jitter_rng();

class LiveEnv final : public Env {
 public:
  LiveEnv(const Config& cfg, TlsClient& tls) : cfg_(cfg), tls_(tls) { jitter_rng(); }
  Clock::time_point now() override { return Clock::now(); }
  int64_t unix_now() override;
  double uniform(double hi) override;
  bool stopping() override;
  Deadline cancel_at() override;
  const char* signal_name() override;
  Deadline pace(Deadline* scheduled, uint32_t* omitted) override {
    return cfg_.pacer ? cfg_.pacer->take(scheduled, omitted) : Deadline{};
  }
  Turn tls_turn(const std::string& key) override;
  void tls_done(const std::string& key, bool ok) override { tls_.first_done(key, ok); }

 private:
  const Config& cfg_;
  TlsClient& tls_;
};

// One attempt at the engine's current I/O step (connect, handshake, send,
// recv) on c, reading into buf. Io::ok and Io::error: the engine knows and
// has moved on. want_read / want_write: wait for the socket, then call
// again, or tell the engine timed_out().
Io perform(Engine& e, Conn& c, TlsClient& tls, const Config& cfg, char* buf, size_t cap);

// Happy Eyeballs' attempts (Engine::racing()), for the drivers: each on a
// connection of its own, made like c (its reactor, its ring); the one that
// connects gives its socket to c, and the others are closed. How to wait
// for them is the driver's: poll() on live() in the blocking one, the
// reactor in the loop's.
struct Race {
  struct Try {
    std::unique_ptr<Conn> conn;
    size_t addr;  // the engine's attempt()
  };
  std::vector<Try> tries;  // under way (a finished one is gone)
  // The engine's next attempt, started: it may connect or fail at once.
  void start(Engine& e, Conn& c);
  // tries[k]'s socket is writable (or closed): how its connect went.
  void check(Engine& e, Conn& c, size_t k);
  // The race is over (won, lost or out of time): the rest are closed.
  void end();
};

}  // namespace fanout
