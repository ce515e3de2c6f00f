// fanout bench on a small grid: the table, and its CSV, JSON and SVG.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <sys/stat.h>

#include "json.hpp"
#include "proc.hpp"
#include "util.hpp"
#include "xml.hpp"

TEST_CASE("bench: a small grid writes the table, bench.csv, bench.json and an SVG with one series per model") {
  std::string out = t::temp_dir() + "/bench";
  mkdir(out.c_str(), 0755);
  t::Ran r = t::fanout({"bench", "--urls", "10,20", "--concurrency", "2,5", "--repeats", "1", "--latency", "fixed:10",
                        "--out", out});
  REQUIRE(r.status == 0);
  CHECK(r.out.find("    - Requesting 20 URLs:") != std::string::npos);
  CHECK(r.out.find("      + concurrence 5:") != std::string::npos);
  CHECK(r.out.find(">  hybrid   time:") != std::string::npos);

  std::string csv;
  REQUIRE(t::read_file(out + "/bench.csv", csv));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 2 * 2 * 5);

  std::string js;
  REQUIRE(t::read_file(out + "/bench.json", js));
  tj::Value cells = tj::parse(js);
  REQUIRE(cells.arr.size() == 20);
  for (auto& c : cells.arr) {
    CHECK(c["errors"].num == 0);
    CHECK(c["seconds"].num > 0);
    // Nothing beats the ideal schedule: ceil(N / c) x 10 ms (seq: N x 10 ms).
    CHECK(c["seconds"].num >= c["ideal_seconds"].num * 0.99);
    CHECK(c["peak_rss_kb"].num > 0);
  }

  std::string svg;
  REQUIRE(t::read_file(out + "/bench.svg", svg));
  auto root = tx::parse(svg);  // throws unless well-formed
  CHECK(root->name == "svg");
  std::vector<const tx::Node*> panels;
  root->all("g", panels);
  int panel_count = 0;
  for (auto* p : panels) {
    if (p->attr("class") != "panel") continue;
    panel_count++;
    std::map<std::string, int> series;
    for (auto& k : p->kids)
      if (k->name == "g" && k->attr("class") == "series") series[k->attr("data-model")]++;
    INFO(p->attr("data-title"));
    CHECK(series.size() == 5);
    for (const char* m : {"seq", "threads", "procs", "async", "hybrid"}) CHECK(series[m] == 1);
  }
  CHECK(panel_count == 2 + 2);  // one per URL count, then CPU and memory
}
