// Redirects and retries, written once in the engine, under every model:
// build/fanout against build/origin's redirect chains, loops and flaky
// endpoints.
#include <doctest/doctest.h>

#include <chrono>
#include <map>

#include "proc.hpp"
#include "util.hpp"

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

std::vector<tj::Value> run(const std::vector<std::string>& opts, const std::string& list, const std::string& name) {
  std::string input = t::temp_dir() + "/" + name + ".txt", results = t::temp_dir() + "/" + name + ".jsonl";
  t::write_file(input, list);
  std::vector<std::string> args = opts;
  args.insert(args.end(), {"-c", "4", "-w", "2", "--results", results, input});
  t::Ran r = t::fanout(args);
  auto v = t::results(results);
  CHECK(r.status == t::exit_rule(v));  // the first failed line's code
  return v;
}

}  // namespace

TEST_CASE("follow: -L follows chains across schemes, and stops where it must") {
  std::string d = t::certs();
  t::Origin o({}, d + "/server.crt", d + "/server.key");
  std::string https = o.tls_url("/status/202");
  std::string list = o.url("/redirect/3") + "\n" + o.url("/loop") + "\n" + o.url("/redirect-to?url=" + https) + "\n" +
                     o.tls_url("/redirect-to?url=" + o.url("/status/201")) + "\n" + o.url("/redirect/1") + "\n";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    auto v = run({"-m", model, "-L", "--cacert", d + "/ca.crt", "--resolve",
                  "localhost:" + std::to_string(o.https) + ":127.0.0.1"},
                 list, std::string("follow-") + model);
    REQUIRE(v.size() == 5);
    CHECK(v[0]["http_code"].num == 200);
    CHECK(v[0]["num_redirects"].num == 3);
    CHECK(v[0]["url_effective"].str == o.url("/redirect/0"));
    CHECK(v[1]["errormsg"].str == "redirect: too many redirects (--max-redirs 10)");
    CHECK(v[1]["exitcode"].num == 47);  // curl's "too many redirects"
    CHECK(v[1]["http_code"].num == 302);  // the last response, as curl's http_code
    CHECK(v[0]["exitcode"].num == 0);
    CHECK(v[2]["http_code"].num == 202);
    CHECK(v[2]["url_effective"].str == https);
    CHECK(v[3]["errormsg"].str.rfind("redirect: from https to http refused: ", 0) == 0);
    CHECK(v[4]["num_redirects"].num == 1);
  }
  // Without -L a redirect is an answer like any other; --max-redirs and
  // --allow-downgrade move the limits.
  auto v = run({"-m", "async"}, list, "no-follow");
  CHECK(v[0]["http_code"].num == 302);
  CHECK(v[0]["num_redirects"].num == 0);
  v = run({"-m", "async", "-L", "--max-redirs", "2", "--allow-downgrade", "--cacert", d + "/ca.crt", "--resolve",
           "localhost:" + std::to_string(o.https) + ":127.0.0.1"},
          list, "limits");
  CHECK(v[0]["errormsg"].str == "redirect: too many redirects (--max-redirs 2)");
  CHECK(v[3]["http_code"].num == 201);
}

TEST_CASE("follow: --retry gets flaky endpoints through, and honours Retry-After") {
  t::Origin o;
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string m = model, list;
    for (int i = 0; i < 12; i++)
      list += o.url("/flaky/" + m + std::to_string(i) + "?fail=" + std::to_string(i % 3) + "&status=" +
                    (i % 2 ? "502" : "500")) + "\n";
    list += o.url("/flaky/" + m + "-ra?fail=1&status=429&retry_after=1") + "\n";
    list += o.url("/flaky/" + m + "-never?fail=9&status=503") + "\n";
    auto v = run({"-m", model, "--retry", "3", "--retry-delay", "0.01", "--retry-on", "500,502,504"}, list,
                 "retry-" + m);
    REQUIRE(v.size() == 14);
    for (int i = 0; i < 12; i++) {
      CHECK(v[size_t(i)]["http_code"].num == 200);
      CHECK(v[size_t(i)]["num_retries"].num == i % 3);
    }
    CHECK(v[12]["http_code"].num == 429);  // not on --retry-on: Retry-After or not, the answer
    CHECK(v[12]["num_retries"].num == 0);
    CHECK(v[13]["http_code"].num == 503);
    CHECK(v[13]["num_retries"].num == 0);
  }
  // With 429 on the list, Retry-After: 1 is the wait.
  auto v = run({"-m", "async", "--retry", "2", "--retry-delay", "0.01"},
               o.url("/flaky/ra2?fail=1&status=429&retry_after=1") + "\n", "retry-after");
  REQUIRE(v.size() == 1);
  CHECK(v[0]["http_code"].num == 200);
  CHECK(v[0]["num_retries"].num == 1);
  CHECK(v[0]["time_total"].num >= 1);
}

TEST_CASE("deadline: --deadline ends the run on time, every line accounted for") {
  t::Origin o;
  std::string list;
  for (int i = 0; i < 40; i++) list += o.url("/sleep?ms=300&i=" + std::to_string(i)) + "\n";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    auto t0 = std::chrono::steady_clock::now();
    auto v = run({"-m", model, "--deadline", "0.8"}, list, std::string("deadline-") + model);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(secs < 5);  // 40 x 300 ms at -c 4 would take 3 s, seq 12 s
    REQUIRE(v.size() == 40);
    int ok = 0, late = 0;
    for (size_t i = 0; i < v.size(); i++) {
      CHECK(v[i]["line"].num == double(i + 1));
      if (v[i]["http_code"].num == 200) ok++;
      else if (v[i]["errormsg"].str.rfind("timeout: ", 0) == 0) late++;
    }
    CHECK(ok + late == 40);
    CHECK(ok >= 1);
    CHECK(late >= 20);
  }
}

TEST_CASE("fail: --fail exits 22 for a status of 400 or more; a failed line exits with its own code") {
  t::Origin o;
  CHECK(t::fanout({"-m", "async", "--fail", "-"}, o.url("/status/200") + "\n" + o.url("/status/301") + "\n").status == 0);
  CHECK(t::fanout({"-m", "async", "--fail", "-"}, o.url("/status/200") + "\n" + o.url("/status/404") + "\n").status == 22);
  CHECK(t::fanout({"-m", "seq", "-f", "-"}, "ftp://x/\n").status == 1);  // curl's: unsupported protocol
  CHECK(t::fanout({"-m", "seq", "-"}, o.url("/status/500") + "\n").status == 0);  // without it, 0
}

// Pacing is shared by every worker of a run, forked or not: 30 starts at
// 30/s cannot all begin in less than 29 intervals, whatever -c is. (How
// close to the ideal it comes is a make bench row, not a test.)
TEST_CASE("rate: --rate spaces request starts across all workers of every model") {
  t::Origin o;
  std::string list;
  for (int i = 0; i < 30; i++) list += o.url("/?i=" + std::to_string(i)) + "\n";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string input = t::temp_dir() + "/rate.txt";
    t::write_file(input, list);
    t::Ran r = t::fanout({"-m", model, "-c", "10", "-w", "2", "--rate", "30/s", "--json", input});
    REQUIRE(r.status == 0);
    tj::Value v = tj::parse(r.out);
    CHECK(v["statuses"]["200"].num == 30);
    CHECK(v["seconds"].num >= 29.0 / 30 * 0.98);
  }
  CHECK(t::fanout({"--rate", "5/w", "-"}, "").err.find("--rate takes N/s, N/m, N/h or N/d") != std::string::npos);
}

// --per-host caps connections while requests are retried: measured where it
// counts, at the server (origin's /stats: the most connections at once).
// procs and hybrid workers each keep a pool of their own: N each.
TEST_CASE("per-host: --per-host holds while requests are retried, in every model") {
  t::Origin o;
  const std::map<std::string, int> workers = {{"seq", 1}, {"threads", 1}, {"procs", 4}, {"async", 1}, {"hybrid", 2}, {"uring", 1}};
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string m = model, list;
    for (int i = 0; i < 40; i++) list += o.url("/flaky/ph-" + m + std::to_string(i) + "?fail=1&status=503") + "\n";
    t::origin_stats(o, "?reset=1");
    auto v = run({"-m", model, "--per-host", "2", "--retry", "2", "--retry-delay", "0.01"}, list, "per-host-" + m);
    REQUIRE(v.size() == 40);
    for (auto& r : v) {
      CHECK(r["http_code"].num == 200);
      CHECK(r["num_retries"].num == 1);
    }
    int most = int(t::origin_stats(o)["max_open"].num);
    CHECK(most >= 1);
    CHECK(most <= 2 * workers.at(m));  // (-c 4: procs has 4 workers, hybrid -w 2)
  }
}
