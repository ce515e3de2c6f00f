// The jobs against curl's behaviour (issue 18): --rate before the clock
// starts, --connect-timeout on a hanging connect, one name per scheme,
// nothing half-written left, --pages A..B only, curl's exit codes and
// http_code, addresses in certificates, Retry-After's three date forms,
// Host: across a redirect, JSON that is UTF-8, Slurm's array steps.
#include <doctest/doctest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.hpp"
#include "util.hpp"

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

std::string pct(const std::string& s) {  // a query value, percent-encoded
  std::string o;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '.' || c == '_') o += char(c);
    else {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      o += b;
    }
  }
  return o;
}

}  // namespace

// 1. A request waiting for its turn under --rate is not on its --max-time
// clock yet, nor on its latency's: curl's --rate delays the start.
TEST_CASE("jobs: --rate delays the start; --max-time and the latency begin when it ends, in every model") {
  t::Origin o;
  std::string text;
  for (int i = 0; i < 200; i++) text += o.url("/now?i=" + std::to_string(i)) + "\n";
  std::string input = t::temp_file("rate-200.txt", text);
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string out = t::temp_dir() + "/rate-" + model + ".out";
    // (Under qemu, 200 emulated processes are too many for the machine: 50
    // still queue 1 s at the pacer, past --max-time.)
    std::string c = t::qemu().empty() ? "200" : "50";
    t::Ran r = t::fanout({"-m", model, "-c", c, "-w", "2", "--rate", "50/s", "--max-time", "1", "--json", "--output", out, input});
    CHECK(r.status == 0);
    tj::Value j = tj::parse(r.out);
    CHECK(j["statuses"]["200"].num == 200);  // every line answered: none timed out at the pacer
    // The wait is not latency: origin answers at once (the p50 target of
    // 1 ms is make bench's; here, far from the 50+ ms the wait made).
    CHECK(j["cost"]["latency_ms"]["p50"].num < 10);
    // And no burst: origin saw the starts one interval (20 ms) apart.
    std::string body;
    REQUIRE(t::read_file(out, body));
    std::vector<long long> at;
    for (size_t p = 0, nl; (nl = body.find('\n', p)) != std::string::npos; p = nl + 1) at.push_back(atoll(body.c_str() + p));
    REQUIRE(at.size() == 200);
    std::sort(at.begin(), at.end());
    // (Microseconds.) A start may come some ms late, as a thread or one of
    // 200 processes is woken on a busy (or sanitized) machine: 23 in one
    // window is the most seen so; the burst the pacer's wait cut short by
    // --max-time made put some 140 in one.
    size_t most = 0;  // starts within any 200 ms: 10 at 50/s
    for (size_t i = 0, j = 0; j < at.size(); j++) {
      while (at[j] - at[i] >= 200000) i++;
      most = std::max(most, j - i + 1);
    }
    std::vector<long long> gaps;
    for (size_t i = 1; i < at.size(); i++) gaps.push_back(at[i] - at[i - 1]);
    std::sort(gaps.begin(), gaps.end());
    INFO("most in 200 ms " << most << ", median gap " << gaps[gaps.size() / 2] << " us");
    CHECK(most <= 50);
    CHECK(gaps[gaps.size() / 2] >= 19000);
    CHECK(gaps[gaps.size() / 2] <= 21000);
    // The span, without the ten first and last starts: one of 200 processes
    // woken late at the very start (ASan beside a qemu suite) shortened the
    // whole span by 200 ms, with no burst anywhere.
    CHECK(at[189] - at[10] >= 179 * 19000);
  }
}

// 2. --connect-timeout holds while a plain http connect hangs (a full
// accept queue drops the SYN), and time_connect says it never connected.
TEST_CASE("jobs: --connect-timeout ends a hanging connect for plain http, in every model") {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(l, 0) == 0);
  socklen_t len = sizeof a;
  getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<int> fill;  // the accept queue, full: no one accepts
  for (int i = 0; i < 4; i++) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fill.push_back(c);
  }
  usleep(100000);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/hang-" + model + ".jsonl";
    auto t0 = std::chrono::steady_clock::now();
    t::Ran r = t::fanout({"-m", model, "--connect-timeout", "0.5", "--max-time", "3", "--results", results, "-"}, url + "\n");
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(r.status == 28);
    CHECK(took < 2);  // curl: 0.52 s; not the 3 s of --max-time
    auto v = t::results(results);
    REQUIRE(v.size() == 1);
    CHECK(v[0]["errormsg"].str.find("timeout: connect(127.0.0.1:") == 0);
    CHECK(v[0]["time_connect"].num == 0);
  }
  for (int c : fill) close(c);
  close(l);
}

// 4. Nothing half-written is left: not after SIGINT in threads, not after
// a worker is killed with SIGKILL.
TEST_CASE("jobs: an interrupted download leaves no .part file, in every model and after SIGKILL") {
  t::Origin o;
  std::string text;
  for (int i = 0; i < 4; i++) text += o.url("/fault/idle-body?i=" + std::to_string(i)) + "\n";  // headers, then nothing
  std::string input = t::temp_file("parts.txt", text);
  for (const char* model : kModels) {
    for (int sig : {SIGINT, SIGKILL}) {
      if (sig == SIGKILL && std::string(model) != "procs" && std::string(model) != "hybrid") continue;
      INFO("model " << std::string(model) << " signal " << sig);
      std::string dir = t::temp_dir() + "/parts-" + model + "-" + std::to_string(sig), out = dir + ".out";
      pid_t pid = t::spawn_fanout({"-m", model, "-c", "4", "-w", "2", "--grace", "0", "--output-dir", dir, input}, out);
      usleep(t::mid_run(600000));  // the bodies are being written
      if (sig == SIGKILL) {
        for (pid_t kid : t::children(pid)) kill(kid, SIGKILL);  // the workers, mid-body
        usleep(200000);
        kill(pid, SIGINT);
      } else {
        kill(pid, SIGINT);
      }
      t::wait_exit(pid);
      std::set<std::string> files;
      t::files_below(dir, "", files);
      CHECK(files.empty());
    }
  }
}

// 5. --pages takes A..B, never "A and on without end".
TEST_CASE("jobs: --pages without ..B is an error") {
  t::Ran r = t::fanout({"--pages", "5", "http://127.0.0.1:1/?p={page}"});
  CHECK(r.status == 2);
  CHECK(r.err.find("--pages takes A..B") != std::string::npos);
}

// 6. curl's codes and http_code where fanout had others.
TEST_CASE("jobs: -f gives the line curl's 22; http_code is the status that came, in every model") {
  t::Origin o;
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/codes-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-f", "-L", "--max-redirs", "2", "--results", results, "-"},
                         o.url("/status/404") + "\n" + o.url("/loop") + "\n" + o.url("/fault/short-body") + "\n" +
                             o.url("/status/200") + "\n");
    CHECK(r.status == 22);
    auto v = t::results(results);
    REQUIRE(v.size() == 4);
    CHECK(v[0]["exitcode"].num == 22);
    CHECK(v[0]["http_code"].num == 404);
    CHECK(v[0]["errormsg"].str == "The requested URL returned error: 404");
    CHECK(v[1]["exitcode"].num == 47);
    CHECK(v[1]["http_code"].num == 302);  // the last response that came
    CHECK(v[2]["exitcode"].num == 18);
    CHECK(v[2]["http_code"].num == 200);
    CHECK(v[3]["exitcode"].num == 0);
    CHECK(v[3]["errormsg"].is_null());
  }
}

TEST_CASE("jobs: --max-time covers the whole transfer, redirects and all, as curl's") {
  t::Origin slow({"--latency", "400"});
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/hops-" + model + ".jsonl";
    // Three hops of 400 ms each: 1.2 s, past a --max-time of 1.
    t::Ran r = t::fanout({"-m", model, "-L", "--max-time", "1", "--results", results, "-"}, slow.url("/redirect/2") + "\n");
    CHECK(r.status == 28);
    auto v = t::results(results);
    REQUIRE(v.size() == 1);
    CHECK(v[0]["time_total"].num < 1.3);
  }
}

// 7. A certificate for an address.
TEST_CASE("jobs: https://127.0.0.1/ takes a certificate with that iPAddress, and refuses a DNS-only one") {
  std::string d = t::certs();
  t::Origin ip({}, d + "/ip.crt", d + "/server.key");
  t::Origin dns_only({}, d + "/server.crt", d + "/server.key");
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/ipsan-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "--cacert", d + "/ca.crt", "--results", results, "-"},
                         "https://127.0.0.1:" + std::to_string(ip.https) + "/status/200\nhttps://127.0.0.1:" +
                             std::to_string(dns_only.https) + "/status/200\n");
    CHECK(r.status == 60);
    auto v = t::results(results);
    REQUIRE(v.size() == 2);
    CHECK(v[0]["http_code"].num == 200);
    CHECK(v[1]["errormsg"].str == "tls: 127.0.0.1: certificate verify failed: certificate is not for host 127.0.0.1");
  }
}

// 8. Retry-After as an RFC 850 or asctime date (RFC 9110 5.6.7).
TEST_CASE("jobs: Retry-After in RFC 850 and asctime form is waited for") {
  t::Origin o;
  int n = 0;
  for (const char* form : {"%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y", "%a, %d %b %Y %H:%M:%S GMT"}) {
    INFO(form);
    time_t when = time(nullptr) + 3;
    tm u{};
    gmtime_r(&when, &u);
    char date[64];
    strftime(date, sizeof date, form, &u);
    std::string results = t::temp_dir() + "/after-" + std::to_string(++n) + ".jsonl";
    t::Ran r = t::fanout({"--retry", "1", "--retry-delay", "0", "--results", results, "-"},
                         o.url("/flaky/after" + std::to_string(n) + "?fail=1&status=503&retry_after=" + pct(date)) + "\n");
    CHECK(r.status == 0);
    auto v = t::results(results);
    REQUIRE(v.size() == 1);
    CHECK(v[0]["num_retries"].num == 1);
    CHECK(v[0]["time_total"].num >= 1.5);  // the date, not --retry-delay's 0
  }
}

// 9. A -H Host: names the first host only.
TEST_CASE("jobs: -H Host: does not follow a redirect to another host, as in curl") {
  t::Origin o;
  std::string port = std::to_string(o.http);
  std::string to = "http://localhost:" + port + "/headers";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    t::Ran r = t::fanout({"-m", model, "-L", "-H", "Host: first.example", "--resolve", "localhost:" + port + ":127.0.0.1",
                          "--output", "-", "-s", "-"},
                         o.url("/redirect-to?url=" + pct(to)) + "\n");
    CHECK(r.status == 0);
    CHECK(r.out.find("Host: localhost:" + port + "\r\n") != std::string::npos);
    CHECK(r.out.find("first.example") == std::string::npos);
  }
}

// 10. A page that is not UTF-8 is not JSON.
TEST_CASE("jobs: --merge-json refuses a page that is not UTF-8, in every model") {
  t::Origin o;
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string merged = t::temp_dir() + "/latin1-" + model + ".json", results = merged + "l";
    t::Ran r = t::fanout({"-m", model, "--merge-json", merged, "--results", results, "-"},
                         o.url("/json/1?per=1") + "\n" + o.url("/fault/json-latin1") + "\n");
    CHECK(r.status == 1);
    auto v = t::results(results);
    REQUIRE(v.size() == 2);
    CHECK(v[1]["errormsg"].str == "content: not UTF-8 at byte 5");
    CHECK(v[1]["http_code"].num == 200);
    std::string got;
    t::read_file(merged, got);
    CHECK(got == "[{\"page\": 1, \"item\": 0}]\n");
  }
}

// 11. Slurm arrays with a step; Kubernetes gives the index, not the count.
TEST_CASE("jobs: a Slurm array with a step maps its IDs onto every shard; JOB_COMPLETIONS must be given") {
  struct Env {
    std::vector<std::string> names;
    void set(const std::string& n, const std::string& v) {
      setenv(n.c_str(), v.c_str(), 1);
      names.push_back(n);
    }
    ~Env() {
      for (auto& n : names) unsetenv(n.c_str());
    }
  };
  std::set<std::string> shards;
  for (int id : {0, 2, 4, 6}) {  // --array=0-6:2
    Env e;
    e.set("SLURM_ARRAY_TASK_ID", std::to_string(id));
    e.set("SLURM_ARRAY_TASK_MIN", "0");
    e.set("SLURM_ARRAY_TASK_MAX", "6");
    e.set("SLURM_ARRAY_TASK_STEP", "2");
    e.set("SLURM_ARRAY_TASK_COUNT", "4");
    t::Ran r = t::fanout({"-"}, "");
    INFO(r.err);
    CHECK(r.status == 0);
    size_t at = r.err.find("fanout: shard ");
    REQUIRE(at != std::string::npos);
    shards.insert(r.err.substr(at + 14, r.err.find(' ', at + 14) - at - 14));
  }
  CHECK(shards == std::set<std::string>{"1/4", "2/4", "3/4", "4/4"});
  Env k;
  k.set("JOB_COMPLETION_INDEX", "1");
  t::Ran r = t::fanout({"-"}, "");
  CHECK(r.status == 2);
  CHECK(r.err.find("JOB_COMPLETIONS is not") != std::string::npos);
  CHECK(t::fanout({"--shard", "2/3", "-"}, "").status == 0);  // --shard wins
}

TEST_CASE("jobs: --polite follows a host that turns requests away: no line fails, a tenth of the 429s of --retry alone, in every model") {
  // The host takes 4 at once and answers 429 with Retry-After: 1 past that.
  t::Origin o({"--latency", "20", "--max-inflight", "4"});
  std::string list;
  for (int i = 0; i < 60; i++) list += o.url("/bytes/10?p=" + std::to_string(i)) + "\n";
  auto rejected = [&] { return t::origin_stats(o)["rejected"].num; };
  double before = rejected();
  t::Ran plain = t::fanout({"-m", "async", "-c", "50", "--retry", "5", "--json", "-"}, list);
  double alone = rejected() - before;
  CHECK(alone > 100);  // the retries come back all at once, and most are turned away again
  for (const char* m : t::models()) {
    INFO("-m " << m);
    before = rejected();
    t::Ran r = t::fanout({"-m", m, "-c", "50", "--polite", "--json", "-"}, list);
    double polite = rejected() - before;
    CHECK(r.status == 0);
    tj::Value v = tj::parse(r.out);
    CHECK(v["statuses"]["200"].num == 60);
    CHECK(polite * 10 <= alone);
    // The summary names the host it slowed, and how far (seq, one at a
    // time, is never turned away).
    if (std::string(m) == "seq") {
      CHECK(polite == 0);
      CHECK(v["polite"].arr.empty());
      continue;
    }
    REQUIRE(v["polite"].arr.size() == 1);
    CHECK(v["polite"].arr[0]["host"].str == "127.0.0.1:" + std::to_string(o.http));
    CHECK(v["polite"].arr[0]["pushed_back"].num == polite);
    CHECK(v["polite"].arr[0]["lowest"].num >= 1);
    CHECK(v["polite"].arr[0]["lowest"].num <= 4);
  }
}

TEST_CASE("jobs: --polite waits out a quota the IETF RateLimit fields say is spent, for the whole host") {
  t::Origin o;
  for (const char* form : {"/quota?i=", "/quota?old=1&i="}) {
    INFO(form);
    std::string list;
    for (int i = 0; i < 3; i++) list += o.url(form + std::to_string(i)) + "\n";
    auto t0 = std::chrono::steady_clock::now();
    t::Ran r = t::fanout({"-m", "async", "-c", "3", "--polite", "-s", "-"}, list);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(r.status == 0);
    CHECK(s >= 0.95);  // the first answer holds the host a second: the other two go after it
    auto t1 = std::chrono::steady_clock::now();
    t::Ran plain = t::fanout({"-m", "async", "-c", "3", "-s", "-"}, list);
    CHECK(plain.status == 0);
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() < s);
  }
}
