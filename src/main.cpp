// fanout: fetch a list of URLs under the concurrency model you choose and
// show what it cost.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout/dns.hpp"
#include "fanout/http.hpp"
#include "fanout/input.hpp"
#include "fanout/journal.hpp"
#include "fanout/polite.hpp"
#include "fanout/loop.hpp"
#include "fanout/job.hpp"
#include "fanout/model.hpp"
#include "fanout/options.hpp"
#include "fanout/progress.hpp"
#include "fanout/report.hpp"
#include "fanout/stop.hpp"
#include "fanout/trace.hpp"
#include "poller.hpp"
#include "sys.hpp"

using namespace fanout;

namespace {

// A Kubernetes Indexed Job or a Slurm job array: each pod or task takes its
// own shard. Kubernetes sets JOB_COMPLETION_INDEX (0 ..) but not the count:
// the Job's spec gives it as JOB_COMPLETIONS (the README's example does).
// Slurm sets SLURM_ARRAY_TASK_ID, _MIN, _STEP and _COUNT: --array=0-6:2 is
// IDs 0, 2, 4, 6, shards 1 to 4 of 4.
void shard_from_env(Config& cfg) {
  auto env = [](const char* n) { const char* v = getenv(n); return std::string(v ? v : ""); };
  auto num = [](const char* what, const std::string& v) { return parse_number(what, v.c_str(), 0, 1000000); };
  std::string idx = env("JOB_COMPLETION_INDEX"), count = env("JOB_COMPLETIONS"), where = "JOB_COMPLETION_INDEX";
  long long k;
  if (!idx.empty()) {
    if (count.empty())
      usage_error("JOB_COMPLETION_INDEX is set, JOB_COMPLETIONS is not: set it to the Job's completions (or give --shard K/N)");
    k = num("JOB_COMPLETION_INDEX", idx);
  } else {
    idx = env("SLURM_ARRAY_TASK_ID"), count = env("SLURM_ARRAY_TASK_COUNT"), where = "SLURM_ARRAY_TASK_ID";
    if (idx.empty() || count.empty()) return;
    std::string min = env("SLURM_ARRAY_TASK_MIN"), step = env("SLURM_ARRAY_TASK_STEP");
    long long from = min.empty() ? 0 : num("SLURM_ARRAY_TASK_MIN", min);
    long long by = step.empty() ? 1 : std::max(1LL, num("SLURM_ARRAY_TASK_STEP", step));
    long long id = num("SLURM_ARRAY_TASK_ID", idx);
    if (id < from || (id - from) % by != 0)
      usage_error("SLURM_ARRAY_TASK_ID " + idx + " is not MIN + a multiple of STEP (" + std::to_string(from) + ", " +
                  std::to_string(by) + "): an array like --array=1,4,9 needs --shard K/N");
    k = (id - from) / by;
  }
  parse_shard(cfg, where, std::to_string(k + 1) + "/" + count);
  fprintf(stderr, "fanout: shard %lld/%s (from %s)\n", k + 1, count.c_str(), where.c_str());
}

Config parse_args(int argc, char** argv) {
  Config cfg;
  std::vector<std::string> args;
  parse_options(argc, argv, cfg, args);
  if ((!cfg.output_dir.empty()) + (!cfg.out.empty()) + (!cfg.merge_json.empty()) > 1)
    usage_error("one of --output, --output-dir and --merge-json at a time");
  if (cfg.skip_existing && cfg.output_dir.empty()) usage_error("--skip-existing goes with --output-dir DIR");
  if (cfg.remote_header_name && cfg.output_dir.empty()) usage_error("-J, --remote-header-name goes with --output-dir DIR");
  if (cfg.timestamping && cfg.output_dir.empty()) usage_error("-N, --timestamping goes with --output-dir DIR");
  if (!cfg.since.empty()) {  // the validators an earlier run's journal recorded, by URL
    std::string err;
    bool any = false;
    if (!read_results(cfg.since, false, [&](const Record& r) {
          any = true;
          if (!r.r.etag.empty() || !r.r.last_modified.empty()) cfg.validators[r.url] = {r.r.etag, r.r.last_modified};
        }, err))
      usage_error("--since: " + err);
    if (!any) usage_error("--since " + cfg.since + ": no results in it (a --results file of an earlier run)");
  }
  if (cfg.resume && (cfg.results.empty() || cfg.results == "-"))
    usage_error("--resume needs --results FILE: the journal of the run it resumes");
  if (cfg.resume && (!cfg.out.empty() || !cfg.merge_json.empty()))
    usage_error("--resume cannot resume --output or --merge-json (their pages would come out of order)");
  if (!cfg.shard_given) shard_from_env(cfg);
  if (args.size() > 1) usage_error("one input file only (got \"" + args[1] + "\" too; URLs go in a file, one a line, or on stdin)");
  if (!args.empty()) cfg.input = args[0];
  else if (isatty(0)) usage_error("no input: give a file of URLs, one a line, or - for stdin");
  // curl's habit: the URL itself as the argument.
  struct stat st;
  if (cfg.pages.empty() && cfg.input.find("://") != std::string::npos && stat(cfg.input.c_str(), &st) != 0)
    usage_error("\"" + cfg.input + "\" is a URL, not a file: URLs go in a file, one a line, or on stdin\n"
                "(echo '" + cfg.input + "' | fanout -)");
  return cfg;
}

// The summary, and --out/--merge-json or --results when they are '-': a
// full disk or a closed pipe is an error, not exit 0.
bool stdout_ok() {
  if (fflush(stdout) == 0 && !ferror(stdout)) return true;
  fprintf(stderr, "fanout: stdout: write failed: %s\n", strerror(errno));
  return false;
}

// The input: a file, stdin, or --pages; less another shard's lines and,
// with --resume, the lines the journal has already.
std::unique_ptr<Source> open_input(const Config& cfg, std::vector<uint64_t>& done, std::string& err) {
  std::unique_ptr<Source> src;
  if (!cfg.pages.empty()) {  // --pages A..B: the argument is a URL with {page} in it
    size_t dots = cfg.pages.find("..");
    if (dots == std::string::npos)  // "5" alone would be 5, 6, 7 ... without end
      usage_error("--pages takes A..B (pages A to B; one page: A..A), not \"" + cfg.pages + "\"");
    long long a = parse_number("--pages", cfg.pages.substr(0, dots).c_str(), 0, 1LL << 40);
    long long b = parse_number("--pages", cfg.pages.substr(dots + 2).c_str(), a, a + 10000000);
    if (cfg.input.find("{page}") == std::string::npos) usage_error("--pages needs a URL with {page} in it, not \"" + cfg.input + "\"");
    src = Source::pages(cfg.input, uint64_t(a), uint64_t(b));
  } else if (!(src = Source::file(cfg.input, err))) {
    return nullptr;
  }
  src->globoff = cfg.globoff;
  if (cfg.resume) {
    // A run killed mid-line left half a record: cut off, so appending starts clean.
    if (!read_results(cfg.results, true, [&](const Record& r) { done.push_back(request_key(r.line, r.url)); }, err)) {
      err = "--resume: " + err;
      return nullptr;
    }
    std::sort(done.begin(), done.end());
  }
  if (cfg.shard_n > 1 || cfg.resume)
    src->keep = [&cfg, &done](const Request& rq) {
      if (cfg.shard_n > 1 && shard_of(rq, cfg.shard_n) != cfg.shard_k) return false;
      return !std::binary_search(done.begin(), done.end(), request_key(rq.line, rq.text));
    };
  return src;
}

// fanout bench is fanout-bench, next to this binary: the bench driver and
// its charts are ~70 KB that a board's fanout does without.
int run_bench(char** argv) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string self = n > 0 ? std::string(buf, size_t(n)) : "fanout";
  std::string exe = self.substr(0, self.rfind('/') + 1) + "fanout-bench";
  argv[0] = const_cast<char*>(exe.c_str());
  execv(exe.c_str(), argv);
  fprintf(stderr, "fanout bench: %s: %s (make builds it, make install installs it)\n", exe.c_str(), strerror(errno));
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "bench") return run_bench(argv + 1);
  if (argc > 1 && std::string(argv[1]) == "merge") return merge_main(argc - 1, argv + 1);
  // A closed standard fd would be handed to the first file opened (the
  // summary written into --results, say): /dev/null takes its place, and a
  // closed stdout is refused, for the summary goes there.
  bool no_stdout = false;
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      no_stdout |= fd == 1;
      if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) return 1;
    }
  if (no_stdout) {
    fprintf(stderr, "fanout: stdout is closed: the summary goes there (> /dev/null drops it)\n");
    return 1;
  }
  Config cfg = parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);  // pipes to dead workers; sockets use MSG_NOSIGNAL
  std::string fit = fit_fd_limit(cfg);  // once, before anything is opened
  if (!fit.empty()) fprintf(stderr, "fanout: %s\n", fit.c_str());
  stop::install(cfg.grace);
  std::unique_ptr<Poller> ring;  // -m uring's, for its loop (keep_ring)
  if (cfg.uring) {  // at once, and why: where io_uring is not allowed, nothing can run
    if (cfg.model != "uring" && cfg.model != "hybrid") {
      fprintf(stderr, "fanout: --io-uring is for -m hybrid (-m uring is the one-loop model)\n");
      return 2;
    }
    std::string why;
    ring = make_uring_poller(why);
    if (!ring) {
      fprintf(stderr, "fanout: -m %s%s: %s\n", cfg.model.c_str(), cfg.model == "hybrid" ? " --io-uring" : "", why.c_str());
      return 2;
    }
    if (cfg.model != "uring") ring.reset();  // (hybrid's workers make their own)
  }

  std::string err;
  std::vector<uint64_t> done;  // --resume: the journal's lines
  std::unique_ptr<Source> src = open_input(cfg, done, err);
  if (!src) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  bool pages = !cfg.out.empty() || !cfg.merge_json.empty();
  std::unique_ptr<Job> job = !cfg.output_dir.empty() ? make_download_job(cfg, err)
                             : pages                 ? make_pages_job(!cfg.merge_json.empty())
                                                     : make_check_job();
  if (!job) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  Run run(cfg, *src, *job);
  if (!run.open_journal(err)) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  // --trace FILE: FILE.json and FILE.svg; FILE.json or FILE.svg alone. Every
  // output is opened before the run: a bad path is found now.
  std::vector<std::pair<std::string, FILE*>> traces;
  if (!cfg.trace.empty()) {
    auto ends = [&](const char* ext) { return cfg.trace.size() > strlen(ext) && cfg.trace.ends_with(ext); };
    for (const std::string& p : ends(".json") || ends(".svg") ? std::vector<std::string>{cfg.trace}
                                                               : std::vector<std::string>{cfg.trace + ".json", cfg.trace + ".svg"}) {
      FILE* f = fopen(p.c_str(), "w");
      if (!f) {
        fprintf(stderr, "fanout: --trace %s: %s\n", p.c_str(), strerror(errno));
        return 1;
      }
      traces.emplace_back(p, f);
    }
  }
  const Model* model = find_model(cfg.model);
  bool show = cfg.progress == 1 || (cfg.progress < 0 && isatty(2));
  // A total for progress only where it is shown, and only where it can be
  // had cheaply and right (another shard's lines cannot be told apart unparsed).
  uint64_t total = show && cfg.shard_n == 1 ? src->count_ahead() : 0;
  progress::start(size_t(total > done.size() ? total - done.size() : 0), show);
  auto t0 = Clock::now();
  cfg.run_end = t0 + std::chrono::microseconds(int64_t(cfg.deadline * 1e6));
  if (cfg.rate > 0 && !(cfg.pacer = Pacer::create(cfg.rate))) {
    fprintf(stderr, "fanout: --rate: mmap: %s\n", strerror(errno));
    return 1;
  }
  if (cfg.polite && !(cfg.polite_table = Polite::create(cfg.per_host ? cfg.per_host : cfg.effective_concurrency()))) {
    fprintf(stderr, "fanout: --polite: mmap: %s\n", strerror(errno));
    return 1;
  }
  if (ring) keep_ring(std::move(ring));
  bool ran = model->run(run, err);
  keep_ring(nullptr);  // (one no loop took goes now, while its closes are counted)
  progress::stop();
  if (!ran) {
    fprintf(stderr, "fanout: %s: %s\n", cfg.model.c_str(), err.c_str());
    return 1;
  }
  if (stop::requested()) run.interrupt();  // what was taken and did not land is cancelled
  if (run.finished == Clock::time_point{}) run.mark_finished();
  double seconds = std::chrono::duration<double>(run.finished - t0).count();
  if (!err.empty()) fprintf(stderr, "fanout: %s: %s\n", cfg.model.c_str(), err.c_str());
  run.totals.add_calls(sys::counters());  // the main thread's own, teardown included
  Cost cost = measure(run, seconds);
  // Pages on stdout: the summary goes to stderr, out of their way.
  FILE* out = cfg.out == "-" || cfg.merge_json == "-" ? stderr : stdout;
  // What the list makes: what was taken, and for an interrupted run what
  // was never read (counted where that is cheap: a regular file, unsharded).
  uint64_t listed = run.taken();
  if (stop::requested() && cfg.shard_n == 1 && !total) total = src->count_ahead();
  if (stop::requested() && total > done.size()) listed = std::max<uint64_t>(listed, total - done.size());
  if (cfg.json) print_json(out, run, seconds, cost);
  else print_summary(out, run, seconds, listed);
  if (!cfg.silent) print_cost(stderr, run, cost);
  if (!cfg.silent) print_hosts(stderr, run.tally.hosts);
  if (!cfg.silent || cfg.show_error) print_failures(stderr, run);
  int status = run.failures.first() ? run.failures.first()->code : 0;
  const std::string& pages_to = cfg.merge_json.empty() ? cfg.out : cfg.merge_json;
  if (!pages_to.empty() && run.failures.count() && !stop::signal()) {  // which pages the file does not have
    std::string lines;
    auto kept = run.failures.kept();
    for (size_t i = 0; i < kept.size() && i < 10; i++) lines += (i ? ", " : "") + std::to_string(kept[i].line);
    if (run.failures.count() > std::min<size_t>(kept.size(), 10))
      lines += " and " + std::to_string(run.failures.count() - std::min<size_t>(kept.size(), 10)) + " more";
    fprintf(stderr, "fanout: %s %s is incomplete: %llu of %llu pages missing (%s %s)\n",
            cfg.merge_json.empty() ? "--output" : "--merge-json", pages_to.c_str(), (unsigned long long)run.failures.count(),
            (unsigned long long)run.tally.results, run.failures.count() == 1 ? "line" : "lines", lines.c_str());
  }
  for (auto& [path, f] : traces)
    if (!write_trace(f, path, run, t0, err)) {
      fprintf(stderr, "fanout: %s\n", err.c_str());
      status = 1;
    }
  if (!run.close_journal(err)) {
    fprintf(stderr, "fanout: %s\n", err.c_str());
    return 1;
  }
  if (!src->error().empty()) {  // the input broke off: what was read is done
    fprintf(stderr, "fanout: %s\n", src->error().c_str());
    return 1;
  }
  if (int sig = stop::signal()) {
    // Threads of an interrupted run may still be in a request: no
    // destructors, no exit handlers; everything written is flushed.
    fprintf(stderr, "fanout: %s: %s, %s cancelled (not in --results); %s\n", stop::name(sig),
            plural(run.tally.results, "result", "results").c_str(), plural(run.tally.cancelled, "request", "requests").c_str(),
            cfg.results.empty() ? "with --results FILE, --resume would finish the rest"
                                : ("--resume --results " + cfg.results + " finishes the rest").c_str());
    _exit(stdout_ok() ? 128 + sig : 1);
  }
  if (!stdout_ok()) return 1;
  // curl's exit code of the first failed line in input order (0: none failed).
  return status;
}
