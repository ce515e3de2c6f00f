// Numbers that hide nothing (issue 22): latency under --rate from when a
// request was sent, and corrected for coordinated omission from when it was
// due; both merged over shards as one run has them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <cstdio>
#include <string>
#include <vector>

#include "fanout/hosts.hpp"
#include "json.hpp"
#include "proc.hpp"
#include "util.hpp"

namespace {

std::string stall_list(const t::Origin& o, int n, int after, int ms, const std::string& tag) {
  std::string list;
  for (int i = 1; i <= n; i++)
    list += o.url("/stall?after=" + std::to_string(after) + "&ms=" + std::to_string(ms) + "&key=" + tag + "&i=" + std::to_string(i)) + "\n";
  return list;
}

// The corrected values a --results file stands for: each line's from its
// scheduled start, and the turns it says went by unused while it was due
// (evenly over its lateness, as fanout's tally adds them).
std::vector<double> corrected_values(const std::vector<tj::Value>& lines) {
  std::vector<double> v;
  for (auto& r : lines) {
    REQUIRE(r.has("time_corrected"));
    double c = r["time_corrected"].num * 1000, late = c - r["time_total"].num * 1000;
    double k = r.has("omitted") ? r["omitted"].num : 0;
    v.push_back(c);
    for (int i = 1; i <= int(k); i++) v.push_back(c - late * i / (k + 1));
  }
  std::sort(v.begin(), v.end());
  return v;
}

double rank(const std::vector<double>& sorted, double p) {  // Latency::percentile's rule
  return sorted[std::min(sorted.size() - 1, size_t(p * double(sorted.size())))];
}

// Within the histogram's 1% (and its 1 us buckets below 128 us).
bool close(double a, double b) { return std::abs(a - b) <= std::max(0.01 * std::max(a, b), 0.002); }

// Below 1 ms on this machine; a sanitizer's or qemu's build is slower at everything.
double fast_ms() { return t::kAsan || t::kTsan || !t::qemu().empty() ? 10 : 1; }

}  // namespace

TEST_CASE("latency: -c 5 --rate 100/s over 1,000 URLs: p50 from the send; a 2 s stall shows in the corrected p99 only") {
  t::Origin o;
  // Answering at once: the pacer's 10 ms between turns is no part of any latency.
  std::string list;
  for (int i = 1; i <= 1000; i++) list += o.url("/?i=" + std::to_string(i)) + "\n";
  t::Ran r = t::fanout({"-m", "async", "-c", "5", "--rate", "100/s", "--json", "-"}, list);
  REQUIRE(r.status == 0);
  tj::Value v = tj::parse(r.out);
  INFO(r.err);
  CHECK(v["cost"]["latency_ms"]["p50"].num < fast_ms());
  CHECK(v["cost"]["latency_corrected_ms"]["p50"].num < fast_ms());  // and nothing was late
  CHECK(r.err.find("  corrected         p50 ") != std::string::npos);

  // The server freezes for 2 s once (the 300th request): 5 requests wait it
  // out in their slots, and the ~200 turns due meanwhile go unsent: the
  // plain p99 cannot see them; the corrected one counts them.
  std::string results = t::temp_dir() + "/stall-async.jsonl";
  r = t::fanout({"-m", "async", "-c", "5", "--rate", "100/s", "--json", "--results", results, "-"}, stall_list(o, 1000, 300, 2000, "a"));
  REQUIRE(r.status == 0);
  v = tj::parse(r.out);
  const tj::Value& plain = v["cost"]["latency_ms"];
  const tj::Value& corr = v["cost"]["latency_corrected_ms"];
  CHECK(plain["max"].num >= 1990);  // the stalled ones themselves
  CHECK(plain["p99"].num < 1000);
  CHECK(plain["p50"].num < fast_ms());
  CHECK(corr["p99"].num >= 1000);
  CHECK(corr["p50"].num < fast_ms());
  // The journal says the same, line by line.
  std::vector<double> c = corrected_values(t::results(results));
  CHECK(c.size() >= 1150);  // 1,000 and the ~195 turns the stall took
  // (A sanitizer's or qemu's build, beside the other half of the suite,
  // also falls behind the schedule for some 100 ms after the stall: 1,215
  // seen under ASan. Those turns were late too, and are counted.)
  CHECK(c.size() <= (fast_ms() > 1 ? 1260 : 1210));
  CHECK(close(rank(c, 0.99), corr["p99"].num));
  CHECK(close(rank(c, 0.5), corr["p50"].num));
}

TEST_CASE("latency: every model counts from the send and corrects for a stall under --rate") {
  t::Origin o;
  for (const char* model : t::models()) {
    INFO(model);
    // 200 URLs at 100/s, the 50th request freezing the server for 1.5 s.
    t::Ran r = t::fanout({"-m", model, "-c", "5", "-w", "2", "--rate", "100/s", "--json", "-"}, stall_list(o, 200, 50, 1500, model));
    REQUIRE(r.status == 0);
    tj::Value v = tj::parse(r.out);
    CHECK(v["cost"]["latency_ms"]["p50"].num < fast_ms());
    CHECK(v["cost"]["latency_ms"]["p90"].num < 1000);
    CHECK(v["cost"]["latency_corrected_ms"]["p90"].num >= 500);  // ~150 turns of 350 waited out the stall
    CHECK(v["cost"]["latency_corrected_ms"]["max"].num >= 1400);
  }
  // No --rate: no schedule, no corrected figures.
  t::Ran r = t::fanout({"-m", "async", "--json", "-"}, o.url("/") + "\n");
  REQUIRE(r.status == 0);
  CHECK_FALSE(tj::parse(r.out)["cost"].has("latency_corrected_ms"));
}

TEST_CASE("latency: fanout merge over 4 shards gives the corrected percentiles of their lines, as one run's") {
  t::Origin o;
  std::string dir = t::temp_dir(), list = dir + "/co-list";
  FILE* f = fopen(list.c_str(), "w");
  REQUIRE(f);
  std::string text = stall_list(o, 800, 100, 1500, "s");
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
  // The four at once, as an array's tasks run: each paced on its own.
  std::vector<pid_t> pids;
  std::vector<std::string> merge = {"merge", "--json"};
  for (int k = 1; k <= 4; k++) {
    std::string part = dir + "/co-" + std::to_string(k) + ".jsonl";
    merge.push_back(part);
    pids.push_back(t::spawn_fanout({"-m", "async", "-c", "5", "--rate", "100/s", "--shard", std::to_string(k) + "/4",
                                    "--results", part, list}, part + ".out"));
  }
  for (pid_t p : pids) CHECK(t::wait_exit(p) == 0);
  std::vector<tj::Value> all;
  for (size_t k = 2; k < merge.size(); k++)
    for (auto& r : t::results(merge[k])) all.push_back(r);
  REQUIRE(all.size() == 800);
  std::vector<double> c = corrected_values(all);
  CHECK(rank(c, 0.99) >= 1000);  // the stall is in it (one shard's requests waited it out)
  t::Ran m = t::fanout(merge);
  REQUIRE(m.status == 0);
  tj::Value j = tj::parse(m.out);
  INFO(m.out);
  CHECK(j["urls"].num == 800);
  for (const auto& pk : {std::pair{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}}) {
    INFO(pk.second);
    CHECK(close(j["latency_corrected_ms"][pk.second].num, rank(c, pk.first)));
  }
  CHECK(close(j["latency_corrected_ms"]["max"].num, c.back()));
}

TEST_CASE("hosts: Space-Saving keeps the failing and the slow over a million hosts in under 2 MB") {
  fanout::Hosts h;
  fanout::Result ok, bad, slow;
  ok.status = 200, ok.ms = 1;
  bad.status = 503, bad.ms = 1;
  slow.status = 200, slow.ms = 500;
  bad.cause = fanout::Cause::none;
  fanout::Result refused;
  refused.fail(fanout::Cause::connect, "connect(127.0.0.1:1): ECONNREFUSED");
  // A million hosts asked once each; among them, 10 failing 20 times each
  // (one refusing connections), and one slow host asked 200 times: more
  // than the run's requests over kTracked (122), which Space-Saving always
  // keeps (and, asked evenly, from its first request on).
  for (int i = 0; i < 1000000; i++) {
    h.add("h" + std::to_string(i) + ".test", ok);
    if (i % 100000 == 7)
      for (int k = 0; k < 20; k++) h.add("bad" + std::to_string(i) + ".test", i == 7 ? refused : bad);
    if (i % 5000 == 3) h.add("slow.test", slow);
  }
  CHECK(h.bytes() <= 2 * 1024 * 1024);
  CHECK(h.hosts() == fanout::Hosts::kTracked);
  auto fails = h.most_failures(10);
  REQUIRE(fails.size() == 10);
  for (auto& r : fails) {
    INFO(r.host);
    CHECK(r.host.rfind("bad", 0) == 0);
    CHECK(r.failures == 20);
    CHECK(r.requests == 20);
  }
  CHECK(fails[0].host == "bad100007.test");  // ties by name
  bool refused_seen = false;
  for (auto& r : fails) refused_seen |= r.statuses == "{\"connect\": 20}";
  CHECK(refused_seen);
  auto slowest = h.slowest(10);
  REQUIRE(!slowest.empty());
  CHECK(slowest[0].host == "slow.test");
  CHECK(slowest[0].requests == 200);
  CHECK(slowest[0].p90_ms == doctest::Approx(500).epsilon(0.12));
  CHECK(slowest[0].statuses == "{\"200\": 200}");
}

TEST_CASE("hosts: a failing host's row counts its requests from before its first failure") {
  fanout::Hosts h;
  fanout::Result ok, bad;
  ok.status = 200, ok.ms = 1;
  bad.status = 503, bad.ms = 1;
  bad.cause = fanout::Cause::none;
  for (int i = 0; i < 3; i++) h.add("flaky.test", ok);
  for (int i = 0; i < 2; i++) h.add("flaky.test", bad);
  auto fails = h.most_failures(10);
  REQUIRE(fails.size() == 1);
  CHECK(fails[0].host == "flaky.test");
  CHECK(fails[0].failures == 2);
  CHECK(fails[0].requests == 5);
  CHECK(fails[0].statuses == "{\"200\": 3, \"503\": 2}");
}

namespace {
// Under qemu-user and ThreadSanitizer, everything is several times slower:
// a tenth of the hosts and URLs there.
int scale() { return !t::qemu().empty() || t::kTsan ? 10 : 1; }

// 100,000 URLs over 5,000 hosts (names given to origin by --resolve), the
// 10 in `failing` answering 503 to all 20 of theirs.
std::string many_hosts(const t::Origin& o, std::set<std::string>& failing) {
  std::string port = std::to_string(o.http), list;
  int urls = 100000 / scale(), hosts = urls / 20;
  for (int h = 1; h < 10 * (hosts / 10); h += hosts / 10) failing.insert("h" + std::to_string(h) + ".test:" + port);
  list.reserve(size_t(urls) * 48);
  for (int i = 0; i < urls; i++) {
    std::string host = "h" + std::to_string(i % hosts + 1) + ".test:" + port;
    list += "http://" + host + (failing.count(host) ? "/status/503" : "/") + "?i=" + std::to_string(i) + "\n";
  }
  return list;
}
}  // namespace

TEST_CASE("hosts: 100,000 URLs over 5,000 hosts name the 10 failing first, in the summary, --json and merge, in 2 MB") {
  t::Origin o;
  std::set<std::string> failing;
  std::string list = many_hosts(o, failing), dir = t::temp_dir(), path = dir + "/hosts-list";
  REQUIRE(failing.size() == 10);
  t::write_file(path, list);
  std::string resolve = "*:" + std::to_string(o.http) + ":127.0.0.1";
  std::string whole = dir + "/hosts-whole.jsonl";
  t::Ran r = t::fanout({"-m", "async", "-c", "100", "--resolve", resolve, "--json", "--results", whole, path});
  REQUIRE(r.status == 0);
  tj::Value j = tj::parse(r.out);
  CHECK(j["statuses"]["503"].num == 200);  // 10 hosts of 20 URLs at every scale
  const tj::Value& hosts = j["hosts"];
  CHECK(hosts["tracked"].num == 5000 / scale());
  CHECK(hosts["method"].str == "space-saving");
  CHECK(hosts["bytes"].num <= 2 * 1024 * 1024);
  std::set<std::string> named;
  REQUIRE(hosts["most_failures"].arr.size() == 10);
  for (auto& row : hosts["most_failures"].arr) {
    named.insert(row["host"].str);
    CHECK(row["failures"].num == 20);
    CHECK(row["statuses"]["503"].num == 20);
  }
  CHECK(named == failing);
  CHECK(hosts["slowest_p90"].arr.size() == 10);
  // The memory it takes: the same run without the tables (a test's knob).
  setenv("FANOUT_NO_HOSTS", "1", 1);
  t::Ran without = t::fanout({"-m", "async", "-c", "100", "--resolve", resolve, "--json", path});
  unsetenv("FANOUT_NO_HOSTS");
  REQUIRE(without.status == 0);
  tj::Value w = tj::parse(without.out);
  CHECK(w["hosts"]["tracked"].num == 0);
  double extra_kb = j["peak_rss_kb"]["parent"].num - w["peak_rss_kb"]["parent"].num;
  MESSAGE("the hosts' tables: " << extra_kb << " KB more peak RSS, " << hosts["bytes"].num / 1024 << " KB counted");
  if (t::kAsan || t::kTsan || scale() > 1) t::skip("hosts: peak RSS is a sanitizer's or a tenth of the run's here, not fanout's alone");
  else CHECK(extra_kb <= 2048);

  // The end of the run without --json (on stderr, after the cost; not with -s): the 10 first.
  t::Ran text = t::fanout({"-m", "async", "-c", "100", "--resolve", resolve, path});
  size_t at = text.err.find("hosts with the most failures:\n");
  REQUIRE(at != std::string::npos);
  std::set<std::string> listed;
  for (size_t i = 0, p = at + 30; i < 10; i++) {
    size_t end = text.err.find('\n', p);
    std::string line = text.err.substr(p, end - p);
    listed.insert(line.substr(2, line.find(' ', 2) - 2));
    CHECK(line.find("20 failed of 20") != std::string::npos);
    p = end + 1;
  }
  CHECK(listed == failing);
  CHECK(text.err.find("slowest hosts (p90):\n") != std::string::npos);
  CHECK(text.out.find("hosts") == std::string::npos);  // stdout: the summary alone

  // Over 4 shards (each host in one), merged: the same 10.
  std::vector<pid_t> pids;
  std::vector<std::string> merge = {"merge", "--json"};
  for (int k = 1; k <= 4; k++) {
    std::string part = dir + "/hosts-" + std::to_string(k) + ".jsonl";
    merge.push_back(part);
    pids.push_back(t::spawn_fanout({"-m", "async", "-c", "50", "--resolve", resolve, "--shard", std::to_string(k) + "/4",
                                    "--results", part, path}, part + ".out"));
  }
  for (pid_t p : pids) CHECK(t::wait_exit(p) == 0);
  t::Ran m = t::fanout(merge);
  REQUIRE(m.status == 0);
  tj::Value mj = tj::parse(m.out);
  std::set<std::string> merged;
  for (auto& row : mj["hosts"]["most_failures"].arr) merged.insert(row["host"].str);
  CHECK(merged == failing);
  CHECK(mj["hosts"]["tracked"].num == 5000 / scale());
  t::Ran one = t::fanout({"merge", "--json", whole});  // and the whole run's journal
  REQUIRE(one.status == 0);
  std::set<std::string> from_one;
  tj::Value oj = tj::parse(one.out);
  for (auto& row : oj["hosts"]["most_failures"].arr) from_one.insert(row["host"].str);
  CHECK(from_one == failing);
}
