// --shard K/N splits one list by host over N runs (or Kubernetes / Slurm
// array tasks), and fanout merge adds their --results up into the summary
// one run of the whole list gives.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <set>

#include "proc.hpp"
#include "util.hpp"

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

struct Sharded {
  std::string input;
  std::vector<std::string> resolve;  // --resolve for every host
};

// 800 lines over 40 host names (all 127.0.0.1 by --resolve), with several
// statuses and a bad line.
Sharded make_list(const t::Origin& o) {
  Sharded s;
  std::string port = std::to_string(o.http), text;
  for (int h = 0; h < 40; h++) {
    s.resolve.push_back("--resolve");
    s.resolve.push_back("h" + std::to_string(h) + ".test:" + port + ":127.0.0.1");
  }
  const int statuses[] = {200, 200, 200, 404, 503};
  for (int i = 0; i < 800; i++)
    text += "http://h" + std::to_string(i % 40) + ".test:" + port + "/status/" + std::to_string(statuses[i % 5]) +
            "?i=" + std::to_string(i) + "\n";
  text += "ftp://h1.test/bad\n";
  s.input = t::temp_dir() + "/shard.txt";
  t::write_file(s.input, text);
  return s;
}

std::vector<std::string> args(const Sharded& s, std::vector<std::string> a) {
  a.insert(a.end(), s.resolve.begin(), s.resolve.end());
  a.push_back(s.input);
  return a;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

TEST_CASE("shard: 4 shards take every line once, each host in one shard; fanout merge equals the whole run") {
  t::Origin o;
  Sharded s = make_list(o);
  std::string whole = t::temp_dir() + "/shard-whole.jsonl";
  t::Ran all = t::fanout(args(s, {"-m", "hybrid", "-c", "20", "--results", whole}));
  REQUIRE(all.status == t::exit_rule(t::results(whole)));
  std::vector<std::string> merge = {"merge"};
  std::map<int, int> lines;                   // line -> shards that had it
  std::map<std::string, std::set<int>> hosts;  // host -> shards
  for (int k = 1; k <= 4; k++) {
    std::string part = t::temp_dir() + "/shard-" + std::to_string(k) + ".jsonl";
    const char* model = kModels[k - 1];  // each shard another model: the sum must not care
    t::Ran r = t::fanout(args(s, {"-m", model, "-c", "20", "--shard", std::to_string(k) + "/4", "--results", part}));
    REQUIRE(r.status == t::exit_rule(t::results(part)));
    merge.push_back(part);
    for (auto& rec : t::jsonl(part)) {
      lines[int(rec["line"].num)]++;
      std::string url = rec["url"].str;
      if (url.rfind("http://", 0) == 0) hosts[url.substr(7, url.find(':', 7) - 7)].insert(k);
    }
  }
  CHECK(lines.size() == 801);
  for (auto& [line, n] : lines) CHECK(n == 1);
  CHECK(hosts.size() == 40);
  for (auto& [host, in] : hosts) CHECK(in.size() == 1);  // (the bad line goes by its text: it has no host)
  std::set<int> used;
  for (auto& [host, in] : hosts) used.insert(in.begin(), in.end());
  CHECK(used.size() == 4);  // 40 hosts over 4 shards: none is empty

  // The merged summary is the whole run's: {"200": 480, "404": 160, "503": 160, "error": 1}.
  // Its exit status and list of failed lines are the whole run's too: the bad
  // line (801) is the one failure, curl's 1 (unsupported protocol).
  t::Ran merged = t::fanout(merge);
  CHECK(all.status == 1);
  CHECK(merged.status == all.status);
  CHECK(first_line(merged.out) == first_line(all.out));
  CHECK(first_line(all.out) == "{\"200\": 480, \"404\": 160, \"503\": 160, \"error\": 1}");
  CHECK(merged.out.find("merged 801 results from 4 files") != std::string::npos);
  CHECK(merged.err.find("fanout: 1 line of 801 failed; exit 1, from line 801") != std::string::npos);
  CHECK(merged.err.find("ftp://h1.test/bad") != std::string::npos);
  t::Ran one = t::fanout({"merge", "--json", whole});
  CHECK(one.status == 1);
  tj::Value j = tj::parse(one.out);
  CHECK(j["urls"].num == 801);
  CHECK(j["statuses"]["404"].num == 160);
  CHECK(j["errors"]["input"].num == 1);
  CHECK(j["failed"]["count"].num == 1);
  CHECK(j["failed"]["lines"].arr.at(0)["line"].num == 801);
  CHECK(j["failed"]["lines"].arr.at(0)["exitcode"].num == 1);
  // -f fails the 404s and 503s as fanout -f does: 321 lines, exit 22 from line 4.
  std::vector<std::string> merge_f = merge;
  merge_f.insert(merge_f.begin() + 1, "-f");
  t::Ran mf = t::fanout(merge_f);
  CHECK(mf.status == 22);
  CHECK(mf.err.find("fanout: 321 lines of 801 failed; exit 22, from line 4") != std::string::npos);
  t::Ran all_f = t::fanout(args(s, {"-m", "async", "-c", "20", "-f", "-s"}));
  CHECK(all_f.status == mf.status);
  // -s: the same status, nothing on standard error.
  t::Ran ms = t::fanout({"merge", "-s", "--fail", whole});
  CHECK(ms.status == 22);
  CHECK(ms.err.empty());
  // The same shard twice is told.
  t::Ran twice = t::fanout({"merge", merge[1], merge[1]});
  CHECK(twice.err.find("results are of a line and URL seen before") != std::string::npos);
}

TEST_CASE("shard: K and N from a Kubernetes Indexed Job or a Slurm array when --shard is not given") {
  t::Origin o;
  Sharded s = make_list(o);
  auto lines_of = [](const std::string& path) {
    std::set<int> v;
    for (auto& rec : t::jsonl(path)) v.insert(int(rec["line"].num));
    return v;
  };
  std::string given = t::temp_dir() + "/shard-given.jsonl", k8s = t::temp_dir() + "/shard-k8s.jsonl",
              slurm = t::temp_dir() + "/shard-slurm.jsonl";
  REQUIRE(t::fanout(args(s, {"-m", "async", "--shard", "2/4", "--results", given})).status == 0);
  setenv("JOB_COMPLETION_INDEX", "1", 1);  // from 0
  setenv("JOB_COMPLETIONS", "4", 1);
  t::Ran r = t::fanout(args(s, {"-m", "async", "--results", k8s}));
  unsetenv("JOB_COMPLETION_INDEX");
  unsetenv("JOB_COMPLETIONS");
  CHECK(r.status == 0);
  CHECK(r.err.find("fanout: shard 2/4 (from JOB_COMPLETION_INDEX)") != std::string::npos);
  setenv("SLURM_ARRAY_TASK_ID", "6", 1);  // an array 5-8
  setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  r = t::fanout(args(s, {"-m", "async", "--results", slurm}));
  unsetenv("SLURM_ARRAY_TASK_ID");
  unsetenv("SLURM_ARRAY_TASK_MIN");
  unsetenv("SLURM_ARRAY_TASK_COUNT");
  CHECK(r.status == 0);
  CHECK(lines_of(given).size() > 0);
  CHECK(lines_of(k8s) == lines_of(given));
  CHECK(lines_of(slurm) == lines_of(given));
}

TEST_CASE("shard: bad --shard and bad merge input are refused with what is wrong") {
  t::Ran r = t::fanout({"--shard", "5/4", "-"}, "");
  CHECK(r.status == 2);
  CHECK(r.err.find("--shard takes a whole number from 1 to 4, not \"5\"") != std::string::npos);
  r = t::fanout({"--shard", "2", "-"}, "");
  CHECK(r.status == 2);
  CHECK(r.err.find("--shard takes K/N") != std::string::npos);
  r = t::fanout({"merge", t::temp_dir() + "/no-such.jsonl"});
  CHECK(r.status == 1);
  CHECK(r.err.find("no-such.jsonl: No such file or directory") != std::string::npos);
  r = t::fanout({"merge"});
  CHECK(r.status == 2);
}

TEST_CASE("shard: merge keeps every cause by its name, HTTP/2's too") {
  std::string f = t::temp_dir() + "/h2-causes.jsonl";
  t::write_file(f,
                "{\"line\": 1, \"url\": \"http://x/1\", \"http_code\": 0, \"exitcode\": 16, "
                "\"errormsg\": \"http2: bad (PROTOCOL_ERROR)\", \"cause\": \"http2\", \"worker\": 0}\n"
                "{\"line\": 2, \"url\": \"http://x/2\", \"http_code\": 0, \"exitcode\": 92, "
                "\"errormsg\": \"HTTP/2 stream 1 was not closed cleanly: CANCEL (err 8)\", \"cause\": \"http2-stream\", \"worker\": 0}\n"
                "{\"line\": 3, \"url\": \"http://x/3\", \"http_code\": 0, \"exitcode\": 28, "
                "\"errormsg\": \"timeout: resolving x\", \"cause\": \"timeout\", \"worker\": 0}\n");
  t::Ran r = t::fanout({"merge", "--json", f});
  CHECK(r.status == 16);  // the first failed line's code, curl's for HTTP/2
  CHECK(r.err.find("3 lines of 3 failed; exit 16, from line 1") != std::string::npos);
  tj::Value j = tj::parse(r.out);
  CHECK(j["errors"]["http2"].num == 1);
  CHECK(j["errors"]["http2-stream"].num == 1);
  CHECK(j["errors"]["timeout"].num == 1);
  CHECK_FALSE(j["errors"].has("http"));
}

// A real scheduler: tools/slurm-check starts a one-node Slurm (munged,
// slurmctld, slurmd on loopback), runs fanout as `sbatch --array=1-4`
// without --shard, and compares the merged journals with one run.
TEST_CASE("shard: a Slurm array of 4 tasks, merged, equals one run of the whole list (tools/slurm-check)") {
  if (!t::qemu().empty()) {
    t::skip("slurm-check: slurmd would run the other architecture's fanout without qemu");
    return;
  }
  std::string out;
  int code = t::shell("tools/slurm-check " + t::build_dir() + " 2>&1", &out);
  INFO(out);
  if (code == 3) {  // the daemons cannot start here: said, not passed over
    t::skip(out.substr(out.find("SKIP")));
    return;
  }
  CHECK(code == 0);
  CHECK(out.find("slurm-check: 4 array tasks, merged, equal to one run") != std::string::npos);
  // Said when it ran, so a CI log shows it was not skipped.
  size_t job = out.find("slurm-check: Submitted");
  if (job != std::string::npos) MESSAGE(out.substr(job, out.find('\n', job) - job));
  for (int k = 1; k <= 4; k++)
    CHECK(out.find("shard " + std::to_string(k) + "/4 (from SLURM_ARRAY_TASK_ID)") != std::string::npos);
}

// The README's Kubernetes Indexed Job, its container's command line as the
// README has it, run four times as the Job's pods would be: Kubernetes sets
// JOB_COMPLETION_INDEX (0 to 3), the Job's spec JOB_COMPLETIONS.
TEST_CASE("shard: the README's Kubernetes Indexed Job command, run as its 4 pods, merges to one run") {
  std::string readme, cmd;
  REQUIRE(t::read_file("README.md", readme));
  size_t at = readme.find("command: [\"sh\", \"-c\", \"");
  REQUIRE(at != std::string::npos);
  at += 23;
  cmd = readme.substr(at, readme.find('"', at) - at);
  REQUIRE(cmd.find("$JOB_COMPLETION_INDEX") != std::string::npos);
  CHECK(readme.find("{name: JOB_COMPLETIONS, value: \"4\"}") != std::string::npos);
  // The pod has no --resolve: hosts that need no DNS, 8 origins on
  // 127.0.0.2 to .9, so the lines spread over the shards by host.
  std::vector<std::unique_ptr<t::Origin>> origins;
  std::string list;
  for (int h = 2; h <= 9; h++) origins.push_back(std::make_unique<t::Origin>(std::vector<std::string>{"--listen", "127.0.0." + std::to_string(h)}));
  const int statuses[] = {200, 200, 404, 503};
  for (int i = 0; i < 400; i++)
    list += "http://127.0.0." + std::to_string(2 + i % 8) + ":" + std::to_string(origins[size_t(i % 8)]->http) + "/status/" +
            std::to_string(statuses[i % 4]) + "?i=" + std::to_string(i) + "\n";
  std::string dir = t::temp_dir() + "/k8s", in = dir + "/in", out = dir + "/out";
  REQUIRE(system(("mkdir -p " + in + " " + out).c_str()) == 0);
  t::write_file(in + "/urls.txt", list);
  // The pod's paths are the test's folders; fanout is on its PATH.
  auto swap = [](std::string c, const std::string& from, const std::string& to) {
    for (size_t i = 0; (i = c.find(from, i)) != std::string::npos; i += to.size()) c.replace(i, from.size(), to);
    return c;
  };
  cmd = swap(swap(cmd, "/out/", out + "/"), "/in/", in + "/");
  std::string bin = t::build_dir();
  if (!t::qemu().empty()) {
    // Under qemu-user without binfmt the pod's shell cannot run the other
    // architecture's fanout itself: a fanout on its PATH that runs it in qemu.
    bin = dir + "/bin";
    REQUIRE(system(("mkdir -p " + bin).c_str()) == 0);
    std::string self = t::build_dir() + "/fanout";
    char cwd[4096];
    if (self[0] != '/') self = std::string(getcwd(cwd, sizeof cwd) ? cwd : ".") + "/" + self;
    t::write_file(bin + "/fanout", "#!/bin/sh\nexec " + t::qemu() + " " + self + " \"$@\"\n");
    REQUIRE(chmod((bin + "/fanout").c_str(), 0755) == 0);
  }
  std::string path = "PATH=" + bin + ":$PATH";
  for (int k = 0; k < 4; k++) {
    std::string pod = path + " JOB_COMPLETION_INDEX=" + std::to_string(k) + " JOB_COMPLETIONS=4 sh -c '" + cmd + "' > " +
                      out + "/pod" + std::to_string(k) + ".log 2>&1";
    INFO(pod);
    CHECK(system(pod.c_str()) == 0);
  }
  std::vector<std::string> merge = {"merge"};
  std::map<int, int> lines;
  for (int k = 0; k < 4; k++) {
    std::string part = out + "/r-" + std::to_string(k) + ".jsonl";
    merge.push_back(part);
    std::string log;
    CHECK(t::read_file(out + "/pod" + std::to_string(k) + ".log", log));
    CHECK(log.find("shard " + std::to_string(k + 1) + "/4 (from JOB_COMPLETION_INDEX)") != std::string::npos);
    auto recs = t::jsonl(part);
    CHECK(!recs.empty());  // 8 hosts over 4 shards: each has some
    for (auto& rec : recs) lines[int(rec["line"].num)]++;
  }
  CHECK(lines.size() == 400);
  for (auto& [line, n] : lines) CHECK(n == 1);
  t::Ran whole = t::fanout({"-m", "async", "-c", "200", in + "/urls.txt"});
  t::Ran merged = t::fanout(merge);
  CHECK(merged.status == whole.status);
  CHECK(first_line(merged.out) == first_line(whole.out));
}
