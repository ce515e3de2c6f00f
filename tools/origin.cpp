// origin: the loopback HTTP/1.1 (and HTTPS) server every test and benchmark
// of fanout talks to. One thread, one poller, keep-alive, and latency that
// is a timer, never a sleep, so 10,000 slow connections cost nothing.
//
//   origin [--port N] [--tls-port N --cert F --key F] [--latency MS]
//          [--listen ADDR] [--lifetime SEC]
// Prints "http PORT" (and "https PORT") on stdout once it listens.
//
// Endpoints: /status/N  /sleep?ms=N  /bytes/N  /chunked/N  /eof/N
//            /redirect/N  /  (anything else is 404). HEAD works on all.
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <queue>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "fanout/core.hpp"
#include "poller.hpp"

using namespace fanout;

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

constexpr uint64_t kMaxBody = 1ull << 30;
constexpr size_t kMaxRequest = 64 * 1024;
constexpr size_t kFill = 64 * 1024;

struct Tls {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
};

struct Conn {
  int fd = -1;
  uint64_t serial = 0;  // tells a stale timer from this connection's
  std::unique_ptr<mbedtls_ssl_context> ssl;
  bool handshaken = false;
  std::string in, out;
  size_t out_off = 0;
  uint64_t gen_left = 0;  // body bytes still to generate
  bool chunked = false, busy = false, close_after = false;
};

struct Timer {
  int64_t at_ms;
  int fd;
  uint64_t serial;
  bool operator>(const Timer& o) const { return at_ms > o.at_ms; }
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

const char* reason(int s) {
  switch (s) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

bool ieq_prefix(const std::string& s, size_t at, const char* p) {
  return strncasecmp(s.c_str() + at, p, strlen(p)) == 0;
}

class Origin {
 public:
  int latency_ms = 0;
  Tls* tls = nullptr;
  int http_fd = -1, https_fd = -1;

  int run(int64_t lifetime_ms) {
    poller_ = Poller::create();
    if (http_fd >= 0) poller_->add(http_fd, kReadable);
    if (https_fd >= 0) poller_->add(https_fd, kReadable);
    int64_t end = lifetime_ms > 0 ? now_ms() + lifetime_ms : 0;
    std::vector<PollEvent> evs(256);
    while (!g_stop) {
      int64_t now = now_ms();
      if (end && now >= end) break;
      int timeout = -1;
      if (!timers_.empty()) timeout = int(std::max<int64_t>(0, timers_.top().at_ms - now));
      if (end) timeout = timeout < 0 ? int(end - now) : std::min<int>(timeout, int(end - now));
      int n = poller_->wait(evs.data(), int(evs.size()), timeout);
      if (n < 0 && errno != EINTR) { perror("origin: wait"); return 1; }
      for (int i = 0; i < n; i++) {
        int fd = evs[i].fd;
        if (fd == http_fd || fd == https_fd) { accept_all(fd, fd == https_fd); continue; }
        Conn* c = get(fd);
        if (!c) continue;  // closed earlier in this batch
        if (evs[i].events & (kReadable | kHangup)) on_readable(*c);
        if ((c = get(fd)) && (evs[i].events & kWritable)) on_writable(*c);
      }
      run_timers();
    }
    return 0;
  }

 private:
  Conn* get(int fd) { return fd >= 0 && size_t(fd) < conns_.size() ? conns_[size_t(fd)].get() : nullptr; }

  void accept_all(int lfd, bool is_tls) {
    for (;;) {
      int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) fprintf(stderr, "origin: accept4: %s\n", strerror(errno));
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (size_t(fd) >= conns_.size()) conns_.resize(size_t(fd) + 1);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->serial = ++serial_;
      if (is_tls) {
        c->ssl = std::make_unique<mbedtls_ssl_context>();
        mbedtls_ssl_init(c->ssl.get());
        mbedtls_ssl_setup(c->ssl.get(), &tls->conf);
        mbedtls_ssl_set_bio(c->ssl.get(), &c->fd, mbedtls_net_send, mbedtls_net_recv, nullptr);
      }
      conns_[size_t(fd)] = std::move(c);
      poller_->add(fd, kReadable);
    }
  }

  void close_conn(Conn& c) {
    int fd = c.fd;
    poller_->remove(fd);
    if (c.ssl) mbedtls_ssl_free(c.ssl.get());
    ::close(fd);
    conns_[size_t(fd)].reset();
  }

  // Plain or TLS: >0 bytes, 0 closed, -1 would block, -2 error.
  ssize_t recv_some(Conn& c, char* buf, size_t n) {
    if (!c.ssl) {
      ssize_t r = ::recv(c.fd, buf, n, 0);
      if (r < 0) return errno == EAGAIN || errno == EINTR ? -1 : -2;
      return r;
    }
    int r = mbedtls_ssl_read(c.ssl.get(), reinterpret_cast<unsigned char*>(buf), n);
    if (r > 0) return r;
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) return -1;
    return r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? 0 : -2;
  }

  ssize_t send_some(Conn& c, const char* p, size_t n) {
    if (!c.ssl) {
      ssize_t r = ::send(c.fd, p, n, MSG_NOSIGNAL);
      if (r < 0) return errno == EAGAIN || errno == EINTR ? -1 : -2;
      return r;
    }
    int r = mbedtls_ssl_write(c.ssl.get(), reinterpret_cast<const unsigned char*>(p), n);
    if (r >= 0) return r;
    return r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ ? -1 : -2;
  }

  void on_readable(Conn& c) {
    if (c.ssl && !c.handshaken) {
      int r = mbedtls_ssl_handshake(c.ssl.get());
      if (r == MBEDTLS_ERR_SSL_WANT_READ) { poller_->modify(c.fd, kReadable); return; }
      if (r == MBEDTLS_ERR_SSL_WANT_WRITE) { poller_->modify(c.fd, kWritable); return; }
      if (r != 0) { close_conn(c); return; }  // the client refused us: expected in tests
      c.handshaken = true;
      poller_->modify(c.fd, kReadable);
    }
    if (c.busy && !c.out.empty()) return;  // writing; reads wait (bounded buffer)
    char buf[16384];
    for (;;) {
      ssize_t n = recv_some(c, buf, sizeof buf);
      if (n == -1) break;
      if (n <= 0) { close_conn(c); return; }
      c.in.append(buf, size_t(n));
      if (c.in.size() > kMaxRequest) { close_conn(c); return; }
    }
    process(c);
  }

  void on_writable(Conn& c) {
    if (c.ssl && !c.handshaken) { on_readable(c); return; }
    flush(c);
  }

  // Takes the next complete request from c.in, if no response is under way.
  void process(Conn& c) {
    if (c.busy) return;
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return;
    std::string head = c.in.substr(0, end + 2);
    c.in.erase(0, end + 4);
    c.busy = true;
    size_t sp1 = head.find(' '), sp2 = sp1 == std::string::npos ? sp1 : head.find(' ', sp1 + 1);
    if (sp2 == std::string::npos) { respond(c, 400, true); return; }
    std::string method = head.substr(0, sp1), target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    bool http10 = head.compare(sp2 + 1, 8, "HTTP/1.0") == 0;
    c.close_after = http10;
    for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
      if (ieq_prefix(head, at + 2, "connection:")) {
        size_t e = head.find("\r\n", at + 2);
        std::string v = head.substr(at + 13, e - at - 13);
        if (strcasestr(v.c_str(), "close")) c.close_after = true;
        if (strcasestr(v.c_str(), "keep-alive")) c.close_after = false;
      }
      if (ieq_prefix(head, at + 2, "content-length:") || ieq_prefix(head, at + 2, "transfer-encoding:")) {
        c.close_after = true;  // request bodies are not served here
        respond(c, 400, true);
        return;
      }
    }
    bool head_only = method == "HEAD";
    if (method != "GET" && !head_only) { respond(c, 405, true); return; }
    route(c, target, head_only);
  }

  void route(Conn& c, const std::string& target, bool head_only) {
    std::string path = target.substr(0, target.find('?'));
    std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    auto num = [](const std::string& s, uint64_t& v) {
      if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) return false;
      v = strtoull(s.c_str(), nullptr, 10);
      return true;
    };
    auto param = [&](const char* name) {  // value of name=... in the query
      std::string q = "&" + query + "&", key = std::string("&") + name + "=";
      size_t at = q.find(key);
      if (at == std::string::npos) return std::string();
      at += key.size();
      return q.substr(at, q.find('&', at) - at);
    };
    uint64_t n = 0;
    int delay = latency_ms;
    int status = 200;
    uint64_t bytes = 3;  // a short generated body, as for any other path
    bool chunked = false, eof = false;
    std::string location;
    if (path == "/") {
    } else if (path.rfind("/status/", 0) == 0 && num(path.substr(8), n) && n >= 200 && n <= 599) {
      status = int(n);
    } else if (path == "/sleep" && num(param("ms"), n) && n <= 600000) {
      delay += int(n);
    } else if (path.rfind("/bytes/", 0) == 0 && num(path.substr(7), n) && n <= kMaxBody) {
      bytes = n;
    } else if (path.rfind("/chunked/", 0) == 0 && num(path.substr(9), n) && n <= kMaxBody) {
      bytes = n;
      chunked = true;
    } else if (path.rfind("/eof/", 0) == 0 && num(path.substr(5), n) && n <= kMaxBody) {
      bytes = n;
      eof = true;
    } else if (path.rfind("/redirect/", 0) == 0 && num(path.substr(10), n) && n <= 1000) {
      if (n > 0) {
        status = 302;
        location = "/redirect/" + std::to_string(n - 1);
      }
    } else {
      status = 404;
    }
    c.chunked = chunked;
    std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
    h += "Server: fanout-origin\r\nContent-Type: text/plain\r\n";
    if (!location.empty()) h += "Location: " + location + "\r\n";
    if (status == 204 || status == 304) bytes = 0;
    else if (chunked) h += "Transfer-Encoding: chunked\r\n";
    else if (eof) c.close_after = true;
    else h += "Content-Length: " + std::to_string(bytes) + "\r\n";
    if (c.close_after) h += "Connection: close\r\n";
    h += "\r\n";
    c.out = std::move(h);
    c.out_off = 0;
    c.gen_left = head_only || status == 204 || status == 304 ? 0 : bytes;
    if (head_only) c.chunked = false;
    if (c.chunked && c.gen_left == 0) c.out += "0\r\nX-Origin-Trailer: done\r\n\r\n";
    if (delay > 0) {
      timers_.push({now_ms() + delay, c.fd, c.serial});
      poller_->modify(c.fd, 0);  // nothing to read or write until the timer
      return;
    }
    flush(c);
  }

  // A short error response (bad or unsupported request).
  void respond(Conn& c, int status, bool close) {
    c.close_after = close;
    std::string body = std::to_string(status) + "\n";
    c.out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + body;
    c.out_off = 0;
    c.gen_left = 0;
    c.chunked = false;
    flush(c);
  }

  // Appends up to kFill generated body bytes (and chunk framing) to c.out.
  void generate(Conn& c) {
    static std::string pattern = [] {
      std::string s(kFill, 'x');
      for (size_t i = 0; i < s.size(); i++) s[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37];
      return s;
    }();
    size_t take = size_t(std::min<uint64_t>(c.gen_left, kFill));
    if (c.chunked) {
      // Chunks of varied sizes, with an extension now and then, end in a
      // trailer: the parser's paths get exercised by plain use.
      take = std::min<size_t>(take, 1000 + (c.gen_left % 3000));
      char size[32];
      snprintf(size, sizeof size, take % 2 ? "%zx;n=%zu\r\n" : "%zx\r\n", take, take);
      if (take) c.out += size;
      c.out.append(pattern, 0, take);
      if (take) c.out += "\r\n";
      c.gen_left -= take;
      if (c.gen_left == 0) c.out += "0\r\nX-Origin-Trailer: done\r\n\r\n";
      return;
    }
    c.out.append(pattern, 0, take);
    c.gen_left -= take;
  }

  void flush(Conn& c) {
    for (;;) {
      if (c.out_off == c.out.size()) {
        c.out.clear();
        c.out_off = 0;
        if (c.gen_left > 0) {
          generate(c);
          continue;
        }
        break;
      }
      ssize_t n = send_some(c, c.out.data() + c.out_off, c.out.size() - c.out_off);
      if (n == -1) { poller_->modify(c.fd, kWritable); return; }
      if (n < 0) { close_conn(c); return; }
      c.out_off += size_t(n);
    }
    // The response is out.
    c.busy = false;
    c.chunked = false;
    if (c.close_after) {
      if (c.ssl) mbedtls_ssl_close_notify(c.ssl.get());
      close_conn(c);
      return;
    }
    poller_->modify(c.fd, kReadable);
    if (!c.in.empty()) process(c);
  }

  void run_timers() {
    int64_t now = now_ms();
    while (!timers_.empty() && timers_.top().at_ms <= now) {
      Timer t = timers_.top();
      timers_.pop();
      Conn* c = get(t.fd);
      if (c && c->serial == t.serial) flush(*c);
    }
  }

  std::unique_ptr<Poller> poller_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  uint64_t serial_ = 0;
};

int listen_on(const std::string& addr, int port, int& bound) {
  sockaddr_storage ss{};
  socklen_t len;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, addr.c_str(), &s4->sin_addr) == 1) {
    if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) return -2;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(uint16_t(port));
    len = sizeof *s4;
  } else if (inet_pton(AF_INET6, addr.c_str(), &s6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) return -2;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(uint16_t(port));
    len = sizeof *s6;
  } else {
    return -2;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || listen(fd, 4096) < 0) {
    perror("origin: bind/listen");
    return -1;
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  bound = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
  return fd;
}

bool tls_setup(Tls& t, const char* cert, const char* key) {
  mbedtls_entropy_init(&t.entropy);
  mbedtls_ctr_drbg_init(&t.drbg);
  mbedtls_ssl_config_init(&t.conf);
  mbedtls_x509_crt_init(&t.cert);
  mbedtls_pk_init(&t.key);
  int r = mbedtls_ctr_drbg_seed(&t.drbg, mbedtls_entropy_func, &t.entropy, nullptr, 0);
  if (!r) r = mbedtls_x509_crt_parse_file(&t.cert, cert);
  if (!r) r = mbedtls_pk_parse_keyfile(&t.key, key, nullptr);
  if (!r) r = mbedtls_ssl_config_defaults(&t.conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (!r) {
    mbedtls_ssl_conf_rng(&t.conf, mbedtls_ctr_drbg_random, &t.drbg);
    r = mbedtls_ssl_conf_own_cert(&t.conf, &t.cert, &t.key);
  }
  if (r) {
    char buf[160];
    mbedtls_strerror(r, buf, sizeof buf);
    fprintf(stderr, "origin: TLS set-up (%s, %s): %s\n", cert, key, buf);
    return false;
  }
  return true;
}

[[noreturn]] void usage(const char* why) {
  fprintf(stderr, "origin: %s\nusage: origin [--port N] [--tls-port N --cert F --key F] [--latency MS] "
                  "[--listen ADDR] [--lifetime SEC]\n", why);
  exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_addr = "127.0.0.1";
  int port = 0, tls_port = -1;
  const char *cert = nullptr, *key = nullptr;
  Origin o;
  long lifetime = 0;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--port") port = atoi(val());
    else if (a == "--tls-port") tls_port = atoi(val());
    else if (a == "--cert") cert = val();
    else if (a == "--key") key = val();
    else if (a == "--latency") o.latency_ms = atoi(val());
    else if (a == "--listen") listen_addr = val();
    else if (a == "--lifetime") lifetime = atol(val());
    else usage(("unknown option " + a).c_str());
  }
  // Thousands of connections: take every file descriptor we are allowed.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  int bound = 0;
  o.http_fd = listen_on(listen_addr, port, bound);
  if (o.http_fd == -2) usage("--listen takes a loopback address (127.0.0.0/8 or ::1)");
  if (o.http_fd < 0) return 1;
  printf("http %d\n", bound);
  Tls tls;
  if (tls_port >= 0) {
    if (!cert || !key) usage("--tls-port needs --cert and --key");
    if (!tls_setup(tls, cert, key)) return 1;
    o.tls = &tls;
    o.https_fd = listen_on(listen_addr, tls_port, bound);
    if (o.https_fd < 0) return 1;
    printf("https %d\n", bound);
  }
  fflush(stdout);
  return o.run(lifetime * 1000);
}
