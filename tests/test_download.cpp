// The download job (-o DIR): where each body goes, that it is whole, that
// no URL can write outside DIR, and that a folder that cannot be written
// gives each line its error while the run goes on.
#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <map>
#include <set>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanout/job.hpp"
#include "proc.hpp"
#include "util.hpp"

using namespace fanout;

namespace {

const auto& kModels = t::models();  // (uring too, where the kernel gives a ring)

std::string joined(const Url& u) {
  std::string s;
  for (auto& p : save_path(u)) s += (s.empty() ? "" : "/") + p;
  return s;
}

std::string path_of(const char* url) {
  Url u;
  REQUIRE(parse_url(url, u) == UrlError::none);
  return joined(u);
}


}  // namespace

TEST_CASE("download: names made from URLs") {
  struct Case { const char* url; const char* path; };
  const Case cases[] = {
    {"http://example.com/", "example.com_80/index.html"},
    {"https://example.com/", "example.com/index.html"},
    {"https://example.com:8443/a/b.html", "example.com_https_8443/a/b.html"},
    {"http://example.com:8443/a/b.html", "example.com_8443/a/b.html"},  // not https's folder
    {"https://example.com/a/", "example.com/a/index.html"},
    {"https://example.com/a/index.html", "example.com/a/index%2Ehtml"},
    {"https://example.com/?q=1&r=a/b", "example.com/index.html%3Fq=1&r=a%2Fb"},
    {"https://example.com/x?", "example.com/x%3F"},
    {"https://example.com/a//b", "example.com/a/%00/b"},
    {"https://example.com/%2e%2e/%2e%2e/etc/passwd", "example.com/etc/passwd"},
    {"https://example.com/a%2F..%2F..%2Fx", "example.com/a%252F..%252F..%252Fx"},
    {"https://example.com/%00%0a", "example.com/%2500%250a"},
    {"https://under_score.test/", "under%5Fscore.test/index.html"},
    {"http://[::1]:8080/", "[::1]_8080/index.html"},
  };
  std::set<std::string> seen;
  for (auto& c : cases) {
    INFO(c.url);
    std::string p = path_of(c.url);
    CHECK(p == c.path);
    CHECK(seen.insert(p).second);  // two URLs, two names
    for (auto& part : save_path([&] { Url u; parse_url(c.url, u); return u; }())) {
      CHECK(part != ".");
      CHECK(part != "..");
      CHECK(part.find('/') == std::string::npos);
      CHECK(!part.empty());
    }
  }
}

TEST_CASE("download: 500 URLs saved whole under every model, and each where its name says") {
  t::Origin o;
  std::string list;
  std::vector<std::string> targets;
  for (int i = 0; i < 500; i++) {
    std::string target = "/echo/" + std::to_string(i % 7) + "/page-" + std::to_string(i) + (i % 5 ? "" : "/") +
                         (i % 3 ? "" : "?id=" + std::to_string(i) + "&x=y%20z");
    targets.push_back(target);
    list += o.url(target) + "\n";
  }
  list += o.url("/bytes/200000") + "\n" + o.url("/status/404") + "\n";
  std::string input = t::temp_dir() + "/download.txt";
  t::write_file(input, list);
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string dir = t::temp_dir() + "/dl-" + model, results = dir + ".jsonl";
    t::Ran r = t::fanout({"-m", model, "-c", "8", "-w", "2", "--output-dir", dir, "--results", results, input});
    REQUIRE(r.status == 0);
    auto v = t::results(results);
    REQUIRE(v.size() == 502);
    std::set<std::string> files;
    t::files_below(dir, "", files);
    CHECK(files.size() == 501);  // not the 404
    for (size_t i = 0; i < 500; i++) {
      Url u;
      parse_url(o.url(targets[i]), u);
      std::string want = joined(u), body;
      CHECK(v[i]["filename_effective"].str == want);
      REQUIRE(t::read_file(dir + "/" + want, body));
      CHECK(body == u.target());
    }
    std::string big;
    REQUIRE(t::read_file(dir + "/" + v[500]["filename_effective"].str, big));
    CHECK(big.size() == 200000);
    const char* abc = "abcdefghijklmnopqrstuvwxyz0123456789\n";
    bool same = true;
    for (size_t k = 0; k < big.size(); k++) same &= big[k] == abc[(k % 65536) % 37];  // origin's pattern
    CHECK(same);
    CHECK(!v[501].has("filename_effective"));
    for (auto& f : files) CHECK(f.find(".part") == std::string::npos);  // no temporary is left
  }
}

TEST_CASE("download: no URL writes outside the folder, and a planted symlink is not followed") {
  t::Origin o;
  std::string base = t::temp_dir() + "/escape", dir = base + "/out", outside = base + "/outside";
  mkdir(base.c_str(), 0755);
  mkdir(dir.c_str(), 0755);
  mkdir(outside.c_str(), 0755);
  std::string host = "127.0.0.1_" + std::to_string(o.http);
  mkdir((dir + "/" + host).c_str(), 0755);
  mkdir((dir + "/" + host + "/echo").c_str(), 0755);
  REQUIRE(symlink(outside.c_str(), (dir + "/" + host + "/echo/link").c_str()) == 0);
  std::string list;
  for (const char* t : {"/echo/../../../outside/x", "/echo/%2e%2e/%2e%2e/%2e%2e/outside/y", "/echo/..%2F..%2Foutside%2Fz",
                        "/echo//outside/w", "/echo/a?../../../outside/q", "/echo/link/inside"})
    list += o.url(t) + "\n";
  std::string results = base + "/r.jsonl", input = base + "/in.txt";
  t::write_file(input, list);
  t::Ran r = t::fanout({"-m", "async", "--output-dir", dir, "--results", results, input});
  REQUIRE(r.status == 23);  // the symlink's line: the 404s are answers (no -f)
  auto v = t::results(results);
  REQUIRE(v.size() == 6);
  std::set<std::string> out;
  t::files_below(outside, "", out);
  CHECK(out.empty());
  // The URL parser takes ".." out of a path: those two are /outside/..., a 404.
  CHECK(v[0]["http_code"].num == 404);
  CHECK(v[1]["http_code"].num == 404);
  for (size_t i = 2; i < 5; i++) {
    CHECK(v[i]["http_code"].num == 200);
    std::string body;
    CHECK(t::read_file(dir + "/" + v[i]["filename_effective"].str, body));
  }
  CHECK(v[5]["exitcode"].num == 23);  // through the symlink: refused, named
  INFO(v[5]["errormsg"].str);
  CHECK(v[5]["errormsg"].str.find("open(" + host + "/echo/link/") == 0);
  CHECK((v[5]["errormsg"].str.find("ELOOP") != std::string::npos || v[5]["errormsg"].str.find("ENOTDIR") != std::string::npos));
}

TEST_CASE("download: a folder that cannot be written gives each line its error, and the run goes on") {
  t::Origin o;
  std::string mnt = t::temp_dir() + "/small";
  mkdir(mnt.c_str(), 0755);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    t::skip(std::string("download: cannot mount a small tmpfs: ") + strerror(errno));
    return;
  }
  struct Unmount {
    std::string at;
    ~Unmount() { umount(at.c_str()); }
  } unmount{mnt};
  std::string list = o.url("/echo/small") + "\n" + o.url("/bytes/1000000") + "\n" + o.url("/echo/after") + "\n";
  std::string input = t::temp_dir() + "/full.txt", results = t::temp_dir() + "/full.jsonl";
  t::write_file(input, list);
  t::Ran r = t::fanout({"-m", "seq", "--output-dir", mnt + "/d", "--results", results, input});
  CHECK(r.status == 23);  // curl's: a write failed
  auto v = t::results(results);
  REQUIRE(v.size() == 3);
  CHECK(v[0]["exitcode"].num == 0);
  CHECK(v[1]["exitcode"].num == 23);  // a full disk is that line's error
  CHECK(v[1]["http_code"].num == 200);  // and the answer was a 200, as curl keeps it
  CHECK(v[1]["errormsg"].str.find("ENOSPC") != std::string::npos);
  CHECK(v[2]["exitcode"].num == 0);
  std::set<std::string> files;
  t::files_below(mnt + "/d", "", files);
  CHECK(files.size() == 2);  // the partial one is gone

  // Read-only: every line says so.
  mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr);
  t::Ran ro = t::fanout({"-m", "threads", "--output-dir", mnt + "/d", "--results", results, input});
  CHECK(ro.status == 23);
  v = t::results(results);
  REQUIRE(v.size() == 3);
  for (auto& x : v) {
    INFO(x["errormsg"].str);
    CHECK(x["exitcode"].num == 23);
    CHECK(x["errormsg"].str.find("EROFS") != std::string::npos);
  }
}

TEST_CASE("download: --skip-existing fetches only what is not there yet, in every model") {
  t::Origin o;
  std::string list;
  for (int i = 0; i < 40; i++) list += o.url("/echo/skip/" + std::to_string(i)) + "\n";
  std::string input = t::temp_dir() + "/skip.txt";
  t::write_file(input, list);
  for (const char* model : kModels) {
    INFO("model " << std::string(model));
    std::string dir = t::temp_dir() + "/skip-" + model, results = dir + ".jsonl";
    REQUIRE(t::fanout({"-m", model, "-c", "4", "-w", "2", "--output-dir", dir, input}).status == 0);
    std::set<std::string> files;
    t::files_below(dir, "", files);
    REQUIRE(files.size() == 40);
    int gone = 0;
    for (auto& f : files)
      if (gone < 10 && f.find("/1") != std::string::npos) gone += unlink((dir + "/" + f).c_str()) == 0;  // 1, 10-19: ten
    REQUIRE(gone == 10);
    // A symlink where a file should be is not a file that is there.
    std::string planted = dir + "/" + path_of(o.url("/echo/skip/25").c_str());
    REQUIRE(unlink(planted.c_str()) == 0);
    REQUIRE(symlink("/etc/hostname", planted.c_str()) == 0);
    t::Ran r = t::fanout({"-m", model, "-c", "4", "-w", "2", "--output-dir", dir, "--skip-existing", "--results", results, input});
    REQUIRE(r.status == 0);
    CHECK(r.out.find("{\"200\": 11, \"skipped\": 29}") == 0);
    int skipped = 0;
    for (auto& v : t::jsonl(results)) {
      if (!v.has("skipped")) continue;
      skipped++;
      CHECK(v["http_code"].num == 0);
      CHECK(!v["filename_effective"].str.empty());
    }
    CHECK(skipped == 29);
    files.clear();
    t::files_below(dir, "", files);
    CHECK(files.size() == 40);
    std::string body;
    REQUIRE(t::read_file(planted, body));
    CHECK(body == "/echo/skip/25");  // the symlink was replaced, not followed
  }
  CHECK(t::fanout({"--skip-existing", "-"}, "").err.find("--skip-existing goes with --output-dir DIR") != std::string::npos);
}

TEST_CASE("download: the trace shows each download's writes to disk within its request") {
  t::Origin o;
  std::string list;
  for (int i = 0; i < 30; i++) list += o.url("/bytes/300000?w=" + std::to_string(i)) + "\n";
  for (const char* model : {"threads", "hybrid"}) {
    INFO("model " << std::string(model));
    std::string dir = t::temp_dir() + "/wtrace-" + model, trace = dir + ".json";
    REQUIRE(t::fanout({"-m", model, "-c", "4", "-w", "2", "--output-dir", dir, "--trace", trace, "-"}, list).status == 0);
    std::string text;
    REQUIRE(t::read_file(trace, text));
    tj::Value v = tj::parse(text);
    std::map<int, std::pair<double, double>> request, write;  // line -> [ts, end]
    for (auto& e : v["traceEvents"].arr) {
      if (e["ph"].str != "X") continue;
      int line = int(e["args"]["line"].num);
      double ts = e["ts"].num, end = ts + e["dur"].num;
      if (e["name"].str == "request") request[line] = {ts, end};
      if (e["name"].str == "write") write[line] = {ts, end};
    }
    CHECK(request.size() == 30);
    CHECK(write.size() == 30);
    for (auto& [line, w] : write) {
      CHECK(w.first >= request[line].first);
      CHECK(w.second <= request[line].second + 1);  // µs rounding
      CHECK(w.second > w.first);
    }
  }
}

TEST_CASE("download: -J names files as Content-Disposition says, in the URL's folder, never over another URL's of the run") {
  t::Origin o;
  auto named = [&](const std::string& cd, const std::string& id) {  // the header, percent-encoded into the query
    std::string q;
    for (unsigned char c : cd) {
      char b[4];
      snprintf(b, sizeof b, "%%%02X", c);
      q += isalnum(c) ? std::string(1, char(c)) : b;
    }
    return o.url("/named?cd=" + q + "&id=" + id);
  };
  std::string host = "127.0.0.1_" + std::to_string(o.http);
  struct Want { std::string cd, id, file; };
  std::vector<Want> wants = {
      {"attachment; filename=\"report.txt\"", "1", "report.txt"},
      {"attachment; filename=\"plain.txt\"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.txt", "2", "naïve résumé.txt"},  // RFC 8187 wins
      {"attachment; filename*=iso-8859-1'en'caf%E9.txt", "3", "café.txt"},
      {"attachment; filename=\"../../etc/passwd\"", "4", "passwd"},  // only the last part
      {"attachment; filename=\"..\\\\..\\\\boot.ini\"", "5", "boot.ini"},
      {"attachment; filename=report.csv", "6", "report.csv"},  // a token
      {"attachment; filename=\"..\"", "7", ""},                // no name: the URL's own
      {"inline", "8", ""},
  };
  for (const char* m : t::models()) {
    INFO("-m " << m);
    std::string dir = t::temp_dir() + "/J-" + m, res = dir + ".jsonl";
    std::string list;
    for (auto& w : wants) list += named(w.cd, w.id) + "\n";
    t::Ran r = t::fanout({"-m", m, "-J", "-P", dir, "--results", res, "-s", "-"}, list);
    CHECK(r.status == 0);
    auto lines = t::results(res);
    REQUIRE(lines.size() == wants.size());
    for (size_t i = 0; i < wants.size(); i++) {
      INFO(wants[i].cd);
      std::string f = lines[i]["filename_effective"].str;
      if (!wants[i].file.empty()) CHECK(f == host + "/" + wants[i].file);
      else CHECK(f.find(host + "/named%3Fcd=") == 0);
      std::string body;
      REQUIRE(t::read_file(dir + "/" + f, body));
      CHECK(body.find("id=" + wants[i].id + "\n") != std::string::npos);  // its own URL's body
    }
    // Two URLs named alike in one run: the first to land has the name, the
    // other keeps its URL's name; neither is lost.
    std::string twice = named("attachment; filename=\"same.txt\"", "a") + "\n" + named("attachment; filename=\"same.txt\"", "b") + "\n";
    t::Ran r2 = t::fanout({"-m", m, "-J", "-P", dir, "--results", res, "-s", "-"}, twice);
    CHECK(r2.status == 0);
    auto two = t::results(res);
    REQUIRE(two.size() == 2);
    std::set<std::string> files = {two[0]["filename_effective"].str, two[1]["filename_effective"].str};
    CHECK(files.size() == 2);
    CHECK(files.count(host + "/same.txt") == 1);
    for (auto& l : two) {
      std::string body;
      REQUIRE(t::read_file(dir + "/" + l["filename_effective"].str, body));
      CHECK(body.find(l["url"].str.substr(l["url"].str.find("/named"))) == 0);
    }
    // A name an earlier run left is replaced.
    t::Ran r3 = t::fanout({"-m", m, "-J", "-P", dir, "--results", res, "-s", "-"}, named("attachment; filename=\"same.txt\"", "c") + "\n");
    CHECK(r3.status == 0);
    std::string body;
    REQUIRE(t::read_file(dir + "/" + host + "/same.txt", body));
    CHECK(body.find("id=c\n") != std::string::npos);
  }
  t::Ran bad = t::fanout({"-J", "-"}, "");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("-J, --remote-header-name goes with --output-dir DIR") != std::string::npos);
}

namespace {

struct Stamp {
  ino_t ino = 0;
  timespec mtime{}, ctime{};
};
Stamp stamp(const std::string& path) {
  struct stat st{};
  Stamp s;
  if (stat(path.c_str(), &st) == 0) s = {st.st_ino, st.st_mtim, st.st_ctim};
  return s;
}
bool same(const Stamp& a, const Stamp& b) {
  return a.ino == b.ino && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec &&
         a.ctime.tv_sec == b.ctime.tv_sec && a.ctime.tv_nsec == b.ctime.tv_nsec;
}

}  // namespace

TEST_CASE("download: -N: 1,000 unchanged files get 304 and are not touched, changed ones are replaced; --since says what changed") {
  t::Origin o;
  std::string dir = t::temp_dir() + "/N", r1 = dir + "-1.jsonl", r2 = dir + "-2.jsonl", r3 = dir + "-3.jsonl";
  std::string list, folder = dir + "/127.0.0.1_" + std::to_string(o.http) + "/versioned/";
  for (int i = 0; i < 1000; i++) list += o.url("/versioned/f" + std::to_string(i)) + "\n";
  t::Ran first = t::fanout({"-m", "async", "-c", "50", "-N", "-P", dir, "--results", r1, "--json", "-"}, list);
  CHECK(first.status == 0);
  CHECK(tj::parse(first.out)["statuses"]["200"].num == 1000);
  std::vector<Stamp> before;
  for (int i = 0; i < 1000; i++) before.push_back(stamp(folder + "f" + std::to_string(i)));
  CHECK(before[0].mtime.tv_sec == 1600000000);  // the file's time is its Last-Modified
  t::Ran again = t::fanout({"-m", "async", "-c", "50", "-N", "-P", dir, "--results", r2, "--json", "-"}, list);
  CHECK(again.status == 0);
  tj::Value v = tj::parse(again.out);
  CHECK(v["statuses"]["304"].num == 1000);
  CHECK(v["not_modified"].num == 1000);
  size_t untouched = 0;
  for (int i = 0; i < 1000; i++) untouched += same(before[size_t(i)], stamp(folder + "f" + std::to_string(i)));
  CHECK(untouched == 1000);  // the same inode, mtime and ctime: not rewritten, not even touched
  for (auto& l : t::results(r2)) {
    CHECK(l["not_modified"].b);
    CHECK(l["filename_effective"].str.find("/versioned/f") != std::string::npos);
  }
  // Ten change: they come again and replace their files; the rest stay.
  t::fanout({"-s", "-"}, o.url("/bump?ids=f3,f30,f300,f303,f333,f500,f555,f600,f700,f999") + "\n");
  t::Ran third = t::fanout({"-m", "async", "-c", "50", "-N", "-P", dir, "--results", r3, "--json", "-"}, list);
  tj::Value w = tj::parse(third.out);
  CHECK(w["statuses"]["200"].num == 10);
  CHECK(w["statuses"]["304"].num == 990);
  std::string body;
  REQUIRE(t::read_file(folder + "f555", body));
  CHECK(body == "f555 version 1\n");
  CHECK_FALSE(same(before[555], stamp(folder + "f555")));
  CHECK(same(before[554], stamp(folder + "f554")));
  // A check (no files) with the first run's journal: only what changed
  // since is a 200.
  t::Ran since = t::fanout({"-m", "async", "-c", "50", "--since", r1, "--json", "-"}, list);
  tj::Value s = tj::parse(since.out);
  CHECK(s["statuses"]["200"].num == 10);
  CHECK(s["not_modified"].num == 990);
  t::Ran none = t::fanout({"--since", dir + "-none.jsonl", "-"}, "");
  CHECK(none.status == 2);
  CHECK(none.err.find("--since " + dir + "-none.jsonl: no results in it") != std::string::npos);
  t::Ran bad = t::fanout({"-N", "-"}, "");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("-N, --timestamping goes with --output-dir DIR") != std::string::npos);
}

TEST_CASE("download: -N and --since in every model") {
  t::Origin o;
  for (const char* m : t::models()) {
    INFO("-m " << m);
    std::string dir = t::temp_dir() + "/Nm-" + m, r1 = dir + "-1.jsonl", res = dir + "-2.jsonl";
    std::string list, id = std::string("m") + m;
    for (int i = 0; i < 20; i++) list += o.url("/versioned/" + id + "-" + std::to_string(i)) + "\n";
    t::Ran a = t::fanout({"-m", m, "-c", "4", "-N", "-P", dir, "--results", r1, "--json", "-"}, list);
    CHECK(tj::parse(a.out)["statuses"]["200"].num == 20);
    t::fanout({"-s", "-"}, o.url("/bump?ids=" + id + "-4," + id + "-17") + "\n");
    t::Ran b = t::fanout({"-m", m, "-c", "4", "-N", "-P", dir, "--results", res, "--json", "-"}, list);
    tj::Value v = tj::parse(b.out);
    CHECK(v["statuses"]["200"].num == 2);
    CHECK(v["not_modified"].num == 18);
    auto lines = t::results(res);
    REQUIRE(lines.size() == 20);
    CHECK(lines[4]["http_code"].num == 200);
    CHECK(lines[4]["etag"].str == "\"" + id + "-4-v1\"");
    CHECK(lines[5]["not_modified"].b);
    t::Ran c = t::fanout({"-m", m, "-c", "4", "--since", r1, "--json", "-"}, list);
    CHECK(tj::parse(c.out)["statuses"]["200"].num == 2);
  }
}
