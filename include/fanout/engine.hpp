// The request engine: what to do with one request, decided in one place
// and without I/O (STYLE 13, like h11's next_event()). It says which step
// comes next; a driver carries the step out and tells the engine how it
// went. The engine never touches a socket and never waits: which pooled
// connection, the one retry on a stale kept-alive connection, what the
// deadline is, who resolves a host or does the first TLS handshake to it
// and who waits for that, redirects (-L), retries with backoff and
// Retry-After (--retry), which sink gets the bytes: all of it is here.
// What the protocol does with the request and its response is the
// Exchange's (exchange.hpp): HTTP/1.1's or HTTP/2's, one interface.
//
// It reads no clock and no global: the time, its random numbers, the stop
// state, --rate's turns and the TLS client's turns come through an Env,
// the live one from the drivers (perform.hpp), a fake clock in its tests.
//
// Drivers: fetch.cpp (blocking: seq, threads, procs) and fetch_async.cpp
// (coroutines: async, hybrid). What they share for carrying out the I/O
// steps is perform() (perform.hpp).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fanout/addr.hpp"
#include "fanout/core.hpp"
#include "fanout/exchange.hpp"
#include "fanout/http.hpp"
#include "fanout/job.hpp"
#include "fanout/proxy.hpp"

namespace fanout {

// What a worker learns once and its later requests use: one DNS answer
// per host:port (an error too, but not a timeout).
struct Memo {
  struct Answer {
    bool pending = true;  // one request of this worker is asking
    std::vector<Addr> addrs;
    Failure failure;
  };
  std::unordered_map<std::string, Answer> dns;
};

// What the engine is given rather than reaching for it (STYLE 13).
class Env {
 public:
  virtual Clock::time_point now() = 0;
  virtual int64_t unix_now() = 0;         // seconds since 1970, for Retry-After's dates
  virtual double uniform(double hi) = 0;  // a random number in [0, hi): retry jitter
  // SIGINT/SIGTERM: whether one came, when its grace ends (max: none
  // came), and its name.
  virtual bool stopping() = 0;
  virtual Deadline cancel_at() = 0;
  virtual const char* signal_name() = 0;
  // --rate: when this try may start (none: at once); when its turn was
  // due, and the turns that went by unused before it (Pacer::take).
  virtual Deadline pace(Deadline* scheduled, uint32_t* omitted) = 0;
  // The first TLS handshake to a host goes alone (the others wait, then
  // resume its session): this request's turn, and how its handshake went.
  enum Turn { go, first, wait };
  virtual Turn tls_turn(const std::string& key) = 0;
  virtual void tls_done(const std::string& key, bool ok) = 0;

 protected:
  ~Env() = default;
};

class Engine {
 public:
  enum Step { acquire, resolve, connect, tunnel, handshake, send, recv, release, wait, done };

  Engine(const Config& cfg, Memo& memo, Env& env, const Request& rq, Sink& sink, Result& r, int worker);
  Step step() const { return step_; }
  // Until when the current step may wait: --max-time for the try, and
  // --connect-timeout while resolving, connecting and handshaking; after
  // SIGINT/SIGTERM, never past the grace (then the request is cancelled).
  // Read it again after a wait was interrupted.
  Deadline deadline() const;

  // acquire: a connection to key() from the pool (an idle one, or a new
  // one not yet opened), never an idle one when fresh(); then acquired(),
  // or no_connection() when the deadline came first.
  const std::string& key() const { return key_; }
  bool fresh() const { return stale_retried_; }
  // reused: a kept-alive connection, or an HTTP/2 one lent to this request
  // as one more stream (a loop's multiplexing); h2: its HTTP/2 side, if it
  // speaks HTTP/2.
  // peer: the connection's address ("127.0.0.1:80"), for remote_ip.
  void acquired(bool reused, H2Link* h2, std::string_view peer = {});
  void no_connection();
  // resolve: lookup() into answer(); then resolved() with the resolver's
  // failure (none: the answer is in). lookup() is the origin, or the
  // proxy's host (and first the origin, through socks5://, which is
  // given an address).
  const Url& url() const { return url_; }
  const Url& lookup() const { return *lookup_; }
  const Proxy* proxy() const { return proxy_; }  // this try's, or null
  std::vector<Addr>& answer() { return addrs_; }
  void resolved(Failure f);
  // connect: to addr(); then connected(), or failed().
  const Addr& addr() const { return addrs_[addr_]; }
  void connected(bool under_way = false);  // under_way: send_while_connecting()
  // connect, to a host with several addresses (Happy Eyeballs, RFC 8305:
  // the families in turn, IPv6 first): racing(). Attempts start one after
  // another, the next when the one before fails or after
  // --happy-eyeballs-timeout-ms, without waiting for it to fail; the first
  // to connect wins. The driver starts an attempt to addr() (number
  // attempt()) while start_attempt(), and says attempt_started() after
  // it; it waits for those under way until next_attempt() (then
  // attempt_due()) or deadline() (then timed_out()). Each attempt that
  // ends goes to won(i) (connected() to that address: the driver closes
  // the others) or attempt_failed(i, f).
  bool racing() const { return addrs_.size() > 1; }
  bool start_attempt() const { return step_ == connect && start_; }
  size_t attempt() const { return addr_; }
  void attempt_started();
  Deadline next_attempt() const;
  void attempt_due();
  void won(size_t i);
  void attempt_failed(size_t i, Failure f);
  // A connect still under way need not be waited for when there is no
  // other address to try and nothing to say first (plain HTTP): the request
  // goes at once, and the send tells how the connect went. On loopback the
  // connection is up before connect() returns: a wait and a call saved.
  bool send_while_connecting() const { return !url_.https && addr_ + 1 == addrs_.size(); }
  // tunnel (through a proxy: CONNECT, or SOCKS5): write unsent() and
  // sent(n), or read into received(); it goes on to the handshake or the
  // request by itself.
  // handshake: handshaken(), or failed().
  void handshaken();
  // The new connection speaks HTTP/2 (ALPN h2, or --http2-prior-knowledge):
  // told before connected() or handshaken().
  void use_h2(H2Link& link) {
    h2x_.attach(link);
    x_ = &h2x_;
  }
  // send: write unsent(); sent(n).
  std::string_view unsent() const;
  void sent(size_t n);
  // send, on a lent HTTP/2 connection: the stream's frames are in the
  // session's out(), which the connection's pump sends for every stream.
  void queued();
  // recv: received(bytes); 0 bytes is the end of the stream.
  void received(const char* p, size_t n);
  // recv, on a lent HTTP/2 connection, where the pump reads for every
  // stream: wait while h2_waiting(), waking when h2_stream() is heard;
  // then h2_settle() acts on what the stream heard.
  bool h2_waiting() const { return h2x_.waiting(); }
  H2Stream& h2_stream() { return h2x_; }
  void h2_settle() { settle(h2x_.settle()); }
  const char* during() const;  // what the request was doing, for errors
  // release: the connection back to the pool if keep(), else closed.
  bool keep() const { return keep_; }
  void released();
  // wait: until(), then waited().
  Deadline until() const;  // never after the grace of a signal
  void waited();

  void failed(Failure f);  // the step's I/O failed
  void timed_out();        // the deadline came while the step waited for I/O

 private:
  // Sits between the exchange and the job's sink: a response that will be
  // followed (-L) or retried never reaches the sink.
  struct Tap final : Hearer {
    Engine& e;
    explicit Tap(Engine& en) : e(en) {}
    void first_byte() override;
    void head(const http::Head& h) override { e.on_head(h); }
    void body(const char* p, size_t n) override {
      if (e.forward_) e.sink_.body(p, n);
    }
  };
  void begin_send();  // the request goes next: its bytes, or its stream
  void settle(Heard h);  // what the response's bytes came to
  void start_clocks();
  void mark(Phase p);  // the result's time of a phase, now
  void start_try(bool hop = false);  // a try (the first, a retry, or a redirect's hop) begins
  void on_head(const http::Head& h);
  bool may_retry(double delay_s, int most = -1);  // most: tries again at most (-1: --retry)
  void polite_turn();  // --polite: in, or wait for the host
  void polite_out();
  void polite_heard(int status, double retry_after_s, double quota_reset_s);  // (quota: RateLimit's, spent; -1: none)
  std::string host_port() const { return url_.host + ":" + std::to_string(url_.port); }  // the origin's, as the memo and --polite key it
  int64_t env_ns() const;  // the Env's clock, in nanoseconds
  void fail_try(Failure f);  // this try failed: retry it if allowed, else that is the result
  void redirect();
  void open();         // the path to a new connection: resolve or connect
  void try_handshake();
  void end(bool keep);  // this attempt is over: release its connection
  void pause();         // look again shortly (wait)
  void end_turn(bool ok);
  void through();  // the tunnel is open
  void conditions(const Request& rq);  // -N, --since: If-None-Match, If-Modified-Since
  Failure via_proxy(Failure f) const;  // a connect's failure, naming the proxy it was to

  const Config& cfg_;
  Memo& memo_;
  Env& env_;
  const Request& rq_;
  Sink& sink_;
  Result& r_;
  Deadline dl_, connect_dl_;
  Clock::time_point t0_;
  Deadline sched_{};  // --rate: when the schedule had this request start (its first try)
  bool hop_ = false;  // this try is a redirect's hop: --max-time goes on
  Step step_ = acquire;
  Url url_;                          // the current target: the request's, or a redirect's
  std::vector<std::string> headers_;  // -H, less the secret ones after a redirect to another origin
  std::string key_, host_key_;
  bool stale_retried_ = false;  // the one retry on a stale kept-alive connection is spent
  bool reused_ = false, any_ = false, keep_ = false, retry_ = false;  // retry_: the stale connection's
  enum Next { finish, follow, again } next_ = finish;  // after this try's connection is released
  bool forward_ = false, forwarded_ = false;  // this try's response goes to the sink; one did
  bool conditional_ = false;  // asked with validators (a 304 is "not modified")
  std::string location_;
  double retry_after_ = -1;  // seconds the server asked for, or -1
  double retry_delay_ = 0;   // before the next try
  Tap tap_{*this};
  bool first_tls_ = false;   // this request does the first TLS handshake to its host
  bool connecting_ = false;  // sent on while the connect is under way
  const Proxy* proxy_ = nullptr;  // this try's (proxy_for)
  const Url* lookup_ = &url_;     // what the resolve step resolves: url_, or the proxy's
  bool target_first_ = false;     // socks5://: the origin's address is looked up first
  bool have_target_ = false;      // (and it is in the memo, under url_'s host and port)
  std::unique_ptr<Tunnel> tunnel_;  // made for a tunnel only: -c 10000 is 10,000 engines
  std::vector<Addr> addrs_;
  size_t addr_ = 0;        // the address connected to, or the last attempt's
  bool start_ = false;     // an attempt to addr_ is to start now
  int racing_ = 0;         // attempts under way
  Deadline next_at_{};     // when the next address's attempt starts
  // The request on its connection: HTTP/1.1's exchange, or HTTP/2's when
  // the connection speaks it.
  Http1Exchange h1_{tap_, r_};
  H2Exchange h2x_{tap_, r_};
  Exchange* x_ = &h1_;
  bool sent_mark_ = false;
  bool refused_ = false;  // the server did not take the stream (REFUSED_STREAM, GOAWAY)
  static constexpr int kMaxRefused = 5;
  int refused_goes_ = 0;  // goes again after a refusal, this try
  Deadline until_{};
  int pause_us_ = 0;
  // What a wait is for: another request's DNS answer or first TLS
  // handshake, a retry's backoff, or this try's turn under --rate.
  enum Why { for_dns, for_tls, for_retry, for_rate, for_polite } why_ = for_dns;
  bool polite_in_ = false;   // --polite: this try holds a place at its host
};

}  // namespace fanout
