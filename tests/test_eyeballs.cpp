// Happy Eyeballs (RFC 8305), -4 and -6, --resolve with several addresses,
// and curl's remote_ip / remote_port: a host with a broken IPv6 address
// must not cost each URL its connect timeout, in any model.
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include "proc.hpp"
#include "util.hpp"

namespace {

// A loopback listener on [::1]:port that never answers: its accept queue
// (backlog 0) is full of connections nobody accepts, so the kernel drops
// each new SYN and a connect to it waits until its own timeout. What a
// half-configured IPv6 route looks like to a client.
struct Stalled {
  int fd = -1;
  std::vector<int> fill;
  std::string why;  // empty: it stalls
  explicit Stalled(int port) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(uint16_t(port));
    a.sin6_addr = in6addr_loopback;
    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || listen(fd, 0) < 0) {
      why = std::string("no IPv6 loopback listener here: ") + strerror(errno);
      return;
    }
    for (int i = 0; i < 4; i++) {
      int c = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fill.push_back(c);
    }
    usleep(100 * 1000);
    // The last of them must still be waiting: the queue is full.
    pollfd p{fill.back(), POLLOUT, 0};
    if (poll(&p, 1, 300) != 0) why = "the kernel took a connection past a full accept queue";
  }
  ~Stalled() {
    for (int c : fill) close(c);
    if (fd >= 0) close(fd);
  }
};

std::string list_of(const std::string& base, int n) {
  std::string s;
  for (int i = 0; i < n; i++) s += base + "/bytes/10?i=" + std::to_string(i) + "\n";
  return s;
}

}  // namespace

TEST_CASE("eyeballs: a host whose IPv6 address never answers gets every URL within 200 ms + 100, in every model") {
  t::Origin o;
  Stalled v6(o.http);
  if (!v6.why.empty()) return t::skip("eyeballs: " + v6.why);
  t::Dnsd dns;
  std::string port = std::to_string(o.http);
  struct Way { const char* name; std::vector<std::string> args; std::string host; };
  // The addresses from --resolve (in the order given: IPv6 first) and from
  // DNS (AAAA and A for one name).
  std::vector<Way> ways = {{"--resolve", {"--resolve", "both.example:" + port + ":[::1],127.0.0.1"}, "both.example"},
                           {"dnsd", {"--dns-server", dns.server()}, "dual.test"}};
  for (const Way& w : ways) {
    for (const char* m : t::models()) {
      INFO(w.name << ", -m " << m);
      std::string res = t::temp_dir() + "/he-" + m + ".jsonl";
      std::vector<std::string> args = {"-m", m, "-c", "4", "--connect-timeout", "5", "--results", res, "-s", "-"};
      args.insert(args.begin(), w.args.begin(), w.args.end());
      t::Ran r = t::fanout(args, list_of("http://" + w.host + ":" + port, 12));
      CHECK(r.status == 0);
      auto lines = t::results(res);
      REQUIRE(lines.size() == 12);
      for (auto& l : lines) {
        INFO(l["url"].str);
        CHECK(l["http_code"].num == 200);
        CHECK(l["remote_ip"].str == "127.0.0.1");
        CHECK(l["remote_port"].num == o.http);
        // Not the connect timeout (5 s): the A address's attempt began
        // 200 ms after the AAAA one, and won; within 100 ms more (under
        // qemu-user, whose every request is slower, 500).
        CHECK(l["time_total"].num < (t::qemu().empty() ? 0.3 : 0.7));
      }
    }
  }
}

TEST_CASE("eyeballs: -4 and -6 try only their family; the timeout names every address tried") {
  t::Origin o;
  Stalled v6(o.http);
  if (!v6.why.empty()) return t::skip("eyeballs: " + v6.why);
  std::string port = std::to_string(o.http);
  std::vector<std::string> resolve = {"--resolve", "both.example:" + port + ":[::1],127.0.0.1"};
  std::string url = "http://both.example:" + port + "/bytes/10\n";
  for (const char* m : t::models()) {
    INFO("-m " << m);
    std::string res = t::temp_dir() + "/he46-" + m + ".jsonl";
    std::vector<std::string> a4 = {"-m", m, "-4", "--connect-timeout", "5", "--results", res, "-s", "-"};
    a4.insert(a4.begin(), resolve.begin(), resolve.end());
    t::Ran r4 = t::fanout(a4, url);
    CHECK(r4.status == 0);
    auto l4 = t::results(res);
    REQUIRE(l4.size() == 1);
    CHECK(l4[0]["remote_ip"].str == "127.0.0.1");
    CHECK(l4[0]["time_connect"].num < 0.1);  // no IPv6 attempt went first
    std::vector<std::string> a6 = {"-m", m, "-6", "--connect-timeout", "0.5", "--results", res, "-s", "-"};
    a6.insert(a6.begin(), resolve.begin(), resolve.end());
    t::Ran r6 = t::fanout(a6, url);
    CHECK(r6.status == 28);
    auto l6 = t::results(res);
    REQUIRE(l6.size() == 1);
    CHECK(l6[0]["errormsg"].str == "timeout: connect([::1]:" + port + ")");
    CHECK(l6[0]["remote_ip"].str == "::1");
    // Without -6 but with no IPv4 to go to, the race lists what it tried.
    std::vector<std::string> two = {"-m", m, "--resolve", "two.example:" + port + ":[::1],::1", "--happy-eyeballs-timeout-ms", "100",
                                    "--connect-timeout", "0.5", "--results", res, "-s", "-"};
    t::Ran rt = t::fanout(two, "http://two.example:" + port + "/\n");
    CHECK(rt.status == 28);
    auto lt = t::results(res);
    REQUIRE(lt.size() == 1);
    CHECK(lt[0]["errormsg"].str == "timeout: connect([::1]:" + port + ", [::1]:" + port + ")");
  }
  // A family the host does not have: curl's "could not resolve" (6).
  t::Ran none = t::fanout({"-m", "seq", "-4", "--resolve", "v6only.example:" + port + ":[::1]", "-"},
                          "http://v6only.example:" + port + "/\n");
  CHECK(none.status == 6);
  CHECK(none.err.find("dns: v6only.example: no IPv4 address (-4)") != std::string::npos);
}

TEST_CASE("eyeballs: an address that refuses hands over at once, without waiting for the timer") {
  t::Origin o;
  // Nothing listens on [::1]:port: the IPv6 attempt is refused at once.
  std::string port = std::to_string(o.http);
  for (const char* m : t::models()) {
    INFO("-m " << m);
    std::string res = t::temp_dir() + "/her-" + m + ".jsonl";
    t::Ran r = t::fanout({"-m", m, "--resolve", "both.example:" + port + ":[::1],127.0.0.1", "--happy-eyeballs-timeout-ms",
                          "5000", "--results", res, "-s", "-"},
                         list_of("http://both.example:" + port, 3));
    CHECK(r.status == 0);
    for (auto& l : t::results(res)) {
      CHECK(l["remote_ip"].str == "127.0.0.1");
      CHECK(l["time_total"].num < 1);
    }
  }
}

TEST_CASE("eyeballs: --resolve takes several addresses and '*', and names a bad one; reused connections say where they go") {
  t::Ran bad = t::fanout({"--resolve", "h.example:80:127.0.0.1,nope", "-"}, "");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--resolve: \"nope\" is not a numeric IPv4 or IPv6 address") != std::string::npos);
  t::Ran empty = t::fanout({"--resolve", "h.example:80:", "-"}, "");
  CHECK(empty.status == 2);
  CHECK(empty.err.find("--resolve takes HOST:PORT:ADDR[,ADDR...]") != std::string::npos);
  t::Origin o;
  std::string port = std::to_string(o.http);
  for (const char* m : t::models()) {
    INFO("-m " << m);
    std::string res = t::temp_dir() + "/hes-" + m + ".jsonl";
    // '*' is any host (curl's), and the same connection carries all three.
    t::Ran r = t::fanout({"-m", m, "-c", "1", "--resolve", "*:" + port + ":127.0.0.1", "--results", res, "-s", "-"},
                         list_of("http://any.example:" + port, 3));
    CHECK(r.status == 0);
    for (auto& l : t::results(res)) {
      CHECK(l["http_code"].num == 200);
      CHECK(l["remote_ip"].str == "127.0.0.1");
      CHECK(l["remote_port"].num == o.http);
    }
  }
}
