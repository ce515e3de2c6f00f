// -m uring's own cases: where the ring is refused (a seccomp filter, as a
// container's profile would), its receives without provided buffers, and
// hybrid's workers on rings. (Every model's tests run uring too: t::models.)
#include <doctest/doctest.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <map>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.hpp"
#include "proc.hpp"
#include "util.hpp"

namespace {

// fanout -m uring under a seccomp filter that answers io_uring_setup with
// err: its exit status and what it said.
std::pair<int, std::string> refused(int err, const std::vector<const char*>& extra = {}) {
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  std::string exe = t::build_dir() + "/fanout";
  std::vector<const char*> argv = {exe.c_str(), "-m", "uring", "-s", "/dev/null"};
  if (!extra.empty()) argv = {exe.c_str()};
  for (const char* a : extra) argv.push_back(a);
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 2);
    close(pipefd[0]);
    sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t(err) & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(99);
    execv(exe.c_str(), const_cast<char* const*>(argv.data()));
    _exit(98);
  }
  close(pipefd[1]);
  std::string err_text;
  char buf[4096];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) err_text.append(buf, size_t(n));
  close(pipefd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, err_text};
}

}  // namespace

TEST_CASE("uring: where io_uring is refused, -m uring exits 2 at once and says why and what would allow it") {
  if (!t::qemu().empty()) return t::skip("uring: seccomp under qemu-user filters the emulator's calls");
  auto [code, text] = refused(EPERM);
  REQUIRE(code != 99);  // the filter went in
  CHECK(code == 2);
  CHECK(text.find("io_uring_setup: EPERM") != std::string::npos);
  CHECK(text.find("seccomp") != std::string::npos);
  CHECK(text.find("kernel.io_uring_disabled") != std::string::npos);
  auto [code2, text2] = refused(ENOSYS);
  CHECK(code2 == 2);
  CHECK(text2.find("io_uring_setup: ENOSYS") != std::string::npos);
  CHECK(text2.find("no io_uring") != std::string::npos);
  // hybrid's option, the same way; and nothing was read or written first.
  auto [code3, text3] = refused(EPERM, {"-m", "hybrid", "--io-uring", "--results", "/nonexistent/dir/r.jsonl", "/dev/null"});
  CHECK(code3 == 2);
  CHECK(text3.find("-m hybrid --io-uring: io_uring_setup: EPERM") != std::string::npos);
  // The option is hybrid's.
  t::Ran r = t::fanout({"-m", "async", "--io-uring", "-"}, "");
  CHECK(r.status == 2);
  CHECK(r.err.find("--io-uring is for -m hybrid") != std::string::npos);
}

TEST_CASE("uring: receives without provided buffers, and hybrid's workers on rings, give every line its result") {
  if (!t::uring_why().empty()) return t::skip("uring: " + t::uring_why());
  t::Origin o;
  std::string list;
  const int n = 120;
  for (int i = 0; i < n; i++)
    list += o.url(i % 10 == 0 ? "/bytes/300000?i=" + std::to_string(i) : "/bytes/100?i=" + std::to_string(i)) + "\n";
  list += o.url("/status/404") + "\n";
  // A plain receive each time (FANOUT_URING_SINGLESHOT): at least one a response.
  setenv("FANOUT_URING_SINGLESHOT", "1", 1);
  t::Ran single = t::fanout({"-m", "uring", "-c", "8", "--json", "-"}, list);
  unsetenv("FANOUT_URING_SINGLESHOT");
  CHECK(single.status == 0);
  tj::Value s = tj::parse(single.out);
  CHECK(s["statuses"]["200"].num == n);
  CHECK(s["statuses"]["404"].num == 1);
  CHECK(s["cost"]["io_uring_ops"]["recv"].num >= n + 1);
  // Multishot: a receive a connection, however many responses it carries.
  t::Ran multi = t::fanout({"-m", "uring", "-c", "8", "--json", "-"}, list);
  tj::Value m = tj::parse(multi.out);
  CHECK(m["statuses"]["200"].num == n);
  CHECK(m["cost"]["io_uring_ops"]["recv"].num < n / 2);
  // hybrid --io-uring: each worker's loop on a ring of its own.
  t::Ran h = t::fanout({"-m", "hybrid", "--io-uring", "-w", "2", "-c", "8", "--json", "-"}, list);
  CHECK(h.status == 0);
  tj::Value hv = tj::parse(h.out);
  CHECK(hv["statuses"]["200"].num == n);
  CHECK(hv["cost"]["poller"].str == "io_uring");
  CHECK(hv["cost"]["io_uring_ops"]["send"].num == n + 1);
  CHECK(hv["cost"]["syscalls_by_name"]["io_uring_setup"].num >= 2);
}

TEST_CASE("uring: a receive ring that runs dry falls back to poll and recv(2), and loses nothing (http, https, h2)") {
  if (!t::uring_why().empty()) return t::skip("uring: " + t::uring_why());
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  std::string plain, secure;
  const int n = 200;
  for (int i = 0; i < n; i++) {
    std::string p = i % 20 == 0 ? "/bytes/200000?i=" + std::to_string(i) : "/bytes/700?i=" + std::to_string(i);
    plain += o.url(p) + "\n";
    secure += o.tls_url(p) + "\n";
  }
  // One provided buffer for 50 connections: most answers find the ring
  // empty, and their sockets are read the old way until it is not. The
  // buffer is taken whole by each receive, or (Linux 6.12) shared by
  // receives one after another until it is full (FANOUT_URING_NOINC
  // turns that off): TLS's records and h2's frames tell a misplaced byte.
  setenv("FANOUT_URING_BUFS", "1", 1);
  struct Way { const char* name; std::vector<std::string> args; const std::string& list; };
  for (const char* whole : {"0", "1"})
  for (const Way& w : {Way{"http", {}, plain}, Way{"https", {"--cacert", d + "/ca.crt", "--http1.1"}, secure},
                       Way{"h2", {"--cacert", d + "/ca.crt"}, secure}}) {
    INFO(w.name << (*whole == '1' ? ", a buffer a receive" : ", buffers shared"));
    if (*whole == '1') setenv("FANOUT_URING_NOINC", "1", 1);
    else unsetenv("FANOUT_URING_NOINC");
    std::vector<std::string> args = {"-m", "uring", "-c", "50", "--max-time", "20", "--json"};
    args.insert(args.end(), w.args.begin(), w.args.end());
    args.push_back("-");
    t::Ran r = t::fanout(args, w.list);
    CHECK(r.status == 0);
    tj::Value v = tj::parse(r.out);
    CHECK(v["statuses"]["200"].num == n);
    CHECK(v["cost"]["syscalls_by_name"]["recvfrom"].num > 0);  // the fallback's reads
    CHECK(v["cost"]["io_uring_ops"]["poll"].num > 0);          // and its polls
  }
  unsetenv("FANOUT_URING_BUFS");
  unsetenv("FANOUT_URING_NOINC");
}

TEST_CASE("uring: --trace shows the ring's batches, one event per io_uring_enter, with what each carried") {
  if (!t::uring_why().empty()) return t::skip("uring: " + t::uring_why());
  t::Origin o;
  std::string list;
  const int n = 300;
  for (int i = 0; i < n; i++) list += o.url("/bytes/100?i=" + std::to_string(i)) + "\n";
  std::string trace = t::temp_dir() + "/ring-trace";
  t::Ran r = t::fanout({"-m", "uring", "-c", "20", "--json", "--trace", trace, "-"}, list);
  REQUIRE(r.status == 0);
  tj::Value v = tj::parse(r.out);
  std::string text, svg;
  REQUIRE(t::read_file(trace + ".json", text));
  REQUIRE(t::read_file(trace + ".svg", svg));
  tj::Value tr = tj::parse(text);
  double enters = 0, submitted = 0, completions = 0;
  for (auto& e : tr["traceEvents"].arr)
    if (e["name"].str == "io_uring_enter") {
      enters++;
      submitted += e["args"]["submitted"].num;
      completions += e["args"]["completions"].num;
      CHECK(e["dur"].num >= 0);
    }
  // Every enter the cost report counts is on the lane; what they submitted
  // is every operation, and what came back every completion.
  CHECK(enters == v["cost"]["syscalls_by_name"]["io_uring_enter"].num);
  double ops = 0;
  const tj::Value& kinds = v["cost"]["io_uring_ops"];
  for (size_t i = 0; i < kinds.keys.size(); i++)
    if (kinds.keys[i] != "completions") ops += kinds.vals[i].num;
  CHECK(submitted == ops);
  CHECK(completions == v["cost"]["io_uring_ops"]["completions"].num);
  CHECK(enters < n);  // batches: fewer enters than requests
  // One ring: the one main made to see that io_uring is allowed is the loop's.
  CHECK(v["cost"]["syscalls_by_name"]["io_uring_setup"].num == 1);
  CHECK(svg.find("<g class=\"ring\"><text x=\"10\" y=\"67\">io_uring_enter</text><rect") != std::string::npos);

  // hybrid --io-uring: each worker's ring on a lane in that worker's process.
  t::Ran h = t::fanout({"-m", "hybrid", "--io-uring", "-w", "2", "-c", "20", "--json", "--trace", trace, "-"}, list);
  REQUIRE(h.status == 0);
  tj::Value hv = tj::parse(h.out);
  REQUIRE(t::read_file(trace + ".json", text));
  REQUIRE(t::read_file(trace + ".svg", svg));
  tr = tj::parse(text);
  std::map<double, double> by_worker;
  for (auto& e : tr["traceEvents"].arr)
    if (e["name"].str == "io_uring_enter") by_worker[e["pid"].num]++;
  CHECK(by_worker.size() == 2);
  CHECK(by_worker.count(1) == 1);
  CHECK(by_worker.count(2) == 1);
  double all = 0;
  for (auto& [pid, k] : by_worker) all += k;
  CHECK(all == hv["cost"]["syscalls_by_name"]["io_uring_enter"].num);
  CHECK(svg.find(">io_uring_enter (w0)</text>") != std::string::npos);
  CHECK(svg.find(">io_uring_enter (w1)</text>") != std::string::npos);
}
