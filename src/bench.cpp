// fanout bench: URL counts x concurrency x models on the local origin, R
// runs per cell, the median reported; a table shaped like the seeds', with
// what each model cost, and bench.csv, bench.json and bench.svg.
//
// Each run is a child fanout (this binary, re-executed with --json), so its
// CPU, memory and syscalls are its own and not the bench's.
#include "fanout/bench.hpp"
#include "poller.hpp"
#include "fanout/latency.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <string>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace fanout {
namespace {

const char kUsage[] =
    "usage: fanout bench [--urls 50,100,200] [--concurrency 5,10,15]\n"
    "                    [--models seq,threads,procs,async,hybrid,uring]\n"
    "                    [--latency fixed:50 | lognormal:MEDIAN,P90] [--repeats 3] [--output-dir DIR]\n"
    "       fanout bench --seed 000|001|002|003|004 [--repeats 1] [--output-dir DIR]\n"
    "Starts the local origin (the `origin` next to this binary), runs every\n"
    "cell --repeats times and prints the median; writes DIR/bench.csv,\n"
    "DIR/bench.json and DIR/bench.svg. Each URL's latency is its own (the\n"
    "same in every run), and each cell's ideal is the best schedule of them.\n"
    "--seed runs a seed's experiment as it was published, its figures beside\n"
    "fanout's: DIR/seed-NNN.csv and DIR/seed-NNN.svg. DIR (default .) is made\n"
    "if need be and tried before anything runs; the origin ends with the bench.\n";

// The seeds' experiments as published (../shared/seeds): what each program
// was, the fanout model and -c that does the same, and its time.
struct SeedRow {
  const char* program;
  const char* model;
  int urls, c;
  double published;  // seconds; < 0: not in the seed's text
  int workers = 0;   // hybrid: -w
};
struct Seed {
  const char* id;
  const char* title;
  const char* job;  // "check", "pages" (003's API with retries), "download" (004)
  // The latency: fixed_ms, or lognormal with p90 = spread x median, the
  // median chosen so the first row's URLs take `target` seconds one after
  // another (or, with slowest, so the slowest of them takes `target`).
  double fixed_ms, spread, target;
  bool slowest;
  const char* assumed;  // what the seed does not say and this preset assumes
  std::vector<SeedRow> rows;
};
const Seed kSeeds[] = {
  {"002", "Python 3.5+ Async: the website checker (31 sites)", "check", 0, 2.0, 35.1, false,
   "the 31 latencies add up to the naive checker's 35.1 s; p90 twice the median",
   {{"naive-checker.py", "seq", 31, 1, 35.1},
    {"subprocess-checker.py list.txt 3", "procs", 31, 3, 9.6},
    {"thread-checker.py: a thread a site", "threads", 31, 31, 5.7},
    {"asyncio-checker.py: all at once", "async", 31, 31, 2.8}}},
  // 000's 50 URLs at 5 took its threads 5.64 s: 10 rounds of 564 ms.
  {"000", "AsyncIO vs threads vs processes: web content connections", "check", 564, 0, 0, false,
   "564 ms a URL: its threads' 5.64 s for 50 URLs at 5 (10 rounds)",
   {{"threads, 50 URLs, 5", "threads", 50, 5, 5.643}, {"coroutines", "async", 50, 5, 6.230}, {"processes", "procs", 50, 5, 5.842},
    {"threads, 50 URLs, 10", "threads", 50, 10, 2.680}, {"coroutines", "async", 50, 10, 2.810}, {"processes", "procs", 50, 10, 3.492},
    {"threads, 50 URLs, 15", "threads", 50, 15, 1.967}, {"coroutines", "async", 50, 15, 2.066}, {"processes", "procs", 50, 15, 2.397},
    {"threads, 100 URLs, 5", "threads", 100, 5, 10.729}, {"coroutines", "async", 100, 5, 10.181}, {"processes", "procs", 100, 5, 12.540},
    {"threads, 100 URLs, 10", "threads", 100, 10, 6.375}, {"coroutines", "async", 100, 10, 5.942}, {"processes", "procs", 100, 10, 6.645},
    {"threads, 100 URLs, 15", "threads", 100, 15, 3.701}, {"coroutines", "async", 100, 15, 3.871}, {"processes", "procs", 100, 15, 4.932},
    {"threads, 200 URLs, 5", "threads", 200, 5, 21.588}, {"coroutines", "async", 200, 5, 20.816}, {"processes", "procs", 200, 5, 23.113},
    {"threads, 200 URLs, 10", "threads", 200, 10, 11.150}, {"coroutines", "async", 200, 10, 10.274}, {"processes", "procs", 200, 10, 13.325},
    {"threads, 200 URLs, 15", "threads", 200, 15, 7.853}, {"coroutines", "async", 200, 15, 7.414}, {"processes", "procs", 200, 15, 9.254}}},
  // 001's ten most visited domains: aiohttp's gather took 1.62 s, the slowest site.
  {"001", "Asyncio vs multithreading vs multiprocessing (the top 10 sites)", "check", 0, 2.0, 1.621, true,
   "the slowest of the 10 takes 1.62 s (its gather); the executors' defaults on 4 CPUs: 8 threads, 4 processes",
   {{"multithreading_scraper", "threads", 10, 8, 5.100},
    {"multiprocessing_scraper", "procs", 10, 4, 5.454},
    {"async_aiohttp_scraper", "async", 10, 10, 1.621},
    {"async_multiprocessing_scraper: 1 a core", "hybrid", 10, 4, 4.309, 4}}},
  // 003's API: 6000 pages at 50 took "around 6 minutes for both": 120 rounds of 3 s.
  {"003", "Multi-threading vs event loop: paging a JSON API with retries (6000 pages)", "pages", 3000, 0, 0, false,
   "3 s a page (6 minutes at 50 is 120 rounds); a tenth of the pages fail their first try (500, 502, 504). "
   "It takes 12 minutes, as the seed's did",
   {{"ThreadPoolExecutor(max_workers=50)", "threads", 6000, 50, 360},
    {"asyncio, Semaphore(50)", "async", 6000, 50, 360}}},
  // 004's figures are charts (pictures), not in the text.
  {"004", "Parallelism shootout: downloading pages to a folder (30 URLs)", "download", 0, 2.0, 30, false,
   "1 s a page on average (30 s in sequence); 10 workers. The seed's times are in its charts, not its text",
   {{"sequential", "seq", 30, 1, -1},
    {"threads", "threads", 30, 10, -1},
    {"multiprocessing Pool", "procs", 30, 10, -1},
    {"asyncio", "async", 30, 10, -1}}},
};

const char* const kAllModels[] = {"seq", "threads", "procs", "async", "hybrid", "uring"};
const char* const kColors[] = {"#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728"};

struct Cell {
  int urls = 0, c = 0;
  std::string model;
  double seconds = 0, min = 0, max = 0, cpu = 0, ideal = 0;
  long rss_kb = 0;  // the parent's peak plus its children's
  double syscalls_per_request = 0;
  int errors = 0;
};

[[noreturn]] void usage(const std::string& why) {
  fprintf(stderr, "fanout bench: %s\n%s", why.c_str(), kUsage);
  exit(2);
}

std::vector<int> int_list(const char* opt, const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    char* end;
    long n = strtol(p, &end, 10);
    if (end == p || n < 1 || n > 1000000) usage(std::string(opt) + " takes numbers like 50,100,200");
    v.push_back(int(n));
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') usage(std::string(opt) + " takes numbers like 50,100,200");
  }
  return v;
}

double number_after(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\": ");
  return at == std::string::npos ? 0 : strtod(json.c_str() + at + key.size() + 4, nullptr);
}

std::string dir_of_self() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  std::string p = buf;
  return p.substr(0, p.rfind('/'));
}

// A child of the bench (the origin, a fanout run) ends when the bench
// does, however it ends: an error, a signal, a closed pipe.
void die_with(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(1);  // it died before prctl
}

[[noreturn]] void exec_args(const std::vector<std::string>& args) {
  std::vector<char*> v;
  for (auto& a : args) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  execv(v[0], v.data());
  _exit(127);
}

// Runs argv with stdout captured (stderr to /dev/null); its exit status.
int run_capture(const std::vector<std::string>& args, std::string& out) {
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t parent = getpid(), pid = fork();
  if (pid == 0) {
    die_with(parent);
    dup2(p[1], 1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    close(p[0]);
    close(p[1]);
    exec_args(args);
  }
  close(p[1]);
  char buf[8192];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, size_t(n));
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct Origin {
  pid_t pid = -1;
  int port = 0;
  ~Origin() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
};

bool start_origin(const std::string& exe, const std::vector<std::string>& latency, Origin& o) {
  int p[2];
  if (pipe(p) != 0) return false;
  pid_t parent = getpid();
  o.pid = fork();
  if (o.pid == 0) {
    die_with(parent);
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    std::vector<std::string> args = {exe, "--port", "0", "--lifetime", "900"};
    args.insert(args.end(), latency.begin(), latency.end());
    exec_args(args);
  }
  close(p[1]);
  FILE* f = fdopen(p[0], "r");
  char line[64];
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "http %d", &o.port) == 1) break;
  fclose(f);
  return o.port > 0;
}

std::string fmt(const char* f, double v) {
  char b[64];
  snprintf(b, sizeof b, f, v);
  return b;
}

void write_svg(const std::string& path, const std::vector<Cell>& cells, const std::vector<int>& urls,
               const std::vector<int>& conc, const std::vector<std::string>& models, const std::string& profile) {
  const int W = 900, panel_h = 240, top = 50;
  size_t panels = urls.size() + 2;
  int H = top + int(panels) * (panel_h + 40) + 20;
  auto color = [&](const std::string& m) {
    for (size_t i = 0; i < 5; i++)
      if (m == kAllModels[i]) return kColors[i];
    return "#000000";
  };
  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(W) + "\" height=\"" + std::to_string(H) +
       "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"20\" y=\"24\" font-size=\"16\">fanout bench: seconds per model (median), latency " + profile +
       "</text>\n";
  // Legend.
  for (size_t i = 0; i < models.size(); i++) {
    int x = 20 + int(i) * 110;
    s += "<rect x=\"" + std::to_string(x) + "\" y=\"32\" width=\"10\" height=\"10\" fill=\"" + color(models[i]) + "\"/>";
    s += "<text x=\"" + std::to_string(x + 14) + "\" y=\"41\">" + models[i] + "</text>\n";
  }
  // A panel: groups along x, one bar per model in each group.
  auto panel = [&](int y0, const std::string& title, const std::vector<std::string>& groups,
                   auto value /* (group index, model) -> double */, const char* unit) {
    double vmax = 0;
    for (size_t g = 0; g < groups.size(); g++)
      for (auto& m : models) vmax = std::max(vmax, value(g, m));
    if (vmax <= 0) vmax = 1;
    double step = round_step(vmax, 5);
    int ticks = int(std::ceil(vmax / step - 1e-9));
    vmax = step * ticks;  // the axis ends on a round tick
    int x0 = 90, plot_w = W - 110, plot_h = panel_h - 40;
    s += "<g class=\"panel\" data-title=\"" + title + "\">\n";
    s += "<text x=\"" + std::to_string(x0) + "\" y=\"" + std::to_string(y0 + 14) + "\" font-size=\"14\">" + title + " (" +
         unit + ")</text>\n";
    int base = y0 + 20 + plot_h;
    s += "<line x1=\"" + std::to_string(x0) + "\" y1=\"" + std::to_string(base) + "\" x2=\"" + std::to_string(x0 + plot_w) +
         "\" y2=\"" + std::to_string(base) + "\" stroke=\"black\"/>\n";
    for (int t = 0; t <= ticks; t++) {
      double v = step * t;
      int y = base - int(plot_h * t / ticks);
      s += "<text x=\"" + std::to_string(x0 - 6) + "\" y=\"" + std::to_string(y + 4) + "\" text-anchor=\"end\">" +
           fmt("%g", v) + " " + unit + "</text>";
      s += "<line x1=\"" + std::to_string(x0) + "\" y1=\"" + std::to_string(y) + "\" x2=\"" + std::to_string(x0 + plot_w) +
           "\" y2=\"" + std::to_string(y) + "\" stroke=\"#dddddd\"/>\n";
    }
    double group_w = double(plot_w) / double(groups.size()), bar_w = group_w * 0.8 / double(models.size());
    for (size_t g = 0; g < groups.size(); g++)
      s += "<text x=\"" + std::to_string(int(x0 + group_w * (double(g) + 0.5))) + "\" y=\"" + std::to_string(base + 16) +
           "\" text-anchor=\"middle\">" + groups[g] + "</text>\n";
    for (size_t m = 0; m < models.size(); m++) {
      s += "<g class=\"series\" data-model=\"" + models[m] + "\" fill=\"" + color(models[m]) + "\">";
      for (size_t g = 0; g < groups.size(); g++) {
        double v = value(g, models[m]);
        int h = int(plot_h * v / vmax);
        int x = int(x0 + group_w * double(g) + group_w * 0.1 + bar_w * double(m));
        s += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(base - h) + "\" width=\"" +
             std::to_string(std::max(1, int(bar_w) - 1)) + "\" height=\"" + std::to_string(h) + "\"><title>" + models[m] +
             " " + groups[g] + ": " + fmt("%.3f", v) + "</title></rect>";
      }
      s += "</g>\n";
    }
    s += "</g>\n";
  };
  auto find = [&](int n, int c, const std::string& m) -> const Cell* {
    for (auto& cell : cells)
      if (cell.urls == n && cell.c == c && cell.model == m) return &cell;
    return nullptr;
  };
  std::vector<std::string> cgroups;
  for (int c : conc) cgroups.push_back("c=" + std::to_string(c));
  int y = top;
  for (int n : urls) {
    panel(y, std::to_string(n) + " URLs, time", cgroups,
          [&](size_t g, const std::string& m) { auto* c = find(n, conc[g], m); return c ? c->seconds : 0.0; }, "s");
    y += panel_h + 40;
  }
  // What the largest cell cost each model.
  int n = urls.back(), c = conc.back();
  std::vector<std::string> one = {std::to_string(n) + " URLs, c=" + std::to_string(c)};
  panel(y, "CPU (user + system) per model", one,
        [&](size_t, const std::string& m) { auto* x = find(n, c, m); return x ? x->cpu : 0.0; }, "s");
  y += panel_h + 40;
  panel(y, "peak memory per model (parent + children)", one,
        [&](size_t, const std::string& m) { auto* x = find(n, c, m); return x ? double(x->rss_kb) / 1024 : 0.0; }, "MB");
  s += "</svg>\n";
  FILE* f = fopen(path.c_str(), "w");
  if (f) {
    fwrite(s.data(), 1, s.size(), f);
    fclose(f);
  }
}

// --seed: one seed's experiment, its figures beside fanout's and the ideal.
int run_seed(const Seed& seed, int repeats, const std::string& out, const std::string& self, const std::string& origin_exe) {
  std::string job = seed.job;
  size_t row_no = 0;  // 003's flaky pages fail once each: every row its own pages
  auto target = [&](int n, int k) {
    std::string q = "seed=" + std::string(seed.id) + "&n=" + std::to_string(n) + "&i=" + std::to_string(k);
    if (job == "pages") return "/json/" + std::to_string(row_no * 1000000 + size_t(k) + 1) + "?per=3&flaky=1&" + q;
    if (job == "download") return "/echo/seed-" + std::string(seed.id) + "/page-" + std::to_string(k) + "?" + q;
    return "/?" + q;
  };
  LatencyProfile profile{seed.fixed_ms, 0};
  std::vector<std::string> origin_latency = {"--latency", std::to_string(int(seed.fixed_ms))};
  char spec[64] = "";
  if (seed.fixed_ms <= 0) {  // lognormal, scaled so the first row's URLs take `sequential` seconds in a row
    LatencyProfile unit = LatencyProfile::lognormal(1000, 1000 * seed.spread);
    double sum = 0, slowest = 0;
    for (int k = 0; k < seed.rows[0].urls; k++) {
      double l = latency_ms(unit, target(seed.rows[0].urls, k));
      sum += l;
      slowest = std::max(slowest, l);
    }
    double median = 1000 * seed.target * 1000 / (seed.slowest ? slowest : sum);
    snprintf(spec, sizeof spec, "%.3f,%.3f", median, median * seed.spread);
    double m, p90;
    sscanf(spec, "%lf,%lf", &m, &p90);  // exactly what origin will read
    profile = LatencyProfile::lognormal(m, p90);
    origin_latency = {"--latency-lognormal", spec};
  }
  Origin o;
  if (!start_origin(origin_exe, origin_latency, o)) usage("origin did not start");
  char tmpl[] = "/tmp/fanout-seed-XXXXXX";
  if (!mkdtemp(tmpl)) usage("mkdtemp failed");
  std::string tmp = tmpl;
  printf("[*] Seed %s: %s\n    on loopback, latency %s%s, median of %d runs\n", seed.id, seed.title,
         seed.fixed_ms > 0 ? ("fixed " + fmt("%.0f", seed.fixed_ms) + " ms").c_str() : "lognormal ",
         seed.fixed_ms > 0 ? "" : (fmt("(median %.0f ms", profile.median_ms) + ", p90 " + fmt("%.0f ms", profile.median_ms * seed.spread) +
                                   ": " + fmt("%.1f s", seed.target) + (seed.slowest ? " for the slowest)" : " in sequence)")).c_str(),
         repeats);
  if (*seed.assumed) printf("    assumed: %s\n", seed.assumed);
  printf("    %-40s %-8s %5s %5s %9s %9s %9s %7s\n", "the seed's program", "fanout", "urls", "-c", "seed", "fanout", "ideal", "/ideal");
  struct Got { const SeedRow* row; double secs, ideal; };
  std::vector<Got> got;
  int errors = 0;
  for (auto& row : seed.rows) {
    row_no++;
    std::string list = tmp + "/urls-" + std::to_string(row.urls);
    std::vector<int> lat;
    FILE* f = fopen(list.c_str(), "w");
    for (int k = 0; k < row.urls; k++) {
      fprintf(f, "http://127.0.0.1:%d%s\n", o.port, target(row.urls, k).c_str());
      int l = latency_ms(profile, target(row.urls, k));
      // origin fails a flaky page's first try (page % 10 == 3): it is asked
      // twice, after the first backoff (full jitter up to 0.1 s: 50 ms on average).
      if (job == "pages" && (k + 1) % 10 == 3) l = 2 * l + 50;
      lat.push_back(l);
    }
    fclose(f);
    std::vector<double> secs;
    for (int r = 0; r < repeats; r++) {
      std::string json, dir = tmp + "/out";
      std::vector<std::string> args = {self, "-m", row.model, "-c", std::to_string(row.c), "--json", "--no-progress", "--timeout", "120"};
      if (row.workers) args.insert(args.end(), {"-w", std::to_string(row.workers)});
      if (job == "pages")  // the seed's urllib3 Retry and its secret header
        args.insert(args.end(), {"--merge-json", tmp + "/merged.json", "--retry", "3", "--retry-delay", "0.1", "--retry-on",
                                 "500,502,504", "-H", "API-Auth-Secret-Key: not-a-real-key"});
      if (job == "download") args.insert(args.end(), {"--output-dir", dir});
      args.push_back(list);
      run_capture(args, json);
      secs.push_back(number_after(json, "seconds"));
      if (json.find("\"errors\": {}") == std::string::npos || number_after(json, "urls") != row.urls) errors++;
      if (job != "check") {
        std::string rm = "rm -rf '" + dir + "' '" + tmp + "/merged.json'";
        if (system(rm.c_str()) != 0) errors++;
      }
    }
    std::sort(secs.begin(), secs.end());
    Got g{&row, secs[secs.size() / 2], ideal_ms(lat, row.c) / 1000};
    got.push_back(g);
    printf("    %-40s %-8s %5d %5d %9s %8.3fs %8.3fs %7.2f%s\n", row.program, row.model, row.urls, row.c,
           row.published < 0 ? "-" : fmt("%.1fs", row.published).c_str(), g.secs, g.ideal, g.ideal > 0 ? g.secs / g.ideal : 0,
           errors ? "  (ERRORS)" : "");
    fflush(stdout);
    unlink(list.c_str());
  }
  rmdir(tmp.c_str());

  std::string csv = "program,model,urls,concurrency,seed_seconds,fanout_seconds,ideal_seconds\n";
  for (auto& g : got)
    csv += std::string(g.row->program) + "," + g.row->model + "," + std::to_string(g.row->urls) + "," + std::to_string(g.row->c) +
           "," + (g.row->published < 0 ? std::string("") : fmt("%.3f", g.row->published)) + "," + fmt("%.3f", g.secs) + "," +
           fmt("%.3f", g.ideal) + "\n";
  // The chart: a pair of bars a row (the seed's, grey; fanout's, blue), the
  // ideal as a tick, on an axis of round seconds.
  double most = 0;
  for (auto& g : got) most = std::max({most, g.row->published, g.secs, g.ideal});
  double step = round_step(most, 5), top = std::ceil(most / step) * step;
  const int left = 360, W = 960, bar = 11, gap = 10, head = 60;
  int H = head + int(got.size()) * (2 * bar + gap) + 50;
  double scale = double(W - left - 30) / top;
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(W) + "\" height=\"" + std::to_string(H) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"10\" y=\"22\" font-size=\"15\">Seed " + std::string(seed.id) + ": the seed's times (grey) and fanout's (blue), seconds</text>\n";
  svg += "<text x=\"10\" y=\"42\" fill=\"#555555\">black tick: the ideal, the best schedule of the same latencies on the same -c</text>\n";
  int axis_y = H - 40;
  for (double t = 0; t <= top + step / 2; t += step) {
    double x = left + t * scale;
    svg += "<line x1=\"" + fmt("%.1f", x) + "\" y1=\"" + std::to_string(head - 6) + "\" x2=\"" + fmt("%.1f", x) + "\" y2=\"" +
           std::to_string(axis_y) + "\" stroke=\"#dddddd\"/><text x=\"" + fmt("%.1f", x) + "\" y=\"" + std::to_string(axis_y + 16) +
           "\" text-anchor=\"middle\">" + (step < 1 ? fmt("%.1f", t) : fmt("%.0f", t)) + " s</text>\n";
  }
  int y = head;
  for (auto& g : got) {
    svg += "<text x=\"" + std::to_string(left - 8) + "\" y=\"" + std::to_string(y + bar + 4) + "\" text-anchor=\"end\">" +
           std::string(g.row->program) + " (" + g.row->model + ", c=" + std::to_string(g.row->c) + ")</text>\n";
    svg += "<rect x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(y) + "\" width=\"" + fmt("%.1f", std::max(0.0, g.row->published) * scale) +
           "\" height=\"" + std::to_string(bar) + "\" fill=\"#aaaaaa\"><title>seed " +
           (g.row->published < 0 ? std::string("not in its text") : fmt("%.1f s", g.row->published)) + "</title></rect>\n";
    svg += "<rect x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(y + bar) + "\" width=\"" + fmt("%.1f", std::max(1.0, g.secs * scale)) +
           "\" height=\"" + std::to_string(bar) + "\" fill=\"#1f77b4\"><title>fanout " + fmt("%.3f s", g.secs) + "</title></rect>\n";
    double ix = left + g.ideal * scale;
    svg += "<line x1=\"" + fmt("%.1f", ix) + "\" y1=\"" + std::to_string(y + bar - 2) + "\" x2=\"" + fmt("%.1f", ix) + "\" y2=\"" +
           std::to_string(y + 2 * bar + 2) + "\" stroke=\"black\" stroke-width=\"2\"/>\n";
    y += 2 * bar + gap;
  }
  svg += "</svg>\n";
  for (auto& [name, data] : {std::pair<std::string, const std::string&>{"csv", csv}, {"svg", svg}}) {
    std::string path = out + "/seed-" + seed.id + "." + name;
    FILE* f = fopen(path.c_str(), "w");
    if (!f || fwrite(data.data(), 1, data.size(), f) != data.size() || fclose(f) != 0) {
      fprintf(stderr, "fanout bench: cannot write %s: %s\n", path.c_str(), strerror(errno));
      return 1;
    }
  }
  printf("wrote %s/seed-%s.csv, %s/seed-%s.svg\n", out.c_str(), seed.id, out.c_str(), seed.id);
  return errors ? 1 : 0;
}

// DIR made (as mkdir -p) and a file made and removed in it: "" when it
// will take the bench's files, else why not.
std::string writable_dir(const std::string& dir) {
  for (size_t at = 1; (at = dir.find('/', at)) != std::string::npos; at++) mkdir(dir.substr(0, at).c_str(), 0755);
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return strerror(errno);
  std::string probe = dir + "/.fanout-bench-" + std::to_string(getpid());
  int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return strerror(errno);
  close(fd);
  unlink(probe.c_str());
  return "";
}

}  // namespace

int bench_main(int argc, char** argv) {
  std::vector<int> urls = {50, 100, 200}, conc = {5, 10, 15};
  std::vector<std::string> models(std::begin(kAllModels), std::end(kAllModels));
  std::string no_ring;  // uring by default only where the kernel gives a ring
  if (!make_uring_poller(no_ring)) {
    models.pop_back();
    fprintf(stderr, "fanout bench: no uring (%s)\n", no_ring.c_str());
  }
  std::string latency = "fixed:50", out = ".";
  int repeats = 3;
  const Seed* seed = nullptr;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--urls") urls = int_list("--urls", val());
    else if (a == "--concurrency") conc = int_list("--concurrency", val());
    else if (a == "--models") {
      models.clear();
      std::string list = val();
      for (size_t p = 0; p <= list.size();) {
        size_t e = list.find(',', p);
        std::string m = list.substr(p, e == std::string::npos ? std::string::npos : e - p);
        if (std::find(std::begin(kAllModels), std::end(kAllModels), m) == std::end(kAllModels))
          usage("unknown model \"" + m + "\"");
        models.push_back(m);
        if (e == std::string::npos) break;
        p = e + 1;
      }
    } else if (a == "--seed") {
      std::string id = val();
      for (auto& sd : kSeeds)
        if (id == sd.id) seed = &sd;
      if (!seed) usage("--seed takes 000, 001, 002, 003 or 004, not \"" + id + "\"");
      repeats = 1;  // one run of each, as the seeds did; --repeats after it says otherwise
    } else if (a == "--latency") latency = val();
    else if (a == "--repeats") repeats = std::max(1, atoi(val()));
    else if (a == "--output-dir") out = val();
    else if (a == "-h" || a == "--help") {
      fputs(kUsage, stdout);
      return 0;
    } else usage("unknown option " + a);
  }
  // The latency profile, as origin takes it.
  // Each URL's latency is a function of its target (latency.hpp), so the
  // ideal of every cell is known: the best schedule of those latencies.
  std::vector<std::string> origin_latency;
  LatencyProfile profile;
  if (latency.rfind("fixed:", 0) == 0) {
    profile = {atof(latency.c_str() + 6), 0};
    origin_latency = {"--latency", std::to_string(int(profile.median_ms))};
  } else if (double med, p90; latency.rfind("lognormal:", 0) == 0 && sscanf(latency.c_str() + 10, "%lf,%lf", &med, &p90) == 2 &&
                              med > 0 && p90 > med) {
    profile = LatencyProfile::lognormal(med, p90);
    origin_latency = {"--latency-lognormal", latency.substr(10)};
  } else {
    usage("--latency takes fixed:MS or lognormal:MEDIAN,P90 (P90 > MEDIAN > 0)");
  }
  std::string self = dir_of_self() + "/fanout", origin_exe = dir_of_self() + "/origin";
  if (access(origin_exe.c_str(), X_OK) != 0) origin_exe = dir_of_self() + "/fanout-origin";
  if (access(origin_exe.c_str(), X_OK) != 0) usage("no origin next to this binary (" + dir_of_self() + "/origin)");
  std::string why = writable_dir(out);
  if (!why.empty()) {
    fprintf(stderr, "fanout bench: --output-dir %s: %s (nothing was run)\n", out.c_str(), why.c_str());
    return 1;
  }
  if (seed) return run_seed(*seed, repeats, out, self, origin_exe);
  char tmpl[] = "/tmp/fanout-bench-XXXXXX";
  if (!mkdtemp(tmpl)) usage("mkdtemp failed");
  std::string tmp = tmpl;
  Origin o;
  if (!start_origin(origin_exe, origin_latency, o)) usage("origin did not start");

  printf("[*] Starting test: origin 127.0.0.1:%d, latency %s, median of %d runs\n", o.port, latency.c_str(), repeats);
  std::vector<Cell> cells;
  std::map<int, Cell> seq_done;  // seq ignores -c: run once per URL count
  for (int n : urls) {
    std::string list = tmp + "/urls-" + std::to_string(n);
    FILE* f = fopen(list.c_str(), "w");
    std::vector<int> lat;  // what origin will take for each, in input order
    for (int k = 0; k < n; k++) {
      fprintf(f, "http://127.0.0.1:%d/?n=%d&i=%d\n", o.port, n, k);
      lat.push_back(latency_ms(profile, "/?n=" + std::to_string(n) + "&i=" + std::to_string(k)));
    }
    fclose(f);
    printf("    - Requesting %d URLs:\n", n);
    for (int c : conc) {
      printf("      + concurrence %d:\n", c);
      for (auto& m : models) {
        Cell cell;
        if (m == "seq" && seq_done.count(n)) {
          cell = seq_done[n];
        } else {
          std::vector<double> secs, cpu, rss, sc;
          for (int r = 0; r < repeats; r++) {
            std::string json;
            run_capture({self, "-m", m, "-c", std::to_string(c), "--json", "--no-progress", "--timeout", "120", list}, json);
            secs.push_back(number_after(json, "seconds"));
            cpu.push_back(number_after(json, "user") + number_after(json, "system"));
            rss.push_back(number_after(json, "parent") + number_after(json, "children"));
            sc.push_back(number_after(json, "syscalls") / n);
            cell.errors = std::max(cell.errors, int(n - number_after(json, "urls") + json.empty() * n));
            size_t e = json.find("\"errors\": {");
            if (e != std::string::npos && json.compare(e + 11, 1, "}") != 0) cell.errors = std::max(cell.errors, 1);
          }
          auto med = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
          cell.seconds = med(secs);
          cell.min = *std::min_element(secs.begin(), secs.end());
          cell.max = *std::max_element(secs.begin(), secs.end());
          cell.cpu = med(cpu);
          cell.rss_kb = long(med(rss));
          cell.syscalls_per_request = med(sc);
          if (m == "seq") seq_done[n] = cell;
        }
        cell.urls = n;
        cell.c = m == "seq" ? 1 : c;
        cell.model = m;
        cell.ideal = ideal_ms(lat, m == "seq" ? 1 : c) / 1000;
        cells.push_back(cell);
        cells.back().c = c;  // filed under the column it is shown in
        printf("         >  %-8s time: %7.3f seconds   ideal %7.3f (x%.2f)   cpu %6.3f s   rss %6.1f MB   syscalls/req %5.2f%s\n",
               m.c_str(), cell.seconds, cell.ideal, cell.ideal > 0 ? cell.seconds / cell.ideal : 0, cell.cpu,
               double(cell.rss_kb) / 1024, cell.syscalls_per_request, cell.errors ? "   (ERRORS)" : "");
        fflush(stdout);
      }
    }
  }
  printf("[*] Tests end\n");

  std::string csv = "urls,concurrency,model,seconds,seconds_min,seconds_max,ideal_seconds,cpu_seconds,peak_rss_kb,"
                    "syscalls_per_request,errors\n";
  std::string json = "[\n";
  for (size_t i = 0; i < cells.size(); i++) {
    const Cell& c = cells[i];
    char row[512];
    snprintf(row, sizeof row, "%d,%d,%s,%.3f,%.3f,%.3f,%.3f,%.3f,%ld,%.2f,%d\n", c.urls, c.c, c.model.c_str(), c.seconds,
             c.min, c.max, c.ideal, c.cpu, c.rss_kb, c.syscalls_per_request, c.errors);
    csv += row;
    snprintf(row, sizeof row,
             "  {\"urls\": %d, \"concurrency\": %d, \"model\": \"%s\", \"seconds\": %.3f, \"seconds_min\": %.3f, "
             "\"seconds_max\": %.3f, \"ideal_seconds\": %.3f, \"cpu_seconds\": %.3f, \"peak_rss_kb\": %ld, "
             "\"syscalls_per_request\": %.2f, \"errors\": %d, \"latency\": \"%s\"}%s\n",
             c.urls, c.c, c.model.c_str(), c.seconds, c.min, c.max, c.ideal, c.cpu, c.rss_kb, c.syscalls_per_request,
             c.errors, latency.c_str(), i + 1 < cells.size() ? "," : "");
    json += row;
  }
  json += "]\n";
  auto save = [&](const std::string& name, const std::string& data) {
    std::string p = out + "/" + name;
    FILE* f = fopen(p.c_str(), "w");
    bool ok = f && fwrite(data.data(), 1, data.size(), f) == data.size();
    if (f && fclose(f) != 0) ok = false;
    if (!ok) fprintf(stderr, "fanout bench: cannot write %s: %s\n", p.c_str(), strerror(errno));
    return ok;
  };
  if (!save("bench.csv", csv) || !save("bench.json", json)) return 1;  // the origin ends with o
  write_svg(out + "/bench.svg", cells, urls, conc, models, latency);
  printf("wrote %s/bench.csv, %s/bench.json, %s/bench.svg\n", out.c_str(), out.c_str(), out.c_str());
  for (int n : urls) unlink((tmp + "/urls-" + std::to_string(n)).c_str());
  rmdir(tmp.c_str());
  int errors = 0;
  for (auto& c : cells) errors += c.errors;
  return errors ? 1 : 0;
}

}  // namespace fanout
