#include "fanout/json.hpp"

#include <cctype>

namespace fanout::json {
namespace {

struct Scan {
  std::string_view s;
  size_t i = 0;
  const char* err = nullptr;
  int depth = 0;

  bool fail(const char* why) {
    if (!err) err = why;
    return false;
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  }
  bool lit(std::string_view w) {
    if (s.substr(i, w.size()) != w) return fail("unexpected word");
    i += w.size();
    return true;
  }
  bool digits() {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++;
    return i > start || fail("a digit was expected");
  }
  bool number() {
    if (i < s.size() && s[i] == '-') i++;
    if (i < s.size() && s[i] == '0') i++;
    else if (!digits()) return false;
    if (i < s.size() && s[i] == '.' && (++i, !digits())) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      i++;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) i++;
      if (!digits()) return false;
    }
    return true;
  }
  bool string() {
    i++;  // the opening quote
    while (i < s.size() && s[i] != '"') {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x20) return fail("control character in a string");
      if (c == '\\') {
        if (++i >= s.size()) break;
        if (s[i] == 'u') {
          for (int k = 1; k <= 4; k++)
            if (i + k >= s.size() || !isxdigit((unsigned char)s[i + k])) return fail("bad \\u escape");
          i += 4;
        } else if (std::string_view("\"\\/bfnrt").find(s[i]) == std::string_view::npos) {
          return fail("bad escape in a string");
        }
      }
      i++;
    }
    if (i >= s.size()) return fail("unterminated string");
    i++;
    return true;
  }
  bool value() {
    ws();
    if (i >= s.size()) return fail("a value was expected");
    if (++depth > 512) return fail("nested too deep");
    bool ok;
    switch (s[i]) {
      case '{': ok = members('}', true); break;
      case '[': ok = members(']', false); break;
      case '"': ok = string(); break;
      case 't': ok = lit("true"); break;
      case 'f': ok = lit("false"); break;
      case 'n': ok = lit("null"); break;
      default: ok = (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) ? number() : fail("a value was expected");
    }
    depth--;
    return ok;
  }
  // An object's members or an array's elements, up to the closing bracket.
  bool members(char close, bool object) {
    i++;
    ws();
    if (i < s.size() && s[i] == close) return ++i, true;
    for (;;) {
      if (object) {
        ws();
        if (i >= s.size() || s[i] != '"' || !string()) return fail("a name in quotes was expected");
        ws();
        if (i >= s.size() || s[i] != ':') return fail("':' was expected");
        i++;
      }
      if (!value()) return false;
      ws();
      if (i < s.size() && s[i] == ',') {
        i++;
        continue;
      }
      if (i < s.size() && s[i] == close) return ++i, true;
      return fail(object ? "',' or '}' was expected" : "',' or ']' was expected");
    }
  }
};

}  // namespace

size_t utf8_len(std::string_view s, size_t i) {
  unsigned char c = (unsigned char)s[i];
  size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (!n || i + n > s.size()) return 0;
  unsigned char d = (unsigned char)s[i + 1];
  if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d > 0x9f) || (c == 0xf0 && d < 0x90) || (c == 0xf4 && d > 0x8f)) return 0;
  for (size_t k = 1; k < n; k++)
    if (((unsigned char)s[i + k] & 0xc0) != 0x80) return 0;
  return n;
}

bool array_inner(std::string_view body, std::string_view* inner, std::string* why) {
  // JSON text is UTF-8 (RFC 8259 8.1): a page that is not would make the
  // merged file no JSON at all.
  for (size_t i = 0; i < body.size(); i++) {
    if ((unsigned char)body[i] < 0x80) continue;
    size_t n = utf8_len(body, i);
    if (!n) {
      *why = "not UTF-8 at byte " + std::to_string(i);
      return false;
    }
    i += n - 1;
  }
  Scan sc{body};
  sc.ws();
  if (sc.i >= body.size() || body[sc.i] != '[') {
    *why = "not a JSON array (it starts with " + std::string(sc.i < body.size() ? "'" + std::string(1, body[sc.i]) + "'" : "nothing") + ")";
    return false;
  }
  size_t open = sc.i;
  if (!sc.value()) {
    *why = "not valid JSON at byte " + std::to_string(sc.i) + ": " + sc.err;
    return false;
  }
  size_t close = sc.i - 1;
  sc.ws();
  if (sc.i != body.size()) {
    *why = "more after the JSON array, at byte " + std::to_string(sc.i);
    return false;
  }
  std::string_view in = body.substr(open + 1, close - open - 1);
  while (!in.empty() && (in.front() == ' ' || in.front() == '\n' || in.front() == '\r' || in.front() == '\t')) in.remove_prefix(1);
  while (!in.empty() && (in.back() == ' ' || in.back() == '\n' || in.back() == '\r' || in.back() == '\t')) in.remove_suffix(1);
  *inner = in;
  return true;
}

namespace {

// The text of a JSON string (between its quotes, escapes checked) decoded.
std::string unescape(std::string_view q) {
  std::string o;
  for (size_t i = 0; i < q.size(); i++) {
    if (q[i] != '\\') {
      o += q[i];
      continue;
    }
    char c = q[++i];
    switch (c) {
      case 'b': o += '\b'; break;
      case 'f': o += '\f'; break;
      case 'n': o += '\n'; break;
      case 'r': o += '\r'; break;
      case 't': o += '\t'; break;
      case 'u': {
        unsigned cp = unsigned(std::stoul(std::string(q.substr(i + 1, 4)), nullptr, 16));
        i += 4;
        if (cp <= 0xff) {  // fanout writes a byte that is not UTF-8 as \u00XX: it is that byte
          o += char(cp);
        } else if (cp < 0x800) {
          o += char(0xc0 | (cp >> 6));
          o += char(0x80 | (cp & 0x3f));
        } else {
          o += char(0xe0 | (cp >> 12));
          o += char(0x80 | ((cp >> 6) & 0x3f));
          o += char(0x80 | (cp & 0x3f));
        }
        break;
      }
      default: o += c;  // \" \\ \/
    }
  }
  return o;
}

}  // namespace

bool flat_object(std::string_view text, std::vector<Field>& out) {
  out.clear();
  Scan sc{text};
  sc.ws();
  if (sc.i >= text.size() || text[sc.i] != '{') return false;
  {
    Scan whole = sc;  // valid JSON, whole, before anything is taken apart
    if (!whole.value()) return false;
    whole.ws();
    if (whole.i != text.size()) return false;
  }
  sc.i++;
  for (;;) {
    sc.ws();
    if (text[sc.i] == '}') return true;
    size_t k = sc.i;
    sc.string();
    Field f;
    f.name = unescape(text.substr(k + 1, sc.i - k - 2));
    sc.ws();
    sc.i++;  // ':'
    sc.ws();
    size_t v = sc.i;
    f.is_string = text[v] == '"';
    if (text[v] == '{' || text[v] == '[') return false;  // flat only
    sc.value();
    f.value = f.is_string ? unescape(text.substr(v + 1, sc.i - v - 2)) : std::string(text.substr(v, sc.i - v));
    out.push_back(std::move(f));
    sc.ws();
    if (text[sc.i] == ',') sc.i++;
  }
}

}  // namespace fanout::json
