// The request engine without sockets (STYLE 13): each test plays the
// driver, answering the engine's steps with byte strings and outcomes, and
// checks what it decides.
#include <doctest/doctest.h>

#include "fanout/engine.hpp"
#include "fanout/input.hpp"
#include "fanout/tls.hpp"  // its turn table: the first handshake to a host goes alone

using namespace fanout;

namespace {

// The engine's world, with a clock that moves only when a test moves it
// (no sleeping), jitter at half its range, and the TLS client's real turns.
struct FakeEnv final : Env {
  TlsClient& tls;
  Clock::time_point t{std::chrono::hours(100)};  // any time: only differences count
  int64_t unix = 1'900'000'000;        // 2030-03-17
  bool stop = false;
  Deadline cancel = Deadline::max();
  explicit FakeEnv(TlsClient& c) : tls(c) {}
  void advance(double s) { t += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }
  Clock::time_point now() override { return t; }
  int64_t unix_now() override { return unix; }
  double uniform(double hi) override { return hi / 2; }
  bool stopping() override { return stop; }
  Deadline cancel_at() override { return cancel; }
  const char* signal_name() override { return "SIGINT"; }
  double interval = 0;  // --rate: seconds between turns (0: none)
  Deadline next{};
  Deadline pace(Deadline* scheduled, uint32_t* omitted) override {
    if (interval <= 0) return Deadline{};
    Deadline turn = std::max(next, t);
    *scheduled = turn;
    *omitted = 0;
    next = turn + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
    return turn;
  }
  Turn tls_turn(const std::string& key) override {
    TlsClient::Turn x = tls.turn(key);
    return x == TlsClient::first ? first : x == TlsClient::wait ? wait : go;
  }
  void tls_done(const std::string& key, bool ok) override { tls.first_done(key, ok); }
};

struct Fixture {
  Config cfg;
  Memo memo;
  TlsClient tls{cfg};
  FakeEnv env{tls};
  Sink sink;
  std::vector<Request> reqs;
  Fixture() { cfg.timeout = 5; }
  const Request& req(const std::string& url) {
    reqs.clear();
    parse_input(url + "\n", reqs);
    return reqs.front();
  }
};

Addr addr(const char* host, uint16_t port) {
  Addr a;
  REQUIRE(numeric_addr(host, port, a));
  return a;
}

// Plays a driver through acquire and resolve (to addrs, unless the worker
// knows the host already), up to the connect.
void open(Engine& e, std::vector<Addr> addrs = {addr("127.0.0.1", 80)}) {
  REQUIRE(e.step() == Engine::acquire);
  e.acquired(false, nullptr);
  if (e.step() == Engine::resolve) {
    e.answer() = addrs;
    e.resolved({});
  }
  REQUIRE(e.step() == Engine::connect);
}

// The same, then connect and send.
void open_and_send(Engine& e) {
  open(e);
  e.connected();
  REQUIRE(e.step() == Engine::send);
  e.sent(e.unsent().size());
  REQUIRE(e.step() == Engine::recv);
}

void feed(Engine& e, const std::string& bytes) { e.received(bytes.data(), bytes.size()); }

}  // namespace

TEST_CASE("engine: a request from acquire to done, and what it sends") {
  Fixture f;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://example.test:8080/a?b=1"), f.sink, r, 3);
  CHECK(e.key() == "http://example.test:8080");
  CHECK_FALSE(e.fresh());
  e.acquired(false, nullptr);
  CHECK(e.step() == Engine::resolve);
  CHECK(e.url().host == "example.test");
  e.answer() = {addr("127.0.0.1", 8080)};
  e.resolved({});
  CHECK(e.step() == Engine::connect);
  CHECK(e.addr().text() == "127.0.0.1:8080");
  e.connected();
  CHECK(e.step() == Engine::send);
  std::string req(e.unsent());
  CHECK(req.rfind("GET /a?b=1 HTTP/1.1\r\nHost: example.test:8080\r\n", 0) == 0);
  e.sent(10);  // a short write: the rest is still to send
  CHECK(e.step() == Engine::send);
  CHECK(e.unsent() == req.substr(10));
  e.sent(e.unsent().size());
  CHECK(e.step() == Engine::recv);
  feed(e, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel");
  CHECK(e.step() == Engine::recv);
  CHECK(r.status == 200);
  feed(e, "lo");
  CHECK(e.step() == Engine::release);
  CHECK(e.keep());
  e.released();
  CHECK(e.step() == Engine::done);
  CHECK(r.ok());
  CHECK(r.bytes == 5);
  CHECK(r.worker == 3);
  CHECK(r.line == 1);
  for (int p : {kStart, kDns, kConnect, kSent, kFirstByte, kEnd}) CHECK(r.at[p] > 0);
  CHECK(r.at[kTls] == 0);
}

TEST_CASE("engine: a head split anywhere, and blank lines before it, give the same answer") {
  std::string reply = "\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabc";
  for (size_t step : {size_t(1), size_t(2), size_t(7), reply.size()}) {
    INFO("pieces of " << step);
    Fixture f;
    Result r;
    Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
    open_and_send(e);
    for (size_t at = 0; at < reply.size(); at += step) feed(e, reply.substr(at, step));
    CHECK(e.step() == Engine::release);
    CHECK(e.keep());
    CHECK(r.status == 404);
    CHECK(r.bytes == 3);
  }
}

TEST_CASE("engine: what the connection can carry next") {
  struct Case { const char* reply; bool keep; int status; const char* error; };
  const Case cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, 200, ""},
    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false, 200, ""},
    {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, ""},
    // Bytes nobody asked for after the response: never reuse that connection.
    {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n", false, 200, ""},
    {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, 0, "http: "},
    {"SSH-2.0-OpenSSH\r\n", false, 0, "http: response does not start with HTTP/"},
  };
  for (auto& c : cases) {
    INFO(c.reply);
    Fixture f;
    Result r;
    Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
    open_and_send(e);
    feed(e, c.reply);
    REQUIRE(e.step() == Engine::release);
    CHECK(e.keep() == c.keep);
    e.released();
    CHECK(r.status == c.status);
    CHECK(r.error.rfind(c.error, 0) == 0);
  }
}

TEST_CASE("engine: the end of the stream ends a close-delimited body, and cuts a counted one") {
  Fixture f;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
  open_and_send(e);
  feed(e, "HTTP/1.1 200 OK\r\n\r\nabcdef");
  e.received(nullptr, 0);
  CHECK(e.step() == Engine::release);
  CHECK_FALSE(e.keep());
  CHECK(r.ok());
  CHECK(r.bytes == 6);

  Result r2;
  Engine e2(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r2, 0);
  open_and_send(e2);
  feed(e2, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  e2.received(nullptr, 0);
  e2.released();
  CHECK(r2.cause == Cause::http);
}

TEST_CASE("engine: a head that never ends is refused") {
  Fixture f;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
  open_and_send(e);
  feed(e, "HTTP/1.1 200 OK\r\n");
  std::string header = "X-Long: " + std::string(1000, 'a') + "\r\n";
  for (int i = 0; i < 100 && e.step() == Engine::recv; i++) feed(e, header);
  CHECK(e.step() == Engine::release);
  CHECK(r.error == "http: response head larger than 32768 bytes");
}

TEST_CASE("engine: a reused connection that fails before any byte is retried once, on a new one") {
  Fixture f;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
  e.acquired(true, nullptr);
  CHECK(e.step() == Engine::send);  // no resolve, no connect
  e.sent(e.unsent().size());
  e.failed({Cause::recv, "recv: ECONNRESET (Connection reset by peer)"});
  CHECK(e.step() == Engine::release);
  CHECK_FALSE(e.keep());
  e.released();
  CHECK(e.step() == Engine::acquire);
  CHECK(e.fresh());  // never an idle connection this time
  CHECK(r.ok());     // the first try does not count
  open_and_send(e);
  feed(e, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  e.released();
  CHECK(e.step() == Engine::done);
  CHECK(r.status == 200);

  // The server's FIN, not a reset, just as the connection was taken (it
  // closed a kept-alive connection after its last response): the same
  // (it was "empty reply from server" in hybrid under qemu).
  {
    Result r3;
    Engine e3(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r3, 0);
    e3.acquired(true, nullptr);
    e3.sent(e3.unsent().size());
    e3.received(nullptr, 0);
    e3.released();
    CHECK(e3.step() == Engine::acquire);
    CHECK(e3.fresh());
    open_and_send(e3);
    feed(e3, "HTTP/1.1 204 No Content\r\n\r\n");
    e3.released();
    CHECK(e3.step() == Engine::done);
    CHECK(r3.status == 204);
  }

  // Not after a response byte came, and not twice.
  for (bool any_byte : {true, false}) {
    Result r2;
    Engine e2(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r2, 0);
    e2.acquired(true, nullptr);
    e2.sent(e2.unsent().size());
    if (any_byte) feed(e2, "HTTP/1.1 200");
    e2.failed({Cause::recv, "recv: ECONNRESET"});
    e2.released();
    if (!any_byte) {
      CHECK(e2.step() == Engine::acquire);
      e2.acquired(true, nullptr);
      e2.sent(e2.unsent().size());
      e2.failed({Cause::recv, "recv: ECONNRESET"});
      e2.released();
    }
    CHECK(e2.step() == Engine::done);
    CHECK(r2.error == "recv: ECONNRESET");
  }
}

TEST_CASE("engine: Happy Eyeballs: IPv6 first, the families in turn, the next on a failure at once or after the timer") {
  Fixture f;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://h.test/"), f.sink, r, 0);
  e.acquired(false, nullptr);
  e.answer() = {addr("127.0.0.2", 80), addr("127.0.0.3", 80), addr("::1", 80), addr("::2", 80)};
  e.resolved({});
  REQUIRE(e.racing());
  CHECK_FALSE(e.send_while_connecting());  // another address to fall back to
  // Interleaved: ::1, 127.0.0.2, ::2, 127.0.0.3.
  CHECK(e.start_attempt());
  CHECK(e.addr().text() == "[::1]:80");
  e.attempt_started();
  CHECK_FALSE(e.start_attempt());
  CHECK(e.next_attempt() == f.env.now() + std::chrono::milliseconds(200));
  // It fails: the next starts at once, not at the timer.
  e.attempt_failed(0, {Cause::connect, "connect([::1]:80): ENETUNREACH"});
  CHECK(e.start_attempt());
  CHECK(e.addr().text() == "127.0.0.2:80");
  e.attempt_started();
  // 200 ms and no answer: the next begins beside it.
  f.env.advance(0.2);
  e.attempt_due();
  CHECK(e.start_attempt());
  CHECK(e.addr().text() == "[::2]:80");
  e.attempt_started();
  CHECK(e.step() == Engine::connect);
  // The second (127.0.0.2) connects first: it wins, the error is moot.
  e.won(1);
  CHECK(r.ok());
  CHECK(e.step() == Engine::send);
  CHECK(r.remote_ip == "127.0.0.2");
  CHECK(r.remote_port == 80);

  // Every attempt failed: the last error stands.
  Result r2;
  Engine e2(f.cfg, f.memo, f.env, f.req("http://h.test/"), f.sink, r2, 0);
  e2.acquired(false, nullptr);  // the worker knows h.test now: no resolve step
  for (size_t i = 0; i < 4; i++) {
    REQUIRE(e2.start_attempt());
    e2.attempt_started();
    e2.attempt_failed(i, {Cause::connect, "connect(" + e2.addr().text() + "): ECONNREFUSED"});
  }
  CHECK(e2.step() == Engine::release);
  CHECK(r2.error == "connect(127.0.0.3:80): ECONNREFUSED");
  CHECK(r2.remote_ip == "127.0.0.3");

  // The deadline while two are under way: the timeout names both.
  Result r3;
  Engine e3(f.cfg, f.memo, f.env, f.req("http://h.test/"), f.sink, r3, 0);
  e3.acquired(false, nullptr);
  e3.attempt_started();
  f.env.advance(0.2);
  e3.attempt_due();
  e3.attempt_started();
  e3.timed_out();
  CHECK(e3.step() == Engine::release);
  CHECK(r3.error == "timeout: connect([::1]:80, 127.0.0.2:80)");
}

TEST_CASE("engine: -4 and -6 keep their family's addresses, and a host without one is a DNS failure") {
  Fixture f;
  f.cfg.family = AF_INET;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://h.test/"), f.sink, r, 0);
  e.acquired(false, nullptr);
  e.answer() = {addr("::1", 80), addr("127.0.0.2", 80)};
  e.resolved({});
  CHECK_FALSE(e.racing());
  CHECK(e.addr().text() == "127.0.0.2:80");
  f.cfg.family = AF_INET6;
  Result r2;
  Engine e2(f.cfg, f.memo, f.env, f.req("http://v4.test/"), f.sink, r2, 0);
  e2.acquired(false, nullptr);
  e2.answer() = {addr("127.0.0.2", 80)};
  e2.resolved({});
  CHECK(e2.step() == Engine::release);
  CHECK(r2.cause == Cause::dns);
  CHECK(r2.error == "dns: v4.test: no IPv6 address (-6)");
}

TEST_CASE("engine: one DNS answer per host per worker; the others wait for it") {
  Fixture f;
  Result r1, r2, r3;
  Engine a(f.cfg, f.memo, f.env, f.req("http://h.test/1"), f.sink, r1, 0);
  Engine b(f.cfg, f.memo, f.env, f.req("http://h.test:80/2"), f.sink, r2, 0);
  a.acquired(false, nullptr);
  b.acquired(false, nullptr);
  CHECK(a.step() == Engine::resolve);
  CHECK(b.step() == Engine::wait);  // a is asking
  CHECK(b.until() <= b.deadline());
  b.waited();
  CHECK(b.step() == Engine::wait);
  a.answer() = {addr("127.0.0.1", 80)};
  a.resolved({});
  b.waited();
  CHECK(b.step() == Engine::connect);
  CHECK(b.addr().text() == "127.0.0.1:80");
  // Another port is another answer.
  Engine c(f.cfg, f.memo, f.env, f.req("http://h.test:81/"), f.sink, r3, 0);
  c.acquired(false, nullptr);
  CHECK(c.step() == Engine::resolve);
}

TEST_CASE("engine: a failed answer is kept, a timed-out one is not") {
  Fixture f;
  Result r1, r2;
  Engine a(f.cfg, f.memo, f.env, f.req("http://gone.test/"), f.sink, r1, 0);
  a.acquired(false, nullptr);
  a.resolved({Cause::dns, "dns: gone.test: Domain name not found (ARES_ENOTFOUND)"});
  CHECK(a.step() == Engine::release);
  Engine b(f.cfg, f.memo, f.env, f.req("http://gone.test/x"), f.sink, r2, 0);
  b.acquired(false, nullptr);
  CHECK(b.step() == Engine::release);  // no second query
  CHECK(r2.error == r1.error);

  Result r3, r4;
  Engine c(f.cfg, f.memo, f.env, f.req("http://slow.test/"), f.sink, r3, 0);
  c.acquired(false, nullptr);
  c.resolved({Cause::timeout, "timeout: resolving slow.test"});
  Engine d(f.cfg, f.memo, f.env, f.req("http://slow.test/"), f.sink, r4, 0);
  d.acquired(false, nullptr);
  CHECK(d.step() == Engine::resolve);  // asks again
}

TEST_CASE("engine: the first TLS handshake to a host goes alone; the others wait, then resume") {
  Fixture f;
  Result r1, r2, r3;
  Engine a(f.cfg, f.memo, f.env, f.req("https://127.0.0.1:8443/"), f.sink, r1, 0);
  Engine b(f.cfg, f.memo, f.env, f.req("https://127.0.0.1:8443/b"), f.sink, r2, 0);
  for (Engine* e : {&a, &b}) {
    open(*e);
    e->connected();
  }
  CHECK(a.step() == Engine::handshake);
  CHECK(b.step() == Engine::wait);
  b.waited();
  CHECK(b.step() == Engine::wait);
  a.failed({Cause::tls, "tls: 127.0.0.1: certificate verify failed: certificate has expired"});
  // The first one failed: nobody waits for another first one.
  b.waited();
  CHECK(b.step() == Engine::handshake);
  Engine c(f.cfg, f.memo, f.env, f.req("https://127.0.0.1:8443/c"), f.sink, r3, 0);
  c.acquired(false, nullptr);
  c.connected();
  CHECK(c.step() == Engine::handshake);

  // With --no-session-reuse everybody goes at once.
  Fixture g;
  g.cfg.session_reuse = false;
  TlsClient no_reuse(g.cfg);
  FakeEnv no_reuse_env(no_reuse);
  Result r4, r5;
  Engine d(g.cfg, g.memo, no_reuse_env, g.req("https://127.0.0.1:8443/"), g.sink, r4, 0);
  Engine e(g.cfg, g.memo, no_reuse_env, g.req("https://127.0.0.1:8443/"), g.sink, r5, 0);
  for (Engine* x : {&d, &e}) {
    open(*x);
    x->connected();
    CHECK(x->step() == Engine::handshake);
  }
}

TEST_CASE("engine: what a timeout says depends on the step") {
  struct Case { int upto; const char* error; };
  const Case cases[] = {
    {0, "timeout: connect(127.0.0.1:80)"},
    {1, "timeout: sending the request"},
    {2, "timeout: waiting for the response"},
    {3, "timeout: receiving the body"},
  };
  for (auto& c : cases) {
    Fixture f;
    Result r;
    Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
    e.acquired(false, nullptr);
    e.answer() = {addr("127.0.0.1", 80)};
    e.resolved({});
    if (c.upto >= 1) e.connected();
    if (c.upto >= 2) e.sent(e.unsent().size());
    if (c.upto >= 3) feed(e, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab");
    e.timed_out();
    e.released();
    CHECK(e.step() == Engine::done);
    CHECK(r.cause == Cause::timeout);
    CHECK(r.error == c.error);
  }
}

TEST_CASE("engine: a line that is not a URL, and no connection within the deadline") {
  Fixture f;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("ftp://example.test/"), f.sink, r, 0);
  CHECK(e.step() == Engine::done);
  CHECK(r.cause == Cause::input);
  CHECK(r.error == "input: line 1: unsupported scheme \"ftp\"");

  Result r2;
  Engine e2(f.cfg, f.memo, f.env, f.req("http://127.0.0.1:81/"), f.sink, r2, 0);
  e2.no_connection();
  CHECK(e2.step() == Engine::done);
  CHECK(r2.error == "timeout: waiting for a connection to http://127.0.0.1:81 (--per-host)");
}

TEST_CASE("engine: plain HTTP to its one address sends while the connect is under way") {
  Fixture f;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://h.test/"), f.sink, r, 0);
  e.acquired(false, nullptr);
  e.answer() = {addr("127.0.0.3", 80)};
  e.resolved({});
  CHECK(e.send_while_connecting());
  e.connected(true);
  CHECK(e.step() == Engine::send);
  e.timed_out();  // no byte went: it is the connect that did not finish
  e.released();
  CHECK(r.error == "timeout: connect(127.0.0.3:80)");

  Result r2;
  Engine h(f.cfg, f.memo, f.env, f.req("https://127.0.0.1/"), f.sink, r2, 0);
  open(h);
  CHECK_FALSE(h.send_while_connecting());  // TLS speaks first: the connect must be done
}

namespace {

// A response on a fresh connection, up to the release of that connection.
// --retry N with a first pause of up to `delay` seconds.
void retrying(Fixture& f, int n, double delay) {
  f.cfg.retry = n;
  f.cfg.retry_delay = delay;
}

void answer(Engine& e, const std::string& reply) {
  open_and_send(e);
  feed(e, reply);
  REQUIRE(e.step() == Engine::release);
  e.released();
}

struct Recorder : Sink {
  int begins = 0, heads = 0;
  std::string got;
  void begin(const Request&) override { begins++, got.clear(); }
  void head(const http::Head&) override { heads++; }
  void body(const char* p, size_t n) override { got.append(p, n); }
};

}  // namespace

TEST_CASE("engine: -L follows Location, relative or not, and records where it ended") {
  Fixture f;
  f.cfg.follow = true;
  f.cfg.headers = {"Authorization: Bearer x", "X-Api-Key: k", "X-Trace: t"};
  Recorder sink;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/a/b"), sink, r, 0);
  answer(e, "HTTP/1.1 302 Found\r\nLocation: c?d=1\r\nContent-Length: 4\r\n\r\nskip");
  CHECK(e.step() == Engine::acquire);
  CHECK(e.key() == "http://127.0.0.1:80");
  CHECK(std::string(e.unsent()).rfind("GET /a/c?d=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(std::string(e.unsent()).find("Authorization: Bearer x") != std::string::npos);  // same origin
  answer(e, "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.2:8080/z\r\nContent-Length: 0\r\n\r\n");
  CHECK(e.key() == "http://127.0.0.2:8080");
  std::string req(e.unsent());
  CHECK(req.find("Authorization") == std::string::npos);  // another origin: secrets stay behind
  CHECK(req.find("X-Api-Key") == std::string::npos);
  CHECK(req.find("X-Trace: t") != std::string::npos);
  e.acquired(false, nullptr);
  e.answer() = {addr("127.0.0.2", 8080)};
  e.resolved({});
  e.connected();
  e.sent(e.unsent().size());
  feed(e, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  e.released();
  CHECK(e.step() == Engine::done);
  CHECK(r.status == 200);
  CHECK(r.redirects == 2);
  CHECK(r.url == "http://127.0.0.2:8080/z");
  CHECK(sink.heads == 1);  // the redirects' heads and bodies never reach the job
  CHECK(sink.got == "ok");
}

TEST_CASE("engine: redirects that are not followed") {
  struct Case { bool follow; int max; const char* from; const char* location; int status; const char* error; };
  const Case cases[] = {
    {false, 10, "http://127.0.0.1/", "/x", 302, ""},  // no -L: the 302 is the answer
    // Refused: an error, and http_code is the 302 that came, as curl's.
    {true, 0, "http://127.0.0.1/", "/x", 302, "redirect: too many redirects (--max-redirs 0)"},
    {true, 10, "https://127.0.0.1/", "http://127.0.0.1/x", 302,
     "redirect: from https to http refused: http://127.0.0.1/x (--allow-downgrade allows it)"},
    {true, 10, "http://127.0.0.1/", "ftp://127.0.0.1/x", 302, "redirect: Location \"ftp://127.0.0.1/x\": "},
  };
  for (auto& c : cases) {
    INFO(c.location);
    Fixture f;
    f.cfg.follow = c.follow;
    f.cfg.max_redirs = c.max;
    Result r;
    Engine e(f.cfg, f.memo, f.env, f.req(c.from), f.sink, r, 0);
    open(e);
    e.connected();
    if (e.step() == Engine::handshake) e.handshaken();
    e.sent(e.unsent().size());
    feed(e, std::string("HTTP/1.1 302 Found\r\nLocation: ") + c.location + "\r\nContent-Length: 0\r\n\r\n");
    e.released();
    CHECK(e.step() == Engine::done);
    CHECK(r.status == c.status);
    CHECK(r.error.rfind(c.error, 0) == 0);
  }
}

TEST_CASE("engine: --retry tries again after a listed status, with a pause, and only the last answer counts") {
  Fixture f;
  f.cfg.retry = 2;
  f.cfg.retry_delay = 0.01;
  Recorder sink;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), sink, r, 0);
  answer(e, "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy");
  REQUIRE(e.step() == Engine::wait);
  CHECK(e.until() == f.env.now() + std::chrono::milliseconds(5));  // full jitter up to 10 ms: half of it here
  e.waited();
  CHECK(e.step() == Engine::acquire);
  answer(e, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(e.step() == Engine::wait);
  e.waited();
  answer(e, "HTTP/1.1 502 Bad\r\nContent-Length: 3\r\n\r\nbad");  // the retries are spent
  CHECK(e.step() == Engine::done);
  CHECK(r.status == 502);
  CHECK(r.retries == 2);
  CHECK(sink.heads == 1);
  CHECK(sink.got == "bad");
}

TEST_CASE("engine: Retry-After on 429 and 503, within --retry-max-time") {
  Fixture f;
  retrying(f, 3, 0.001);
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
  answer(e, "HTTP/1.1 429 Slow down\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(e.step() == Engine::wait);
  CHECK(e.until() == f.env.now() + std::chrono::seconds(2));
  // An HTTP date, 30 s from now by the server's clock (the env's).
  Result r1;
  Engine e1(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r1, 0);
  answer(e1, "HTTP/1.1 503 Later\r\nRetry-After: Sun, 17 Mar 2030 17:47:10 GMT\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(e1.step() == Engine::wait);
  CHECK(e1.until() == f.env.now() + std::chrono::seconds(30));
  f.env.advance(29.9);
  CHECK(e1.until() > f.env.now());  // the driver would wait on

  f.cfg.retry_max_time = 1;  // two seconds would end past it: no retry
  Result r2;
  Engine e2(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r2, 0);
  answer(e2, "HTTP/1.1 503 Later\r\nRetry-After: Fri, 31 Dec 2999 23:59:59 GMT\r\nContent-Length: 0\r\n\r\n");
  CHECK(e2.step() == Engine::done);
  CHECK(r2.status == 503);
  CHECK(r2.retries == 0);

  f.cfg.retry_on = {500};  // --retry-on: 503 is not on it
  f.cfg.retry_max_time = 0;
  Result r3;
  Engine e3(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r3, 0);
  answer(e3, "HTTP/1.1 503 Later\r\nContent-Length: 0\r\n\r\n");
  CHECK(e3.step() == Engine::done);
}

TEST_CASE("engine: timeouts and connection errors are retried; others with --retry-all-errors") {
  for (bool all : {false, true}) {
    Fixture f;
    f.cfg.retry = 1;
    f.cfg.retry_delay = 0.001;
    f.cfg.retry_all_errors = all;
    Result r1, r2;
    Engine a(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r1, 0);
    open(a);
    a.failed({Cause::connect, "connect(127.0.0.1:80): ECONNREFUSED (Connection refused)"});
    a.released();
    CHECK(a.step() == Engine::wait);
    Engine b(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r2, 0);
    open_and_send(b);
    feed(b, "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n");
    b.released();
    CHECK(b.step() == (all ? Engine::wait : Engine::done));
  }
}

TEST_CASE("engine: --connect-timeout bounds the connect, --max-time the whole try") {
  Fixture f;
  f.cfg.timeout = 30;
  f.cfg.connect_timeout = 0.5;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
  Deadline whole = e.deadline();
  open(e);
  CHECK(e.deadline() == f.env.now() + std::chrono::milliseconds(500));
  e.connected();
  CHECK(e.deadline() == whole);
  CHECK(whole == f.env.now() + std::chrono::seconds(30));
}

TEST_CASE("engine: --rate gives each try its turn, one interval after the last") {
  Fixture f;
  f.env.interval = 0.1;  // --rate 10/s: 100 ms apart
  Result r1, r2, r3;
  Engine a(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r1, 0);
  CHECK(a.step() == Engine::acquire);  // the first goes at once
  Engine b(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r2, 0);
  Engine c(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r3, 0);
  REQUIRE(b.step() == Engine::wait);
  REQUIRE(c.step() == Engine::wait);
  auto gap = std::chrono::duration<double>(c.until() - b.until()).count();
  CHECK(gap == doctest::Approx(0.1).epsilon(0.001));
  b.waited();
  CHECK(b.step() == Engine::acquire);
}

// Deadlines with the clock in the test's hands: nothing sleeps.
TEST_CASE("engine: --max-time, --retry with its backoff, --retry-max-time and --deadline, on a fake clock") {
  Fixture f;
  f.cfg.timeout = 2;
  f.cfg.retry = 3;
  f.cfg.retry_delay = 1;
  f.cfg.retry_max_time = 4;
  Result r;
  Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
  open_and_send(e);
  CHECK(e.deadline() == f.env.now() + std::chrono::seconds(2));  // --max-time from the try's start
  f.env.advance(2);
  e.timed_out();  // the driver's wait ran to the deadline
  CHECK(r.error == "timeout: waiting for the response");
  e.released();
  REQUIRE(e.step() == Engine::wait);  // a timeout is worth another try, after 0.5 s (half of 1 s)
  CHECK(e.until() == f.env.now() + std::chrono::milliseconds(500));
  f.env.advance(0.5);
  e.waited();
  REQUIRE(e.step() == Engine::acquire);
  CHECK(e.deadline() == f.env.now() + std::chrono::seconds(2));  // a retry has a --max-time of its own
  open_and_send(e);
  f.env.advance(1);
  // 3.5 s since the request began, and the next pause would be 1 s: past
  // --retry-max-time's 4 s, so this failure is the answer.
  e.failed({Cause::recv, "recv: ECONNRESET (Connection reset by peer)"});
  e.released();
  CHECK(e.step() == Engine::done);
  CHECK(r.retries == 1);
  CHECK(r.ms == doctest::Approx(3500));

  // --deadline: a retry due after the run's end never starts.
  Fixture g;
  g.cfg.retry = 5;
  g.cfg.retry_delay = 0.2;
  g.cfg.deadline = 1;
  g.cfg.run_end = g.env.now() + std::chrono::seconds(1);
  Result r2;
  Engine e2(g.cfg, g.memo, g.env, g.req("http://127.0.0.1/"), g.sink, r2, 0);
  CHECK(e2.deadline() == g.cfg.run_end);  // --max-time (5 s) cut to the run's end
  answer(e2, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(e2.step() == Engine::wait);  // 0.1 s of pause: the retry starts before the end
  CHECK(e2.until() == g.env.now() + std::chrono::milliseconds(100));
  g.env.advance(0.95);
  e2.waited();
  REQUIRE(e2.step() == Engine::acquire);
  CHECK(e2.deadline() == g.cfg.run_end);
  answer(e2, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");  // 0.2 s of pause would end past it
  CHECK(e2.step() == Engine::done);
  CHECK(r2.status == 503);
  CHECK(r2.retries == 1);
  g.env.advance(0.1);
  Result r4;
  Engine e4(g.cfg, g.memo, g.env, g.req("http://127.0.0.1/"), g.sink, r4, 0);
  CHECK(e4.step() == Engine::done);
  CHECK(r4.error == "timeout: --deadline of the run passed");
}

TEST_CASE("engine: after SIGINT the grace runs out: what waits is cancelled, by the env's clock") {
  Fixture f;
  retrying(f, 2, 10);
  f.env.stop = true;  // SIGINT came; its grace ends in 1 s
  f.env.cancel = f.env.now() + std::chrono::seconds(1);
  Result r2;
  Engine e2(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r2, 0);
  answer(e2, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(e2.step() == Engine::wait);  // a pause of 5 s, cut to the grace
  CHECK(e2.until() == f.env.cancel);
  f.env.advance(1);
  e2.waited();
  e2.released();
  CHECK(e2.step() == Engine::done);
  CHECK(r2.cause == Cause::cancelled);
  CHECK(r2.error == "cancelled: SIGINT came and the grace (--grace) ran out");
}

// ---- HTTP/2: the same engine, the request as a stream ------------------
namespace {

// The server's end: a session that keeps what the client asked.
struct H2Server final : h2::Handler {
  h2::Session s{h2::Session::server, *this};
  uint32_t stream = 0, reset = 0;
  std::vector<h2::Field> asked;
  void on_headers(uint32_t id, std::span<const h2::Field> f, bool) override {
    stream = id;
    asked.assign(f.begin(), f.end());
  }
  void on_data(uint32_t, const uint8_t*, size_t, bool) override {}
  void on_reset(uint32_t, uint32_t code, const char*) override { reset = code; }
  void on_goaway(uint32_t, uint32_t) override {}
  std::string field(const char* name) const {
    for (auto& f : asked)
      if (f.name == name) return f.value;
    return "";
  }
  std::string take() {
    std::string out;
    out.swap(s.out());
    return out;
  }
};

// Plays the connection between them: what the engine sends goes to the
// server; the server's bytes come back `step` at a time, until the engine
// is no longer reading or sending.
void h2_talk(Engine& e, H2Server& srv, const std::string& from_server, size_t step) {
  auto to_server = [&] {
    std::string u(e.unsent());
    srv.s.feed(reinterpret_cast<const uint8_t*>(u.data()), u.size());
    e.sent(u.size());
  };
  size_t at = 0;
  for (int guard = 0; guard < 100000 && (e.step() == Engine::send || e.step() == Engine::recv); guard++) {
    if (e.step() == Engine::send) {
      to_server();
      continue;
    }
    if (at == from_server.size()) break;
    size_t n = std::min(step, from_server.size() - at);
    e.received(from_server.data() + at, n);
    at += n;
  }
}

}  // namespace

TEST_CASE("engine: over HTTP/2 the request is fields on a stream, the response frames split anywhere") {
  for (size_t step : {size_t(1), size_t(9), size_t(1 << 20)}) {
    INFO("pieces of " << step);
    Fixture f;
    Recorder sink;
    Result r;
    Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1:8080/a?b=1"), sink, r, 0);
    open(e);
    H2Link link(h2::Session::Options{});
    e.use_h2(link);
    e.connected();
    REQUIRE(e.step() == Engine::send);
    H2Server srv;
    h2_talk(e, srv, "", step);
    REQUIRE(e.step() == Engine::recv);
    CHECK(srv.stream == 1);
    CHECK(srv.field(":method") == "GET");
    CHECK(srv.field(":path") == "/a?b=1");
    CHECK(srv.field(":authority") == "127.0.0.1:8080");
    CHECK(srv.field(":scheme") == "http");
    std::vector<h2::Field> head = {{":status", "200"}, {"content-length", "11"}};
    srv.s.respond(1, head.data(), head.size(), false);
    srv.s.send_data(1, "hello ", 6, false);
    srv.s.send_data(1, "world", 5, true);
    h2_talk(e, srv, srv.take(), step);
    CHECK(sink.got == "hello world");
    CHECK(sink.heads == 1);
    CHECK(r.version == 20);
    REQUIRE(e.step() == Engine::release);
    CHECK(e.keep());  // the connection carries another stream
    e.released();
    CHECK(e.step() == Engine::done);
    CHECK((r.ok() && r.status == 200 && r.bytes == 11));
    CHECK(r.at[kFirstByte] > 0);
  }
}

TEST_CASE("engine: over HTTP/2 a refused stream goes again, a reset one is curl's 92, a dead connection 16") {
  Fixture f;
  auto start = [&](Engine& e, H2Link& link, H2Server& srv) {
    open(e);
    e.use_h2(link);
    e.connected();
    h2_talk(e, srv, "", 1 << 20);
    REQUIRE(e.step() == Engine::recv);
  };
  {
    Result r;
    Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
    H2Link link(h2::Session::Options{});
    H2Server srv;
    start(e, link, srv);
    srv.s.reset(srv.stream, h2::REFUSED_STREAM);  // not processed: it may go again
    h2_talk(e, srv, srv.take(), 1 << 20);
    REQUIRE(e.step() == Engine::release);
    CHECK_FALSE(e.keep());
    e.released();
    CHECK(e.step() == Engine::acquire);  // again, not a --retry
    CHECK(r.retries == 0);
  }
  {
    Result r;
    Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
    H2Link link(h2::Session::Options{});
    H2Server srv;
    start(e, link, srv);
    srv.s.reset(srv.stream, h2::INTERNAL_ERROR);
    h2_talk(e, srv, srv.take(), 1 << 20);
    REQUIRE(e.step() == Engine::release);
    e.released();
    CHECK(e.step() == Engine::done);
    CHECK(r.cause == Cause::http2_stream);
    CHECK(r.code == 92);
    CHECK(r.error == "HTTP/2 stream 1 was not closed cleanly: INTERNAL_ERROR (err 2)");
  }
  {
    Result r;
    Engine e(f.cfg, f.memo, f.env, f.req("http://127.0.0.1/"), f.sink, r, 0);
    H2Link link(h2::Session::Options{});
    H2Server srv;
    start(e, link, srv);
    srv.take();
    // A DATA frame on stream 0: a connection error (RFC 9113 6.1).
    e.received("\x00\x00\x01\x00\x00\x00\x00\x00\x00x", 10);
    REQUIRE(e.step() == Engine::release);
    e.released();
    CHECK(e.step() == Engine::done);
    CHECK(r.cause == Cause::http2);
    CHECK(r.code == 16);
    CHECK(r.error.find("PROTOCOL_ERROR") != std::string::npos);
  }
}
