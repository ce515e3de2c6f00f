// The seeds' paging job (003): --pages, curl's globs in input lines,
// --merge-json and --output in input order under every model, with retries.
#include <doctest/doctest.h>

#include "fanout/input.hpp"
#include "proc.hpp"
#include "util.hpp"

using namespace fanout;

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

std::vector<std::string> globs(const char* s, std::string* why = nullptr) {
  std::vector<std::string> out;
  std::string w;
  bool ok = expand_globs(s, out, w);
  if (why) *why = w;
  if (!ok) out.clear();
  return out;
}

}  // namespace

TEST_CASE("pages: curl's globs in an input line") {
  CHECK(globs("http://h/[1-3]") == std::vector<std::string>{"http://h/1", "http://h/2", "http://h/3"});
  CHECK(globs("http://h/p[08-10]") == std::vector<std::string>{"http://h/p08", "http://h/p09", "http://h/p10"});
  CHECK(globs("http://h/{a,b}/[1-2]") ==
        std::vector<std::string>{"http://h/a/1", "http://h/a/2", "http://h/b/1", "http://h/b/2"});
  CHECK(globs("http://[::1]:8080/[1-1]") == std::vector<std::string>{"http://[::1]:8080/1"});  // an address, not a glob
  CHECK(globs("http://h/[a-c]") == std::vector<std::string>{"http://h/a", "http://h/b", "http://h/c"});  // curl's letters
  std::string why;
  CHECK(globs("http://h/{a,b", &why).empty());
  CHECK(why == "bad glob at column 10: { without its } (-g, --globoff: [ ] { } are the URL's own)");
  CHECK(globs("http://h/[1-99999999]", &why).empty());
  CHECK(why == "the globs make more than 10,000,000 URLs");
  std::vector<Request> reqs;
  parse_input("# c\nhttp://h/[1-2]\nhttp://h/{x\n", reqs);
  REQUIRE(reqs.size() == 3);
  CHECK(reqs[0].line == 2);
  CHECK(reqs[1].line == 2);
  CHECK(reqs[1].text == "http://h/2");
  CHECK(reqs[2].error == "input: line 3: bad glob at column 10: { without its } (-g, --globoff: [ ] { } are the URL's own)");
}

// Seed 003: every page of an API merged into one array, in page order,
// though a tenth of the pages fail their first request with 500, 502 or
// 504, and a secret header goes along that nothing may print.
TEST_CASE("pages: --merge-json of 1,000 flaky pages, in page order, under every model") {
  std::string want = "[";
  for (int p = 1; p <= 1000; p++)
    for (int i = 0; i < 2; i++)
      want += std::string(p == 1 && i == 0 ? "" : p > 1 && i == 0 ? "," : ", ") + "{\"page\": " + std::to_string(p) +
              ", \"item\": " + std::to_string(i) + "}";
  want += "]\n";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    // Each model its own port's worth of first failures: a fresh origin.
    t::Origin fresh;
    std::string merged = t::temp_dir() + "/merged-" + model + ".json", results = t::temp_dir() + "/pages-" + model + ".jsonl",
                trace = t::temp_dir() + "/pages-" + model + ".json";
    t::Ran r = t::fanout({"-m", model, "-c", "20", "-w", "2", "--retry", "3", "--retry-delay", "0.01", "--retry-on",
                          "500,502,504", "-H", "X-Api-Key: s3cr3t-key", "-H", "Authorization: Bearer s3cr3t-token",
                          "--pages", "1..1000", "--merge-json", merged, "--results", results, "--json", "--trace", trace,
                          fresh.url("/json/{page}?per=2&flaky=1")});
    REQUIRE(r.status == 0);
    std::string got, journal, tr;
    REQUIRE(t::read_file(merged, got));
    CHECK(got == want);
    auto v = t::results(results);
    REQUIRE(v.size() == 1000);
    int retried = 0;
    for (auto& x : v) {
      CHECK(x["http_code"].num == 200);
      retried += int(x["num_retries"].num);
    }
    CHECK(retried == 100);
    t::read_file(results, journal);
    t::read_file(trace, tr);
    for (const std::string* text : {&r.out, &r.err, &journal, &tr, &got}) {
      CHECK(text->find("s3cr3t") == std::string::npos);
    }
  }
}

TEST_CASE("pages: --output writes every 2xx body in input order; a page that is not an array is its error") {
  t::Origin o;
  std::string list;
  for (int i = 0; i < 50; i++) list += o.url("/echo/" + std::to_string(i)) + "\n";
  list += o.url("/status/404") + "\n";
  std::string want;
  for (int i = 0; i < 50; i++) want += "/echo/" + std::to_string(i);
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    t::Ran r = t::fanout({"-m", model, "-c", "7", "-w", "2", "--output", "-", "-"}, list);
    REQUIRE(r.status == 22);  // the 404's page is missing: the output is incomplete
    CHECK(r.out == want);  // the summary went to stderr
    CHECK(r.err.find("{\"200\": 50, \"404\": 1}") != std::string::npos);
    CHECK(r.err.find("fanout: --output - is incomplete: 1 of 51 pages missing (line 51)") != std::string::npos);
  }
  std::string results = t::temp_dir() + "/notarray.jsonl", merged = t::temp_dir() + "/notarray.json";
  t::Ran r = t::fanout({"-m", "async", "--merge-json", merged, "--results", results, "-"},
                       o.url("/json/1?per=1") + "\n" + o.url("/echo/x") + "\n" + o.url("/json/2?per=1") + "\n");
  REQUIRE(r.status == 1);  // a page that is no array: fanout's own failure, so 1
  CHECK(r.err.find("--merge-json " + merged + " is incomplete: 1 of 3 pages missing (line 2)") != std::string::npos);
  auto v = t::results(results);
  REQUIRE(v.size() == 3);
  CHECK(v[1]["errormsg"].str == "content: not a JSON array (it starts with '/')");
  std::string got;
  t::read_file(merged, got);
  CHECK(got == "[{\"page\": 1, \"item\": 0},{\"page\": 2, \"item\": 0}]\n");
  CHECK(t::fanout({"--output-dir", "x", "--output", "y", "-"}, "").err.find("one of --output, --output-dir and --merge-json at a time") != std::string::npos);
}
