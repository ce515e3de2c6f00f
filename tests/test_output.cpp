// Outputs (issue 10): every output is checked. A closed or full stdout, an
// unwritable --trace and a directory as input are errors that say which, and
// --results is valid JSON whatever bytes the input held.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>

#include "proc.hpp"
#include "util.hpp"

namespace {

// build/fanout ARGS with a shell's redirections; stderr kept.
t::Ran shell(const std::string& args, const std::string& redirect) {
  std::string err = t::temp_dir() + "/output.err";
  int st = system(("sh -c 'exec " + t::runner() + t::build_dir() + "/fanout " + args + " " + redirect + " 2> " + err + "'").c_str());
  t::Ran r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  t::read_file(err, r.err);
  return r;
}

}  // namespace

TEST_CASE("output: a closed or full stdout is an error, not exit 0") {
  t::Origin o;
  std::string input = t::temp_dir() + "/output.txt";
  t::write_file(input, o.url("/status/200") + "\n");
  t::Ran closed = shell("--no-progress " + input, ">&-");
  CHECK(closed.status == 1);
  CHECK(closed.err.find("fanout: stdout is closed") != std::string::npos);
  t::Ran full = shell("--no-progress " + input, "> /dev/full");
  CHECK(full.status == 1);
  CHECK(full.err.find("fanout: stdout: write failed: No space left on device") != std::string::npos);
  t::Ran fine = shell("--no-progress " + input, "> /dev/null");
  CHECK(fine.status == 0);
}

TEST_CASE("output: --trace to a path that cannot be written is found before the run") {
  t::Origin o;
  std::string input = t::temp_dir() + "/output-slow.txt";
  t::write_file(input, o.url("/sleep?ms=5000") + "\n");
  auto t0 = std::chrono::steady_clock::now();
  t::Ran r = t::fanout({"--trace", t::temp_dir() + "/no-such-dir/t.json", input});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.status == 1);
  CHECK(r.err.find("--trace " + t::temp_dir() + "/no-such-dir/t.json: No such file or directory") != std::string::npos);
  CHECK(took < 2);  // not after the 5 s request
  t::Ran dir = t::fanout({t::temp_dir()});
  CHECK(dir.status == 1);
  CHECK(dir.err.find("): EISDIR (Is a directory)") != std::string::npos);
}

TEST_CASE("output: --results is valid JSON whatever bytes a line holds, and --resume knows the line again") {
  t::Origin o;
  std::string list = o.url("/status/200?a=\xff\xfe") + "\n" + o.url("/status/200?b=\xc3\xa9") + "\n" + "http://bad\x80host/\n";
  std::string input = t::temp_dir() + "/output-bytes.txt", results = t::temp_dir() + "/output-bytes.jsonl";
  t::write_file(input, list);
  REQUIRE(t::fanout({"-m", "async", "--results", results, input}).status == 3);  // the bad host: curl's 3
  std::string text;
  REQUIRE(t::read_file(results, text));
  CHECK(text.find("\\u00ff\\u00fe") != std::string::npos);  // not UTF-8: escaped
  CHECK(text.find("b=\xc3\xa9") != std::string::npos);      // UTF-8: as it is
  auto v = t::jsonl(results);  // each line parses
  CHECK(v.size() == 3);
  t::Ran again = t::fanout({"-m", "async", "--resume", "--results", results, input});
  CHECK(again.status == 0);
  CHECK(again.out.find(" 0 urls)") != std::string::npos);  // all three known, the raw bytes too
  CHECK(t::jsonl(results).size() == 3);
}
