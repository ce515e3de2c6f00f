// Journal, signals and resume: SIGINT or SIGTERM mid-run, then --resume,
// and every line is in --results exactly once, under every model; --grace
// cuts what is still in flight; the input is read as the run goes.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.hpp"
#include "util.hpp"

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

// line -> how many times --results has it.
std::map<int, int> lines_in(const std::string& results) {
  std::map<int, int> seen;
  for (auto& r : t::jsonl(results)) seen[int(r["line"].num)]++;
  return seen;
}

std::string list_file(const std::string& name, const std::string& text) {
  std::string path = t::temp_dir() + "/" + name;
  t::write_file(path, text);
  return path;
}

}  // namespace

TEST_CASE("resume: SIGINT or SIGTERM mid-run, then --resume: every line exactly once, in every model") {
  t::Origin o;
  const int n = 120;
  std::string text;
  for (int i = 1; i <= n; i++) text += o.url("/sleep?ms=60&i=" + std::to_string(i)) + "\n";
  text += "ftp://not-fetched/\n";  // a bad line has its outcome too, once
  std::string input = list_file("resume.txt", text);
  int sigs[] = {SIGINT, SIGTERM};
  for (int m = 0; m < 5; m++) {
    const char* model = kModels[m];
    int sig = sigs[m % 2];
    INFO("model " << std::string(model) << ", signal " << sig);
    std::string results = t::temp_dir() + "/resume-" + model + ".jsonl", out = t::temp_dir() + "/resume-" + model + ".out";
    pid_t pid = t::spawn_fanout({"-m", model, "-c", "6", "-w", "2", "--results", results, input}, out);
    // A round of six in (the list needs twenty), most of it still to go.
    REQUIRE(t::wait_lines(results, 6, pid) >= 6);
    REQUIRE(kill(pid, sig) == 0);
    CHECK(t::wait_exit(pid) == 128 + sig);
    std::string err;
    t::read_file(out + ".err", err);
    CHECK(err.find(sig == SIGINT ? "fanout: SIGINT: " : "fanout: SIGTERM: ") != std::string::npos);
    std::map<int, int> first = lines_in(results);
    CHECK(first.size() > 0);
    CHECK(first.size() < size_t(n));  // it really stopped early
    for (auto& [line, k] : first) CHECK(k == 1);
    // The partial summary counts what landed: the journal's lines.
    std::string summary;
    t::read_file(out, summary);
    CHECK(summary.find(std::to_string(n + 1) + " urls: " + std::to_string(first.size()) + " done") != std::string::npos);

    t::Ran again = t::fanout({"-m", model, "-c", "6", "-w", "2", "--resume", "--results", results, input});
    CHECK(again.status == (first.count(n + 1) ? 0 : 1));  // the ftp line: curl's 1, if this run had it
    std::map<int, int> all = lines_in(results);
    CHECK(all.size() == size_t(n + 1));
    for (auto& [line, k] : all) CHECK(k == 1);
    // The second run did only what the first had not.
    CHECK(again.out.find(std::to_string(n + 1 - first.size()) + " urls)") != std::string::npos);
    // And a third has nothing left to do.
    t::Ran third = t::fanout({"-m", model, "--resume", "--results", results, input});
    CHECK(third.out.find("(" + std::string(model) + ", c=") != std::string::npos);
    CHECK(third.out.find(" 0 urls)") != std::string::npos);
    CHECK(lines_in(results).size() == size_t(n + 1));
  }
}

TEST_CASE("resume: --grace cuts requests still in flight; they are cancelled, not journaled, and resumed") {
  t::Origin o;
  std::string text;
  for (int i = 1; i <= 4; i++) text += o.url("/sleep?ms=20&fast=" + std::to_string(i)) + "\n";
  for (int i = 1; i <= 4; i++) text += o.url("/sleep?ms=3000&slow=" + std::to_string(i)) + "\n";
  std::string input = list_file("grace.txt", text);
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/grace-" + model + ".jsonl", out = t::temp_dir() + "/grace-" + model + ".out";
    pid_t pid = t::spawn_fanout({"-m", model, "-c", "8", "-w", "2", "--grace", "0.3", "--results", results, input}, out);
    // The fast ones are done, the slow ones in flight (seq: the first of them).
    REQUIRE(t::wait_lines(results, 4, pid) >= 4);
    usleep(50000);
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(kill(pid, SIGINT) == 0);
    CHECK(t::wait_exit(pid) == 130);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(took < 1.5);  // the grace and a margin, never the 3 s sleeps
    std::string err;
    t::read_file(out + ".err", err);
    CHECK(err.find("cancelled (not in --results)") != std::string::npos);
    for (auto& r : t::jsonl(results)) CHECK(r["url"].str.find("slow=") == std::string::npos);
    // Run again, they are: here cut short by --max-time, which is an outcome.
    t::Ran again = t::fanout({"-m", model, "-c", "8", "-w", "2", "--max-time", "0.2", "--resume", "--results", results, input});
    CHECK(again.status == 28);
    std::map<int, int> all = lines_in(results);
    CHECK(all.size() == 8);
    for (auto& [line, k] : all) CHECK(k == 1);
    int timed_out = 0;
    for (auto& r : t::jsonl(results)) timed_out += r["exitcode"].num == 28;
    CHECK(timed_out == 4);
  }
}

TEST_CASE("resume: a record cut short by a kill is dropped, and appending starts on a line of its own") {
  t::Origin o;
  std::string input = list_file("cut.txt", o.url("/status/200?a") + "\n" + o.url("/status/200?b") + "\n");
  std::string results = t::temp_dir() + "/cut.jsonl";
  t::Ran first = t::fanout({"-m", "seq", "--results", results, input});
  REQUIRE(first.status == 0);
  std::string s;
  t::read_file(results, s);
  size_t nl = s.find('\n');
  t::write_file(results, s.substr(0, nl + 1 + (s.size() - nl - 1) / 2));  // line 2 half written
  t::Ran again = t::fanout({"-m", "seq", "--resume", "--results", results, input});
  CHECK(again.status == 0);
  CHECK(again.out.find(" 1 url)") != std::string::npos);
  auto recs = t::jsonl(results);  // every line parses: no fragment left
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["line"].num == 1);
  CHECK(recs[1]["line"].num == 2);
}

TEST_CASE("resume: bad uses are refused with what is wrong") {
  t::Ran r = t::fanout({"--resume", "-"}, "");
  CHECK(r.status == 2);
  CHECK(r.err.find("--resume needs --results FILE") != std::string::npos);
  r = t::fanout({"--resume", "--results", t::temp_dir() + "/x.jsonl", "--output", "-", "-"}, "");
  CHECK(r.status == 2);
  CHECK(r.err.find("--resume cannot resume --output or --merge-json") != std::string::npos);
  r = t::fanout({"--grace", "soon", "-"}, "");
  CHECK(r.status == 2);
  CHECK(r.err.find("--grace takes seconds") != std::string::npos);
}

// Streaming: a list that is still being written is fetched as it comes, in
// every model; nothing waits for the end of the input.
TEST_CASE("input: read as the run goes: lines are fetched before the input ends, in every model") {
  t::Origin o;
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string fifo = t::temp_dir() + "/stream-" + model + ".fifo", results = t::temp_dir() + "/stream-" + model + ".jsonl";
    unlink(fifo.c_str());
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    pid_t pid = t::spawn({"-m", model, "-c", "4", "-w", "2", "--results", results, "-"}, fifo, t::temp_dir() + "/stream.out");
    int w = open(fifo.c_str(), O_WRONLY);
    REQUIRE(w >= 0);
    std::string part;
    for (int i = 1; i <= 5; i++) part += o.url("/status/200?early=" + std::to_string(i)) + "\n";
    REQUIRE(write(w, part.data(), part.size()) == ssize_t(part.size()));
    // The five are fetched and journaled while the input is still open
    // (the journal is flushed every 100 ms as results land).
    size_t seen = 0;
    for (int k = 0; k < 300 && seen < 5; k++) {
      usleep(10000);
      seen = t::jsonl(results).size();
    }
    CHECK(seen == 5);
    part.clear();
    for (int i = 1; i <= 5; i++) part += o.url("/status/201?late=" + std::to_string(i)) + "\n";
    REQUIRE(write(w, part.data(), part.size()) == ssize_t(part.size()));
    close(w);
    CHECK(t::wait_exit(pid) == 0);
    auto recs = t::results(results);
    REQUIRE(recs.size() == 10);
    for (int i = 0; i < 10; i++) {
      CHECK(recs[size_t(i)]["line"].num == i + 1);
      CHECK(recs[size_t(i)]["http_code"].num == (i < 5 ? 200 : 201));
    }
  }
}
