// fanout over HTTP/2 (issue 19): h2 by ALPN on origin's TLS port (the
// default for https, as curl's), h2c with --http2-prior-knowledge, and
// --http1.1; the same results in every model; bodies streamed in bounded
// memory; broken HTTP/2 servers answered with curl's codes; nghttpd.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.hpp"
#include "util.hpp"

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

struct Line {
  int code;
  double size;
  int exitcode;
  std::string version, error;
};

std::vector<Line> run(const std::vector<std::string>& args, const std::string& list, int* status = nullptr) {
  static int n = 0;
  std::string results = t::temp_dir() + "/h2-" + std::to_string(++n) + ".jsonl";
  std::vector<std::string> a = args;
  a.insert(a.end(), {"--results", results, "-"});
  t::Ran r = t::fanout(a, list);
  if (status) *status = r.status;
  std::vector<Line> out;
  for (auto& v : t::results(results))
    out.push_back({int(v["http_code"].num), v["size_download"].num, int(v["exitcode"].num), v["http_version"].str,
                   v["errormsg"].is_null() ? "" : v["errormsg"].str});
  return out;
}

// Two files alike, read a piece at a time: this process must not hold 100
// MB when it starts fanout, whose peak RSS would start there (Linux keeps
// ru_maxrss across exec).
bool same_file(const std::string& a, const std::string& b) {
  FILE* fa = fopen(a.c_str(), "rb");
  FILE* fb = fopen(b.c_str(), "rb");
  bool same = fa && fb;
  char x[65536], y[65536];
  while (same) {
    size_t n = fread(x, 1, sizeof x, fa), m = fread(y, 1, sizeof y, fb);
    same = n == m && memcmp(x, y, n) == 0;
    if (n == 0) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}

// fanout started by a small process (sh, which forks it): Linux carries a
// process's peak RSS across exec, so fanout started straight from this
// test process would report this process's peak as its own.
std::string run_from_small(const std::vector<std::string>& args) {
  std::string out = t::temp_dir() + "/small.out", exe = t::build_dir() + "/fanout";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(open("/dev/null", O_RDONLY), 0);
    dup2(open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
    dup2(open("/dev/null", O_WRONLY), 2);
    std::vector<const char*> v = {"sh", "-c", "\"$0\" \"$@\"; exit $?", exe.c_str()};
    for (auto& a : args) v.push_back(a.c_str());
    v.push_back(nullptr);
    execv("/bin/sh", const_cast<char* const*>(v.data()));
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  std::string text;
  t::read_file(out, text);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? text : "";
}

bool have(const char* prog) { return system((std::string("command -v ") + prog + " >/dev/null 2>&1").c_str()) == 0; }

// A server from Debian's packages (make deps installs it): there, or the
// test skips saying why, and fails under CI.
bool present(const char* prog, const char* package) {
  if (have(prog)) return true;
  std::string why = std::string(prog) + " is not installed (make deps installs " + package + ")";
  const char* ci = getenv("CI");
  if (ci && std::string(ci) == "true") FAIL(why);
  t::skip(why);
  return false;
}

// 30 files of different sizes and one of 3 MB, written into root.
std::map<std::string, std::string> test_files(const std::string& root) {
  mkdir(root.c_str(), 0755);
  std::map<std::string, std::string> files;
  for (int i = 0; i < 30; i++) files["f" + std::to_string(i)] = std::string(size_t(i) * 977, char('a' + i % 26));
  files["big"] = std::string(3 << 20, 'z');
  for (auto& [n, body] : files) t::write_file(root + "/" + n, body);
  return files;
}

// Every model fetches each of files (and /missing) from base
// (scheme://host:port) with extra options into a folder: a 200 and the
// same bytes for each, over HTTP `version`, and a 404 for /missing.
void fetch_all(const std::map<std::string, std::string>& files, const std::string& base, const std::vector<std::string>& extra,
               const std::string& version) {
  static int n = 0;
  std::string list;
  for (auto& f : files) list += base + "/" + f.first + "\n";
  list += base + "/missing\n";
  bool https = base.rfind("https://", 0) == 0;
  std::string port = base.substr(base.rfind(':') + 1);
  std::string host = https ? "localhost_https_" + port : "127.0.0.1_" + port;
  for (const char* model : kModels) {
    INFO("model " << std::string(model) << ", " << base << " " << (extra.empty() ? "" : extra[0]));
    std::string dir = t::temp_dir() + "/all-" + std::to_string(++n);
    std::vector<std::string> args = {"-m", model, "-c", "5", "-w", "2", "-P", dir};
    args.insert(args.end(), extra.begin(), extra.end());
    int status = 0;
    std::vector<Line> got = run(args, list, &status);
    REQUIRE(got.size() == files.size() + 1);
    for (size_t i = 0; i < files.size(); i++) {
      INFO(got[i].error);
      CHECK(got[i].code == 200);
      CHECK(got[i].version == version);
    }
    CHECK(got.back().code == 404);
    CHECK(status == 0);
    for (auto& f : files) {
      std::string saved;
      INFO(f.first);
      CHECK(t::read_file(dir + "/" + host + "/" + f.first, saved));
      CHECK(saved == f.second);
    }
  }
}

}  // namespace

TEST_CASE("http2: the same results over HTTP/1.1, h2c and h2 (ALPN), in every model") {
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  const char* paths[] = {"/", "/status/404", "/status/204", "/bytes/200000", "/chunked/7000", "/eof/300",
                         "/redirect/3", "/json/4?per=3", "/status/503", "/echo/a?b=c"};
  std::string plain, secure;
  for (const char* p : paths) {
    plain += o.url(p) + "\n";
    secure += o.tls_url(p) + "\n";
  }
  std::vector<Line> want = run({"-m", "seq", "-L", "--http1.1"}, plain);
  REQUIRE(want.size() == std::size(paths));
  for (auto& l : want) CHECK(l.version == "1.1");
  for (const char* model : kModels) {
    struct Way { const char* name; std::vector<std::string> args; const std::string& list; const char* version; };
    for (const Way& w : {Way{"h2c", {"--http2-prior-knowledge"}, plain, "2"},
                         Way{"h2 (ALPN)", {"--cacert", d + "/ca.crt"}, secure, "2"},
                         Way{"https --http1.1", {"--cacert", d + "/ca.crt", "--http1.1"}, secure, "1.1"}}) {
      INFO("model " << std::string(model) << ", " << w.name);
      std::vector<std::string> args = {"-m", model, "-c", "4", "-w", "2", "-L"};
      args.insert(args.end(), w.args.begin(), w.args.end());
      std::vector<Line> got = run(args, w.list);
      REQUIRE(got.size() == want.size());
      for (size_t i = 0; i < got.size(); i++) {
        INFO(paths[i] << ": " << got[i].error);
        CHECK(got[i].code == want[i].code);
        CHECK(got[i].size == want[i].size);
        CHECK(got[i].exitcode == want[i].exitcode);
        CHECK(got[i].version == w.version);
      }
    }
  }
}

TEST_CASE("http2: a 100 MB body over h2 is saved whole in every model, in bounded memory") {
  t::Origin o;
  std::string url = o.url("/bytes/100000000");
  std::string ref = t::temp_dir() + "/h2-ref";
  t::Ran r0 = t::fanout({"-m", "seq", "--http1.1", "-P", ref, "-"}, url + "\n");
  REQUIRE(r0.status == 0);
  std::string name = "/127.0.0.1_" + std::to_string(o.http) + "/bytes/100000000";
  std::string list = t::temp_file("h2-big.txt", url + "\n");
  struct stat st;
  REQUIRE(stat((ref + name).c_str(), &st) == 0);
  REQUIRE(st.st_size == 100000000);
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string dir = t::temp_dir() + "/h2-big-" + model;
    std::vector<std::string> args = {"-m", model, "--http2-prior-knowledge", "-P", dir, "--json", list};
    std::string text;
    if (t::qemu().empty()) {
      text = run_from_small(args);
    } else {
      t::Ran r = t::fanout(args);
      text = r.status == 0 ? r.out : "";
    }
    REQUIRE(!text.empty());
    tj::Value j = tj::parse(text);
    CHECK(j["statuses"]["200"].num == 1);
    CHECK(same_file(ref + name, dir + name));
    unlink((dir + name).c_str());
    // Each process's peak, under 8 MB: the windows never make the body pile up.
    if (!t::kAsan && !t::kTsan && t::qemu().empty()) {
      CHECK(j["peak_rss_kb"]["parent"].num < 8192);
      CHECK(j["cost"]["children_peak_rss_kb"].num < 8192 * 2);  // procs, hybrid: every child's peak added up
    }
  }
  unlink((ref + name).c_str());
}

TEST_CASE("http2: a broken HTTP/2 server gets curl's exit codes and words, in every model") {
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  struct Case { const char* path; int exitcode; const char* words; int code; };
  const Case cases[] = {
      {"/fault/h2-rst", 92, "was not closed cleanly: INTERNAL_ERROR (err 2)", 200},
      {"/fault/h2-frame", 16, "http2: a frame larger than SETTINGS_MAX_FRAME_SIZE (FRAME_SIZE_ERROR)", 200},
      {"/fault/h2-hpack", 16, "http2: an index that is not in the table (COMPRESSION_ERROR)", 0},
      {"/fault/h2-headers", 92, "a header list past SETTINGS_MAX_HEADER_LIST_SIZE: CANCEL (err 8)", 0},
      {"/fault/h2-goaway", 56, "was refused: GOAWAY: the peer never took the stream", 0},
      {"/fault/h2-stall", 28, "timeout: receiving the body", 200},
      {"/fault/same-cl-twice", 0, "", 501},  // HTTP/1.1's broken bytes are not sent over HTTP/2
      {"/status/200", 0, "", 200},
  };
  for (const char* model : kModels) {
    for (bool tls : {false, true}) {
      INFO("model " << std::string(model) << (tls ? ", h2 (ALPN)" : ", h2c"));
      std::string list;
      for (auto& c : cases) list += (tls ? o.tls_url(c.path) : o.url(c.path)) + "\n";
      // (A stream each connection: on a shared one, the connection's error
      // is every stream's; the next test has that.)
      std::vector<std::string> args = {"-m", model, "-c", "3", "-w", "2", "--max-time", "1", "--max-streams", "1"};
      if (tls) args.insert(args.end(), {"--cacert", d + "/ca.crt"});
      else args.push_back("--http2-prior-knowledge");
      int status = 0;
      std::vector<Line> got = run(args, list, &status);
      REQUIRE(got.size() == std::size(cases));
      for (size_t i = 0; i < got.size(); i++) {
        INFO(cases[i].path << ": " << got[i].error);
        CHECK(got[i].exitcode == cases[i].exitcode);
        CHECK(got[i].error.find(cases[i].words) != std::string::npos);
        CHECK(got[i].code == cases[i].code);
      }
      CHECK(status == 92);  // the first failed line's
    }
  }
}

TEST_CASE("http2: every model against nghttpd, over h2c and TLS (ALPN)") {
  if (!present("nghttpd", "nghttp2-server")) return;
  std::string d = t::certs(), root = t::temp_dir() + "/nghttpd-root";
  std::map<std::string, std::string> files = test_files(root);
  int plain = t::free_port(), tls = t::free_port();
  std::vector<pid_t> pids;
  for (bool secure : {false, true}) {
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      std::string port = std::to_string(secure ? tls : plain), key = d + "/server.key", crt = d + "/server.crt";
      if (secure) execlp("nghttpd", "nghttpd", "-a", "127.0.0.1", "-d", root.c_str(), port.c_str(), key.c_str(), crt.c_str(), (char*)nullptr);
      else execlp("nghttpd", "nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", root.c_str(), port.c_str(), (char*)nullptr);
      _exit(127);
    }
    pids.push_back(pid);
  }
  usleep(300000);  // nghttpd says nothing when it listens
  fetch_all(files, "http://127.0.0.1:" + std::to_string(plain), {"--http2-prior-knowledge"}, "2");
  fetch_all(files, "https://localhost:" + std::to_string(tls), {"--cacert", d + "/ca.crt"}, "2");
  for (pid_t p : pids) {
    kill(p, SIGTERM);
    waitpid(p, nullptr, 0);
  }
}

// async and hybrid carry their requests as streams on shared connections.
TEST_CASE("http2: async and hybrid multiplex: -c requests as streams on as few connections as --max-streams allows") {
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  for (bool tls : {false, true}) {
    std::string list;
    for (int i = 0; i < 400; i++) list += (tls ? o.tls_url("/sleep?ms=20&i=") : o.url("/sleep?ms=20&i=")) + std::to_string(i) + "\n";
    struct Case { const char* model; int c, streams, conns_max, at_once; };
    const Case cases[] = {
        {"async", 100, 100, 1, 100},  // one connection, every request in flight on it
        {"async", 100, 25, 4, 25},    // four, 25 streams each
        {"hybrid", 100, 100, 2, 50},  // -w 2: a loop each, one connection each
    };
    for (const Case& c : cases) {
      INFO((tls ? "h2 (ALPN) " : "h2c ") << c.model << " -c " << c.c << " --max-streams " << c.streams);
      std::vector<std::string> args = {"-m", c.model, "-c", std::to_string(c.c), "-w", "2", "--max-streams",
                                       std::to_string(c.streams), "--json"};
      if (tls) args.insert(args.end(), {"--cacert", d + "/ca.crt"});
      else args.push_back("--http2-prior-knowledge");
      args.push_back("-");
      t::Ran r = t::fanout(args, list);
      REQUIRE(r.status == 0);
      tj::Value j = tj::parse(r.out);
      CHECK(j["statuses"]["200"].num == 400);
      double opened = j["connections"]["opened"].num;
      CHECK(opened >= 1);
      CHECK(opened <= c.conns_max);
      CHECK(j["connections"]["http2"].num == opened);
      CHECK(j["connections"]["streams"].num == 400);
      CHECK(j["connections"]["streams_at_once"].num == c.at_once);
      if (tls) CHECK(j["cost"]["tls_handshakes"].num == opened);
    }
  }
}

TEST_CASE("http2: on a shared connection a stream's reset or timeout is its own, the connection's error everyone's") {
  std::string d = t::certs();
  t::Origin o;
  auto lines = [](const std::vector<Line>& got) {
    std::map<int, int> by;  // exit code: lines
    for (auto& l : got) by[l.exitcode]++;
    return by;
  };
  for (const char* model : {"async", "hybrid"}) {
    INFO(std::string(model));
    std::vector<std::string> args = {"-m", model, "-c", "50", "-w", "1", "--max-time", "1", "--http2-prior-knowledge"};
    // One stalled stream and one reset among 40 good ones: those two fail,
    // alone, and the connection carries on (one connection in all).
    std::string list;
    for (int i = 0; i < 40; i++) list += o.url("/sleep?ms=200&i=" + std::to_string(i)) + "\n";
    list += o.url("/fault/h2-stall") + "\n" + o.url("/fault/h2-rst") + "\n";
    std::vector<Line> got = run(args, list);
    REQUIRE(got.size() == 42);
    for (int i = 0; i < 40; i++) CHECK(got[size_t(i)].code == 200);
    CHECK(got[40].exitcode == 28);
    CHECK(got[40].error.find("timeout: receiving the body") != std::string::npos);
    CHECK(got[41].exitcode == 92);
    // A frame too large is a connection error: every stream still open on
    // the connection ends with it (curl's 16), as curl's do.
    list.clear();
    for (int i = 0; i < 20; i++) list += o.url("/sleep?ms=300&i=" + std::to_string(i)) + "\n";
    list += o.url("/fault/h2-frame") + "\n";
    got = run(args, list);
    REQUIRE(got.size() == 21);
    CHECK(lines(got) == std::map<int, int>{{16, 21}});
    for (auto& l : got) CHECK(l.error.find("FRAME_SIZE_ERROR") != std::string::npos);
  }
}

TEST_CASE("http2: GOAWAY mid-run (a server that takes N streams a connection): the streams it did not take go again") {
  // As nginx after keepalive_requests: GOAWAY past the 40th stream, the 40
  // answered, then the end. The streams opened past it were not processed:
  // they go again on a new connection, as a stale kept-alive request does.
  t::Origin o({"--h2-max-requests", "40"});
  std::string list;
  for (int i = 0; i < 300; i++) list += o.url("/sleep?ms=" + std::to_string(i % 3) + "&i=" + std::to_string(i)) + "\n";
  for (const char* model : {"async", "hybrid", "threads"}) {
    INFO(std::string(model));
    std::vector<std::string> args = {"-m", model, "-c", "50", "-w", "2", "--http2-prior-knowledge", "--json",
                                     "--results", t::temp_dir() + "/goaway.jsonl", "-"};
    t::Ran r = t::fanout(args, list);
    CHECK(r.status == 0);
    tj::Value j = tj::parse(r.out);
    CHECK(j["statuses"]["200"].num == 300);
    CHECK(j["connections"]["opened"].num >= 300 / 40);
    CHECK(t::results(t::temp_dir() + "/goaway.jsonl").size() == 300);
  }
}

TEST_CASE("http2: every model against nginx: HTTP/1.1, h2c and h2 (ALPN) give the same files") {
  if (!present("/usr/sbin/nginx", "nginx-light")) return;
  auto absolute = [](const std::string& path) {
    char* p = realpath(path.c_str(), nullptr);
    std::string abs = p ? p : path;
    free(p);
    return abs;
  };
  std::string d = absolute(t::certs()), dir = t::temp_dir() + "/nginx";
  mkdir(dir.c_str(), 0755);
  dir = absolute(dir);  // nginx takes paths from its prefix
  mkdir((dir + "/tmp").c_str(), 0755);
  std::map<std::string, std::string> files = test_files(dir + "/www");
  int h1 = t::free_port(), h2c = t::free_port(), tls = t::free_port();
  std::string conf = "daemon off; master_process off; worker_processes 1;\n"
                     "pid " + dir + "/nginx.pid; error_log " + dir + "/error.log;\n"
                     "events { worker_connections 256; }\n"
                     "http {\n  access_log off;\n"
                     "  client_body_temp_path " + dir + "/tmp; proxy_temp_path " + dir + "/tmp;\n"
                     "  fastcgi_temp_path " + dir + "/tmp; uwsgi_temp_path " + dir + "/tmp; scgi_temp_path " + dir + "/tmp;\n"
                     "  server {\n    listen 127.0.0.1:" + std::to_string(h1) + ";\n"
                     "    listen 127.0.0.1:" + std::to_string(h2c) + " http2;\n"
                     "    listen 127.0.0.1:" + std::to_string(tls) + " ssl http2;\n"
                     "    ssl_certificate " + d + "/server.crt; ssl_certificate_key " + d + "/server.key;\n"
                     "    root " + dir + "/www;\n  }\n}\n";
  t::write_file(dir + "/nginx.conf", conf);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open((dir + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    execl("/usr/sbin/nginx", "nginx", "-p", dir.c_str(), "-c", (dir + "/nginx.conf").c_str(), "-e", (dir + "/error.log").c_str(),
          (char*)nullptr);
    _exit(127);
  }
  // nginx, in the foreground, says nothing when it listens: look.
  bool up = false;
  for (int i = 0; i < 100 && !up; i++) {
    usleep(50000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(tls));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
  }
  std::string log, err;
  t::read_file(dir + "/error.log", log);
  t::read_file(dir + "/stderr", err);
  INFO(log << err);
  REQUIRE(up);
  std::string ca = d + "/ca.crt", h1_url = "http://127.0.0.1:" + std::to_string(h1);
  fetch_all(files, h1_url, {}, "1.1");
  fetch_all(files, "http://127.0.0.1:" + std::to_string(h2c), {"--http2-prior-knowledge"}, "2");
  fetch_all(files, "https://localhost:" + std::to_string(tls), {"--cacert", ca}, "2");
  fetch_all(files, "https://localhost:" + std::to_string(tls), {"--cacert", ca, "--http1.1"}, "1.1");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}
