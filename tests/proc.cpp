#include <doctest/doctest.h>
#include <algorithm>
#include "proc.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.hpp"

namespace t {
namespace {

// exe's argv, behind the emulator when there is one (execvp finds it).
std::vector<char*> argv_of(const std::string& exe, const std::vector<std::string>& args) {
  static const std::string emulator = qemu();
  std::vector<char*> v;
  if (!emulator.empty()) v.push_back(const_cast<char*>(emulator.c_str()));
  v.push_back(const_cast<char*>(exe.c_str()));
  for (auto& a : args) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

}  // namespace

// Starts a tool of build/ and reads its first `want` lines ("http 8080").
static pid_t start_tool(const std::string& name, const std::vector<std::string>& args, int want,
                 void (*line)(const char*, void*), void* ctx) {
  std::string exe = build_dir() + "/" + name;
  int p[2];
  if (pipe(p) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    auto v = argv_of(exe, args);
    execvp(v[0], v.data());
    _exit(127);
  }
  close(p[1]);
  FILE* f = fdopen(p[0], "r");
  char buf[128];
  for (; want > 0 && fgets(buf, sizeof buf, f); want--) line(buf, ctx);
  fclose(f);
  return pid;
}

static void stop_tool(pid_t pid) {
  if (pid > 0) {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }
}

Origin::Origin(std::vector<std::string> extra, const std::string& cert, const std::string& key) {
  std::vector<std::string> args = {"--port", "0", "--lifetime", "900"};
  if (!cert.empty()) args.insert(args.end(), {"--tls-port", "0", "--cert", cert, "--key", key});
  args.insert(args.end(), extra.begin(), extra.end());
  int want = (cert.empty() ? 1 : 2) + (std::find(extra.begin(), extra.end(), "--fault-ports") != extra.end() ? 2 : 0);
  pid = start_tool("origin", args, want, [](const char* l, void* ctx) {
    auto* o = static_cast<Origin*>(ctx);
    if (sscanf(l, "http %d", &o->http) != 1 && sscanf(l, "https %d", &o->https) != 1 &&
        sscanf(l, "fault hangup %d", &o->hangup) != 1)
      sscanf(l, "fault eager %d", &o->eager);
  }, this);
  if (!http) throw std::runtime_error("origin did not start (is build/origin built?)");
}

Origin::~Origin() { stop_tool(pid); }

Dnsd::Dnsd() {
  static int n = 0;
  log = temp_dir() + "/dnsd" + std::to_string(++n) + ".log";
  pid = start_tool("dnsd", {"--port", "0", "--lifetime", "900", "--log", log}, 1,
                   [](const char* l, void* ctx) { sscanf(l, "dns %d", static_cast<int*>(ctx)); }, &port);
  if (!port) throw std::runtime_error("dnsd did not start (is build/dnsd built?)");
}

Dnsd::~Dnsd() { stop_tool(pid); }

std::string Origin::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(http) + path;
}
std::string Origin::tls_url(const std::string& path) const {
  return "https://localhost:" + std::to_string(https) + path;
}

// build/fanout with stdin, stdout and stderr redirected to files.
pid_t spawn(const std::vector<std::string>& args, const std::string& in, const std::string& out) {
  std::string exe = build_dir() + "/fanout";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(open(in.c_str(), O_RDONLY), 0);
    dup2(open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 1);
    dup2(open((out + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    auto v = argv_of(exe, args);
    execvp(v[0], v.data());
    _exit(127);
  }
  return pid;
}

pid_t spawn_fanout(const std::vector<std::string>& args, const std::string& out_path) {
  return spawn(args, "/dev/null", out_path);
}

// Bounded: a fanout that hangs fails the test that waits for it, by name,
// instead of holding the suite until tools/run-tests stops it.
int wait_exit(pid_t pid) {
  const double limit = kWaitLimit;
  int st = 0;
  useconds_t nap = 200;
  for (double waited = 0; waited < limit; waited += nap / 1e6) {
    pid_t got = waitpid(pid, &st, WNOHANG);
    if (got == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (got < 0) return -1;
    usleep(nap);
    nap = std::min<useconds_t>(nap * 2, 20000);
  }
  FAIL_CHECK("pid " << pid << " still running after " << limit << " s: killed");
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return 128 + SIGKILL;
}

// Has it exited? (It stays a zombie for wait_exit.)
static bool ended(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != 0;
}

size_t wait_lines(const std::string& path, size_t k, pid_t pid, double seconds) {
  size_t lines = 0;
  for (int i = 0; i < int(seconds * 100); i++) {
    std::string s;
    lines = read_file(path, s) ? size_t(std::count(s.begin(), s.end(), '\n')) : 0;
    if (lines >= k || ended(pid)) break;
    usleep(10000);
  }
  return lines;
}

Ran fanout(const std::vector<std::string>& args, const std::string& stdin_text) {
  static int n = 0;
  std::string base = temp_dir() + "/run" + std::to_string(++n);
  write_file(base + ".in", stdin_text);
  Ran r;
  r.status = wait_exit(spawn(args, base + ".in", base + ".out"));
  read_file(base + ".out", r.out);
  read_file(base + ".out.err", r.err);
  return r;
}

std::vector<pid_t> children(pid_t pid) {
  std::string s;
  std::vector<pid_t> out;
  if (read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children", s)) {
    std::istringstream in(s);
    pid_t c;
    while (in >> c) out.push_back(c);
  }
  return out;
}

tj::Value origin_stats(const Origin& o, const std::string& query) {
  Ran r = fanout({"-m", "seq", "--output", "-", "-"}, o.url("/stats" + query) + "\n");
  REQUIRE(r.status == 0);
  return tj::parse(r.out);
}

std::string certs() {
  static std::string dir;
  if (dir.empty()) {
    dir = temp_dir() + "/certs";
    std::string cmd = runner() + build_dir() + "/certgen " + dir;
    if (system(cmd.c_str()) != 0) throw std::runtime_error("certgen failed");
  }
  return dir;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::vector<tj::Value> jsonl(const std::string& path) {
  std::string s;
  std::vector<tj::Value> out;
  if (!read_file(path, s)) return out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(tj::parse(line));
  return out;
}

std::vector<tj::Value> results(const std::string& path) {
  std::vector<tj::Value> v = jsonl(path);
  std::stable_sort(v.begin(), v.end(), [](const tj::Value& a, const tj::Value& b) { return a["line"].num < b["line"].num; });
  return v;
}

int exit_rule(const std::vector<tj::Value>& results, bool fail) {
  for (auto& v : results) {
    if (v.has("skipped")) continue;
    bool failed = !v["errormsg"].is_null();
    int code = failed ? (v["exitcode"].is_null() ? 1 : int(v["exitcode"].num)) : 0;
    if (!failed && fail && v["http_code"].num >= 400) code = 22;
    if (code) return code;
  }
  return 0;
}

}  // namespace t
