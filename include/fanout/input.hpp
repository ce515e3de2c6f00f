// The URL list: one URL a line; blank lines and lines starting with '#'
// are skipped; CRLF is tolerated. Every other line becomes one Request,
// numbered by its line, and a line fanout cannot fetch carries an error
// naming the line and what is wrong: it is reported, never dropped.
//
// The list is read as the run goes, a chunk at a time, so memory does not
// grow with its length: 2,000,000 lines cost what 200 do.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fanout/core.hpp"

namespace fanout {

// curl's globs in a line: "{a,b}", "[1-100]" ("[001-100]" pads), "[a-z]",
// "[1-100:10]" (a step). Every
// combination, the rightmost part varying fastest, made one at a time (a
// range is never written out whole).
class Glob {
 public:
  bool parse(std::string_view s, std::string& why);  // false: why says what is wrong
  bool next(std::string& out);                       // false: no more
  uint64_t size() const;                             // how many it makes
 private:
  struct Part {
    std::vector<std::string> alts;  // a literal or {a,b}; empty for a range
    uint64_t from = 0, count = 0;   // a range: from, from+step ... (count of them)
    uint64_t step = 1;              // [1-100:10]
    size_t width = 0;               // [001-100] pads to 3
    bool letters = false;           // [a-z]
    uint64_t size() const { return alts.empty() ? count : alts.size(); }
    void put(std::string& out, uint64_t k) const;
  };
  std::vector<Part> parts_;
  std::vector<uint64_t> at_;
  bool more_ = false;
};

class Source {
 public:
  // path "-" is standard input. null (and err) when it cannot be opened.
  static std::unique_ptr<Source> file(const std::string& path, std::string& err);
  static std::unique_ptr<Source> text(std::string text);
  // --pages A..B: the lines are url with {page} replaced by A, A+1 ... B.
  static std::unique_ptr<Source> pages(std::string url, uint64_t a, uint64_t b);
  ~Source();
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  // The next request in input order, with seq its number among those made
  // (0, 1, 2 ...); false at the end, where error() says if reading failed.
  bool next(Request& out) { return take(out, true) == Take::got; }
  // The same; without block, a pipe with no whole line in yet says wait
  // (a loop must not stop on a slow writer). A regular file never waits.
  enum class Take { got, wait, end };
  Take take(Request& out, bool block);
  int fd() const { return fd_; }  // to wait on after Take::wait
  const std::string& error() const { return err_; }
  // How many requests the whole input makes, for progress: counted by a
  // quick pass over a regular file (lines and glob sizes, nothing parsed);
  // 0 when it cannot be known ahead (stdin, a pipe).
  uint64_t count_ahead() const;
  // Requests this rejects are not made at all (--shard: another shard's;
  // --resume: already in the journal). They get no seq.
  std::function<bool(const Request&)> keep;
  bool globoff = false;  // -g: [ ] { } are the URL's own

 private:
  Source() = default;
  Take line(std::string& out, bool block);  // the next raw line, without its '\n'
  void make(std::string_view text, const std::string& why, Request& out);

  int fd_ = -1;
  std::string path_, err_;
  std::string buf_;  // read but not yet split
  size_t pos_ = 0;
  bool eof_ = false, regular_ = false;
  // --pages
  std::string page_url_;
  uint64_t page_ = 0, last_page_ = 0;
  bool paging_ = false;
  uint32_t line_ = 0, seq_ = 0;
  Glob glob_;
  bool globbing_ = false;
};

// Whole-list helpers, for tests and small inputs.
void parse_input(std::string_view text, std::vector<Request>& out);
bool expand_globs(std::string_view s, std::vector<std::string>& out, std::string& why);

// What --resume and --shard compare: a request's input line and URL text.
uint64_t request_key(uint32_t line, std::string_view text);
// --shard K/N: which of N shards (0 .. N-1) a request belongs to; by host,
// so that every request to one host lands in one shard (--per-host holds).
uint32_t shard_of(const Request& rq, uint32_t n);

}  // namespace fanout
