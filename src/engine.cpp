#include "fanout/engine.hpp"

#include <algorithm>

#include "fanout/deliver.hpp"
#include "fanout/pool.hpp"

namespace fanout {
namespace {

// A head that keeps growing without ending (blank lines before it do not
// count in the parser's own limit): give up at twice the limit.
constexpr size_t kMaxCarry = 2 * http::ResponseParser::kMaxHeadBytes;

}  // namespace

const char* Engine::step_name(Step s) {
  static const char* const names[] = {"acquire", "resolve", "connect", "handshake", "send",
                                      "recv",    "release", "wait",    "done"};
  return names[s];
}

Engine::Engine(const Config& cfg, Memo& memo, TlsClient& tls, const Request& rq, Sink& sink, Result& r, int worker)
    : cfg_(cfg), memo_(memo), tls_(tls), rq_(rq), sink_(sink), r_(r), dl_(deadline_in(cfg.timeout)),
      t0_(Clock::now()) {
  r.begin(rq.line, worker);
  sink.begin(rq);
  if (!rq.error.empty()) {
    r.fail(Cause::input, rq.error);
    released();  // nothing was acquired: straight to the end
    return;
  }
  key_ = pool_key(rq.url);
  host_key_ = rq.url.host + ":" + std::to_string(rq.url.port);
  req_ = http::request(rq.url, cfg.head, cfg.headers, true);
}

void Engine::acquired(const Conn& c) {
  reused_ = c.reused;
  any_ = keep_ = retry_ = false;
  off_ = 0;
  carry_.clear();
  parser_.reset(cfg_.head);
  if (reused_) step_ = send;
  else open();
}

void Engine::no_connection() {
  r_.fail(Cause::timeout, "timeout: waiting for a connection to " + key_ + " (--per-host)");
  retry_ = false;
  released();  // the pool gave nothing back to release
}

// A new connection: the worker's answer for the host if it has one, else
// this request asks, unless another of the worker's requests is asking.
void Engine::open() {
  auto [it, fresh_entry] = memo_.dns.try_emplace(host_key_);
  Memo::Answer& a = it->second;
  if (fresh_entry) {
    step_ = resolve;
    return;
  }
  if (a.pending) {
    paused_ = resolve;
    return pause();
  }
  if (a.failure.cause != Cause::none) {
    r_.fail(a.failure);
    return end(false);
  }
  addrs_ = a.addrs;
  addr_ = 0;
  r_.mark(kDns);
  step_ = connect;
}

void Engine::resolved(bool ok) {
  Memo::Answer& a = memo_.dns[host_key_];
  if (!ok && r_.cause == Cause::timeout) {
    memo_.dns.erase(host_key_);  // no answer is not an answer: the next request asks again
    return end(false);
  }
  a.pending = false;
  a.addrs = std::move(addrs_);
  if (!ok) a.failure = {r_.cause, r_.error};
  open();
}

void Engine::connected(bool under_way) {
  connecting_ = under_way;
  r_.clear_error();  // an earlier address's error is moot
  r_.mark(kConnect);
  if (!rq_.url.https) {
    step_ = send;
    return;
  }
  try_handshake();
}

// Connections opened at once to a new host cannot resume a session nobody
// has yet: the first does the full handshake and the others wait for it.
void Engine::try_handshake() {
  TlsClient::Turn t = tls_.turn(key_);
  if (t == TlsClient::wait) {
    paused_ = handshake;
    return pause();
  }
  first_tls_ = t == TlsClient::first;
  step_ = handshake;
}

void Engine::end_turn(bool ok) {
  if (first_tls_) tls_.first_done(key_, ok);
  first_tls_ = false;
}

void Engine::handshaken() {
  end_turn(true);
  r_.mark(kTls);
  step_ = send;
}

void Engine::sent(size_t n) {
  off_ += n;
  if (n > 0) connecting_ = false;
  if (off_ < req_.size()) return;
  r_.mark(kSent);
  step_ = recv;
}

const char* Engine::during() const {
  switch (step_) {
    case handshake: return "the TLS handshake";
    case send: return "sending the request";
    default: return r_.status ? "receiving the body" : "waiting for the response";
  }
}

void Engine::received(const char* p, size_t n) {
  if (n == 0) {  // the peer closed: the end of a close-delimited body, or too soon
    if (parser_.finish().ev != http::ResponseParser::done)
      r_.fail(Cause::http, std::string("http: ") + parser_.error_message());
    return end(false);
  }
  if (!any_) r_.mark(kFirstByte);
  any_ = true;
  bool carried = !carry_.empty();
  if (carried) carry_.append(p, n);
  const char* buf = carried ? carry_.data() : p;
  size_t len = carried ? carry_.size() : n;
  Delivered d = deliver(parser_, buf, len, sink_, r_);
  if (d.end) return end(d.keep && r_.ok());
  // What is left is a head still incomplete: keep it for the next read.
  if (carried) carry_.erase(0, d.used);
  else carry_.assign(p + d.used, n - d.used);
  if (carry_.size() >= kMaxCarry) {
    r_.fail(Cause::http, "http: response head larger than " + std::to_string(http::ResponseParser::kMaxHeadBytes) + " bytes");
    end(false);
  }
}

void Engine::failed(Failure f) {
  r_.fail(std::move(f));
  if (step_ == connect && r_.cause != Cause::timeout && addr_ + 1 < addrs_.size()) {
    addr_++;  // the next address, as curl does; the last error stands
    return;
  }
  if (step_ == handshake) end_turn(false);
  // A reused connection that failed before any response byte: the server
  // had closed it while it sat idle. One more try, on a new connection.
  bool stale = reused_ && !any_ && (r_.cause == Cause::send || r_.cause == Cause::recv || r_.cause == Cause::http);
  retry_ = attempt_ == 0 && stale;
  end(false);
}

void Engine::timed_out() {
  std::string what = step_ == connect || connecting_ ? "connect(" + addr().text() + ")" : during();
  if (step_ == handshake) end_turn(false);
  r_.fail(Cause::timeout, "timeout: " + what);
  end(false);
}

void Engine::end(bool keep) {
  keep_ = keep;
  step_ = release;
}

void Engine::released() {
  if (retry_) {
    retry_ = false;
    attempt_++;
    r_.restart();
    step_ = acquire;
    return;
  }
  sink_.end(r_);
  r_.mark(kEnd);
  r_.ms = ms_since(t0_);
  step_ = done;
}

// Another request is doing what this one needs (the DNS answer, the first
// TLS handshake): look again after a short, growing pause.
void Engine::pause() {
  pause_us_ = std::min(pause_us_ ? pause_us_ * 2 : 500, 16000);
  until_ = std::min(dl_, Clock::now() + std::chrono::microseconds(pause_us_));
  step_ = wait;
}

void Engine::waited() {
  if (Clock::now() >= dl_) {
    r_.fail(Cause::timeout, paused_ == resolve ? "timeout: resolving " + rq_.url.host
                                               : "timeout: waiting for the first TLS handshake to " + key_);
    return end(false);
  }
  if (paused_ == resolve) open();
  else try_handshake();
}

Io perform(Engine& e, Conn& c, TlsClient& tls, const Config& cfg, char* buf, size_t cap) {
  Io io = Io::error;
  size_t n = 0;
  switch (e.step()) {
    case Engine::connect:
      io = c.connect(e.addr());
      if (io == Io::ok || (io == Io::want_write && e.send_while_connecting())) {
        e.connected(io != Io::ok);
        io = Io::ok;
      }
      break;
    case Engine::handshake: {
      std::string why;
      if (!c.tls && !(tls.init(cfg, why) && c.start_tls(tls, e.url().host, e.key(), why))) {
        e.failed({Cause::tls, "tls: " + why});
        return Io::error;
      }
      io = c.t->handshake(c);
      if (io == Io::ok) {
        tls.finished(*c.tls, e.key());
        e.handshaken();
      }
      break;
    }
    case Engine::send: {
      std::string_view u = e.unsent();
      io = c.t->write(c, u.data(), u.size(), &n);
      if (io == Io::ok) e.sent(n);
      break;
    }
    case Engine::recv:
      io = c.t->read(c, buf, cap, &n);
      if (io == Io::ok) e.received(buf, n);
      break;
    default:
      return Io::error;
  }
  if (io == Io::error) e.failed(c.failure(e.during()));
  return io;
}

}  // namespace fanout
