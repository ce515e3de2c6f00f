// What a user sees when lines fail, and a command line without traps
// (issue 17): the failed lines listed, curl's exit codes, option names
// taken whole, globs as curl's, downloads named as typed, two Ctrl-Cs,
// progress that fits, and the small things (plurals, zero results, --trace,
// the bench's output folder, the tools' --help).
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <set>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/options.hpp"
#include "proc.hpp"
#include "util.hpp"

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = s.find(what, at)) != std::string::npos; at += what.size()) n++;
  return n;
}


// Runs a tool from the build folder (origin, dnsd, certgen) with args.
t::Ran tool(const std::string& name, const std::string& args) {
  char* exe = realpath((t::build_dir() + "/" + name).c_str(), nullptr);
  char* tmp = realpath(t::temp_dir().c_str(), nullptr);
  REQUIRE(exe);
  REQUIRE(tmp);
  std::string out = std::string(tmp) + "/tool-" + name;
  std::string here = std::string(tmp) + "/tool-cwd";  // certgen once took --help for its folder: it would be made here
  mkdir(here.c_str(), 0755);
  t::Ran r;
  r.status = WEXITSTATUS(system(("cd " + here + " && " + t::runner() + exe + " " + args + " > " + out + " 2> " + out + ".err").c_str()));
  free(exe);
  free(tmp);
  t::read_file(out, r.out);
  t::read_file(out + ".err", r.err);
  return r;
}

}  // namespace

// 1. Failures are shown: every failed line, grouped, the first ones in
// full; never a password.
TEST_CASE("cli: the failed lines are listed on stderr, grouped by cause, in every model") {
  t::Origin o;
  int dead = t::free_port();
  std::string text = o.url("/status/200") + "\n";
  for (int i = 0; i < 7; i++) text += "http://127.0.0.1:" + std::to_string(dead) + "/r" + std::to_string(i) + "\n";
  text += "ftp://x/\n" + o.url("/status/404") + "\nhttp://user:hunter2@127.0.0.1:" + std::to_string(dead) + "/pw\n";
  std::string input = t::temp_file("failed-list.txt", text);
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/failed-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-c", "3", "-w", "2", "--results", results, input});
    CHECK(r.status == 7);  // the first failed line (2) was refused
    CHECK(r.err.find("fanout: 9 lines of 11 failed; exit 7, from line 2, the first in input order\n") != std::string::npos);
    CHECK(r.err.find("  connect (exit 7): 8 lines\n") != std::string::npos);
    CHECK(r.err.find("    line 2  http://127.0.0.1:" + std::to_string(dead) + "/r0  connect(127.0.0.1:" +
                     std::to_string(dead) + "): ECONNREFUSED (Connection refused)\n") != std::string::npos);
    CHECK(r.err.find("    ... and 3 more\n") != std::string::npos);  // 5 in full, then a count
    CHECK(r.err.find("  input (exit 1): 1 line\n    line 9  ftp://x/  ") != std::string::npos);
    CHECK(r.err.find("(--results " + results + " has every line)") != std::string::npos);
    CHECK(r.err.find("line 10") == std::string::npos);  // a 404 is an answer, not a failure
    // The password is in no output: not the list, the summary or the journal.
    std::string journal;
    t::read_file(results, journal);
    CHECK(journal.find("user:***@127.0.0.1") != std::string::npos);
    for (const std::string* s : {&r.out, &r.err, &journal}) CHECK(s->find("hunter2") == std::string::npos);

    t::Ran js = t::fanout({"-m", model, "-c", "3", "-w", "2", "--json", input});
    CHECK(js.status == 7);
    tj::Value v = tj::parse(js.out);
    CHECK(v["exitcode"].num == 7);
    CHECK(v["failed"]["count"].num == 9);
    CHECK(v["failed"]["lines"].arr.size() == 6);  // bounded: five of the refused, and the ftp line
    CHECK(v["failed"]["more"].num == 3);
    CHECK(v["failed"]["lines"].arr[0]["line"].num == 2);
    CHECK(js.out.find("hunter2") == std::string::npos);

    t::Ran quiet = t::fanout({"-m", model, "-c", "3", "-w", "2", "-s", input});
    CHECK(quiet.status == 7);
    CHECK(quiet.err == "");  // -s: no cost report, no list
    CHECK(quiet.out.find("{\"200\": 1, \"404\": 1, \"error\": 9}\ntook ") == 0);
    CHECK(count(quiet.out, "\n") == 2);  // the summary and nothing else on stdout, in every model
    t::Ran shown = t::fanout({"-m", model, "-c", "3", "-w", "2", "-sS", input});
    CHECK(shown.err.find("fanout: 9 lines of 11 failed; exit 7") == 0);  // curl's -sS: the failures, not the cost
    CHECK(shown.err.find("cost (") == std::string::npos);
  }
}

// 2. The exit status: curl's code of the first failed line in input order.
TEST_CASE("cli: the exit status is curl's code of the first failed line, in every model") {
  t::Origin o;
  t::Dnsd dns;
  int dead = t::free_port();
  std::string refused = "http://127.0.0.1:" + std::to_string(dead) + "/";
  struct Case { std::string list; std::vector<std::string> opts; int want; };
  const Case cases[] = {
    {refused + "a\n" + refused + "b\n", {}, 7},                                               // all refused: curl's 7
    {"http://nosuch.invalid:" + std::to_string(o.http) + "/\n" + refused + "\n", {}, 6},     // DNS first: 6
    {refused + "\nhttp://nosuch.invalid/\n", {}, 7},                                          // in input order
    {o.url("/status/404") + "\n" + o.url("/status/500") + "\n", {}, 0},                      // answers, without -f
    {o.url("/status/200") + "\n" + o.url("/status/404") + "\n", {"-f"}, 22},                 // -f
    {o.url("/sleep?ms=3000") + "\n" + o.url("/status/200") + "\n", {"--max-time", "0.3"}, 28},
    {o.url("/status/200") + "\n", {}, 0},
    {"", {}, 0},                                                                              // nothing to do
  };
  for (const char* model : kModels) {
    for (auto& c : cases) {
      INFO("model " << std::string(model) << ", list " << c.list);
      std::vector<std::string> args = {"-m", model, "-c", "2", "-w", "2", "--dns-server", dns.server(), "-s"};
      args.insert(args.end(), c.opts.begin(), c.opts.end());
      args.push_back("-");
      CHECK(t::fanout(args, c.list).status == c.want);
    }
  }
}

TEST_CASE("cli: an incomplete --merge-json or --output is non-zero and names the missing pages") {
  t::Origin o;
  std::string url = o.url("/json/{page}?per=2");
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string merged = t::temp_dir() + "/incomplete-" + model + ".json";
    // Page 7 answers 502 (origin's /json/N takes no flaky here: a status URL
    // in the list stands for it).
    std::string list;
    for (int p = 1; p <= 10; p++) list += (p == 7 ? o.url("/status/502") : o.url("/json/" + std::to_string(p) + "?per=2")) + "\n";
    t::Ran r = t::fanout({"-m", model, "-c", "3", "-w", "2", "--merge-json", merged, "-"}, list);
    CHECK(r.status == 22);
    CHECK(r.err.find("fanout: --merge-json " + merged + " is incomplete: 1 of 10 pages missing (line 7)") != std::string::npos);
    std::string got;
    t::read_file(merged, got);
    CHECK(count(got, "\"item\"") == 18);
    // A page that is not JSON: that line's error, exit 1 (curl has no code).
    t::Ran nj = t::fanout({"-m", model, "--merge-json", merged, "-"}, o.url("/json/1?per=1") + "\n" + o.url("/echo/x") + "\n");
    CHECK(nj.status == 1);
    CHECK(nj.err.find("is incomplete: 1 of 2 pages missing (line 2)") != std::string::npos);
    t::Ran whole = t::fanout({"-m", model, "--merge-json", merged, "--pages", "1..3", url});
    CHECK(whole.status == 0);
    CHECK(whole.err.find("incomplete") == std::string::npos);
  }
}

TEST_CASE("cli: a body that cannot be written keeps its 200 and exits 23, in every model") {
  t::Origin o;
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string dir = t::temp_dir() + "/blocked-" + model;
    mkdir(dir.c_str(), 0755);
    // A file where the host's folder should be: no body can be saved.
    t::write_file(dir + "/127.0.0.1_" + std::to_string(o.http), "in the way");
    std::string results = dir + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-w", "2", "--output-dir", dir, "--results", results, "-"},
                         o.url("/echo/a") + "\n" + o.url("/echo/b") + "\n");
    CHECK(r.status == 23);
    auto v = t::results(results);
    REQUIRE(v.size() == 2);
    for (auto& x : v) {
      CHECK(x["http_code"].num == 200);
      CHECK(x["exitcode"].num == 23);
    }
  }
}

// 3. Names without traps.
TEST_CASE("cli: long options are taken whole, and an unknown one suggests the option meant") {
  t::Ran r = t::fanout({"--outp", "x", "-"});
  CHECK(r.status == 2);
  CHECK(r.err.find("fanout: --outp is not an option (did you mean --output FILE or --output-dir DIR?)") == 0);
  r = t::fanout({"--concurency", "3", "-"});
  CHECK(r.status == 2);
  CHECK(r.err.find("did you mean --concurrency N?") != std::string::npos);
  r = t::fanout({"-Q", "-"});
  CHECK(r.status == 2);
  CHECK(r.err.find("fanout: -Q is not an option") == 0);
  r = t::fanout({"--json=yes", "-"});
  CHECK(r.status == 2);
  CHECK(r.err.find("--json takes no value") != std::string::npos);
  r = t::fanout({"-c"});
  CHECK(r.status == 2);
  CHECK(r.err.find("-c, --concurrency needs a value (N)") != std::string::npos);

  // curl's habit: --output FILE is a file, not a folder.
  t::Origin o;
  std::string page = t::temp_dir() + "/page.html";
  r = t::fanout({"--output", page, "-"}, o.url("/echo/page") + "\n");
  CHECK(r.status == 0);
  struct stat st;
  REQUIRE(stat(page.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  std::string body;
  t::read_file(page, body);
  CHECK(body == "/echo/page");
  // --name=value, bundled shorts, -c10, and -- before a list named like an option.
  std::string dashed = t::temp_file("-list", o.url("/status/200") + "\n");
  r = t::fanout({"--model=async", "-sIc10", "--", dashed});
  CHECK(r.status == 0);
  CHECK(r.out.find("(async, c=10, 1 url)") != std::string::npos);
  // -P, --output-dir and --directory-prefix are one thing.
  for (const char* opt : {"-P", "--output-dir", "--directory-prefix"}) {
    std::string dir = t::temp_dir() + "/prefix" + opt;
    CHECK(t::fanout({opt, dir, "-s", "-"}, o.url("/echo/p") + "\n").status == 0);
    CHECK(stat((dir + "/127.0.0.1_" + std::to_string(o.http) + "/echo/p").c_str(), &st) == 0);
  }
  CHECK(t::fanout({"--output", "a", "--output-dir", "b", "-"}).status == 2);
}

TEST_CASE("cli: a URL given as the argument gets a hint") {
  t::Ran r = t::fanout({"http://127.0.0.1:1/x"});
  CHECK(r.status == 2);
  CHECK(r.err.find("URLs go in a file, one a line, or on stdin") != std::string::npos);
}

TEST_CASE("cli: globs as curl's: -g turns them off, and a malformed one is an error naming its line") {
  t::Origin o;
  std::string json = o.url("/echo/q?d={\"k\":1,\"j\":2}");
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/glob-" + std::string(model) + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-g", "-s", "--results", results, "-"}, json + "\n");
    CHECK(r.status == 0);
    auto v = t::results(results);
    REQUIRE(v.size() == 1);  // one request, the braces its own
    CHECK(v[0]["url"].str == json);
    r = t::fanout({"-m", model, "-s", "--results", results, "-"}, json + "\n");
    CHECK(t::results(results).size() == 2);  // without -g: {a,b} is two

    std::string col = std::to_string(o.url("/").size() + 1);  // where a glob after the first '/' starts
    std::string col2 = std::to_string(o.url("/").size() + 2);
    std::string bad = o.url("/status/200") + "\n" + o.url("/[1-3") + "\n" + o.url("/x}") + "\n" + o.url("/[9-1]") + "\n" +
                      o.url("/[a-c]") + "\n" + o.url("/[1-6:2]") + "\n" + "http://[::1]:" + std::to_string(o.http) + "/\n";
    r = t::fanout({"-m", model, "-s", "--results", results, "-"}, bad);
    CHECK(r.status == 3);  // curl's: a malformed URL
    v = t::results(results);
    REQUIRE(v.size() == 1 + 3 + 3 + 3 + 1);
    CHECK(v[1]["errormsg"].str ==
          "input: line 2: bad glob at column " + col + ": [ without its ] (-g, --globoff: [ ] { } are the URL's own)");
    CHECK(v[2]["errormsg"].str.find("input: line 3: bad glob at column " + col2 + ": a } that closes nothing") == 0);
    CHECK(v[3]["errormsg"].str.find("input: line 4: bad glob at column " + col + ": [9-1] goes down") == 0);
    std::set<std::string> letters, steps;  // (a line's URLs land in the order they finish)
    for (size_t i = 4; i < 7; i++) letters.insert(v[i]["url"].str);
    for (size_t i = 7; i < 10; i++) steps.insert(v[i]["url"].str);
    CHECK(letters == std::set<std::string>{o.url("/a"), o.url("/b"), o.url("/c")});
    CHECK(steps == std::set<std::string>{o.url("/1"), o.url("/3"), o.url("/5")});
    CHECK(v[10]["errormsg"].str.find("glob") == std::string::npos);  // an IPv6 address is no glob
    // -g: the same lines are URLs (the parser's errors, if any, not a glob's).
    r = t::fanout({"-m", model, "-s", "-g", "--results", results, "-"}, o.url("/[1-3") + "\n");
    v = t::results(results);
    REQUIRE(v.size() == 1);
    CHECK(v[0]["errormsg"].str.find("glob") == std::string::npos);
  }
}

TEST_CASE("cli: user:password@ in a URL is sent as Basic auth, as curl sends it") {
  t::Origin o;
  std::string u = "http://alice:p%40ss@127.0.0.1:" + std::to_string(o.http) + "/headers";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    t::Ran r = t::fanout({"-m", model, "--output", "-", "-s", "-"}, u + "\n");
    CHECK(r.status == 0);
    CHECK(r.out.find("Authorization: Basic YWxpY2U6cEBzcw==\r\n") != std::string::npos);  // alice:p@ss
  }
  // A header of the user's own wins, as in curl.
  t::Ran r = t::fanout({"-H", "Authorization: Bearer x", "--output", "-", "-s", "-"}, u + "\n");
  CHECK(r.out.find("Authorization: Bearer x") != std::string::npos);
  CHECK(r.out.find("Basic") == std::string::npos);
}

TEST_CASE("cli: a line without a scheme is fetched as http://, as curl and wget fetch it, in every model") {
  t::Origin o;
  std::string port = std::to_string(o.http);
  std::string list = "127.0.0.1:" + port + "/status/200\nbob:secret@127.0.0.1:" + port + "/headers\n";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/guess-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "--results", results, "--output", "-", "-"}, list);
    CHECK(r.status == 0);
    CHECK(r.out.find("Authorization: Basic Ym9iOnNlY3JldA==\r\n") != std::string::npos);  // bob:secret
    CHECK(r.out.find("secret") == std::string::npos);
    auto v = t::results(results);
    REQUIRE(v.size() == 2);
    CHECK(v[0]["url"].str == "http://127.0.0.1:" + port + "/status/200");
    CHECK(v[0]["http_code"].num == 200);
    CHECK(v[1]["url"].str == "http://bob:***@127.0.0.1:" + port + "/headers");
    CHECK(v[1]["http_code"].num == 200);
    std::string all;
    t::read_file(results, all);
    CHECK(all.find("secret") == std::string::npos);
    t::Ran m = t::fanout({"merge", "--json", results});
    CHECK(m.status == 0);
    CHECK(m.out.find("\"127.0.0.1:" + port + "\"") != std::string::npos);  // its host, in the hosts table
  }
}

// 4. The options are declared once: the table, --help, the man page and
// the README agree.
TEST_CASE("cli: every option in the table is in --help, tools/fanout.1 and the README, and they have no other") {
  std::string page, readme;
  REQUIRE(t::read_file("tools/fanout.1", page));
  REQUIRE(t::read_file("README.md", readme));
  t::Ran help = t::fanout({"--help"});
  REQUIRE(help.status == 0);
  // The README's option table, and the man page's OPTIONS section.
  size_t a = readme.find("| option | meaning |");
  REQUIRE(a != std::string::npos);
  std::string table = readme.substr(a, readme.find("\n\n", a) - a);
  size_t m = page.find(".SH OPTIONS");
  REQUIRE(m != std::string::npos);
  std::string man = page.substr(m, page.find("\n.SH ", m + 1) - m);
  std::string plain_man;  // "\-\-max\-time" read as "--max-time"
  for (size_t i = 0; i < man.size(); i++) {
    if (man[i] == '\\' && i + 1 < man.size() && man[i + 1] == '-') continue;
    plain_man += man[i];
  }
  std::set<std::string> names;
  for (auto& o : fanout::options()) {
    if (!o.name) continue;
    std::string opt = std::string("--") + o.name;
    names.insert(opt);
    INFO(opt);
    CHECK(help.out.find(opt + " ") != std::string::npos);
    CHECK((plain_man.find(opt + " ") != std::string::npos || plain_man.find(opt + "\n") != std::string::npos ||
           plain_man.find(opt + "\"") != std::string::npos));
    if (!o.short_name) CHECK(table.find("`" + opt) != std::string::npos);
    if (o.short_name) {
      std::string both = std::string("-") + o.short_name + ", " + opt;
      CHECK(help.out.find(both) != std::string::npos);
      CHECK(table.find("`" + both) != std::string::npos);
      CHECK(plain_man.find(std::string("-") + o.short_name + " \", \" " + opt) != std::string::npos);
    }
  }
  CHECK(names.size() > 40);
  // And the other way: every --name the three show is a real option.
  auto each = [&](const std::string& text, const char* where) {
    for (size_t at = 0; (at = text.find("--", at)) != std::string::npos;) {
      size_t end = text.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-", at + 2);
      std::string opt = text.substr(at, end - at);
      while (!opt.empty() && opt.back() == '.') opt.pop_back();  // the end of a sentence
      at = end;
      if (opt.size() < 4 || opt.back() == '-') continue;
      INFO(where << ": " << opt);
      CHECK(names.count(opt) == 1);
    }
  };
  each(help.out, "--help");
  each(table, "README");
  each(plain_man, "fanout.1");
}

// 5. Downloads people can read.
TEST_CASE("cli: download names undo the parser's escapes, stay one name a URL, and -I writes nothing") {
  t::Origin o;
  std::string list = o.url("/echo/with%20space.txt") + "\n" + o.url("/echo/with%20space.txt") + "\n" +
                     o.url("/echo/%C3%A9t%C3%A9.html") + "\n" + o.url("/echo/a%2Fb") + "\n" + o.url("/echo/a%252Fb") + "\n" +
                     o.url("/echo/%c3%a9") + "\n" + o.url("/echo/%FF") + "\n" + o.url("/echo/q?x=%22y%22") + "\n";
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string dir = t::temp_dir() + "/names-" + model + "/a/b/c";  // made as mkdir -p does
    std::string results = t::temp_dir() + "/names-" + model + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-w", "2", "-s", "--output-dir", dir, "--results", results, "-"}, list);
    REQUIRE(r.status == 0);
    std::set<std::string> files;
    t::files_below(dir, "", files);
    std::string h = "127.0.0.1_" + std::to_string(o.http) + "/echo/";
    std::set<std::string> want = {h + "with space.txt", h + "été.html", h + "a%252Fb", h + "a%25252Fb",
                                  h + "%25c3%25a9", h + "%25FF", h + "q%3Fx=\"y\""};
    CHECK(files == want);
    for (auto& x : t::results(results)) CHECK(x["filename_effective"].str.find("/echo/") != std::string::npos);

    // -I: no files, and then --skip-existing does not take an empty file as done.
    std::string head_dir = t::temp_dir() + "/head-" + model;
    CHECK(t::fanout({"-m", model, "-I", "-s", "--output-dir", head_dir, "-"}, o.url("/echo/h1") + "\n").status == 0);
    files.clear();
    t::files_below(head_dir, "", files);
    CHECK(files.empty());
    std::string empty = head_dir + "/127.0.0.1_" + std::to_string(o.http) + "/echo";
    mkdir((head_dir + "/127.0.0.1_" + std::to_string(o.http)).c_str(), 0755);
    mkdir(empty.c_str(), 0755);
    t::write_file(empty + "/h1", "");  // what an older run could have left
    t::write_file(empty + "/h2", "x");
    t::Ran skip = t::fanout({"-m", model, "-s", "--skip-existing", "--output-dir", head_dir, "-"},
                            o.url("/echo/h1") + "\n" + o.url("/echo/h2") + "\n");
    CHECK(skip.out.find("{\"200\": 1, \"skipped\": 1}") == 0);
    std::string body;
    t::read_file(empty + "/h1", body);
    CHECK(body == "/echo/h1");
  }
}

// 6. Signals: the first Ctrl-C is told at once, the second stops now.
TEST_CASE("cli: a first SIGINT says what is finishing, a second stops at once; --resume does the rest") {
  t::Origin o;
  std::string text;
  for (int i = 0; i < 12; i++) text += o.url("/sleep?ms=6000&i=" + std::to_string(i)) + "\n";
  text += o.url("/status/200") + "\n";
  std::string input = t::temp_file("twice.txt", text);
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string results = t::temp_dir() + "/twice-" + model + ".jsonl", out = t::temp_dir() + "/twice-" + model + ".out";
    unlink(results.c_str());
    pid_t pid = t::spawn_fanout({"-m", model, "-c", "4", "-w", "2", "--grace", "30", "--results", results, input}, out);
    usleep(t::mid_run(500000));  // the requests are in flight
    REQUIRE(kill(pid, SIGINT) == 0);
    usleep(300000);
    std::string err;
    t::read_file(out + ".err", err);
    // Said at once, while they still run: how many are finishing.
    size_t said = err.find("fanout: SIGINT: finishing ");
    REQUIRE(said != std::string::npos);
    int finishing = atoi(err.c_str() + said + strlen("fanout: SIGINT: finishing "));
    CHECK(finishing >= (std::string(model) == "seq" ? 1 : 4));
    CHECK(err.find(std::string(finishing == 1 ? " request" : " requests") + " in flight (--grace 30 s); Ctrl-C again stops now\n",
                   said) != std::string::npos);
    auto t0 = std::chrono::steady_clock::now();
    REQUIRE(kill(pid, SIGINT) == 0);
    CHECK(t::wait_exit(pid) == 130);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(took < 2);  // not the 30 s grace, nor the 6 s requests
    t::read_file(out + ".err", err);
    CHECK(err.find("fanout: SIGINT again: stopping now") != std::string::npos);
    std::string summary;
    t::read_file(out, summary);
    CHECK(summary.find("13 urls: 0 done, " + std::to_string(finishing) + " cancelled" +
                       (finishing < 13 ? ", " + std::to_string(13 - finishing) + " not started)" : ")")) != std::string::npos);
    CHECK(t::jsonl(results).empty());  // nothing landed, nothing half-written
    t::Ran again = t::fanout({"-m", model, "-c", "13", "-w", "2", "--max-time", "0.5", "-s", "--resume", "--results", results, input});
    CHECK(again.status == 28);
    CHECK(t::results(results).size() == 13);
  }
}

// 7. Progress that fits.
TEST_CASE("cli: the progress line is cut to the terminal's width, follows a resize, and shows % and h:mm:ss") {
  t::Origin o;
  std::string text;
  for (int i = 0; i < 8; i++) text += o.url("/sleep?ms=500&i=" + std::to_string(i)) + "\n";
  std::string input = t::temp_file("progress-width.txt", text);
  int master = -1;
  winsize ws{};
  ws.ws_row = 24;
  ws.ws_col = 40;
  pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);  // the summary; stderr stays the terminal
    std::string exe = t::build_dir() + "/fanout", emu = t::qemu();  // (make cross-check: through qemu)
    if (emu.empty()) execl(exe.c_str(), exe.c_str(), "-m", "async", "-c", "2", input.c_str(), (char*)nullptr);
    else execlp(emu.c_str(), emu.c_str(), exe.c_str(), "-m", "async", "-c", "2", input.c_str(), (char*)nullptr);
    _exit(127);
  }
  std::string got;
  char buf[4096];
  bool resized = false;
  size_t at_resize = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    if (!resized && std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(900)) {
      ws.ws_col = 24;
      ioctl(master, TIOCSWINSZ, &ws);
      resized = true;
      at_resize = got.size();
    }
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child closed the terminal
    got.append(buf, size_t(n));
  }
  CHECK(t::wait_exit(pid) == 0);
  // Every frame is "\r\033[K" and the line: within the width, never wrapped.
  int frames = 0, narrow = 0;
  for (size_t at = 0; (at = got.find("\r\033[K", at)) != std::string::npos;) {
    at += 4;
    size_t end = std::min(got.find("\r", at), got.find("\n", at));
    std::string line = got.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.empty() || line.rfind("cost", 0) == 0) continue;
    frames++;
    INFO(line);
    if (resized && at > at_resize + 45) {  // a frame drawn after the resize (one may have been on its way)
      CHECK(line.size() <= 23);
      narrow++;
    } else {
      CHECK(line.size() <= 39);
    }
  }
  CHECK(frames >= 5);
  CHECK(narrow >= 1);
  CHECK(got.find("/8 ") != std::string::npos);  // at 40 columns: the brief form
  CHECK(got.find("fanout: ") == std::string::npos);
  CHECK(got.find("%") != std::string::npos);
  CHECK(got.find("ETA 0:00:0") != std::string::npos);
}

// 8. Honest small things.
TEST_CASE("cli: --trace FILE writes FILE.json and FILE.svg; FILE.svg or FILE.json alone") {
  t::Origin o;
  std::string base = t::temp_dir() + "/tr";
  CHECK(t::fanout({"-s", "--trace", base, "-"}, o.url("/status/200") + "\n").status == 0);
  std::string json, svg;
  CHECK(t::read_file(base + ".json", json));
  CHECK(t::read_file(base + ".svg", svg));
  CHECK(json.find("traceEvents") != std::string::npos);
  CHECK(svg.find("<svg") != std::string::npos);
  struct stat st;
  CHECK(stat(base.c_str(), &st) != 0);  // no extensionless file
  std::string one = t::temp_dir() + "/only.svg";
  CHECK(t::fanout({"-s", "--trace", one, "-"}, o.url("/status/200") + "\n").status == 0);
  CHECK(stat(one.c_str(), &st) == 0);
  CHECK(stat((one + ".json").c_str(), &st) != 0);
}

TEST_CASE("cli: zero results print no rate, plurals are right, and (N urls) counts the list") {
  t::Ran empty = t::fanout({"-"}, "");
  CHECK(empty.status == 0);
  CHECK(empty.out.find("(threads, c=10, 0 urls)") != std::string::npos);
  CHECK(empty.err.find("requests/s") == std::string::npos);
  CHECK(empty.err.find("per request") == std::string::npos);
  t::Ran js = t::fanout({"--json", "-"}, "");
  tj::Value v = tj::parse(js.out);
  CHECK(v["cost"]["requests_per_second"].is_null());
  CHECK(v["cost"]["cpu_ms_per_request"].is_null());
  for (const char* model : kModels) {
    t::Ran r = t::fanout({"-m", model, "-"}, "ftp://x/\n");
    INFO(std::string(model));
    CHECK(r.out.find(", 1 url)") != std::string::npos);
    CHECK(r.out.find("coroutine frames") == std::string::npos);  // stdout is the summary's alone
    CHECK(r.err.find("1 line of 1 failed") != std::string::npos);
  }
  // An interrupted run counts the whole list: 40 lines, not what was done.
  t::Origin o;
  std::string text;
  for (int i = 0; i < 40; i++) text += o.url("/sleep?ms=5000&i=" + std::to_string(i)) + "\n";
  std::string input = t::temp_file("forty.txt", text), out = t::temp_dir() + "/forty.out";
  pid_t pid = t::spawn_fanout({"-m", "threads", "-c", "10", "--grace", "0", input}, out);
  usleep(t::mid_run(500000));
  kill(pid, SIGTERM);
  CHECK(t::wait_exit(pid) == 143);
  std::string summary, err;
  t::read_file(out, summary);
  t::read_file(out + ".err", err);
  CHECK(summary.find("(threads, c=10, 40 urls: 0 done, 10 cancelled, 30 not started)") != std::string::npos);
  CHECK(err.find("requests/s") == std::string::npos);
  CHECK(err.find("0 results, 10 requests cancelled") != std::string::npos);
  // merge: "1 result from 1 file".
  std::string one = t::temp_dir() + "/one.jsonl";
  t::fanout({"-s", "--results", one, "-"}, o.url("/status/200") + "\n");
  t::Ran merged = t::fanout({"merge", one});
  CHECK(merged.out.find("merged 1 result from 1 file\n") != std::string::npos);
}

TEST_CASE("cli: fanout bench checks its output folder first, and its origin ends with it") {
  if (!t::qemu().empty()) {
    t::skip("cli: under " + t::qemu() + " without binfmt, fanout bench cannot start origin and fanout");
    return;
  }
  std::string blocker = t::temp_dir() + "/bench-blocker";
  t::write_file(blocker, "a file, not a folder");
  auto t0 = std::chrono::steady_clock::now();
  t::Ran r = t::fanout({"bench", "--urls", "5", "--concurrency", "1", "--repeats", "1", "--output-dir", blocker + "/x"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.status == 1);
  CHECK(r.err.find("fanout bench: --output-dir " + blocker + "/x: Not a directory (nothing was run)") != std::string::npos);
  CHECK(took < 2);
  CHECK(r.out.find("[*]") == std::string::npos);
  r = t::fanout({"bench", "--out", "x"});
  CHECK(r.status == 2);  // the old name is gone: one meaning of "out"

  // Killed mid-grid: its origin goes too.
  std::string out = t::temp_dir() + "/bench-killed";
  pid_t pid = t::spawn_fanout({"bench", "--urls", "50", "--repeats", "1", "--output-dir", t::temp_dir()}, out);
  pid_t origin = -1;
  for (int i = 0; i < 50 && origin < 0; i++) {
    usleep(100000);
    for (pid_t kid : t::children(pid)) {
      std::string comm;
      t::read_file("/proc/" + std::to_string(kid) + "/comm", comm);
      if (comm.rfind("origin", 0) == 0) origin = kid;
    }
  }
  REQUIRE(origin > 0);
  REQUIRE(kill(pid, SIGKILL) == 0);
  t::wait_exit(pid);
  bool gone = false;
  for (int i = 0; i < 40 && !gone; i++) {
    usleep(50000);
    std::string stat;
    gone = !t::read_file("/proc/" + std::to_string(origin) + "/stat", stat) || stat.find(") Z ") != std::string::npos;
  }
  CHECK(gone);
}

TEST_CASE("cli: origin, dnsd and certgen print their usage for --help") {
  for (const char* name : {"origin", "dnsd", "certgen"}) {
    INFO(std::string(name));
    t::Ran r = tool(name, "--help");
    CHECK(r.status == 0);
    CHECK(r.out.find(std::string("usage: ") + name) == 0);
  }
  struct stat st;
  CHECK(stat((t::temp_dir() + "/tool-cwd/--help").c_str(), &st) != 0);  // certgen made no folder of that name
}
