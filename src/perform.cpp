#include "fanout/perform.hpp"

#include <chrono>

#include "fanout/stop.hpp"

namespace fanout {

std::mt19937& jitter_rng() {
  static thread_local std::mt19937 rng(std::random_device{}());
  return rng;
}

int64_t LiveEnv::unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double LiveEnv::uniform(double hi) { return std::uniform_real_distribution<double>(0, hi)(jitter_rng()); }
bool LiveEnv::stopping() { return stop::requested(); }
Deadline LiveEnv::cancel_at() { return stop::cancel_at(); }
const char* LiveEnv::signal_name() { return stop::name(stop::signal()); }

Env::Turn LiveEnv::tls_turn(const std::string& key) {
  switch (tls_.turn(key)) {
    case TlsClient::first: return first;
    case TlsClient::wait: return wait;
    default: return go;
  }
}

namespace {

// The new connection speaks HTTP/2 (--http2-prior-knowledge, or ALPN h2).
void start_h2(Engine& e, Conn& c) {
  c.h2 = std::make_unique<H2Link>(h2::Session::Options{});
  e.use_h2(*c.h2);
}

}  // namespace

Io perform(Engine& e, Conn& c, TlsClient& tls, const Config& cfg, char* buf, size_t cap) {
  Io io = Io::error;
  size_t n = 0;
  switch (e.step()) {
    case Engine::connect:
      io = c.connect(e.addr());
      if (io == Io::ok || (io == Io::want_write && e.send_while_connecting())) {
        if (cfg.h2c && !e.url().https && !e.proxy()) start_h2(e, c);
        e.connected(io != Io::ok);
        io = Io::ok;
      }
      break;
    case Engine::handshake: {
      std::string why;
      int code = 35;
      if (!c.tls && !(tls.init(cfg, why, code) && c.start_tls(tls, e.url().host, e.key(), why))) {
        e.failed({Cause::tls, "tls: " + why, code});
        return Io::error;
      }
      io = c.t->handshake(c);
      if (io == Io::ok) {
        tls.finished(*c.tls, e.key());
        if (c.tls->h2()) start_h2(e, c);
        e.handshaken();
      }
      break;
    }
    case Engine::tunnel:  // through a proxy: its handshake's bytes, then its answer
      if (std::string_view u = e.unsent(); !u.empty()) {
        io = c.t->write(c, u.data(), u.size(), &n);
        if (io == Io::ok) e.sent(n);
      } else {
        io = c.t->read(c, buf, cap, &n);
        if (io == Io::ok) e.received(buf, n);
      }
      break;
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

void Race::start(Engine& e, Conn& c) {
  auto t = std::make_unique<Conn>();
  t->reactor = c.reactor;
  t->ring = c.ring;
  size_t i = e.attempt();
  Io io = t->connect(e.addr());
  e.attempt_started();
  if (io == Io::error) return e.attempt_failed(i, t->failure("connect"));
  tries.push_back({std::move(t), i});
  if (io == Io::ok) check(e, c, tries.size() - 1);
}

void Race::check(Engine& e, Conn& c, size_t k) {
  Conn& t = *tries[k].conn;
  Io io = t.connecting ? t.connect(Addr{}) : Io::ok;  // (under way: the address is its own)
  if (io == Io::want_write) return;
  size_t i = tries[k].addr;
  if (io == Io::error) {
    Failure f = t.failure("connect");
    tries.erase(tries.begin() + std::ptrdiff_t(k));
    return e.attempt_failed(i, std::move(f));
  }
  std::swap(c.fd, t.fd);  // the winner's socket is c's from now on
  c.peer = t.peer;
  c.connecting = false;
  end();
  e.won(i);
}

void Race::end() {
  for (Try& t : tries) t.conn->close();
  tries.clear();
}

}  // namespace fanout
