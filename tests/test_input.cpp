#include <doctest/doctest.h>

#include "fanout/input.hpp"
#include "fanout/url.hpp"

TEST_CASE("input: comments, blanks, CRLF and bad lines keep their line numbers") {
  std::vector<fanout::Request> r;
  fanout::parse_input("# list\r\n\r\nhttp://a/\r\n  http://b:8080/x  \n\tftp://c/\nhttp://d e/\nhttp://\x01/\nhttp://[::1]:9/\nhttp://e/", r);
  REQUIRE(r.size() == 7);
  CHECK(r[0].line == 3);
  CHECK(r[0].error == "");
  CHECK(r[0].url.host == "a");
  CHECK(r[1].line == 4);
  CHECK(r[1].text == "http://b:8080/x");
  CHECK(r[1].url.port == 8080);
  CHECK(r[2].error == "input: line 5: unsupported scheme \"ftp\"");
  CHECK(r[3].error == "input: line 6: space in URL (encode it as %20)");
  CHECK(r[4].error == "input: line 7: control character in URL");
  CHECK(r[5].url.host == "::1");
  CHECK(r[6].line == 9);
  CHECK(r[6].url.host == "e");
}

TEST_CASE("input: LF, CRLF and lone CR all end a line; a UTF-8 BOM is not part of the first URL") {
  std::vector<fanout::Request> r;
  fanout::parse_input("\xEF\xBB\xBFhttp://a/\rhttp://b/\r\nhttp://c/\n\rhttp://d/", r);
  REQUIRE(r.size() == 4);
  CHECK(r[0].error == "");
  CHECK(r[0].url.host == "a");
  CHECK(r[0].line == 1);
  CHECK(r[1].url.host == "b");
  CHECK(r[1].line == 2);
  CHECK(r[2].url.host == "c");
  CHECK(r[2].line == 3);
  CHECK(r[3].url.host == "d");
  CHECK(r[3].line == 5);  // "\n\r": an empty line 4 between them
}

// curl (CURLU_GUESS_SCHEME) and wget take a URL without "scheme://" as
// http://; the line's URL is then the whole one, so results, resume and
// masking see what was fetched.
TEST_CASE("input: a URL without a scheme is http://, as curl and wget take it") {
  std::vector<fanout::Request> r;
  fanout::parse_input("example.com/x\nlocalhost:8080\nHTTPS:/a.example/\nftp.example.com/f\n//h.example/p\n"
                      "user:pw@h.example/\nmailto:a@b.example\nhttp://c.example/\n",
                      r);
  REQUIRE(r.size() == 8);
  CHECK(r[0].error == "");
  CHECK(r[0].text == "http://example.com/x");
  CHECK(r[0].url.host == "example.com");
  CHECK(r[0].url.path == "/x");
  CHECK(r[1].text == "http://localhost:8080");
  CHECK(r[1].url.host == "localhost");
  CHECK(r[1].url.port == 8080);
  CHECK(r[2].text == "HTTPS:/a.example/");  // WHATWG's lenient form, its own scheme
  CHECK(r[2].url.https);
  CHECK(r[2].url.host == "a.example");
  CHECK(r[3].error == "input: line 4: unsupported scheme \"ftp\"");  // curl's guess by the label
  CHECK(r[3].code == 1);
  CHECK(r[4].url.host == "h.example");
  CHECK(r[4].url.path == "/p");
  CHECK(r[5].url.host == "h.example");
  CHECK(fanout::mask_password(r[5].text) == "http://user:***@h.example/");
  CHECK(r[6].url.host == "b.example");  // as curl: "mailto:a" is the userinfo
  CHECK(r[7].text == "http://c.example/");
  CHECK(fanout::guess_scheme("http://x") == "");
  CHECK(fanout::guess_scheme("ftp:/x") == "");  // curl's "scheme:/": ftp, unsupported
  CHECK(fanout::guess_scheme("Http:x.example") == "");
  CHECK(fanout::guess_scheme("dict.example") == "dict://");
  CHECK(fanout::guess_scheme("dictionary.example") == "http://");
}
