// A small JSON reader for the tests: WPT's URL data and fanout's own output.
#pragma once
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tj {

struct Value {
  enum Kind { null, boolean, number, string, array, object } kind = null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Value> arr;
  std::vector<std::string> keys;  // an object's members, in document order
  std::vector<Value> vals;        // (a vector of an incomplete type is fine; a pair is not)

  bool has(const std::string& k) const {
    for (auto& key : keys) if (key == k) return true;
    return false;
  }
  const Value& operator[](const std::string& k) const {
    for (size_t i = 0; i < keys.size(); i++) if (keys[i] == k) return vals[i];
    throw std::runtime_error("no key " + k);
  }
  bool is_null() const { return kind == null; }
};

struct Parser {
  const std::string& s;
  size_t i = 0;
  explicit Parser(const std::string& src) : s(src) {}
  [[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("json: ") + what + " at " + std::to_string(i));
  }
  void ws() { while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++; }
  static void utf8(std::string& o, unsigned cp) {
    if (cp < 0x80) o += char(cp);
    else if (cp < 0x800) { o += char(0xc0 | cp >> 6); o += char(0x80 | (cp & 63)); }
    else if (cp < 0x10000) { o += char(0xe0 | cp >> 12); o += char(0x80 | ((cp >> 6) & 63)); o += char(0x80 | (cp & 63)); }
    else { o += char(0xf0 | cp >> 18); o += char(0x80 | ((cp >> 12) & 63)); o += char(0x80 | ((cp >> 6) & 63)); o += char(0x80 | (cp & 63)); }
  }
  unsigned hex4() {
    if (i + 4 > s.size()) fail("short \\u");
    unsigned v = unsigned(strtoul(s.substr(i, 4).c_str(), nullptr, 16));
    i += 4;
    return v;
  }
  std::string str() {
    if (s[i] != '"') fail("expected string");
    i++;
    std::string o;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') { o += c; continue; }
      char e = s[i++];
      switch (e) {
        case 'n': o += '\n'; break;
        case 't': o += '\t'; break;
        case 'r': o += '\r'; break;
        case 'b': o += '\b'; break;
        case 'f': o += '\f'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
            i += 2;
            unsigned lo = hex4();
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xd800 && cp < 0xe000) {
            cp = 0xfffd;  // lone surrogate: what a UTF-8 encoder would write
          }
          utf8(o, cp);
          break;
        }
        default: o += e;
      }
    }
    if (i >= s.size()) fail("unterminated string");
    i++;
    return o;
  }
  Value value() {
    ws();
    if (i >= s.size()) fail("eof");
    Value v;
    char c = s[i];
    if (c == '{') {
      v.kind = Value::object;
      i++;
      ws();
      if (s[i] == '}') { i++; return v; }
      for (;;) {
        ws();
        std::string k = str();
        ws();
        if (s[i++] != ':') fail("expected :");
        v.keys.push_back(k);
        v.vals.push_back(value());
        ws();
        if (s[i] == ',') { i++; continue; }
        if (s[i++] != '}') fail("expected }");
        return v;
      }
    }
    if (c == '[') {
      v.kind = Value::array;
      i++;
      ws();
      if (s[i] == ']') { i++; return v; }
      for (;;) {
        v.arr.push_back(value());
        ws();
        if (s[i] == ',') { i++; continue; }
        if (s[i++] != ']') fail("expected ]");
        return v;
      }
    }
    if (c == '"') { v.kind = Value::string; v.str = str(); return v; }
    if (s.compare(i, 4, "true") == 0) { i += 4; v.kind = Value::boolean; v.b = true; return v; }
    if (s.compare(i, 5, "false") == 0) { i += 5; v.kind = Value::boolean; return v; }
    if (s.compare(i, 4, "null") == 0) { i += 4; return v; }
    char* end;
    v.num = strtod(s.c_str() + i, &end);
    if (end == s.c_str() + i) fail("bad value");
    i = size_t(end - s.c_str());
    v.kind = Value::number;
    return v;
  }
};

inline Value parse(const std::string& s) {
  Parser p(s);
  Value v = p.value();
  p.ws();
  if (p.i != s.size()) p.fail("trailing data");
  return v;
}

}  // namespace tj
