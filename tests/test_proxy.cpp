// Proxies, through real ones from Debian's packages on loopback:
// tinyproxy (HTTP: absolute-form requests and CONNECT) and microsocks
// (SOCKS5, with and without a password). What their own logs say is what
// went through them.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.hpp"
#include "util.hpp"

namespace {

bool installed(const char* tool) {
  std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
  return system(cmd.c_str()) == 0;
}

// A package the tests need and `make deps` installs: missing is a skip
// here, and a failure under CI.
bool need(const char* tool) {
  if (installed(tool)) return true;
  const char* ci = getenv("CI");
  if (ci && std::string(ci) == "true") FAIL(tool << " is not installed (make deps installs it)");
  t::skip(std::string("proxy: ") + tool + " is not installed (make deps installs it)");
  return false;
}

// A server process on a loopback port, its output in log; stopped at the end.
struct Server {
  pid_t pid = -1;
  int port = 0;
  std::string log;
  Server(const std::vector<std::string>& argv, int p, const std::string& out) : port(p), log(out) {
    pid = fork();
    if (pid == 0) {
      int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execvp(a[0], a.data());
      _exit(127);
    }
    // Listening once a connect goes through.
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 100; i++) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
      if (up) break;
      usleep(20 * 1000);
    }
  }
  ~Server() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }
  std::string text() const {
    std::string s;
    t::read_file(log, s);
    return s;
  }
};

struct Tinyproxy {
  std::string dir = t::temp_dir() + "/tinyproxy" + std::to_string(getpid());
  int port = t::free_port();
  std::unique_ptr<Server> s;
  explicit Tinyproxy(const std::string& auth = "") {
    system(("mkdir -p " + dir).c_str());
    std::string conf = dir + "/tp.conf";
    FILE* f = fopen(conf.c_str(), "w");
    fprintf(f, "Port %d\nListen 127.0.0.1\nTimeout 30\nLogFile \"%s/tp.log\"\nLogLevel Info\nMaxClients 200\nAllow 127.0.0.1\n%s\n",
            port, dir.c_str(), auth.c_str());
    fclose(f);
    unlink((dir + "/tp.log").c_str());
    s = std::make_unique<Server>(std::vector<std::string>{"tinyproxy", "-d", "-c", conf}, port, dir + "/out");
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string log() const {
    std::string l;
    t::read_file(dir + "/tp.log", l);
    return l;
  }
};

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) n++;
  return n;
}

}  // namespace

TEST_CASE("proxy: through tinyproxy and microsocks, every model fetches http and https; the proxies' logs show it") {
  if (!need("tinyproxy") || !need("microsocks")) return;
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  Tinyproxy tp;
  int sp = t::free_port();
  Server socks({"microsocks", "-i", "127.0.0.1", "-p", std::to_string(sp)}, sp, t::temp_dir() + "/microsocks.log");
  std::string socks_at = "127.0.0.1:" + std::to_string(sp);
  std::string list;
  for (int i = 0; i < 4; i++) list += o.url("/bytes/100?plain=" + std::to_string(i)) + "\n" + o.tls_url("/bytes/100?tls=" + std::to_string(i)) + "\n";
  std::string http_port = std::to_string(o.http), https_port = std::to_string(o.https);
  for (const char* m : t::models()) {
    for (const std::string& x : {tp.url(), "socks5://" + socks_at, "socks5h://" + socks_at}) {
      INFO("-m " << m << " -x " << x);
      std::string tp_before = tp.log(), socks_before = socks.text();
      std::string res = t::temp_dir() + "/proxy.jsonl";
      t::Ran r = t::fanout({"-m", m, "-c", "3", "-x", x, "--cacert", d + "/ca.crt", "--results", res, "-s", "-"}, list);
      CHECK(r.status == 0);
      auto lines = t::results(res);
      REQUIRE(lines.size() == 8);
      for (auto& l : lines) {
        CHECK(l["http_code"].num == 200);
        CHECK(l["size_download"].num == 100);
      }
      if (x == tp.url()) {
        // http:// goes as an absolute-form request; https:// through CONNECT.
        std::string added = tp.log().substr(tp_before.size());
        CHECK(count(added, "GET http://127.0.0.1:" + http_port + "/bytes/100?plain=") == 4);
        CHECK(count(added, "CONNECT localhost:" + https_port) >= 1);
      } else {
        // microsocks names each connection it made for a client.
        std::string added = socks.text().substr(socks_before.size());
        CHECK(count(added, ":" + http_port) >= 1);
        CHECK(count(added, ":" + https_port) >= 1);
      }
    }
  }
  // A tunnel is a kept-alive connection like any other: pooled by proxy
  // and origin, so one connection carries all five.
  std::string five;
  for (int i = 0; i < 5; i++) five += o.url("/bytes/10?k=" + std::to_string(i)) + "\n";
  t::Ran k = t::fanout({"-m", "seq", "-x", "socks5h://" + socks_at, "--json", "-"}, five);
  tj::Value kv = tj::parse(k.out);
  CHECK(kv["statuses"]["200"].num == 5);
  CHECK(kv["cost"]["connections_opened"].num == 1);
}

TEST_CASE("proxy: http_proxy, https_proxy, all_proxy and no_proxy with curl's rules; -x and --noproxy win") {
  if (!need("tinyproxy")) return;
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  Tinyproxy tp;
  std::string plain = o.url("/bytes/10?env=1") + "\n", secure = o.tls_url("/bytes/10?env=2") + "\n";
  std::string http_port = std::to_string(o.http), https_port = std::to_string(o.https);
  auto through = [&](const std::string& list, std::vector<std::string> args) {
    std::string before = tp.log();
    args.insert(args.end(), {"--cacert", d + "/ca.crt", "-s", "-"});
    t::Ran r = t::fanout(args, list);
    CHECK(r.status == 0);
    std::string added = tp.log().substr(before.size());
    return count(added, "opening connection to 127.0.0.1:" + http_port) + count(added, "opening connection to localhost:" + https_port);
  };
  for (const char* v : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"}) unsetenv(v);
  setenv("http_proxy", tp.url().c_str(), 1);
  CHECK(through(plain, {}) == 1);   // http:// through it
  CHECK(through(secure, {}) == 0);  // https:// has its own variable
  setenv("no_proxy", "example.com, 127.0.0.0/8", 1);  // a CIDR range (curl 7.86)
  CHECK(through(plain, {}) == 0);
  CHECK(through(plain, {"--noproxy", "example.com"}) == 1);  // --noproxy wins over no_proxy
  unsetenv("no_proxy");
  CHECK(through(plain, {"--noproxy", "*"}) == 0);
  CHECK(through(plain, {"-x", ""}) == 0);  // -x "": no proxy at all
  unsetenv("http_proxy");
  setenv("HTTP_PROXY", tp.url().c_str(), 1);  // a CGI's header: curl does not read it
  CHECK(through(plain, {}) == 0);
  unsetenv("HTTP_PROXY");
  setenv("HTTPS_PROXY", tp.url().c_str(), 1);
  CHECK(through(secure, {}) == 1);
  setenv("NO_PROXY", "localhost", 1);
  CHECK(through(secure, {}) == 0);
  unsetenv("NO_PROXY");
  unsetenv("HTTPS_PROXY");
  setenv("all_proxy", tp.url().c_str(), 1);
  CHECK(through(plain + secure, {}) == 2);
  unsetenv("all_proxy");
  // A variable that is no proxy: a usage error that names it, and no
  // password in it.
  setenv("https_proxy", "ftp://u:hunter2@127.0.0.1:1", 1);
  t::Ran bad = t::fanout({"-"}, secure);
  unsetenv("https_proxy");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("https_proxy: ") != std::string::npos);
  CHECK(bad.err.find("unsupported proxy scheme \"ftp\"") != std::string::npos);
  CHECK(bad.err.find("hunter2") == std::string::npos);
}

TEST_CASE("proxy: credentials go to the proxy and nowhere else; its failures name it, with curl's exit codes") {
  if (!need("tinyproxy") || !need("microsocks")) return;
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  Tinyproxy tp("BasicAuth fan s3cret-pw");
  int sp = t::free_port();
  Server socks({"microsocks", "-i", "127.0.0.1", "-p", std::to_string(sp), "-u", "fan", "-P", "s3cret-pw"}, sp,
               t::temp_dir() + "/microsocks-auth.log");
  std::string list = o.url("/bytes/10") + "\n" + o.tls_url("/bytes/10") + "\n";
  for (const char* m : t::models()) {
    for (const std::string& x : {"http://fan:s3cret-pw@127.0.0.1:" + std::to_string(tp.port),
                                 "socks5h://fan:s3cret-pw@127.0.0.1:" + std::to_string(sp)}) {
      INFO("-m " << m << " " << x);
      std::string res = t::temp_dir() + "/proxy-auth.jsonl";
      t::Ran r = t::fanout({"-m", m, "-x", x, "--cacert", d + "/ca.crt", "--results", res, "--trace", t::temp_dir() + "/p.json", "-"}, list);
      CHECK(r.status == 0);
      for (auto& l : t::results(res)) CHECK(l["http_code"].num == 200);
      std::string all = r.out + r.err, written, trace;
      t::read_file(res, written);
      t::read_file(t::temp_dir() + "/p.json", trace);
      CHECK(all.find("s3cret") == std::string::npos);
      CHECK(written.find("s3cret") == std::string::npos);
      CHECK(trace.find("s3cret") == std::string::npos);
    }
    // The wrong password: the http proxy's refusal (tinyproxy's 401) is the
    // answer to an http:// URL (as curl's), and fails CONNECT for https://
    // (56); SOCKS says no (97).
    std::string res = t::temp_dir() + "/proxy-bad.jsonl";
    t::Ran r = t::fanout({"-m", m, "-x", "http://fan:wrong@127.0.0.1:" + std::to_string(tp.port), "--cacert", d + "/ca.crt",
                          "--results", res, "-s", "-"}, list);
    auto l = t::results(res);
    REQUIRE(l.size() == 2);
    int refused = int(l[0]["http_code"].num);
    CHECK((refused == 401 || refused == 407));
    CHECK(l[1]["exitcode"].num == 56);
    CHECK(l[1]["errormsg"].str.find("proxy http://127.0.0.1:" + std::to_string(tp.port) + ": CONNECT tunnel failed, response " +
                                    std::to_string(refused)) == 0);
    CHECK(r.err.find("wrong") == std::string::npos);
    t::Ran s = t::fanout({"-m", m, "-x", "socks5://fan:wrong@127.0.0.1:" + std::to_string(sp), "--results", res, "-s", "-"},
                         o.url("/bytes/10") + "\n");
    CHECK(s.status == 97);
    auto sl = t::results(res);
    REQUIRE(sl.size() == 1);
    CHECK(sl[0]["errormsg"].str == "proxy socks5://127.0.0.1:" + std::to_string(sp) + ": the proxy refused the user and password");
    CHECK(sl[0]["cause"].str == "proxy");
  }
  // No proxy listening: 7, and the message names the proxy. A proxy whose
  // name does not resolve: 5.
  int nobody = t::free_port();
  t::Ran c = t::fanout({"-m", "seq", "-x", "http://127.0.0.1:" + std::to_string(nobody), "-"}, o.url("/") + "\n");
  CHECK(c.status == 7);
  CHECK(c.err.find("proxy http://127.0.0.1:" + std::to_string(nobody) + ": connect(127.0.0.1:" + std::to_string(nobody) + "): ECONNREFUSED") != std::string::npos);
  t::Dnsd dns;
  t::Ran n = t::fanout({"-m", "async", "--dns-server", dns.server(), "-x", "socks5h://nx-proxy.test:1080", "-"}, o.url("/") + "\n");
  CHECK(n.status == 5);
  CHECK(n.err.find("proxy socks5h://nx-proxy.test:1080: dns: nx-proxy.test") != std::string::npos);
  // Not a proxy: a usage error that names what is wrong.
  t::Ran u = t::fanout({"-x", "https://127.0.0.1:1", "-"}, "");
  CHECK(u.status == 2);
  CHECK(u.err.find("-x: \"https://127.0.0.1:1\": https:// proxies are not supported") != std::string::npos);
}
