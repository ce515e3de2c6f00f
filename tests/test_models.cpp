// The integration tests: build/fanout against build/origin on loopback,
// through real sockets, under every model.
#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <thread>
#include <unistd.h>

#include "proc.hpp"
#include "sys.hpp"
#include "util.hpp"

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

struct Line {
  int line;
  std::string url;
  int status;  // -1: an error
  long bytes;
  std::string error;
};

std::vector<Line> lines_of(const std::vector<tj::Value>& v) {
  std::vector<Line> out;
  for (auto& r : v)
    out.push_back({int(r["line"].num), r["url"].str, r["errormsg"].is_null() ? int(r["http_code"].num) : -1,
                   long(r["size_download"].num), r["errormsg"].is_null() ? "" : r["errormsg"].str});
  return out;
}

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// n slow URLs in a file; its path.
std::string slow_list(const t::Origin& o, int n, int ms, const std::string& name) {
  std::string list;
  for (int i = 0; i < n; i++) list += o.url("/sleep?ms=" + std::to_string(ms) + "&i=" + std::to_string(i)) + "\n";
  std::string input = t::temp_dir() + "/" + name + ".txt";
  t::write_file(input, list);
  return input;
}

// Starts fanout and waits (2 s at most) until it has forked n workers.
std::vector<pid_t> start_with_workers(const std::vector<std::string>& args, const std::string& out, size_t n, pid_t* pid) {
  *pid = t::spawn_fanout(args, out);
  std::vector<pid_t> kids;
  for (int i = 0; i < 200 && kids.size() < n; i++) {
    usleep(10000);
    kids = t::children(*pid);
  }
  return kids;
}

}  // namespace

TEST_CASE("models: a mixed list gives the same results under all five models") {
  std::string certs = t::certs();
  t::Origin o({}, certs + "/server.crt", certs + "/server.key");
  int refused = t::free_port(), no_dns = t::free_port();
  std::string https_port = std::to_string(o.https);
  struct Want { std::string url; int status; long bytes; std::string error_prefix; };
  std::vector<Want> want = {
    {o.url("/status/200"), 200, 3, ""},
    {o.url("/status/404"), 404, 3, ""},
    {o.url("/status/500"), 500, 3, ""},
    {o.url("/chunked/5000"), 200, 5000, ""},
    {o.url("/chunked/0"), 200, 0, ""},
    {o.url("/bytes/70000"), 200, 70000, ""},
    {o.url("/eof/123"), 200, 123, ""},
    {o.url("/redirect/1"), 302, 3, ""},
    {o.url("/sleep?ms=30"), 200, 3, ""},
    {"http://127.0.0.1:" + std::to_string(refused) + "/", -1, 0, "connect(127.0.0.1:" + std::to_string(refused) + "): ECONNREFUSED"},
    {"http://nosuch.invalid/", -1, 0, "dns: nosuch.invalid: "},
    {"ftp://example.com/", -1, 0, "input: line 14: unsupported scheme \"ftp\""},
    {"http://exa mple.com/", -1, 0, "input: line 15: space in URL"},
    {"http://[::1/", -1, 0, "input: line 16: unterminated IPv6 address"},
    {"http://127.0.0.1:99999/", -1, 0, "input: line 17: port out of range"},
    {o.tls_url("/status/201"), 201, 3, ""},
    {o.tls_url("/chunked/3000"), 200, 3000, ""},
    {o.tls_url("/status/503"), 503, 3, ""},
  };
  // Line numbers count the comment and the blank line below: want[i] is
  // on line i + 3 for i > 0.
  std::string list = "# a mixed list\n" + want[0].url + "\n\n";
  for (size_t i = 1; i < want.size(); i++) list += want[i].url + (i % 5 == 0 ? "\r\n" : "\n");

  std::string input = t::temp_dir() + "/mixed.txt";
  t::write_file(input, list);
  std::vector<Line> first;
  std::string first_histogram;
  for (const char* model : kModels) {
    INFO("model " << model);
    std::string results = t::temp_dir() + "/mixed-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-c", "4", "--cacert", certs + "/ca.crt",
                          "--resolve", "localhost:" + https_port + ":127.0.0.1",
                          "--dns-server", "127.0.0.1:" + std::to_string(no_dns),
                          "--results", results, input});
    CHECK(r.status == t::exit_rule(t::results(results)));
    CHECK(r.status != 0);
    CHECK(r.err.rfind(std::string("cost (") + model + ", ", 0) == 0);  // the cost report, then the failed lines
    std::vector<Line> got = lines_of(t::results(results));
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < want.size(); i++) {
      INFO("line " << got[i].line << " " << got[i].url << " error " << got[i].error);
      CHECK(got[i].url == want[i].url);
      CHECK(got[i].status == want[i].status);
      CHECK(got[i].bytes == want[i].bytes);
      CHECK(starts(got[i].error, want[i].error_prefix));
      CHECK((want[i].status == -1) == !got[i].error.empty());
    }
    CHECK(got[0].line == 2);
    CHECK(got[1].line == 4);
    std::string histogram = r.out.substr(0, r.out.find('\n'));
    CHECK(histogram == "{\"200\": 7, \"201\": 1, \"302\": 1, \"404\": 1, \"500\": 1, \"503\": 1, \"error\": 6}");
    // curl's exit codes: refused 7, no such host 6, unsupported scheme 1, a bad URL 3.
    auto raw = t::results(results);
    CHECK(raw[9]["exitcode"].num == 7);
    CHECK(raw[10]["exitcode"].num == 6);
    CHECK(raw[11]["exitcode"].num == 1);
    CHECK(raw[12]["exitcode"].num == 3);
    CHECK(raw[0]["exitcode"].num == 0);
    CHECK(r.out.find(std::string("took ")) != std::string::npos);
    CHECK(r.out.find(std::string("(") + model + ", c=" + (std::string(model) == "seq" ? "1" : "4") + ", 18 urls)") != std::string::npos);
    if (first.empty()) {
      first = got;
      first_histogram = histogram;
      continue;
    }
    CHECK(histogram == first_histogram);
    for (size_t i = 0; i < got.size(); i++) {
      CHECK(got[i].line == first[i].line);
      CHECK(got[i].status == first[i].status);
      CHECK(got[i].bytes == first[i].bytes);
      CHECK(got[i].error == first[i].error);
    }
  }
}

TEST_CASE("models: --json and stdin") {
  t::Origin o;
  std::string list = o.url("/status/200") + "\n" + o.url("/status/404") + "\nftp://x.example/\n";
  for (const char* model : kModels) {
    t::Ran r = t::fanout({"-m", model, "-c", "3", "--json", "-"}, list);
    REQUIRE(r.status == 1);  // curl's 1: an unsupported protocol
    tj::Value v = tj::parse(r.out);
    CHECK(v["exitcode"].num == 1);
    CHECK(v["failed"]["count"].num == 1);
    CHECK(v["failed"]["lines"].arr.at(0)["line"].num == 3);
    CHECK(v["model"].str == model);
    CHECK(v["concurrency"].num == (std::string(model) == "seq" ? 1 : 3));
    CHECK(v["urls"].num == 3);
    CHECK(v["statuses"]["200"].num == 1);
    CHECK(v["statuses"]["404"].num == 1);
    CHECK(v["errors"]["input"].num == 1);
    CHECK(v["seconds"].num >= 0);
  }
}

TEST_CASE("models: HEAD, headers and the deadline") {
  t::Origin o;
  std::string results = t::temp_dir() + "/head.jsonl";
  t::Ran r = t::fanout({"-m", "seq", "-I", "-H", "X-Test: 1", "--results", results, "-"}, o.url("/bytes/100") + "\n");
  REQUIRE(r.status == 0);
  auto v = t::results(results);
  REQUIRE(v.size() == 1);
  CHECK(v[0]["http_code"].num == 200);
  CHECK(v[0]["size_download"].num == 0);

  for (const char* model : kModels) {
    std::string res = t::temp_dir() + "/timeout-" + model + ".jsonl";
    r = t::fanout({"-m", model, "--timeout", "0.3", "--results", res, "-"},
                  o.url("/sleep?ms=5000") + "\n" + o.url("/status/200") + "\n");
    REQUIRE(r.status == 28);
    v = t::results(res);
    REQUIRE(v.size() == 2);
    CHECK(v[0]["errormsg"].str == "timeout: waiting for the response");
    CHECK(v[0]["time_total"].num < 2);
    CHECK(v[1]["http_code"].num == 200);
  }
}

TEST_CASE("cli: bad options name what is wrong") {
  struct Case { std::vector<std::string> args; std::string msg; };
  const Case cases[] = {
    {{"-m", "fibers", "-"}, "fanout: unknown model \"fibers\" (models: seq, threads, procs, async, hybrid, uring)"},
    {{"-c", "0", "-"}, "fanout: -c takes a whole number from 1 to 100000, not \"0\""},
    {{"--resolve", "a:80:nope", "-"}, "fanout: --resolve: \"nope\" is not a numeric IPv4 or IPv6 address"},
    {{"-H", "Bad Name: x", "-"}, "fanout: -H \"Bad Name: x\": bad character in header name"},
    {{"--timeout", "-1", "-"}, "fanout: --timeout takes seconds (0 < SEC <= 86400), not \"-1\""},
    {{"--nope", "-"}, "fanout: --nope is not an option"},
  };
  for (auto& c : cases) {
    t::Ran r = t::fanout(c.args);
    CHECK(r.status == 2);
    CHECK(r.err.substr(0, r.err.find('\n')) == c.msg);
  }
  t::Ran r = t::fanout({"/nonexistent/list.txt"});
  CHECK(r.status == 1);
  CHECK(r.err == "fanout: open(/nonexistent/list.txt): ENOENT (No such file or directory)\n");
}

TEST_CASE("procs: kill -9 of a worker mid-run still gives one result per line") {
  t::Origin o;
  const int n = 40;
  std::string input = slow_list(o, n, 150, "kill"), results = t::temp_dir() + "/kill.jsonl";
  pid_t pid;
  auto kids = start_with_workers({"-m", "procs", "-c", "4", "--results", results, input}, t::temp_dir() + "/kill.out", 4, &pid);
  REQUIRE(kids.size() == 4);
  // Mid-run: the first lines are in, each worker holds its next request.
  REQUIRE(t::wait_lines(results, 1, pid) >= 1);
  usleep(30000);
  REQUIRE(kill(kids[1], SIGKILL) == 0);
  CHECK(t::wait_exit(pid) == 1);  // a line whose worker died: curl has no code for that
  auto v = t::results(results);
  REQUIRE(v.size() == size_t(n));
  int ok = 0, killed = 0;
  for (int i = 0; i < n; i++) {
    CHECK(v[size_t(i)]["line"].num == i + 1);
    if (v[size_t(i)]["http_code"].num == 200) ok++;
    else if (v[size_t(i)]["errormsg"].str.find("killed by signal 9 (SIGKILL)") != std::string::npos) killed++;
  }
  CHECK(killed == 1);
  CHECK(ok == n - 1);
}

TEST_CASE("hybrid: kill -9 of a worker reports what it had not answered") {
  t::Origin o;
  const int n = 40;
  std::string input = slow_list(o, n, 400, "hkill"), results = t::temp_dir() + "/hkill.jsonl";
  pid_t pid;
  auto kids = start_with_workers({"-m", "hybrid", "-w", "2", "-c", "4", "--results", results, input}, t::temp_dir() + "/hkill.out", 2, &pid);
  REQUIRE(kids.size() == 2);
  // The first requests are answered, others in flight.
  REQUIRE(t::wait_lines(results, 1, pid) >= 1);
  usleep(50000);
  REQUIRE(kill(kids[0], SIGKILL) == 0);
  CHECK(t::wait_exit(pid) == 1);
  auto v = t::results(results);
  REQUIRE(v.size() == size_t(n));
  int ok = 0, killed = 0;
  for (int i = 0; i < n; i++) {
    CHECK(v[size_t(i)]["line"].num == i + 1);
    if (v[size_t(i)]["errormsg"].is_null()) ok++;
    else if (v[size_t(i)]["errormsg"].str.find("killed by signal 9 (SIGKILL)") != std::string::npos) killed++;
  }
  CHECK(ok + killed == n);
  CHECK(killed > 0);
  CHECK(ok >= n / 2);  // the other worker's half, at least
}

TEST_CASE("pool: keep-alive connections are reused and counted, --per-host caps them") {
  t::Origin o;
  std::string list;
  for (int i = 0; i < 60; i++) list += o.url("/status/200?i=" + std::to_string(i)) + "\n";
  list += o.url("/eof/10") + "\n" + o.url("/eof/10") + "\n";  // close-delimited: never reused
  for (const char* model : kModels) {
    INFO(model);
    t::Ran r = t::fanout({"-m", model, "-c", "4", "-w", "2", "--json", "-"}, list);
    REQUIRE(r.status == 0);
    tj::Value v = tj::parse(r.out);
    CHECK(v["statuses"]["200"].num == 62);
    double opened = v["connections"]["opened"].num, reused = v["connections"]["reused"].num;
    CHECK(opened + reused == 62);
    CHECK(opened >= 2);   // each /eof/ needs a connection of its own
    CHECK(opened <= 4 + 2 + 2);  // at most -c at once (+1 each for the two /eof/s and what they closed)
    t::Ran capped = t::fanout({"-m", model, "-c", "8", "-w", "2", "--per-host", "2", "--json", "-"}, list);
    tj::Value w = tj::parse(capped.out);
    CHECK(w["statuses"]["200"].num == 62);
    CHECK(w["connections"]["opened"].num <= (std::string(model) == "procs" || std::string(model) == "hybrid" ? 2 * 8 : 2 + 2));
  }
}

TEST_CASE("pool: a kept-alive connection the server closed is retried once, on a new one") {
  // origin closes connections idle for 100 ms; the second origin's slow
  // answer keeps the first one's connection idle for 300 ms.
  t::Origin fast({"--idle-close", "100"}), slow;
  std::string list = fast.url("/status/200") + "\n" + slow.url("/sleep?ms=300") + "\n" + fast.url("/status/201") + "\n";
  for (const char* model : {"seq", "async"}) {
    INFO(model);
    std::string results = t::temp_dir() + "/retry-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-c", "1", "--json", "--results", results, "-"}, list);
    REQUIRE(r.status == 0);
    tj::Value v = tj::parse(r.out);
    CHECK(v["statuses"]["200"].num == 2);
    CHECK(v["statuses"]["201"].num == 1);
    CHECK(v["connections"]["opened"].num == 3);  // the stale one is not used again
  }
}

TEST_CASE("cost: every run reports what it cost, counted the same way for every model") {
  t::Origin o;
  std::string list;
  const int n = 40;
  for (int i = 0; i < n; i++) list += o.url("/bytes/100?i=" + std::to_string(i)) + "\n";
  for (const char* model : kModels) {
    INFO(model);
    std::string m = model;
    t::Ran r = t::fanout({"-m", model, "-c", "4", "-w", "2", "--json", "-"}, list);
    REQUIRE(r.status == 0);
    const tj::Value v = tj::parse(r.out);
    const tj::Value& c = v["cost"];
    CHECK(c["wall"].num > 0);
    CHECK(c["requests_per_second"].num > 0);
    CHECK(c["user"].num + c["system"].num >= 0);
    CHECK(c["peak_rss_kb"].num > 0);
    CHECK(c["threads_created"].num == (m == "threads" ? 4 : 0));
    CHECK(c["processes_created"].num == (m == "procs" ? 4 : m == "hybrid" ? 2 : 0));
    CHECK((c["children_peak_rss_kb"].num > 0) == (m == "procs" || m == "hybrid"));
    CHECK((c["frames"].num > 0) == (m == "async" || m == "hybrid" || m == "uring"));
    CHECK(c["latency_ms"]["p50"].num <= c["latency_ms"]["p99"].num);
    CHECK(c["latency_ms"]["p99"].num <= c["latency_ms"]["max"].num);
    // One request written and one response read per URL, in every model
    // (by the target's names: send and recv on 32-bit ARM and MIPS).
    // uring: as operations on its ring, and no such system call at all.
    const tj::Value& calls = c["syscalls_by_name"];
    if (m == "uring") {
      const tj::Value& ops = c["io_uring_ops"];
      CHECK(ops["send"].num == n);
      CHECK(ops["recv"].num >= c["connections_opened"].num);  // multishot: one a connection
      CHECK(ops["connect"].num == c["connections_opened"].num);
      CHECK(ops["completions"].num >= n);
      CHECK(!calls.has(fanout::sys::call_name(fanout::sys::SEND)));
      CHECK(!calls.has(fanout::sys::call_name(fanout::sys::RECV)));
      CHECK(!calls.has("connect"));
      CHECK(calls["io_uring_enter"].num > 0);
      // A turn's operations go in one enter, with its wait: at most a
      // send's submission and an answer's wait a request, whatever the
      // load (how many fewer is the scheduler's: at -c 4, 30 to 51 for 40
      // requests on this machine; the batching is bench row 13's).
      CHECK(calls["io_uring_enter"].num <= 2 * n);
      CHECK(r.err.find("  io_uring          ") != std::string::npos);
    } else {
      CHECK(calls[fanout::sys::call_name(fanout::sys::SEND)].num == n);
      CHECK(calls[fanout::sys::call_name(fanout::sys::RECV)].num >= n);
      CHECK(calls["connect"].num == c["connections_opened"].num);
      CHECK(!c.has("io_uring_ops"));
    }
    CHECK(c["connections_opened"].num + c["connections_reused"].num == n);
    double total = 0;
    for (auto& k : calls.vals) total += k.num;
    CHECK(total == c["syscalls"].num);
    CHECK(r.err.find("  syscalls          ") != std::string::npos);
    // What the model pays to wait for itself, in every model: threads in
    // futex calls (when one waits for another), processes in pipes.
    const tj::Value& w = c["waits"];
    double futex = calls.has("futex") ? calls["futex"].num : 0;
    CHECK(c["futex_per_request"].num == doctest::Approx(futex / n).epsilon(0.001));
    if (m != "threads") CHECK(futex == 0);  // one thread a process: nobody to wait for
    CHECK(w["futex_wakes"].num + w["lock_waits"].num + w["cond_waits"].num <= futex);  // each is a call at least
    CHECK((w["pipe_calls"].num > 0) == (m == "procs" || m == "hybrid"));
    CHECK((w["pipe_bytes"].num > 0) == (m == "procs" || m == "hybrid"));
    CHECK(r.err.find("  waits             futex ") != std::string::npos);
    CHECK((r.err.find("; pipes ") != std::string::npos) == (m == "procs" || m == "hybrid"));
  }
}

TEST_CASE("progress: --progress draws done/total, rate, errors and ETA; --no-progress nothing") {
  t::Origin o;
  std::string list;
  for (int i = 0; i < 6; i++) list += o.url("/sleep?ms=400&i=" + std::to_string(i)) + "\n";
  list += o.url("/?p=[1-2]") + "\n# a comment\n\nftp://x/\n";  // a glob counts as what it makes
  std::string file = t::temp_dir() + "/progress-list";
  t::write_file(file, list);
  for (const char* model : kModels) {
    INFO(model);
    t::Ran r = t::fanout({"-m", model, "-c", "3", "-w", "1", "--progress", file});
    REQUIRE(r.status == 1);  // the ftp line
    size_t at = r.err.find("fanout: ");
    REQUIRE(at != std::string::npos);
    CHECK(r.err.find("/9 (", at) != std::string::npos);
    CHECK(r.err.find("%) done, ", at) != std::string::npos);
    CHECK(r.err.find(", ETA 0:00:0", at) != std::string::npos);  // h:mm:ss
    // From a pipe the total is not known ahead: a count, and no ETA.
    t::Ran piped = t::fanout({"-m", model, "-c", "3", "-w", "1", "--progress", "-"}, list);
    CHECK(piped.err.find("fanout: 9 done, ") != std::string::npos);
    CHECK(piped.err.find("ETA") == std::string::npos);
    t::Ran quiet = t::fanout({"-m", model, "-c", "3", "-w", "1", "--no-progress", file});
    CHECK(quiet.err.find(" done, ") == std::string::npos);
  }
}

// Every model lands each result in one place as it finishes, and the
// results file is written then, not at the end: a journal of the run.
TEST_CASE("models: --results is written while the run goes on, each line once") {
  t::Origin o;
  std::string input = slow_list(o, 20, 100, "journal");
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/journal-" + model + ".jsonl";
    pid_t pid = t::spawn_fanout({"-m", model, "-c", "2", "-w", "2", "--results", results, input}, "/dev/null");
    // Results land while the run goes on: some are there, the run is not over.
    REQUIRE(t::wait_lines(results, 2, pid) >= 2);
    size_t early = t::jsonl(results).size();
    CHECK(early >= 2);
    CHECK(early < 20);
    CHECK(t::wait_exit(pid) == 0);
    auto v = t::results(results);
    REQUIRE(v.size() == 20);
    for (size_t i = 0; i < v.size(); i++) {
      CHECK(v[i]["line"].num == double(i + 1));
      CHECK(v[i]["http_code"].num == 200);
    }
  }
}
