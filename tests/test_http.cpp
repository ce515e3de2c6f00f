// Response parser: a table of our own cases, each fed whole (ending at a
// guard page, so an over-read faults) and one byte at a time; then the
// response cases of llhttp's test suite, run by that suite's own rules.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

#include "fanout/http.hpp"
#include "json.hpp"
#include "util.hpp"

using fanout::http::ResponseParser;

namespace {

struct Msg {
  int status = 0;
  std::string body;
  bool complete = false;
  bool operator==(const Msg& o) const { return status == o.status && body == o.body && complete == o.complete; }
};
struct Outcome {
  std::vector<Msg> msgs;
  bool error = false;
  std::string why;
  int code = 0;  // curl's exit code for the error
};

void on_body(void* ctx, const char* p, size_t n) { static_cast<std::string*>(ctx)->append(p, n); }

// Feeds input `step` bytes at a time (0: all at once) the way a driver does:
// bytes are appended to a buffer and the parser's consumed bytes dropped.
// After a complete message the next one is parsed from what is left, as
// llhttp does; bytes after a message that closes the connection are an
// error, since fanout never reads past it.
Outcome run(std::string_view in, bool head_request, size_t step, bool finish, bool one = false) {
  Outcome o;
  ResponseParser p;
  p.reset(head_request);
  std::string buf;
  size_t fed = 0;
  std::string scratch;
  for (;;) {
    size_t add = step ? std::min(step, in.size() - fed) : in.size() - fed;
    buf.append(in.substr(fed, add));
    fed += add;
    for (;;) {
      std::string* sink = o.msgs.empty() ? &scratch : &o.msgs.back().body;
      auto s = p.feed(buf.data(), buf.size(), on_body, sink);
      buf.erase(0, s.used);
      if (s.ev == ResponseParser::head) {
        o.msgs.push_back({p.status(), "", false});
        continue;
      }
      if (s.ev == ResponseParser::done) {
        o.msgs.back().complete = true;
        if (one) return o;  // a client reads one response per request
        if (!p.keep_alive() && (!buf.empty() || fed < in.size())) {
          o.error = true;
          o.why = "data after a response that closes the connection";
          return o;
        }
        p.reset(head_request);
        if (buf.empty()) break;
        continue;
      }
      if (s.ev == ResponseParser::error) {
        o.error = true;
        o.why = p.error_message();
        o.code = p.error_code();
        return o;
      }
      if (s.used == 0) break;
    }
    if (fed == in.size()) break;
  }
  if (finish) {
    auto s = p.finish();
    if (s.ev == ResponseParser::done && !o.msgs.empty() && !o.msgs.back().complete) o.msgs.back().complete = true;
    bool between = !o.msgs.empty() && o.msgs.back().complete && !p.started();
    if (s.ev == ResponseParser::error && !between) {
      o.error = true;
      o.why = p.error_message();
      o.code = p.error_code();
    }
  }
  return o;
}

// The input copied to end right at an inaccessible page.
Outcome run_guarded(std::string_view in, bool head_request, bool finish, bool one) {
  long pg = sysconf(_SC_PAGESIZE);
  size_t pages = (in.size() + pg - 1) / pg + 1;
  char* mem = static_cast<char*>(mmap(nullptr, pages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  REQUIRE(mem != MAP_FAILED);
  mprotect(mem + (pages - 1) * pg, pg, PROT_NONE);
  char* at = mem + (pages - 1) * pg - in.size();
  memcpy(at, in.data(), in.size());
  Outcome o = run(std::string_view(at, in.size()), head_request, 0, finish, one);
  munmap(mem, pages * pg);
  return o;
}

Outcome check_all_ways(std::string_view in, bool head_request = false, bool finish = true, bool one = false) {
  Outcome whole = run_guarded(in, head_request, finish, one);
  Outcome bytes = run(in, head_request, 1, finish, one);
  CHECK(whole.msgs == bytes.msgs);
  CHECK(whole.error == bytes.error);
  CHECK(whole.why == bytes.why);
  CHECK(whole.code == bytes.code);
  return whole;
}

}  // namespace

TEST_CASE("http: request writer") {
  fanout::Url u;
  REQUIRE(fanout::parse_url("http://h:8080/a?b=1#frag", u) == fanout::UrlError::none);
  CHECK(fanout::http::request(u, false, {}, true) ==
        "GET /a?b=1 HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: fanout/" FANOUT_VERSION "\r\nAccept: */*\r\n\r\n");
  CHECK(fanout::http::request(u, true, {"X-A: 1", "Accept:", "User-Agent: me"}, false) ==
        "HEAD /a?b=1 HTTP/1.1\r\nHost: h:8080\r\nX-A: 1\r\nUser-Agent: me\r\nConnection: close\r\n\r\n");
  CHECK(fanout::http::check_header_arg("X-A: 1") == "");
  CHECK(fanout::http::check_header_arg("X A: 1") == "bad character in header name");
  CHECK(fanout::http::check_header_arg("novalue") == "expected \"Name: value\"");
}

TEST_CASE("http: responses that parse") {
  struct Case { const char* name; std::string in; bool head; std::vector<Msg> want; };
  const Case cases[] = {
    {"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, {{200, "hello", true}}},
    {"no reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", false, {{404, "", true}}},
    {"same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok", false, {{200, "ok", true}}},
    {"chunked, extensions, trailers",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\n\r\n"
     "5;a=b;c=\"q;\\\"x\"\r\nhello\r\n1\r\n!\r\n0;last\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
     false, {{200, "hello!", true}}},
    {"chunk extensions with BWS (RFC 9112 7.1.1, as curl)",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5 ;name=value\r\nhello\r\n1\t; a = b ;c\r\n!\r\n2;q=\"x\" ;r\r\n!!\r\n0\r\n\r\n",
     false, {{200, "hello!!!", true}}},
    {"close-delimited", "HTTP/1.0 200 OK\r\n\r\nuntil the end", false, {{200, "until the end", true}}},
    {"HEAD ignores Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, {{200, "", true}}},
    {"204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", false, {{204, "", true}}},
    {"304 has no body", "HTTP/1.1 304 Not Modified\r\n\r\n", false, {{304, "", true}}},
    {"1xx skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, {{200, "x", true}}},
    {"leading CRLF", "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, {{200, "x", true}}},
    {"obs-fold (RFC 9112 5.2)", "HTTP/1.1 200 OK\r\nA: 1\r\n 2\r\n\t3\r\nContent-Length: 1\r\n\r\nx", false, {{200, "x", true}}},
    {"bare LF (RFC 9112 2.2)", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, {{200, "ok", true}}},
    {"bare LF, chunked", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5;x=y\nhello\n1\r\n!\n0\nT: 1\n\n", false,
     {{200, "hello!", true}}},
    {"keep-alive pipeline", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 201 OK\r\nContent-Length: 1\r\n\r\nb",
     false, {{200, "a", true}, {201, "b", true}}},
    {"100 headers", [] {
       std::string s = "HTTP/1.1 200 OK\r\n";
       for (int i = 0; i < 99; i++) s += "X-" + std::to_string(i) + ": v\r\n";
       return s + "Content-Length: 0\r\n\r\n";
     }(), false, {{200, "", true}}},
  };
  for (auto& c : cases) {
    INFO(c.name);
    Outcome o = check_all_ways(c.in, c.head);
    CHECK_MESSAGE(!o.error, o.why);
    CHECK(o.msgs == c.want);
  }
}

TEST_CASE("http: a folded header's value spans the fold") {
  std::string in = "HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\nX-B: b\r\nContent-Length: 0\r\n\r\n";
  ResponseParser p;
  p.reset();
  auto s = p.feed(in.data(), in.size(), on_body, nullptr);
  REQUIRE(s.ev == ResponseParser::head);
  REQUIRE(p.header_count() == 3);
  CHECK(p.header(0).name == "X-A");
  CHECK(p.header(0).value == "one\r\n  two");
  CHECK(p.header(1).value == "b");
  std::string close = "HTTP/1.1 200 OK\r\nConnection:\r\n  close\r\nContent-Length: 0\r\n\r\n";
  p.reset();
  REQUIRE(p.feed(close.data(), close.size(), on_body, nullptr).ev == ResponseParser::head);
  CHECK_FALSE(p.keep_alive());  // the folded token counts
}

TEST_CASE("http: responses that are errors") {
  struct Case { const char* name; std::string in; const char* why; int code = 8; };  // code: curl's
  const Case cases[] = {
    {"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", "conflicting Content-Length headers"},
    {"TE with CL", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "both Transfer-Encoding and Content-Length"},
    {"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"},
    {"overflowing length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "Content-Length too large"},
    {"length list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n", "bad Content-Length"},
    {"overflowing chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", "chunk size too large", 56},
    {"negative chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "bad chunk size", 56},
    {"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy", "expected CRLF after chunk data", 56},
    {"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", "unexpected 101 Switching Protocols"},
    {"CR without LF", "HTTP/1.1 200 OK\rX: 1\r\n\r\n", "CR without LF in response head"},
    {"CR without LF in a header", "HTTP/1.1 200 OK\r\nX: 1\rY: 2\r\n\r\n", "CR without LF in response head"},
    {"folded framing header", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 2\r\n\r\nx", "folded Content-Length or Transfer-Encoding header"},
    {"space before the first header", "HTTP/1.1 200 OK\r\n A: 1\r\n\r\n", "space after status line"},
    {"not HTTP", "SSH-2.0-OpenSSH\r\n", "response does not start with HTTP/"},
    {"bad version", "HTTP/2.0 200 OK\r\n\r\n", "unsupported HTTP version"},
    {"bad status", "HTTP/1.1 20x OK\r\n\r\n", "bad status code"},
    {"status 000", "HTTP/1.1 000 Nothing\r\nContent-Length: 0\r\n\r\n", "unsupported status code (below 100)"},
    {"status 099", "HTTP/1.1 099 Early\r\nContent-Length: 0\r\n\r\n", "unsupported status code (below 100)"},
    {"space after a chunk size, then not ';'", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n",
     "bad chunk size", 56},
    {"space after a chunk size, then CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
     "bad chunk size", 56},
    {"101 headers", [] {
       std::string s = "HTTP/1.1 200 OK\r\n";
       for (int i = 0; i < 101; i++) s += "X: v\r\n";
       return s + "\r\n";
     }(), "more than 100 headers"},
    {"huge head", "HTTP/1.1 200 OK\r\nX: " + std::string(40000, 'a') + "\r\n\r\n", "response head larger than 32768 bytes", 27},
    {"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "connection closed before the end of the body", 18},
    {"truncated head", "HTTP/1.1 200 OK\r\nContent-Le", "connection closed in the response head"},
    {"gzip transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     "unsupported Transfer-Encoding (fanout undoes chunked only)", 61},
  };
  for (auto& c : cases) {
    INFO(c.name);
    Outcome o = check_all_ways(c.in);
    CHECK(o.error);
    CHECK(o.why == c.why);
    CHECK(o.code == c.code);
  }
  ResponseParser p;
  p.reset();
  CHECK(p.finish().ev == ResponseParser::error);
  CHECK(std::string(p.error_message()) == "empty reply from server");
  CHECK(p.error_code() == 52);
}

// ---- llhttp's response cases -------------------------------------------
namespace {

// test/md-test.ts's rules: "\<newline>" joins lines, every other newline
// becomes CRLF, then \r \n \t \f \xHH and \NNN (octal) are decoded.
std::string llhttp_input(const std::string& block) {
  std::string joined;
  for (size_t i = 0; i < block.size(); i++) {
    if (block[i] == '\\' && i + 1 < block.size() && block[i + 1] == '\n') { i++; continue; }
    if (block[i] == '\n') { joined += "\r\n"; continue; }
    joined += block[i];
  }
  std::string out;
  for (size_t i = 0; i < joined.size(); i++) {
    char c = joined[i];
    if (c != '\\' || i + 1 >= joined.size()) { out += c; continue; }
    char e = joined[i + 1];
    if (e == 'r') { out += '\r'; i++; }
    else if (e == 'n') { out += '\n'; i++; }
    else if (e == 't') { out += '\t'; i++; }
    else if (e == 'f') { out += '\f'; i++; }
    else if (e == 'x' && i + 3 < joined.size() && isxdigit((unsigned char)joined[i + 2]) && isxdigit((unsigned char)joined[i + 3])) {
      out += char(strtol(joined.substr(i + 2, 2).c_str(), nullptr, 16));
      i += 3;
    } else if (e >= '0' && e <= '7') {
      size_t j = i + 1;
      int v = 0;
      while (j < joined.size() && j < i + 4 && joined[j] >= '0' && joined[j] <= '7') v = v * 8 + (joined[j++] - '0');
      out += char(v);
      i = j - 1;
    } else {
      out += c;
    }
  }
  return out;
}

Outcome llhttp_expected(const std::vector<std::string>& log) {
  Outcome o;
  for (auto& l : log)
    if (l.find(" error code=") != std::string::npos) o.why = l.substr(l.find("reason=") + 7);
  for (auto& l : log) {
    size_t hc = l.find("headers complete status=");
    if (hc != std::string::npos) {
      o.msgs.push_back({atoi(l.c_str() + hc + 24), "", false});
    } else if (l.find("span[body]=") != std::string::npos) {
      std::string v = l.substr(l.find("span[body]=") + 11);
      if (v == "lf") v = "\n";
      else if (v == "cr") v = "\r";
      else if (v == "crlf") v = "\r\n";
      else v = v.substr(1, v.size() - 2);
      o.msgs.back().body += v;
    } else if (l.find("message complete") != std::string::npos) {
      if (!o.msgs.empty()) o.msgs.back().complete = true;
    } else if (l.find(" error code=") != std::string::npos) {
      o.error = true;
    }
  }
  // A client skips 1xx heads: drop them (101 is an error for fanout and
  // a pause on upgrade for llhttp; both stop there).
  std::vector<Msg> kept;
  for (auto& m : o.msgs)
    if (m.status >= 200) kept.push_back(m);
  o.msgs = kept;
  return o;
}

}  // namespace

TEST_CASE("http: llhttp response corpus") {
  std::string dir = t::corpora() + "/llhttp-response";
  std::vector<std::string> files;
  auto markdown = [](const char* n) { return strstr(n, ".md") != nullptr && strcmp(n, "url.md") != 0; };
  if (!t::files_in(dir, markdown, files)) {
    t::no_corpus("llhttp response cases: " + dir + " not found");
    return;
  }
  int run_count = 0;
  std::string skipped;
  for (auto& f : files) {
    std::string text;
    REQUIRE(t::read_file(dir + "/" + f, text));
    std::vector<std::string> lines;
    for (size_t a = 0, b; a < text.size(); a = b + 1) {
      b = text.find('\n', a);
      if (b == std::string::npos) b = text.size();
      lines.push_back(text.substr(a, b - a));
    }
    std::string title;
    for (size_t i = 0; i < lines.size(); i++) {
      if (lines[i].rfind("#", 0) == 0) title = lines[i];
      if (lines[i].rfind("<!-- meta=", 0) != 0) continue;
      std::string meta_json = lines[i].substr(10, lines[i].rfind("-->") - 10);
      tj::Value meta = tj::parse(meta_json);
      std::string type = meta["type"].str;
      size_t j = i + 1;
      while (j < lines.size() && lines[j] != "```http") j++;
      std::vector<std::string> block;
      for (j++; j < lines.size() && lines[j] != "```"; j++) block.push_back(lines[j]);
      while (j < lines.size() && lines[j] != "```log") j++;
      std::vector<std::string> log;
      for (j++; j < lines.size() && lines[j] != "```"; j++) log.push_back(lines[j]);
      i = j;
      std::string name = f + " " + title;
      // fanout takes a bare LF as a line end, as llhttp's lenient mode does.
      bool lf_lenient = type == "response-lenient-optional-cr-before-lf";
      if (type.rfind("response-lenient", 0) == 0 && !lf_lenient) {
        skipped += "  " + name + ": " + type + " (fanout parses strictly)\n";
        continue;
      }
      if (type != "response" && type != "response-finish" && !lf_lenient) continue;
      std::string raw;
      for (size_t k = 0; k < block.size(); k++) raw += (k ? "\n" : "") + block[k];
      if (raw.find("${") != std::string::npos) {
        skipped += "  " + name + ": uses ${js}\n";
        continue;
      }
      std::string input = llhttp_input(raw);
      if (input.rfind("RTSP/", 0) == 0 || input.rfind("ICE/", 0) == 0) {
        skipped += "  " + name + ": not HTTP (fanout speaks HTTP/1.x only)\n";
        continue;
      }
      bool head = meta.has("skipBody") && meta["skipBody"].b;
      Outcome want = llhttp_expected(log);
      if (want.why.find("Missing expected CR") != std::string::npos) {
        skipped += "  " + name + ": strict about CR before LF; fanout accepts a bare LF (RFC 9112 2.2)\n";
        continue;
      }
      Outcome got = check_all_ways(input, head, type == "response-finish");
      if (!want.error && got.error && got.why.find("unsupported Transfer-Encoding") != std::string::npos) {
        // llhttp reads such a body to the close (RFC 9112 6.3); fanout, as curl
        // (61), refuses a transfer coding it cannot undo.
        skipped += "  " + name + ": a transfer coding other than chunked: an error in fanout and curl (61)\n";
        continue;
      }
      if (type == "response-finish") for (auto& m : want.msgs) m.complete = true;
      run_count++;
      INFO(name);
      CHECK_MESSAGE(got.error == want.error, "fanout: " << (got.error ? got.why : "no error"));
      if (!want.error) CHECK(got.msgs == want.msgs);
      else CHECK(got.msgs.size() <= want.msgs.size() + 0);
    }
  }
  MESSAGE("llhttp: " << run_count << " response cases run; skipped:\n" << skipped);
  CHECK(run_count > 60);
}

// ---- curl's HTTP test cases --------------------------------------------
// Each case's <reply><data> is what curl's test server sends; <errorcode>
// is what curl made of it. fanout's parser must agree where the outcome
// depends only on those bytes: 0 (fine) and 8, 18, 52, 56, 100 (a weird,
// partial, empty, broken or too large reply). The others test what fanout
// does not do (redirects, --max-filesize, content decoding, proxies): listed.
namespace {

std::string between(const std::string& s, const std::string& a, const std::string& b, size_t* at = nullptr) {
  size_t i = s.find(a);
  if (i == std::string::npos) return "";
  i += a.size();
  size_t j = s.find(b, i);
  if (at) *at = i;
  return j == std::string::npos ? "" : s.substr(i, j - i);
}

// %XX escapes, as curl's %hex[...]hex% and %repeat[]% bodies use them.
std::string unhex(const std::string& t) {
  std::string out;
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] == '%' && i + 2 < t.size() && isxdigit((unsigned char)t[i + 1]) && isxdigit((unsigned char)t[i + 2])) {
      out += char(strtol(t.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += t[i];
    }
  }
  return out;
}

// curl's FILEFORMAT macros that matter here: %CR, %TAB, %hex[..]hex% and
// %repeat[N x TEXT]%.
std::string curl_macros(std::string d) {
  std::string out;
  for (size_t i = 0; i < d.size(); i++) {
    if (d.compare(i, 3, "%CR") == 0) { out += '\r'; i += 2; continue; }
    if (d.compare(i, 4, "%TAB") == 0) { out += '\t'; i += 3; continue; }
    if (d.compare(i, 5, "%hex[") == 0) {
      size_t e = d.find("]hex%", i);
      if (e != std::string::npos) {
        out += unhex(d.substr(i + 5, e - i - 5));
        i = e + 4;
        continue;
      }
    }
    if (d.compare(i, 8, "%repeat[") == 0) {
      size_t x = d.find(" x ", i), e = d.find("]%", i);
      if (x != std::string::npos && e != std::string::npos && x < e) {
        long n = atol(d.c_str() + i + 8);
        std::string text = unhex(d.substr(x + 3, e - x - 3));
        for (long k = 0; k < n; k++) out += text;
        i = e + 1;
        continue;
      }
    }
    out += d[i];
  }
  return out;
}

}  // namespace

TEST_CASE("http: curl's HTTP test cases, where the outcome is the reply's") {
  std::string dir = t::corpora() + "/curl-tests";
  std::vector<std::string> files;
  if (!t::files_in(dir, [](const char* n) { return strncmp(n, "test", 4) == 0; }, files)) {
    t::no_corpus("curl test cases: " + dir + " not found");
    return;
  }
  const std::map<int, const char*> not_ours = {
    {1, "unsupported protocol (curl's URL handling)"}, {3, "malformed URL (curl's URL handling)"},
    {6, "name resolution, not a reply"}, {7, "connect, not a reply"}, {28, "timeout, not a reply"},
    {47, "redirects: fanout does not follow them yet"}, {63, "--max-filesize: fanout has no such limit"},
    {61, "content decoding: fanout does not decode bodies"},
  };
  // Where fanout and curl differ on purpose.
  const std::map<std::string, const char*> differ = {
    {"test1473", "whitespace before the first header: RFC 9112 2.2 lets a recipient reject it (fanout, llhttp) or skip it (curl)"},
    {"test580", "two Location headers: curl refuses them because it follows redirects; fanout does not follow yet"},
    {"test772", "two Location headers: curl refuses them because it follows redirects; fanout does not follow yet"},
  };
  int run_count = 0;
  std::string skipped;
  for (auto& f : files) {
    std::string text;
    REQUIRE(t::read_file(dir + "/" + f, text));
    int ec = atoi(between(text, "<errorcode>", "</errorcode>").c_str());
    std::string reply = between(text, "<reply>", "</reply>");
    size_t at = reply.find("<data");
    if (at == std::string::npos || (reply[at + 5] != ' ' && reply[at + 5] != '>')) {
      skipped += "  " + f + ": no plain <data> reply\n";
      continue;
    }
    size_t gt = reply.find('>', at);
    std::string attrs = reply.substr(at, gt - at);
    std::string data = reply.substr(gt + 1, reply.find("</data>", gt) - gt - 1);
    if (!data.empty() && data[0] == '\n') data.erase(0, 1);
    data = curl_macros(data);
    if (attrs.find("crlf=\"yes\"") != std::string::npos || attrs.find("crlf=\"headers\"") != std::string::npos) {
      bool all = attrs.find("crlf=\"yes\"") != std::string::npos;
      std::string out;
      bool in_head = true;
      for (size_t i = 0; i < data.size(); i++) {
        if (data[i] == '\n' && (all || in_head) && (i == 0 || data[i - 1] != '\r')) {
          out += "\r\n";
          if (i > 0 && data[i - 1] == '\n') in_head = false;  // the empty line
          continue;
        }
        out += data[i];
      }
      data = out;
    }
    if (differ.count(f)) {
      skipped += "  " + f + ": " + differ.at(f) + "\n";
      continue;
    }
    if (not_ours.count(ec)) {
      skipped += "  " + f + ": curl error " + std::to_string(ec) + ", " + not_ours.at(ec) + "\n";
      continue;
    }
    std::string cmd = between(text, "<command>", "</command>");
    cmd.erase(0, cmd.find_first_not_of(" \t\r\n"));
    bool head = cmd.find(" -I") != std::string::npos || cmd.rfind("-I ", 0) == 0 || cmd.find("--head") != std::string::npos ||
                cmd.find("-X HEAD") != std::string::npos;
    Outcome got = check_all_ways(data, head, true, true);
    bool fine = !got.error && !got.msgs.empty() && got.msgs.back().complete;
    run_count++;
    INFO(f << ": curl error " << ec << ", fanout: " << (got.error ? got.why : "no error"));
    CHECK(fine == (ec == 0));
  }
  MESSAGE("curl: " << run_count << " cases run; skipped:\n" << skipped);
  CHECK(run_count >= 25);
}
