#include "fanout/engine.hpp"

#include "fanout/polite.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <cstdlib>
#include <sys/socket.h>

namespace fanout {

namespace {

using http::ieq;
using http::trim;
using namespace std::literals;  // ""sv: no strlen() at each call, at -Os

// Retry-After: seconds, or an HTTP date; now being `now` seconds since
// 1970; -1 if none.
double retry_after(std::string_view v, int64_t now) {
  std::string s(trim(v));
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) return s.size() > 9 ? 1e9 : std::stod(s);
  int64_t at = http::parse_date(s);
  return at == INT64_MIN ? -1 : std::max(0.0, double(at - now));
}

// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the
// structured "RateLimit: "policy";r=0;t=30", the older "RateLimit:
// limit=10, remaining=0, reset=30", and RateLimit-Remaining and
// RateLimit-Reset apart: what is left of the quota, and when it comes back.
void rate_limit(std::string_view name, std::string_view v, double& left, double& reset) {
  if (ieq(name, "ratelimit-remaining"sv)) left = std::atof(std::string(trim(v)).c_str());
  else if (ieq(name, "ratelimit-reset"sv)) reset = std::atof(std::string(trim(v)).c_str());
  else
    for (size_t at = 0; at < v.size();) {
      size_t end = std::min(v.find_first_of(",;", at), v.size()), eq = v.find('=', at);
      if (eq < end) {
        std::string_view k = trim(v.substr(at, eq - at));
        double n = std::atof(std::string(trim(v.substr(eq + 1, end - eq - 1))).c_str());
        if (k == "r"sv || ieq(k, "remaining"sv)) left = n;
        if (k == "t"sv || ieq(k, "reset"sv)) reset = n;
      }
      at = end + 1;
    }
}

// Full jitter (a uniform pick up to the doubled delay), so that many
// requests turned away at once do not all come back at once.
double backoff(Env& env, double first, int tries) { return env.uniform(first * std::ldexp(1.0, std::min(tries, 30))); }

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

// RFC 8305 4: IPv6 first, then the families in turn (an address of
// one family that does not answer costs one --happy-eyeballs-timeout-ms).
void interleave(std::vector<Addr>& a) {
  std::vector<Addr> v6, v4, out;
  for (Addr& x : a) (x.v6() ? v6 : v4).push_back(x);
  for (size_t i = 0; i < std::max(v6.size(), v4.size()); i++) {
    if (i < v6.size()) out.push_back(v6[i]);
    if (i < v4.size()) out.push_back(v4[i]);
  }
  a = std::move(out);
}

// "127.0.0.1:80", "[::1]:80": curl's remote_ip and remote_port.
void set_remote(Result& r, std::string_view peer) {
  size_t colon = peer.rfind(':');
  if (colon == std::string_view::npos) return;
  std::string_view ip = peer.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  r.remote_ip = std::string(ip);
  r.remote_port = uint16_t(std::atoi(std::string(peer.substr(colon + 1)).c_str()));
}

bool same_origin(const Url& a, const Url& b) { return a.https == b.https && a.host == b.host && a.port == b.port; }

// After SIGINT/SIGTERM, the grace is over: what is still under way ends.
bool grace_over(Env& env) { return env.stopping() && env.now() >= env.cancel_at(); }

Failure cancelled(Env& env) {
  return {Cause::cancelled, std::string("cancelled: ") + env.signal_name() + " came and the grace (--grace) ran out"};
}

}  // namespace

Engine::Engine(const Config& cfg, Memo& memo, Env& env, const Request& rq, Sink& sink, Result& r, int worker)
    : cfg_(cfg), memo_(memo), env_(env), rq_(rq), sink_(sink), r_(r), t0_(env.now()) {
  r.begin(rq.line, worker);
  mark(kStart);
  if (sink.have(rq, r)) {
    r.skipped = true;
    sink.begin(rq);
    released();  // nothing to fetch: straight to the end
    return;
  }
  sink.begin(rq);
  if (rq.error.empty()) conditions(rq);
  if (!rq.error.empty()) {
    r.fail(Cause::input, rq.error, rq.code);
    released();  // nothing was acquired: straight to the end
    return;
  }
  url_ = rq.url;
  std::vector<std::string> cond = std::move(headers_);  // (conditions() put them there)
  headers_ = cfg.headers;
  headers_.insert(headers_.end(), cond.begin(), cond.end());
  conditional_ = !cond.empty();
  start_try();
}

// -N and --since: the request asks only for what changed. The sink knows
// what it has (a file's time and ETag); --since, what an earlier run's
// journal recorded for the URL. (Put in headers_ for the constructor.)
void Engine::conditions(const Request& rq) {
  std::string etag, modified;
  sink_.validators(rq, etag, modified);
  if (etag.empty() && modified.empty() && !cfg_.validators.empty()) {
    auto it = cfg_.validators.find(mask_password(rq.text));
    if (it != cfg_.validators.end()) etag = it->second.first, modified = it->second.second;
  }
  headers_.clear();
  if (!etag.empty()) headers_.push_back("If-None-Match: " + etag);
  if (!modified.empty()) headers_.push_back("If-Modified-Since: " + modified);
}

void Engine::start_try(bool hop) {
  // --deadline: whatever has not begun by then ends at once, and whatever
  // is under way ends then (dl_ below), in every model alike.
  if (cfg_.deadline > 0 && env_.now() >= cfg_.run_end) {
    r_.fail(Cause::timeout, "timeout: --deadline of the run passed");
    return released();
  }
  if (grace_over(env_)) {
    r_.fail(cancelled(env_));
    return released();
  }
  proxy_ = proxy_for(cfg_, url_);
  key_ = proxy_ ? proxy_->text + " " + url_.origin_key() : url_.origin_key();  // pooled by proxy and origin
  have_target_ = false;
  // Through an http:// proxy, an http:// URL goes as an absolute-form
  // request with the proxy's credentials; https:// and SOCKS go through
  // a tunnel, and the request is the origin's own.
  bool absolute = proxy_ && proxy_->kind == Proxy::http && !url_.https;
  h1_.via_proxy(absolute, absolute ? &proxy_->auth : nullptr);
  h1_.request(url_, cfg_.head, headers_);  // unsent() is this try's request from now on
  x_ = &h1_;
  // --max-time is the whole transfer's, as curl's: a redirect's hop goes
  // on within it; a retry is a transfer of its own.
  hop_ = hop;
  if (!hop) dl_ = env_.now() + seconds(cfg_.timeout);
  if (cfg_.deadline > 0) dl_ = std::min(dl_, cfg_.run_end);
  connect_dl_ = dl_;
  stale_retried_ = false;
  refused_goes_ = 0;
  next_ = finish;
  step_ = acquire;
  // --rate: tries start one interval apart across every worker of the run.
  // The wait for a turn is before the try, as curl's: --max-time, the
  // time_* figures and the latency start when it ends (only --deadline
  // and a signal cut it short).
  Deadline scheduled{};
  uint32_t omitted = 0;
  Deadline turn = env_.pace(&scheduled, &omitted);
  if (cfg_.pacer && !hop && r_.retries == 0) {  // the request's own turn: its corrected latency counts from there
    sched_ = scheduled;
    r_.late_ms = float(std::max(0.0, ms_between(sched_, t0_)));
    r_.omitted = omitted;
  }
  if (turn > env_.now()) {
    why_ = for_rate;
    until_ = cfg_.deadline > 0 ? std::min(turn, cfg_.run_end) : turn;
    step_ = wait;
    return;
  }
  polite_turn();
}

// --polite: the try goes when its host has room (and is not held by a
// Retry-After); until then it waits, as for --rate, before its clocks.
void Engine::polite_turn() {
  if (!cfg_.polite_table || polite_in_) return;
  int64_t now = env_ns(), until = 0;
  if (cfg_.polite_table->enter(host_port(), now, &until)) {
    polite_in_ = true;
    return;
  }
  why_ = for_polite;
  until_ = env_.now() + std::chrono::nanoseconds(until - now);
  if (cfg_.deadline > 0) until_ = std::min(until_, cfg_.run_end);
  step_ = wait;
}

void Engine::polite_out() {
  if (!polite_in_) return;
  cfg_.polite_table->leave(host_port());  // (released() comes before a redirect's new url_)
  polite_in_ = false;
}

void Engine::polite_heard(int status, double retry_after_s, double quota_reset_s) {
  if (!cfg_.polite_table) return;
  cfg_.polite_table->heard(host_port(), status, retry_after_s, env_ns());
  if (quota_reset_s > 0) cfg_.polite_table->hold(host_port(), quota_reset_s, env_ns());  // the quota is spent
}

// The try begins now: its --max-time, and for a first try the request's
// own clock (time_*, latency), start here.
void Engine::start_clocks() {
  if (!hop_) dl_ = env_.now() + seconds(cfg_.timeout);
  if (cfg_.deadline > 0) dl_ = std::min(dl_, cfg_.run_end);
  connect_dl_ = dl_;
  if (r_.retries == 0 && r_.redirects == 0) {
    t0_ = env_.now();
    mark(kStart);
    if (cfg_.pacer) r_.late_ms = float(std::max(0.0, ms_between(sched_, t0_)));
  }
}

Deadline Engine::deadline() const {
  bool opening = step_ == resolve || step_ == connect || step_ == tunnel || step_ == handshake || connecting_ ||
                 (step_ == wait && (why_ == for_dns || why_ == for_tls));
  if (step_ == wait && (why_ == for_rate || why_ == for_polite)) return std::min(until_, env_.cancel_at());  // no try is under way yet
  return std::min(opening ? std::min(dl_, connect_dl_) : dl_, env_.cancel_at());
}

Deadline Engine::until() const { return std::min(until_, env_.cancel_at()); }

int64_t Engine::env_ns() const { return std::chrono::duration_cast<std::chrono::nanoseconds>(env_.now().time_since_epoch()).count(); }

void Engine::mark(Phase p) { r_.at[p] = env_ns(); }

void Engine::acquired(bool reused, H2Link* h2, std::string_view peer) {
  reused_ = reused;
  if (reused && !peer.empty()) set_remote(r_, peer);
  connecting_ = false;
  any_ = keep_ = retry_ = forward_ = sent_mark_ = refused_ = false;
  x_ = &h1_;
  if (h2) use_h2(*h2);
  if (reused_) return begin_send();
  if (cfg_.connect_timeout > 0) connect_dl_ = env_.now() + seconds(cfg_.connect_timeout);
  open();  // only a new connection looks its host up
}

void Engine::no_connection() {
  r_.fail(Cause::timeout, "timeout: waiting for a connection to " + key_ + " (--per-host)");
  released();  // the pool gave nothing back to release
}

// A new connection: the worker's answer for the host if it has one, else
// this request asks, unless another of the worker's requests is asking.
void Engine::open() {
  // Through socks5:// the client resolves the origin's name and gives the
  // proxy an address: that lookup first, then the proxy's.
  target_first_ = proxy_ && proxy_->kind == Proxy::socks5 && !have_target_;
  lookup_ = !proxy_ || target_first_ ? &url_ : &proxy_->url;
  host_key_ = (proxy_ && !target_first_ ? "proxy " : "") + lookup_->host + ":" + std::to_string(lookup_->port);
  auto [it, fresh_entry] = memo_.dns.try_emplace(host_key_);
  Memo::Answer& a = it->second;
  if (fresh_entry) {
    step_ = resolve;
    return;
  }
  if (a.pending) {
    why_ = for_dns;
    return pause();
  }
  if (a.failure.cause != Cause::none) return fail_try(a.failure);
  if (target_first_) {  // (the tunnel finds it in the memo)
    have_target_ = true;
    return open();
  }
  addrs_ = a.addrs;
  addr_ = 0;
  start_ = true;
  racing_ = 0;
  next_at_ = Deadline::max();
  mark(kDns);
  step_ = connect;
}

void Engine::resolved(Failure f) {
  if (!target_first_ && f.cause != Cause::none) {  // curl's 5: the proxy's name
    f = via_proxy(std::move(f));
    if (proxy_ && f.cause == Cause::dns) f.code = 5;
  }
  if (f.cause == Cause::timeout) {
    memo_.dns.erase(host_key_);  // no answer is not an answer: the next request asks again
    return fail_try(std::move(f));
  }
  Memo::Answer& a = memo_.dns[host_key_];
  a.pending = false;
  // -4, -6: the other family's addresses are not tried.
  if (cfg_.family && f.cause == Cause::none) {
    bool v6 = cfg_.family == AF_INET6;
    std::erase_if(addrs_, [&](const Addr& x) { return x.v6() != v6; });
    if (addrs_.empty()) f = {Cause::dns, "dns: " + url_.host + ": no " + (v6 ? "IPv6" : "IPv4") + " address (" + (v6 ? "-6" : "-4") + ")"};
  }
  interleave(addrs_);
  a.addrs = std::move(addrs_);
  a.failure = std::move(f);
  open();
}

// under_way: a non-blocking connect still going on, written to at once;
// it is connected (time_connect) when the first write goes through, and
// until then --connect-timeout holds (deadline()).
void Engine::connected(bool under_way) {
  connecting_ = under_way;
  start_ = false;
  r_.clear_error();  // an earlier address's error is moot
  r_.remote_ip = addr().ip();
  r_.remote_port = addr().port();
  if (!under_way) mark(kConnect);
  if (proxy_ && (proxy_->kind != Proxy::http || url_.https)) {
    const Addr* target = nullptr;
    if (have_target_) {
      auto it = memo_.dns.find(host_port());
      if (it != memo_.dns.end() && !it->second.addrs.empty()) target = &it->second.addrs[0];
    }
    if (!tunnel_) tunnel_ = std::make_unique<Tunnel>();
    tunnel_->start(*proxy_, url_, target);
    step_ = tunnel;
    return;
  }
  through();
}

void Engine::through() {
  if (!url_.https) return begin_send();
  try_handshake();
}

Failure Engine::via_proxy(Failure f) const {
  if (proxy_) f.error = "proxy " + proxy_->text + ": " + f.error;
  return f;
}

// Connections opened at once to a new host cannot resume a session nobody
// has yet: the first does the full handshake and the others wait for it.
void Engine::try_handshake() {
  Env::Turn t = env_.tls_turn(key_);
  if (t == Env::wait) {
    why_ = for_tls;
    return pause();
  }
  first_tls_ = t == Env::first;
  step_ = handshake;
}

void Engine::end_turn(bool ok) {
  if (first_tls_) env_.tls_done(key_, ok);
  first_tls_ = false;
}

void Engine::handshaken() {
  end_turn(true);
  mark(kTls);
  begin_send();
}

// HTTP/1.1 sends the request's bytes; HTTP/2 opens a stream for it (a
// kept connection that takes no more, after GOAWAY, is a stale one:
// failed() sends the request again on a new connection).
void Engine::begin_send() {
  step_ = send;
  if (!x_->start(url_, cfg_.head, headers_)) failed({Cause::send, "http2: the connection takes no new stream"});
}

void Engine::sent(size_t n) {
  if (n > 0 && connecting_) {
    connecting_ = false;
    mark(kConnect);
  }
  if (step_ == tunnel) return tunnel_->sent(n);
  if (!x_->sent(n)) return;
  if (!sent_mark_) mark(kSent);
  sent_mark_ = true;
  step_ = recv;
}

std::string_view Engine::unsent() const { return step_ == tunnel ? tunnel_->unsent() : x_->unsent(); }

void Engine::queued() {
  if (!sent_mark_) mark(kSent);
  sent_mark_ = true;
  step_ = recv;
}

const char* Engine::during() const {
  switch (step_) {
    case handshake: return "the TLS handshake";
    case tunnel: return "opening the tunnel through the proxy";
    case send: return "sending the request";
    default: return r_.status ? "receiving the body" : "waiting for the response";
  }
}

void Engine::received(const char* p, size_t n) {
  if (step_ != tunnel) return settle(x_->received(p, n));
  switch (tunnel_->received(p, n)) {
    case Tunnel::more: return;
    case Tunnel::failed: return failed(tunnel_->failure());
    case Tunnel::done: return through();
  }
}

void Engine::settle(Heard h) {
  switch (h.what) {
    case Heard::done: return end(h.keep);
    case Heard::failed:
      refused_ = h.refused;
      return failed(std::move(h.failure));
    case Heard::bad: return fail_try(std::move(h.failure));
    case Heard::more:
      if (!x_->unsent().empty()) step_ = send;  // what the protocol owes goes before the next read
      return;
  }
}

void Engine::Tap::first_byte() {
  if (!e.any_) e.mark(kFirstByte);
  e.any_ = true;
}

// The head is in: is this the response, or one to follow or retry?
void Engine::on_head(const http::Head& head) {
  int st = head.status;
  location_.clear();
  retry_after_ = -1;
  std::string_view etag, modified;
  double quota_left = -1, quota_reset = -1;  // the IETF RateLimit fields, where sent
  for (const http::Header& h : head.headers) {
    if (ieq(h.name, "location"sv)) location_ = trim(h.value);
    else if (ieq(h.name, "retry-after"sv)) retry_after_ = retry_after(h.value, env_.unix_now());
    else if (ieq(h.name, "etag"sv)) etag = trim(h.value);
    else if (cfg_.polite_table && (ieq(h.name, "ratelimit"sv) || ieq(h.name, "ratelimit-remaining"sv) || ieq(h.name, "ratelimit-reset"sv)))
      rate_limit(h.name, h.value, quota_left, quota_reset);
    else if (ieq(h.name, "last-modified"sv)) modified = trim(h.value);
  }
  bool redirect = cfg_.follow && !location_.empty() && (st == 301 || st == 302 || st == 303 || st == 307 || st == 308);
  bool listed = r_.retries < cfg_.retry && std::find(cfg_.retry_on.begin(), cfg_.retry_on.end(), st) != cfg_.retry_on.end();
  if (listed)  // (the jitter is drawn only for a retry that may come)
    retry_delay_ = (st == 429 || st == 503) && retry_after_ >= 0 ? retry_after_ : backoff(env_, cfg_.retry_delay, r_.retries);
  // --polite: the host hears how it went, and a 429 or 503 goes again
  // (at least 10 times) once the host may be asked again.
  polite_heard(st, retry_after_, quota_left == 0 ? quota_reset : -1);
  bool polite_again = cfg_.polite && (st == 429 || st == 503);
  int most = polite_again ? std::max(cfg_.retry, 10) : cfg_.retry;
  if (polite_again && r_.retries < most) {
    listed = true;
    retry_delay_ = std::max(0.0, retry_after_);
  }
  next_ = redirect ? follow : listed && may_retry(retry_delay_, most) ? again : finish;
  forward_ = next_ == finish;
  if (!forward_) return;
  r_.etag = std::string(etag.substr(0, 512));
  r_.last_modified = std::string(modified.substr(0, 64));
  r_.not_modified = st == 304 && conditional_;
  if (forwarded_) sink_.begin(rq_);  // an earlier try's response is void
  forwarded_ = true;
  sink_.head(head);
}

// No retry starts once --retry-max-time has passed since the request began.
bool Engine::may_retry(double delay_s, int most) {
  if (r_.retries >= (most < 0 ? cfg_.retry : most)) return false;
  if (cfg_.deadline > 0 && env_.now() + seconds(delay_s) >= cfg_.run_end) return false;
  return cfg_.retry_max_time <= 0 || ms_between(t0_, env_.now()) / 1000 + delay_s <= cfg_.retry_max_time;
}

// Timeouts and connection errors are worth another try; the rest only
// with --retry-all-errors (a bad line never).
void Engine::fail_try(Failure f) {
  if (f.cause == Cause::connect) polite_heard(0, -1, -1);  // a refused connection: the host is pushing back
  r_.fail(std::move(f));
  Cause c = r_.cause;
  bool transient = c == Cause::timeout || c == Cause::connect || c == Cause::send || c == Cause::recv;
  retry_delay_ = backoff(env_, cfg_.retry_delay, r_.retries);
  bool again_ok = (transient || (cfg_.retry_all_errors && c != Cause::input && c != Cause::cancelled)) && may_retry(retry_delay_);
  next_ = again_ok ? again : finish;
  end(false);
}

void Engine::attempt_started() {
  start_ = false;
  racing_++;
  next_at_ = env_.now() + std::chrono::milliseconds(cfg_.happy_eyeballs_ms);
}

Deadline Engine::next_attempt() const { return addr_ + 1 < addrs_.size() ? next_at_ : Deadline::max(); }

void Engine::attempt_due() {
  if (step_ != connect || start_ || addr_ + 1 >= addrs_.size()) return;
  addr_++;
  start_ = true;
}

void Engine::won(size_t i) {
  addr_ = i;
  racing_ = 0;
  connected();
}

void Engine::attempt_failed(size_t i, Failure f) {
  racing_--;
  r_.remote_ip = addrs_[i].ip();  // the last address tried, where none connected
  r_.remote_port = addrs_[i].port();
  f = via_proxy(std::move(f));
  r_.fail(f);  // the last error stands, as curl's
  if (start_) return;
  if (addr_ + 1 < addrs_.size()) {  // the next at once (RFC 8305 5)
    addr_++;
    start_ = true;
  } else if (racing_ <= 0) {
    fail_try(std::move(f));
  }
}

void Engine::failed(Failure f) {
  if (step_ == connect || (step_ == send && connecting_)) {
    r_.remote_ip = addr().ip();
    r_.remote_port = addr().port();
    if (f.cause == Cause::connect) f = via_proxy(std::move(f));
  }
  if (step_ == handshake) end_turn(false);
  // A reused connection that failed before any response byte: the server
  // had closed it while it sat idle. One more go, on a new connection,
  // that is not a retry (--retry) of the request. So does a stream an
  // HTTP/2 server refused (it did not process it), on any connection, up
  // to 5 times (curl's CONN_MAX_RETRIES): a server that takes N streams a
  // connection may refuse one on the next connection too.
  bool stale = reused_ && !any_ && (f.cause == Cause::send || f.cause == Cause::recv || f.cause == Cause::http);
  bool refused = refused_ && !any_;
  if (refused ? refused_goes_ < kMaxRefused : stale && !stale_retried_) {
    r_.fail(std::move(f));
    retry_ = true;
    if (refused) refused_goes_++;
    else stale_retried_ = true;
    return end(false);
  }
  fail_try(std::move(f));
}

void Engine::timed_out() {
  if (grace_over(env_)) {
    if (step_ == handshake) end_turn(false);
    return fail_try(cancelled(env_));
  }
  std::string what = during();
  if (step_ == connect || connecting_) {  // every address tried so far
    r_.remote_ip = addr().ip();
    r_.remote_port = addr().port();
    what = "connect(";
    for (size_t i = 0; i <= addr_ && i < addrs_.size(); i++) what += (i ? ", " : "") + addrs_[i].text();
    what += ")";
    if (proxy_) what = via_proxy({Cause::timeout, what}).error;
  }
  if (step_ == handshake) end_turn(false);
  fail_try({Cause::timeout, "timeout: " + what});
}

void Engine::end(bool keep) {
  x_->stop();  // the connection may outlive this request
  keep_ = keep;
  step_ = release;
}

void Engine::released() {
  if (!retry_) polite_out();  // (the stale connection's second go keeps its place)
  if (retry_) {  // the stale connection's second go
    retry_ = false;
    r_.restart();
    step_ = acquire;
    return;
  }
  if (next_ == follow) return redirect();
  if (next_ == again) {
    r_.retries++;
    r_.restart();
    next_ = finish;
    why_ = for_retry;
    until_ = env_.now() + seconds(retry_delay_);
    step_ = wait;
    return;
  }
  sink_.end(r_);
  mark(kEnd);
  r_.ms = ms_between(t0_, env_.now());
  step_ = done;
}

// Another request is doing what this one needs (the DNS answer, the first
// TLS handshake): look again after a short, growing pause.
void Engine::pause() {
  pause_us_ = std::min(pause_us_ ? pause_us_ * 2 : 500, 16000);
  step_ = wait;
  until_ = std::min(deadline(), env_.now() + std::chrono::microseconds(pause_us_));
}

void Engine::waited() {
  if (grace_over(env_)) return fail_try(cancelled(env_));
  if (why_ == for_retry) return start_try();  // a retry's backoff is over
  if (why_ == for_rate || why_ == for_polite) {  // this try's turn under --rate, or its host's under --polite
    if (cfg_.deadline > 0 && env_.now() >= cfg_.run_end) return fail_try({Cause::timeout, "timeout: --deadline of the run passed"});
    step_ = acquire;
    polite_turn();
    if (step_ == acquire) start_clocks();
    return;
  }
  if (env_.now() >= deadline())
    return fail_try({Cause::timeout, why_ == for_dns ? "timeout: resolving " + url_.host
                                                        : "timeout: waiting for the first TLS handshake to " + key_});
  if (why_ == for_dns) open();
  else try_handshake();
}

// -L: the next try goes where Location says, within --max-redirs; never
// from https to http unless --allow-downgrade; and secret headers (and
// Authorization) do not follow to another origin.
void Engine::redirect() {
  next_ = finish;
  Url to;
  std::string why;
  Failure f;
  if (resolve_url(url_, location_, to, &why) != UrlError::none)
    f = {Cause::redirect, "redirect: Location \"" + location_ + "\": " + why};
  else if (r_.redirects >= cfg_.max_redirs)
    f = {Cause::redirect, "redirect: too many redirects (--max-redirs " + std::to_string(cfg_.max_redirs) + ")"};
  else if (url_.https && !to.https && !cfg_.allow_downgrade)
    f = {Cause::redirect, "redirect: from https to http refused: " + to.href() + " (--allow-downgrade allows it)"};
  if (f.cause != Cause::none) {
    r_.fail(std::move(f));
    return released();
  }
  // A -H Host: names the first host: to another, as curl, it is dropped.
  bool other_host = url_.host != to.host || url_.port != to.port;
  if (!same_origin(url_, to))
    headers_.erase(std::remove_if(headers_.begin(), headers_.end(),
                                  [&](const std::string& h) {
                                    std::string_view name = std::string_view(h).substr(0, h.find(':'));
                                    return http::is_secret_header(name) || (other_host && ieq(name, "Host"));
                                  }),
                   headers_.end());
  url_ = to;
  r_.redirects++;
  r_.url = to.href();
  r_.restart();
  start_try(true);
}

}  // namespace fanout
