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
}

}  // namespace

std::string Addr::text() const {
  char buf[INET6_ADDRSTRLEN];
  if (ss.ss_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(s6->sin6_port));
  }
  auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(s4->sin_port));
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

void Resolver::sock_state(void* data, int fd, int readable, int writable) {
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
  static std::once_flag lib_once;
  std::call_once(lib_once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  ares_options o{};
  // STAYOPEN: otherwise c-ares closes and reopens its socket per query.
  o.flags = ARES_FLAG_STAYOPEN;
  o.sock_state_cb = reinterpret_cast<ares_sock_state_cb>(&Resolver::sock_state);
  o.sock_state_cb_data = this;
  int st = ares_init_options(&ch_, &o, ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB);
  if (st != ARES_SUCCESS) {
    err = std::string("ares_init_options: ") + ares_strerror(st);
    ch_ = nullptr;
    return false;
  }
  ares_set_socket_functions(ch_, &kSocketFns, nullptr);
  if (!cfg_.dns_server.empty()) {
    st = ares_set_servers_ports_csv(ch_, cfg_.dns_server.c_str());
    if (st != ARES_SUCCESS) {
      err = "--dns-server " + cfg_.dns_server + ": " + ares_strerror(st);
      return false;
    }
  }
  return true;
}

bool Resolver::resolve(const Url& url, Deadline dl, std::vector<Addr>& out, Result& r) {
  out.clear();
  Addr a;
  for (auto& e : cfg_.resolve) {
    if (e.port == url.port && e.host == url.host) {
      numeric_addr(e.addr, url.port, a);  // checked when the option was read
      out.push_back(a);
      return true;
    }
  }
  if (url.kind != Url::HostKind::name) {
    numeric_addr(url.host, url.port, a);
    out.push_back(a);
    return true;
  }
  std::string err;
  if (!ch_ && !init(err)) {
    r.fail(Cause::dns, "dns: " + err);
    return false;
  }
  queries_++;
  Answer ans;
  ans.out = &out;
  ans.port = url.port;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = ARES_AI_NOSORT;  // sorting probes each address with a UDP connect()
  ares_getaddrinfo(ch_, url.host.c_str(), nullptr, &hints, on_answer, &ans);
  std::vector<pollfd> pfds;
  while (!ans.done) {
    int left = ms_left(dl);
    if (left == 0) {
      ares_cancel(ch_);
      r.fail(Cause::timeout, "timeout: resolving " + url.host);
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
  if (ans.status != ARES_SUCCESS || out.empty()) {
    int st = ans.status == ARES_SUCCESS ? ARES_ENODATA : ans.status;
    r.fail(Cause::dns, "dns: " + url.host + ": " + ares_strerror(st) + " (" + ares_code(st) + ")");
    return false;
  }
  return true;
}

}  // namespace fanout
