// URL parser: own table, then WPT's urltestdata.json (http and https cases
// a client without IDNA can pass; the skipped ones are listed with why).
#include <doctest/doctest.h>

#include "fanout/url.hpp"
#include "json.hpp"
#include "util.hpp"

using fanout::Url;
using fanout::UrlError;

TEST_CASE("url: table") {
  struct Case { const char* in; const char* host; int port; const char* target; const char* authority; };
  const Case cases[] = {
    {"http://example.com", "example.com", 80, "/", "example.com"},
    {"https://Example.COM:8443/a/b?x=1#frag", "example.com", 8443, "/a/b?x=1", "example.com:8443"},
    {"http://127.0.0.1:8080/status/200", "127.0.0.1", 8080, "/status/200", "127.0.0.1:8080"},
    {"http://[::1]:9000/x", "::1", 9000, "/x", "[::1]:9000"},
    {"http://[::1]/", "::1", 80, "/", "[::1]"},
    {"https://localhost:443/", "localhost", 443, "/", "localhost"},
    {"http://h/%7Euser/a%20b?q=%41", "h", 80, "/%7Euser/a%20b?q=%41", "h"},
    {"http://h/a/./b/../c", "h", 80, "/a/c", "h"},
  };
  for (auto& c : cases) {
    Url u;
    std::string why;
    INFO(c.in);
    REQUIRE(fanout::parse_url(c.in, u, &why) == UrlError::none);
    CHECK(u.host == c.host);
    CHECK(u.port == c.port);
    CHECK(u.target() == c.target);
    CHECK(u.authority() == c.authority);
  }
  struct Bad { const char* in; UrlError e; const char* why; };
  const Bad bad[] = {
    {"ftp://example.com/", UrlError::scheme, "unsupported scheme \"ftp\""},
    {"example.com/path", UrlError::syntax, "no scheme"},
    {"http://", UrlError::host, "empty host"},
    {"http://h:99999/", UrlError::port, "port out of range \"99999\""},
    {"http://h:8x/", UrlError::port, "bad port \"8x\""},
    {"http://[::1/", UrlError::host, "unterminated IPv6 address"},
    {"http://b\xc3\xa9.com/", UrlError::idna, "non-ASCII host needs IDNA (not supported)"},
  };
  for (auto& b : bad) {
    Url u;
    std::string why;
    INFO(b.in);
    CHECK(fanout::parse_url(b.in, u, &why) == b.e);
    CHECK(why == b.why);
  }
}

namespace {
std::string scheme_of(const std::string& in, std::string& after) {
  std::string s;
  size_t i = 0;
  while (i < in.size() && (unsigned char)in[i] <= 0x20) i++;
  for (; i < in.size(); i++) {
    char c = in[i];
    if (c == '\t' || c == '\n' || c == '\r') continue;
    s += c;
  }
  size_t colon = s.find(':');
  if (colon == std::string::npos) return "";
  std::string sc = s.substr(0, colon);
  for (auto& c : sc) c = char(tolower((unsigned char)c));
  after = s.substr(colon + 1);
  return sc;
}
}  // namespace

TEST_CASE("url: WPT urltestdata.json (http/https, no IDNA)") {
  std::string path = t::corpora() + "/wpt-url/urltestdata.json", text;
  if (!t::read_file(path, text)) {
    t::no_corpus("WPT URL cases: " + path + " not found");
    return;
  }
  tj::Value all = tj::parse(text);
  int run = 0, skipped = 0;
  std::string skip_list;
  for (auto& c : all.arr) {
    if (c.kind != tj::Value::object) continue;
    std::string in = c["input"].str, after;
    std::string sc = scheme_of(in, after);
    if (sc != "http" && sc != "https") continue;
    if (!c["base"].is_null()) {
      std::string base_after;
      std::string base_sc = scheme_of(c["base"].str, base_after);
      // Same special scheme as the base and no "//": a relative reference.
      if (base_sc == sc && after.rfind("//", 0) != 0 && after.rfind("\\\\", 0) != 0 &&
          after.rfind("/\\", 0) != 0 && after.rfind("\\/", 0) != 0)
        continue;
    }
    bool failure = c.has("failure");
    Url u;
    std::string why;
    UrlError e = fanout::parse_url(in, u, &why);
    std::string lower = in;
    for (auto& ch : lower) ch = char(tolower((unsigned char)ch));
    const char* reason = nullptr;
    if (e == UrlError::idna) reason = "non-ASCII host (IDNA)";
    else if (failure && lower.find("xn--") != std::string::npos) reason = "punycode validation (IDNA)";
    if (reason) {
      skipped++;
      skip_list += "  " + std::string(reason) + ": " + in + "\n";
      continue;
    }
    run++;
    INFO("input: " << in);
    if (failure) {
      CHECK_MESSAGE(e != UrlError::none, "accepted, as " << u.href());
    } else {
      REQUIRE_MESSAGE(e == UrlError::none, why);
      CHECK(u.href() == c["href"].str);
      CHECK(u.host == (u.kind == Url::HostKind::ipv6 ? c["hostname"].str.substr(1, c["hostname"].str.size() - 2) : c["hostname"].str));
    }
  }
  MESSAGE("WPT URL: " << run << " http(s) cases run, " << skipped << " skipped:\n" << skip_list);
  CHECK(run > 250);
}

// Redirects resolve Location against the URL that answered: WPT's cases of
// a relative reference (or another http(s) URL) against an http(s) base.
TEST_CASE("url: WPT relative references against http(s) bases") {
  std::string path = t::corpora() + "/wpt-url/urltestdata.json", text;
  if (!t::read_file(path, text)) {
    t::no_corpus("WPT URL cases: " + path + " not found");
    return;
  }
  tj::Value all = tj::parse(text);
  int run = 0, idna = 0;
  for (auto& c : all.arr) {
    if (c.kind != tj::Value::object || c["base"].is_null()) continue;
    std::string after;
    std::string base_sc = scheme_of(c["base"].str, after);
    if (base_sc != "http" && base_sc != "https") continue;
    Url base;
    if (fanout::parse_url(c["base"].str, base) != UrlError::none) continue;
    bool failure = c.has("failure");
    if (!failure) {  // results of other schemes are not ours to fetch
      std::string res_sc = scheme_of(c["href"].str, after);
      if (res_sc != "http" && res_sc != "https") continue;
    }
    std::string in = c["input"].str;
    Url u;
    std::string why;
    UrlError e = fanout::resolve_url(base, in, u, &why);
    if (e == UrlError::idna || (failure && in.find("xn--") != std::string::npos)) {
      idna++;
      continue;
    }
    run++;
    INFO("input: " << in << "  base: " << c["base"].str);
    if (failure) {
      CHECK(e != UrlError::none);
    } else {
      REQUIRE_MESSAGE(e == UrlError::none, why);
      CHECK(u.href() == c["href"].str);
    }
  }
  MESSAGE("WPT relative: " << run << " cases run, " << idna << " need IDNA");
  CHECK(run >= 150);  // 154 with the corpus as stored
}
