#include "util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <dirent.h>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "poller.hpp"

namespace t {

std::string corpora() {
  const char* e = getenv("FANOUT_CORPORA");
  return e ? e : "../shared/corpora";
}

std::string build_dir() {
  const char* e = getenv("FANOUT_BUILD");
  return e ? e : "build";
}

std::string qemu() {
  const char* e = getenv("FANOUT_QEMU");
  return e ? e : "";
}

std::string runner() { return qemu().empty() ? "" : qemu() + " "; }

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

std::string temp_dir() {
  static std::string dir;
  if (dir.empty()) {
    dir = build_dir() + "/test-tmp";
    mkdir(dir.c_str(), 0755);
    dir += "/" + std::to_string(getpid());
    mkdir(dir.c_str(), 0755);
  }
  return dir;
}

void skip(const std::string& what) {
  static std::set<std::string> said;
  if (said.insert(what).second) fprintf(stderr, "SKIP: %s\n", what.c_str());
}

const std::string& uring_why() {
  static const std::string why = [] {
    std::string w;
    return fanout::make_uring_poller(w) ? std::string() : w;
  }();
  return why;
}

const std::vector<const char*>& models() {
  static const std::vector<const char*> m = [] {
    std::vector<const char*> v = {"seq", "threads", "procs", "async", "hybrid"};
    if (uring_why().empty()) v.push_back("uring");
    else skip("-m uring: " + uring_why());
    return v;
  }();
  return m;
}

void no_corpus(const std::string& what) {
  const char* ci = getenv("CI");
  if (ci && std::string(ci) == "true") FAIL_CHECK("CI has no corpus: " << what);
  else skip(what);
}

}  // namespace t

namespace t {

bool files_in(const std::string& dir, bool (*keep)(const char* name), std::vector<std::string>& out) {
  DIR* d = opendir(dir.c_str());
  if (!d) return false;
  while (dirent* e = readdir(d))
    if (keep(e->d_name)) out.push_back(e->d_name);
  closedir(d);
  std::sort(out.begin(), out.end());
  return true;
}

void files_below(const std::string& dir, const std::string& rel, std::set<std::string>& out) {
  DIR* d = opendir((dir + "/" + rel).c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    std::string r = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (lstat((dir + "/" + r).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) files_below(dir, r, out);
    else out.insert(r);
  }
  closedir(d);
}

std::string temp_file(const std::string& name, const std::string& text) {
  std::string path = temp_dir() + "/" + name;
  write_file(path, text);
  return path;
}

int shell(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace t
