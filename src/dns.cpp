// c-ares driven from our own poll() loop (STYLE: no ares_getsock/ares_fds):
// the socket-state callback tells us which sockets to watch, ares_timeout
// how long, and ares_process_fd does the work. Its sockets are opened and
// used through our counting wrappers, so they show in the syscall counts.
#include "fanout/dns.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <cstring>
#include <mutex>
#include <netinet/in.h>

#include "fanout/coro.hpp"
#include "reactor.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

const char* ares_code(int s) {
  switch (s) {
#define A(x) case x: return #x;
    A(ARES_ENODATA) A(ARES_EFORMERR) A(ARES_ESERVFAIL) A(ARES_ENOTFOUND) A(ARES_ENOTIMP)
    A(ARES_EREFUSED) A(ARES_EBADNAME) A(ARES_EBADRESP) A(ARES_ECONNREFUSED) A(ARES_ETIMEOUT)
    A(ARES_EOF) A(ARES_EFILE) A(ARES_ENOMEM) A(ARES_EDESTRUCTION) A(ARES_ECANCELLED)
    A(ARES_ENONAME) A(ARES_ESERVICE)
#undef A
    default: return "ARES_E?";
  }
}

ares_socket_t a_socket(int d, int t, int p, void*) {
  return sys::socket(d, t | SOCK_NONBLOCK | SOCK_CLOEXEC, p);
}
int a_close(ares_socket_t fd, void*) { return sys::close(fd); }
int a_connect(ares_socket_t fd, const sockaddr* sa, ares_socklen_t len, void*) {
  return sys::connect(fd, sa, len);
}
ares_ssize_t a_recvfrom(ares_socket_t fd, void* p, size_t n, int f, sockaddr* sa, ares_socklen_t* len, void*) {
  return sys::recvfrom(fd, p, n, f, sa, len);
}
ares_ssize_t a_sendv(ares_socket_t fd, const iovec* iov, int n, void*) {
  msghdr m{};
  m.msg_iov = const_cast<iovec*>(iov);
  m.msg_iovlen = size_t(n);
  return sys::sendmsg(fd, &m, MSG_NOSIGNAL);
}
const ares_socket_functions kSocketFns = {a_socket, a_close, a_connect, a_recvfrom, a_sendv};

struct Answer {
  Waiter* waiter = nullptr;  // a loop query: posted when the answer comes
  Reactor* reactor = nullptr;
  bool abandoned = false;    // the query timed out; nobody reads the answer
  bool done = false;
  int status = 0;
  std::vector<Addr>* out;
  uint16_t port;
};

void on_answer(void* arg, int status, int, ares_addrinfo* ai) {
  auto* a = static_cast<Answer*>(arg);
  a->done = true;
  a->status = status;
  if (status == ARES_SUCCESS && ai) {
    for (ares_addrinfo_node* n = ai->nodes; n; n = n->ai_next) {
      Addr ad;
      if (n->ai_addrlen > sizeof ad.ss) continue;
      memcpy(&ad.ss, n->ai_addr, n->ai_addrlen);
      ad.len = socklen_t(n->ai_addrlen);
      if (n->ai_family == AF_INET) reinterpret_cast<sockaddr_in*>(&ad.ss)->sin_port = htons(a->port);
      else if (n->ai_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&ad.ss)->sin6_port = htons(a->port);
      else continue;
      a->out->push_back(ad);
    }
  }
  if (ai) ares_freeaddrinfo(ai);
  if (a->abandoned) {
    delete a->out;
    delete a;
  } else if (a->waiter) {
    a->reactor->cancel(a->waiter);  // the deadline
    a->reactor->post(a->waiter);
  }
}

// Numeric hosts and --resolve entries: no query at all.
bool shortcut(const Config& cfg, const Url& url, std::vector<Addr>& out) {
  Addr a;
  for (auto& e : cfg.resolve) {
    if (e.port == url.port && (e.host == url.host || e.host == "*")) {
      for (const std::string& text : e.addrs) {
        numeric_addr(text, url.port, a);  // checked when the option was read
        out.push_back(a);
      }
      return true;
    }
  }
  if (url.kind == Url::HostKind::name) return false;
  numeric_addr(url.host, url.port, a);
  out.push_back(a);
  return true;
}

bool make_channel(const Config& cfg, ares_channel* ch, ares_sock_state_cb cb, void* data, std::string& err) {
  static std::once_flag lib_once;
  std::call_once(lib_once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  ares_options o{};
  // STAYOPEN: otherwise c-ares closes and reopens its socket per query.
  o.flags = ARES_FLAG_STAYOPEN;
  o.sock_state_cb = cb;
  o.sock_state_cb_data = data;
  int st = ares_init_options(ch, &o, ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB);
  if (st != ARES_SUCCESS) {
    err = std::string("ares_init_options: ") + ares_strerror(st);
    *ch = nullptr;
    return false;
  }
  ares_set_socket_functions(*ch, &kSocketFns, nullptr);
  if (!cfg.dns_server.empty() && (st = ares_set_servers_ports_csv(*ch, cfg.dns_server.c_str())) != ARES_SUCCESS) {
    err = "--dns-server " + cfg.dns_server + ": " + ares_strerror(st);
    return false;
  }
  return true;
}

void start_query(ares_channel ch, const Url& url, int family, Answer* ans) {
  ares_addrinfo_hints hints{};
  hints.ai_family = family ? family : AF_UNSPEC;  // both: AAAA and A asked at once
  hints.ai_flags = ARES_AI_NOSORT;  // sorting probes each address with a UDP connect()
  ares_getaddrinfo(ch, url.host.c_str(), nullptr, &hints, on_answer, ans);
}

bool answer_ok(const Answer& ans, const Url& url, const std::vector<Addr>& out, Failure& f) {
  if (ans.status == ARES_SUCCESS && !out.empty()) return true;
  int st = ans.status == ARES_SUCCESS ? ARES_ENODATA : ans.status;
  // c-ares says "Could not contact DNS servers" also when each answered
  // SERVFAIL or REFUSED (it tries the next one then, and ends with this).
  const char* words = st == ARES_ECONNREFUSED ? "no DNS server answered (each refused, failed or said SERVFAIL)"
                                              : ares_strerror(st);
  f = {Cause::dns, "dns: " + url.host + ": " + words + " (" + ares_code(st) + ")"};
  return false;
}

}  // namespace

std::string Addr::ip() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  else inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  return buf;
}

uint16_t Addr::port() const {
  return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port
                                        : reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

std::string Addr::text() const {
  std::string p = ":" + std::to_string(port());
  return ss.ss_family == AF_INET6 ? "[" + ip() + "]" + p : ip() + p;
}

bool numeric_addr(const std::string& host_in, uint16_t port, Addr& out) {
  std::string host = host_in;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  out = Addr{};
  auto* s4 = reinterpret_cast<sockaddr_in*>(&out.ss);
  if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    out.len = sizeof *s4;
    return true;
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
  if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    out.len = sizeof *s6;
    return true;
  }
  return false;
}

Resolver::~Resolver() {
  if (ch_) ares_destroy(ch_);
}

void Resolver::sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<Resolver*>(data);
  for (auto it = self->socks_.begin(); it != self->socks_.end(); ++it) {
    if (it->fd != fd) continue;
    if (!readable && !writable) self->socks_.erase(it);
    else *it = {fd, bool(readable), bool(writable)};
    return;
  }
  if (readable || writable) self->socks_.push_back({fd, bool(readable), bool(writable)});
}

bool Resolver::init(std::string& err) {
  return make_channel(cfg_, &ch_, &Resolver::sock_state, this, err);
}

bool Resolver::resolve(const Url& url, Deadline dl, std::vector<Addr>& out, Failure& f) {
  out.clear();
  if (shortcut(cfg_, url, out)) return true;
  std::string err;
  if (!ch_ && !init(err)) {
    f = {Cause::dns, "dns: " + err};
    return false;
  }
  queries_++;
  Answer ans;
  ans.out = &out;
  ans.port = url.port;
  start_query(ch_, url, cfg_.family, &ans);
  std::vector<pollfd> pfds;
  while (!ans.done) {
    int left = ms_left(dl);
    if (left == 0) {
      ares_cancel(ch_);
      f = {Cause::timeout, "timeout: resolving " + url.host};
      return false;
    }
    timeval max{left / 1000, (left % 1000) * 1000}, tv;
    timeval* t = ares_timeout(ch_, &max, &tv);
    int wait = int(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
    pfds.clear();
    for (auto& s : socks_) pfds.push_back({s.fd, short((s.r ? POLLIN : 0) | (s.w ? POLLOUT : 0)), 0});
    int n = sys::poll(pfds.data(), pfds.size(), wait);
    if (n <= 0) {
      ares_process_fd(ch_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts, retries
      continue;
    }
    for (auto& p : pfds) {
      if (!p.revents) continue;
      bool rd = p.revents & (POLLIN | POLLERR | POLLHUP), wr = p.revents & POLLOUT;
      ares_process_fd(ch_, rd ? p.fd : ARES_SOCKET_BAD, wr ? p.fd : ARES_SOCKET_BAD);
    }
  }
  return answer_ok(ans, url, out, f);
}


// ---- on a reactor ----------------------------------------------------------

struct LoopResolver::Pending : Answer {};

LoopResolver::~LoopResolver() {
  if (ch_) ares_destroy(ch_);  // answers nobody waits for any more
  r_.cancel(&timer_);
  for (auto& s : socks_) {
    r_.cancel(&s->rd);
    r_.cancel(&s->wr);
  }
}

bool LoopResolver::init(std::string& err) {
  timer_.fn = on_timer;
  timer_.ctx = this;
  return make_channel(cfg_, &ch_, &LoopResolver::sock_state, this, err);
}

void LoopResolver::sock_state(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<LoopResolver*>(data);
  Sock* s = nullptr;
  for (auto& p : self->socks_)
    if (p->live && p->fd == fd) s = p.get();
  if (!s) {
    if (!readable && !writable) return;
    self->socks_.push_back(std::make_unique<Sock>());
    s = self->socks_.back().get();
    s->res = self;
    s->fd = fd;
    s->rd.fn = s->wr.fn = on_sock;
    s->rd.ctx = s->wr.ctx = s;
    self->r_.add(fd);
  }
  s->want_r = readable;
  s->want_w = writable;
  if (!readable && !writable) {  // c-ares is about to close it
    s->live = false;
    self->r_.cancel(&s->rd);
    self->r_.cancel(&s->wr);
    self->r_.forget(fd);
    return;
  }
  if (readable && s->rd.fd < 0 && !s->rd.queued) self->r_.wait(&s->rd, fd, false, nullptr);
  if (!writable) self->r_.cancel(&s->wr);
  else if (s->wr.fd < 0 && !s->wr.queued) self->r_.wait(&s->wr, fd, true, nullptr);
}

void LoopResolver::on_sock(Waiter* w) {
  auto* s = static_cast<Sock*>(w->ctx);
  LoopResolver* self = s->res;
  if (!s->live || w->result != Waiter::kReady) return;
  bool rd = w == &s->rd;
  ares_process_fd(self->ch_, rd ? s->fd : ARES_SOCKET_BAD, rd ? ARES_SOCKET_BAD : s->fd);
  // Whether c-ares read until EAGAIN differs between versions: ask the
  // socket (one poll per DNS event) before calling the edge spent.
  if (s->live) {
    pollfd p{s->fd, short(rd ? POLLIN : POLLOUT), 0};
    if (sys::poll(&p, 1, 0) == 0) self->r_.drained(s->fd, !rd);
  }
  if (s->live && rd && s->want_r && s->rd.fd < 0 && !s->rd.queued) self->r_.wait(&s->rd, s->fd, false, nullptr);
  if (s->live && !rd && s->want_w && s->wr.fd < 0 && !s->wr.queued) self->r_.wait(&s->wr, s->fd, true, nullptr);
  self->arm();
}

void LoopResolver::on_timer(Waiter* w) {
  auto* self = static_cast<LoopResolver*>(w->ctx);
  ares_process_fd(self->ch_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  self->arm();
}

void LoopResolver::arm() {
  if (!timer_.queued) r_.cancel(&timer_);
  timeval tv;
  if (!ares_timeout(ch_, nullptr, &tv)) return;  // nothing outstanding
  if (timer_.queued) return;  // it runs this turn and arms again
  r_.sleep(&timer_, Clock::now() + std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
}

bool LoopResolver::Query::await_ready() {
  out.clear();
  if (shortcut(res.cfg_, url, out)) return true;
  std::string err;
  if (!res.ch_ && !res.init(err)) {
    f = {Cause::dns, "dns: " + err};
    return true;
  }
  res.queries_++;
  p = new Pending();
  p->out = new std::vector<Addr>();  // the answer's own: it may outlive this frame
  p->port = url.port;
  start_query(res.ch_, url, res.cfg_.family, p);
  if (p->done) return true;  // answered at once (/etc/hosts)
  res.arm();
  return false;
}

void LoopResolver::Query::await_suspend(std::coroutine_handle<> h) {
  auto* w = new Waiter();
  w->fn = resume_waiter;
  w->ctx = h.address();
  p->waiter = w;
  p->reactor = &res.r_;
  res.r_.sleep(w, dl);
}

bool LoopResolver::Query::await_resume() {
  if (f.cause != Cause::none) return false;  // init failed
  if (!p) return true;                       // numeric or --resolve
  if (!p->done) {                            // the deadline came first
    f = {Cause::timeout, "timeout: resolving " + url.host};
    p->abandoned = true;
    delete p->waiter;
    p->waiter = nullptr;
    p = nullptr;  // on_answer frees it
    return false;
  }
  out = *p->out;
  return answer_ok(*p, url, out, f);
}

LoopResolver::Query::~Query() {
  if (!p) return;
  delete p->waiter;
  delete p->out;
  delete p;
}

}  // namespace fanout
