// dnsd: the loopback DNS server the tests point fanout at (--dns-server),
// over UDP and TCP on the same port. It answers from the name alone, so a
// list can hold thousands of distinct hosts, and every way a DNS answer
// goes wrong is one name away. The first label of a name under .test says
// what it gets:
//   nx...            NXDOMAIN               servfail...   SERVFAIL
//   nodata...        no address at all      silent...     no answer, ever
//   slow[-MS]...     the answer after MS ms (300)
//   tc...            over UDP truncated (TC, no answer); over TCP the answer
//   malformed...     an answer record cut short
//   v6...            AAAA ::1 only          ip-127-B-C-D  A 127.B.C.D
//   dual...          AAAA ::1 and A 127.0.0.1 (Happy Eyeballs' tests)
//   cname-N...       N CNAMEs (cname-N -> cname-N-1 ... -> cname-0), then A
//   anything else    A 127.0.0.1, and no AAAA
// Names outside .test are NXDOMAIN: nothing is ever forwarded.
//   dnsd [--port N] [--log FILE] [--lifetime SEC]
// Prints "dns PORT" once it listens; --log gets "udp|tcp TYPE NAME" a query.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
FILE* g_log = nullptr;

constexpr uint16_t kA = 1, kCname = 5, kAaaa = 28;
constexpr int kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3;

void put16(std::string& s, unsigned v) {
  s += char(v >> 8);
  s += char(v & 0xff);
}

std::string wire_name(const std::string& name) {  // "a.test" -> \1a\4test\0
  std::string w;
  for (size_t at = 0; at < name.size();) {
    size_t dot = name.find('.', at);
    if (dot == std::string::npos) dot = name.size();
    w += char(dot - at);
    w += name.substr(at, dot - at);
    at = dot + 1;
  }
  return w + '\0';
}

void record(std::string& out, const std::string& name, uint16_t type, const std::string& data) {
  out += wire_name(name);
  put16(out, type);
  put16(out, 1);  // IN
  put16(out, 0);
  put16(out, 60);  // TTL
  put16(out, unsigned(data.size()));
  out += data;
}

struct Query {
  uint16_t id = 0, type = 0;
  bool rd = false;
  std::string name;      // lower case, no trailing dot
  std::string question;  // as it came: QNAME QTYPE QCLASS
};

bool parse(const std::string& p, Query& q) {
  if (p.size() < 12 || (uint8_t(p[2]) & 0x80) || ((uint8_t(p[4]) << 8) | uint8_t(p[5])) != 1) return false;
  q.id = uint16_t((uint8_t(p[0]) << 8) | uint8_t(p[1]));
  q.rd = uint8_t(p[2]) & 1;
  size_t at = 12;
  while (at < p.size() && p[at]) {
    size_t len = uint8_t(p[at]);
    if (len > 63 || at + 1 + len >= p.size()) return false;
    if (!q.name.empty()) q.name += '.';
    for (size_t i = 0; i < len; i++) q.name += char(tolower(uint8_t(p[at + 1 + i])));
    at += 1 + len;
  }
  if (at + 5 > p.size()) return false;
  q.type = uint16_t((uint8_t(p[at + 1]) << 8) | uint8_t(p[at + 2]));
  q.question = p.substr(12, at + 5 - 12);
  return true;
}

// The reply to q, and how long to hold it (-1: never send it).
std::string answer(const Query& q, bool tcp, int& delay_ms) {
  delay_ms = 0;
  int rcode = kNoError;
  bool tc = false, cut = false;
  std::string answers;
  int count = 0;
  const std::string& n = q.name;
  std::string first = n.substr(0, n.find('.'));
  auto is = [&](const char* prefix) { return first.rfind(prefix, 0) == 0; };
  auto a = [&](const std::string& name, const char* addr) {
    in_addr ia{};
    inet_pton(AF_INET, addr, &ia);
    record(answers, name, kA, std::string(reinterpret_cast<char*>(&ia), 4));
    count++;
  };
  bool under_test = n.size() > 5 && n.compare(n.size() - 5, 5, ".test") == 0;
  if (!under_test || is("nx")) {
    rcode = kNxDomain;
  } else if (is("servfail")) {
    rcode = kServFail;
  } else if (is("silent")) {
    delay_ms = -1;
  } else if (is("nodata")) {
  } else if (is("tc") && !tcp) {
    tc = true;
  } else if (is("v6") || (is("dual") && q.type == kAaaa)) {
    if (q.type == kAaaa) {
      in6_addr ia = IN6ADDR_LOOPBACK_INIT;
      record(answers, n, kAaaa, std::string(reinterpret_cast<char*>(&ia), 16));
      count++;
    }
  } else if (is("cname-")) {
    int links = atoi(first.c_str() + 6);
    std::string rest = n.substr(first.size()), name = n;
    for (int i = links; i > 0; i--) {
      std::string to = "cname-" + std::to_string(i - 1) + rest;
      record(answers, name, kCname, wire_name(to));
      count++;
      name = to;
    }
    if (q.type == kA) a(name, "127.0.0.1");
  } else if (is("malformed")) {  // an address record cut short, A or AAAA
    in6_addr ia = IN6ADDR_LOOPBACK_INIT;
    record(answers, n, q.type, std::string(reinterpret_cast<char*>(&ia), q.type == kAaaa ? 16 : 4));
    count++;
    cut = true;
  } else if (q.type == kA) {
    if (is("slow")) delay_ms = first.size() > 5 && first[4] == '-' ? atoi(first.c_str() + 5) : 300;
    std::string addr = "127.0.0.1";
    if (is("ip-127-")) {  // ip-127-B-C-D: only ever a loopback address
      addr = first.substr(3);
      for (char& c : addr) if (c == '-') c = '.';
      in_addr ia{};
      if (inet_pton(AF_INET, addr.c_str(), &ia) != 1) rcode = kNxDomain;
    }
    if (rcode == kNoError) a(n, addr.c_str());
  } else if (is("slow")) {
    delay_ms = first.size() > 5 && first[4] == '-' ? atoi(first.c_str() + 5) : 300;
  }
  std::string out;
  put16(out, q.id);
  out += char(0x80 | 0x04 | (tc ? 0x02 : 0) | (q.rd ? 1 : 0));  // QR AA [TC] [RD]
  out += char(0x80 | rcode);                                      // RA
  put16(out, 1);
  put16(out, tc ? 0 : unsigned(count));
  put16(out, 0);
  put16(out, 0);
  out += q.question;
  if (!tc) out += answers;
  if (cut) out.resize(out.size() - 2);  // the address's last two bytes never come
  return out;
}

std::string formerr(const std::string& p) {
  std::string out = p.substr(0, 2);
  out += char(0x80);
  out += char(0x80 | kFormErr);
  out.append(8, '\0');
  return out;
}

const char* type_name(uint16_t t) { return t == kA ? "A" : t == kAaaa ? "AAAA" : t == kCname ? "CNAME" : "other"; }

struct Held {  // a reply held back (slow...)
  Clock::time_point due;
  int fd;  // the UDP socket, or a TCP connection
  sockaddr_in to;
  std::string bytes;
};

struct TcpConn {
  int fd;
  std::string in;
};

std::string framed(const std::string& msg) {
  std::string s;
  put16(s, unsigned(msg.size()));
  return s + msg;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  long lifetime = 0;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    const char usage[] =
        "usage: dnsd [--port N] [--log FILE] [--lifetime SEC]\n"
        "The test DNS server (UDP and TCP on one port, loopback) fanout's tests ask;\n"
        "prints \"dns PORT\" when it listens. --log writes each question to FILE.\n";
    if (a == "-h" || a == "--help") {
      fputs(usage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "dnsd: %s needs a value\n%s", a.c_str(), usage);
      return 2;
    }
    if (a == "--port") port = atoi(argv[++i]);
    else if (a == "--lifetime") lifetime = atol(argv[++i]);
    else if (a == "--log") {
      g_log = fopen(argv[++i], "a");
      if (!g_log) {
        perror(argv[i]);
        return 1;
      }
      setvbuf(g_log, nullptr, _IOLBF, 0);
    } else {
      fprintf(stderr, "dnsd: unknown option %s\n%s", a.c_str(), usage);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  // UDP and TCP on one port: c-ares asks TCP where UDP said "truncated".
  int udp = -1, lst = -1;
  sockaddr_in addr{};
  for (int attempt = 0; attempt < 20 && lst < 0; attempt++) {
    if (udp >= 0) close(udp);
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(uint16_t(port));
    udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof addr;
    if (bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(udp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      perror("dnsd: bind (udp)");
      return 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(fd, 128) == 0) lst = fd;
    else close(fd);
    if (lst < 0 && port) {
      perror("dnsd: bind (tcp)");
      return 1;
    }
  }
  if (lst < 0) return 1;
  printf("dns %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  std::vector<Held> held;
  std::vector<TcpConn> conns;
  auto end = Clock::now() + std::chrono::seconds(lifetime > 0 ? lifetime : 1L << 30);
  auto reply = [&](const std::string& packet, bool tcp, int fd, const sockaddr_in& from) {
    Query q;
    int delay = 0;
    std::string out = parse(packet, q) ? answer(q, tcp, delay) : formerr(packet);
    if (g_log) fprintf(g_log, "%s %s %s\n", tcp ? "tcp" : "udp", type_name(q.type), q.name.c_str());
    if (delay < 0) return;
    if (tcp) out = framed(out);
    held.push_back({Clock::now() + std::chrono::milliseconds(delay), fd, from, out});
  };
  while (!g_stop && Clock::now() < end) {
    auto now = Clock::now();
    for (size_t i = 0; i < held.size();) {
      if (held[i].due > now) {
        i++;
        continue;
      }
      Held& h = held[i];
      if (h.fd == udp) sendto(udp, h.bytes.data(), h.bytes.size(), 0, reinterpret_cast<sockaddr*>(&h.to), sizeof h.to);
      else send(h.fd, h.bytes.data(), h.bytes.size(), MSG_NOSIGNAL);  // small: one send
      held.erase(held.begin() + long(i));
    }
    int wait = 200;
    for (auto& h : held)
      wait = std::min<int>(wait, int(std::chrono::duration_cast<std::chrono::milliseconds>(h.due - now).count()) + 1);
    std::vector<pollfd> pfds = {{udp, POLLIN, 0}, {lst, POLLIN, 0}};
    for (auto& c : conns) pfds.push_back({c.fd, POLLIN, 0});
    if (poll(pfds.data(), pfds.size(), std::max(wait, 0)) <= 0) continue;
    if (pfds[0].revents) {
      char buf[4096];
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      ssize_t n = recvfrom(udp, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n > 0) reply(std::string(buf, size_t(n)), false, udp, from);
    }
    if (pfds[1].revents) {
      int fd = accept4(lst, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) conns.push_back({fd, ""});
    }
    for (size_t i = 2; i < pfds.size(); i++) {
      if (!pfds[i].revents) continue;
      TcpConn& c = conns[i - 2];
      char buf[4096];
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) {
        for (auto& h : held) if (h.fd == c.fd) h.fd = -1;
        close(c.fd);
        c.fd = -1;
        continue;
      }
      c.in.append(buf, size_t(n));
      while (c.in.size() >= 2) {
        size_t len = (uint8_t(c.in[0]) << 8) | uint8_t(c.in[1]);
        if (c.in.size() < 2 + len) break;
        reply(c.in.substr(2, len), true, c.fd, {});
        c.in.erase(0, 2 + len);
      }
    }
    for (size_t i = 0; i < held.size();) {
      if (held[i].fd < 0) held.erase(held.begin() + long(i));
      else i++;
    }
    for (size_t i = 0; i < conns.size();) {
      if (conns[i].fd < 0) conns.erase(conns.begin() + long(i));
      else i++;
    }
  }
  return 0;
}
