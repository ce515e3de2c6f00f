#include <doctest/doctest.h>

#include "fanout/input.hpp"

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
