// A WHATWG-style parser for the two special schemes fanout fetches. It
// follows the standard's states for "http:" and "https:" with no base URL;
// see tests/test_url.cpp for the conformance run against WPT's cases.
#include "fanout/url.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <strings.h>
#include <vector>

namespace fanout {
namespace {

bool is_c0_or_space(unsigned char c) { return c <= 0x20; }
bool is_hex(unsigned char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
int hexval(unsigned char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

// Percent-encode sets (WHATWG URL §1.3), as predicates over one byte.
bool in_fragment_set(unsigned char c) {
  return c < 0x20 || c > 0x7e || c == ' ' || c == '"' || c == '<' || c == '>' || c == '`';
}
bool in_query_set(unsigned char c, bool special) {
  return c < 0x20 || c > 0x7e || c == ' ' || c == '"' || c == '#' || c == '<' || c == '>' ||
         (special && c == '\'');
}
bool in_path_set(unsigned char c) {
  return in_query_set(c, false) || c == '?' || c == '`' || c == '{' || c == '}' || c == '^';
}
bool in_userinfo_set(unsigned char c) {
  return in_path_set(c) || c == '/' || c == ':' || c == ';' || c == '=' || c == '@' ||
         (c >= '[' && c <= ']') || c == '|';
}

template <class Pred>
void encode_into(std::string& out, std::string_view s, Pred in_set) {
  static const char hex[] = "0123456789ABCDEF";
  // Runs with nothing to encode (nearly every URL) are appended whole.
  size_t from = 0;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = s[i];
    if (!in_set(c)) continue;
    char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
    out.append(s.data() + from, i - from).append(esc, 3);
    from = i + 1;
  }
  out.append(s.data() + from, s.size() - from);
}

std::string percent_decode(std::string_view s) {
  if (s.find('%') == std::string_view::npos) return std::string(s);
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
      out += char(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// IPv4 number: "0x.." hex, "0.." octal, else decimal. false on bad digits.
bool ipv4_number(std::string_view s, uint64_t& v) {
  int base = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] | 0x20) == 'x') { s.remove_prefix(2); base = 16; }
  else if (s.size() >= 2 && s[0] == '0') { s.remove_prefix(1); base = 8; }
  v = 0;
  for (unsigned char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && is_hex(c)) d = hexval(c);
    else return false;
    if (d >= base) return false;
    v = v * base + d;
    if (v > 0xffffffffull * 256) v = 0xffffffffull * 256;  // saturate: already too big
  }
  return true;
}

// The "ends in a number" checker.
bool ends_in_number(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  size_t dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (last.find_first_not_of("0123456789") == std::string_view::npos) return true;
  if (last.size() >= 2 && last[0] == '0' && (last[1] | 0x20) == 'x')
    return last.substr(2).find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
  return false;
}

bool parse_ipv4(std::string_view host, std::string& out) {
  std::string_view parts[5];
  int n = 0;
  size_t start = 0;
  for (;;) {
    size_t dot = host.find('.', start);
    if (n == 5) return false;
    parts[n++] = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (n > 1 && parts[n - 1].empty()) n--;
  if (n > 4) return false;
  uint64_t nums[4];
  for (int i = 0; i < n; i++)
    if (parts[i].empty() || !ipv4_number(parts[i], nums[i])) return false;
  for (int i = 0; i < n - 1; i++)
    if (nums[i] > 255) return false;
  if (nums[n - 1] >= (1ull << (8 * (5 - n)))) return false;
  uint64_t v = nums[n - 1];
  for (int i = 0; i < n - 1; i++) v += nums[i] << (8 * (3 - i));
  char text[16], *p = text;  // dotted decimal, written in place
  for (int shift = 24; shift >= 0; shift -= 8) {
    unsigned b = unsigned(v >> shift) & 255;
    if (b >= 100) *p++ = char('0' + b / 100);
    if (b >= 10) *p++ = char('0' + b / 10 % 10);
    *p++ = char('0' + b % 10);
    if (shift) *p++ = '.';
  }
  out.assign(text, size_t(p - text));
  return true;
}

// WHATWG IPv6 parser and serializer.
bool parse_ipv6(std::string_view s, std::string& out) {
  uint16_t a[8] = {};
  int piece = 0, compress = -1;
  size_t i = 0, n = s.size();
  if (i < n && s[i] == ':') {
    if (i + 1 >= n || s[i + 1] != ':') return false;
    i += 2;
    compress = ++piece;
  }
  while (i < n) {
    if (piece == 8) return false;
    if (s[i] == ':') {
      if (compress != -1) return false;
      i++;
      compress = ++piece;
      continue;
    }
    unsigned v = 0, len = 0;
    while (len < 4 && i < n && is_hex(s[i])) { v = v * 16 + hexval(s[i]); i++; len++; }
    if (i < n && s[i] == '.') {
      if (len == 0 || piece > 6) return false;
      i -= len;
      int seen = 0;
      while (i < n) {
        unsigned v4 = 0;
        bool any = false;
        if (seen > 0) {
          if (s[i] == '.' && seen < 4) i++;
          else return false;
        }
        if (i >= n || s[i] < '0' || s[i] > '9') return false;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
          if (any && v4 == 0) return false;  // leading zero
          v4 = v4 * 10 + (s[i] - '0');
          any = true;
          if (v4 > 255) return false;
          i++;
        }
        a[piece] = uint16_t(a[piece] * 0x100 + v4);
        if (++seen == 2 || seen == 4) piece++;
      }
      if (seen != 4) return false;
      break;
    }
    if (i < n && s[i] == ':') {
      i++;
      if (i >= n) return false;
    } else if (i < n) {
      return false;
    }
    a[piece++] = uint16_t(v);
  }
  if (compress != -1) {
    int swaps = piece - compress;
    piece = 7;
    while (piece != 0 && swaps > 0) {
      std::swap(a[piece], a[compress + swaps - 1]);
      piece--;
      swaps--;
    }
  } else if (piece != 8) {
    return false;
  }
  // Serialize: compress the first longest run of two or more zero pieces.
  int best = -1, best_len = 1;
  for (int j = 0; j < 8;) {
    int k = j;
    while (k < 8 && a[k] == 0) k++;
    if (k - j > best_len) { best = j; best_len = k - j; }
    j = k == j ? j + 1 : k;
  }
  out.clear();
  char buf[8];
  for (int j = 0; j < 8; j++) {
    if (j == best) {
      out += j == 0 ? "::" : ":";
      j += best_len - 1;
      continue;
    }
    snprintf(buf, sizeof buf, "%x", a[j]);
    out += buf;
    if (j != 7) out += ':';
  }
  return true;
}

// Off the good path, and built only when asked for: "bad port \"x\"".
[[gnu::cold, gnu::noinline]] UrlError fail(std::string* why, UrlError e, const char* msg,
                                           std::string_view quoted = {}) {
  if (why) {
    *why = msg;
    if (!quoted.empty()) why->append(" \"").append(quoted).append("\"");
  }
  return e;
}

bool forbidden_in_host(unsigned char c) {
  switch (c) {
    case '#': case '%': case '/': case ':': case '<': case '>': case '?': case '@':
    case '[': case '\\': case ']': case '^': case '|': case 0x7f: return true;
    default: return c <= 0x20;
  }
}

UrlError parse_host(std::string_view in, Url& u, std::string* why) {
  if (in.empty()) return fail(why, UrlError::host, "empty host");
  if (in[0] == '[') {
    if (in.back() != ']') return fail(why, UrlError::host, "unterminated IPv6 address");
    if (!parse_ipv6(in.substr(1, in.size() - 2), u.host))
      return fail(why, UrlError::host, "bad IPv6 address");
    u.kind = Url::HostKind::ipv6;
    return UrlError::none;
  }
  std::string h = percent_decode(in);
  for (unsigned char c : h)
    if (c >= 0x80) return fail(why, UrlError::idna, "non-ASCII host needs IDNA (not supported)");
  for (char& c : h) {
    unsigned char uc = c;
    if (forbidden_in_host(uc))
      return fail(why, UrlError::host, "forbidden character in host");
    if (c >= 'A' && c <= 'Z') c += 32;
  }
  if (ends_in_number(h)) {
    if (!parse_ipv4(h, u.host)) return fail(why, UrlError::host, "bad IPv4 address");
    u.kind = Url::HostKind::ipv4;
    return UrlError::none;
  }
  u.host = std::move(h);
  u.kind = Url::HostKind::name;
  return UrlError::none;
}

bool is_single_dot(std::string_view s) {
  return s == "." || (s.size() == 3 && s[0] == '%' && s[1] == '2' && (s[2] | 0x20) == 'e');
}
bool is_double_dot(std::string_view s) {
  if (s == "..") return true;
  if (s.size() == 4) return (s[0] == '.' && is_single_dot(s.substr(1))) || (s[3] == '.' && is_single_dot(s.substr(0, 3)));
  return s.size() == 6 && is_single_dot(s.substr(0, 3)) && is_single_dot(s.substr(3));
}

void parse_path(std::string_view p, Url& u) {
  // Nearly every path has no dot segment and no '\\': it is itself, encoded.
  // (A segment that is "." or ".." starts "/." or "/%2e" after its '/'.)
  if (!p.empty() && p[0] == '/' && p.find('\\') == std::string_view::npos &&
      p.find("/.") == std::string_view::npos && p.find("/%2") == std::string_view::npos) {
    u.path.clear();
    encode_into(u.path, p, in_path_set);
    return;
  }
  // Segments between '/' (or '\', which special schemes read as '/').
  std::string path;
  std::vector<size_t> starts;  // where each segment's leading '/' is in path
  size_t i = 0;
  if (!p.empty() && (p[0] == '/' || p[0] == '\\')) i = 1;
  for (;;) {
    size_t end = i;
    while (end < p.size() && p[end] != '/' && p[end] != '\\') end++;
    std::string_view seg = p.substr(i, end - i);
    bool last = end >= p.size();
    if (is_double_dot(seg)) {
      if (!starts.empty()) { path.resize(starts.back()); starts.pop_back(); }
      if (last) { starts.push_back(path.size()); path += '/'; }
    } else if (is_single_dot(seg)) {
      if (last) { starts.push_back(path.size()); path += '/'; }
    } else {
      starts.push_back(path.size());
      path += '/';
      encode_into(path, seg, in_path_set);
    }
    if (last) break;
    i = end + 1;
  }
  u.path = path.empty() ? "/" : path;
}

// RFC 3986's scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (the first
// one's ALPHA is checked apart).
bool is_scheme_char(char c) {
  unsigned char u = (unsigned char)c;
  return ((u | 0x20) >= 'a' && (u | 0x20) <= 'z') || (u >= '0' && u <= '9') || u == '+' || u == '-' || u == '.';
}

}  // namespace

UrlError parse_url(std::string_view in, Url& u, std::string* why) {
  u = Url{};
  // Strip leading/trailing C0 controls and spaces; drop tabs and newlines.
  while (!in.empty() && is_c0_or_space(in.front())) in.remove_prefix(1);
  while (!in.empty() && is_c0_or_space(in.back())) in.remove_suffix(1);
  std::string s(in);
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }), s.end());

  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return fail(why, UrlError::syntax, "no scheme");
  for (size_t i = 0; i < colon; i++) {
    if (!is_scheme_char(s[i])) return fail(why, UrlError::syntax, "no scheme");
    s[i] = char(std::tolower((unsigned char)s[i]));
  }
  std::string_view scheme(s.data(), colon);
  if (scheme[0] < 'a' || scheme[0] > 'z') return fail(why, UrlError::syntax, "no scheme");
  if (scheme != "http" && scheme != "https")
    return fail(why, UrlError::scheme, "unsupported scheme", scheme);
  u.https = scheme == "https";
  u.port = u.https ? 443 : 80;

  std::string_view rest(s);
  rest.remove_prefix(colon + 1);
  while (!rest.empty() && (rest[0] == '/' || rest[0] == '\\')) rest.remove_prefix(1);

  size_t auth_end = 0;
  while (auth_end < rest.size() && rest[auth_end] != '/' && rest[auth_end] != '\\' && rest[auth_end] != '?' &&
         rest[auth_end] != '#')
    auth_end++;
  if (auth_end == rest.size()) auth_end = std::string_view::npos;
  std::string_view auth = rest.substr(0, auth_end);
  rest = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);

  size_t at = auth.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view info = auth.substr(0, at);
    auth.remove_prefix(at + 1);
    size_t c = info.find(':');
    std::string user, pass;
    encode_into(user, info.substr(0, c), in_userinfo_set);
    if (c != std::string_view::npos) encode_into(pass, info.substr(c + 1), in_userinfo_set);
    u.userinfo = user;
    if (!pass.empty()) u.userinfo += ":" + pass;
    if (auth.empty()) return fail(why, UrlError::host, "empty host");
  }

  // Port: after the last ':' that is not inside brackets.
  std::string_view hostpart = auth;
  size_t pc = std::string_view::npos;
  bool inside = false;
  for (size_t i = 0; i < auth.size(); i++) {
    if (auth[i] == '[') inside = true;
    else if (auth[i] == ']') inside = false;
    else if (auth[i] == ':' && !inside) { pc = i; break; }
  }
  if (pc != std::string_view::npos) {
    hostpart = auth.substr(0, pc);
    std::string_view ps = auth.substr(pc + 1);
    for (char c : ps)
      if (c < '0' || c > '9') return fail(why, UrlError::port, "bad port", ps);
    if (!ps.empty()) {
      uint32_t v = 0;
      for (char c : ps) {
        v = v * 10 + uint32_t(c - '0');
        if (v > 65535) return fail(why, UrlError::port, "port out of range", ps);
      }
      u.port = uint16_t(v);
    }
  }
  if (UrlError e = parse_host(hostpart, u, why); e != UrlError::none) return e;

  size_t q = rest.find('#');
  if (q != std::string_view::npos) {
    u.fragment = "#";
    encode_into(u.fragment, rest.substr(q + 1), in_fragment_set);
    rest = rest.substr(0, q);
  }
  q = rest.find('?');
  if (q != std::string_view::npos) {
    u.query = "?";
    encode_into(u.query, rest.substr(q + 1), [](unsigned char c) { return in_query_set(c, true); });
    rest = rest.substr(0, q);
  }
  parse_path(rest, u);
  return UrlError::none;
}

void Url::append_authority(std::string& out) const {
  if (kind == HostKind::ipv6) out += '[';
  out += host;
  if (kind == HostKind::ipv6) out += ']';
  if (default_port()) return;
  char digits[8], *end = digits + sizeof digits, *p = end;
  for (unsigned v = port; p == end || v; v /= 10) *--p = char('0' + v % 10);
  *--p = ':';
  out.append(p, size_t(end - p));
}

std::string Url::authority() const {
  std::string a;
  append_authority(a);
  return a;
}

UrlError resolve_url(const Url& base, std::string_view ref, Url& out, std::string* why) {
  // Leading and trailing C0 controls and spaces go, as parse_url drops them.
  while (!ref.empty() && (unsigned char)ref.front() <= 0x20) ref.remove_prefix(1);
  while (!ref.empty() && (unsigned char)ref.back() <= 0x20) ref.remove_suffix(1);
  std::string scheme = base.https ? "https:" : "http:";
  size_t i = 0;
  if (!ref.empty() && isalpha((unsigned char)ref[0])) {
    while (i < ref.size() && (isalnum((unsigned char)ref[i]) || ref[i] == '+' || ref[i] == '-' || ref[i] == '.')) i++;
    if (i < ref.size() && ref[i] == ':') {
      std::string s(ref.substr(0, i + 1));
      for (auto& c : s) c = char(tolower((unsigned char)c));
      std::string_view rest = ref.substr(i + 1);
      bool authority = rest.size() >= 2 && (rest[0] == '/' || rest[0] == '\\') && (rest[1] == '/' || rest[1] == '\\');
      // "http:foo" or "http:/foo" against an http base is relative (WHATWG's
      // special relative state); "http://..." or another scheme is absolute.
      if (s != scheme || authority) return parse_url(ref, out, why);
      ref = rest;
    }
  }
  auto slash = [](char c) { return c == '/' || c == '\\'; };
  std::string auth = "//" + (base.userinfo.empty() ? "" : base.userinfo + "@") + base.authority();
  std::string whole;
  if (ref.size() >= 2 && slash(ref[0]) && slash(ref[1])) whole = scheme + std::string(ref);
  else if (!ref.empty() && slash(ref[0])) whole = scheme + auth + std::string(ref);
  else if (ref.empty()) whole = scheme + auth + base.path + base.query;
  else if (ref[0] == '?') whole = scheme + auth + base.path + std::string(ref);
  else if (ref[0] == '#') whole = scheme + auth + base.path + base.query + std::string(ref);
  else whole = scheme + auth + base.path.substr(0, base.path.rfind('/') + 1) + std::string(ref);
  return parse_url(whole, out, why);
}

std::string Url::href() const {
  std::string h = https ? "https://" : "http://";
  if (!userinfo.empty()) h += userinfo + "@";
  return h + authority() + path + query + fragment;
}

std::string_view guess_scheme(std::string_view in) {
  // curl's test (Curl_is_absolute_url when guessing): scheme characters, then
  // ":/". Without the slash, "host:port" and "user:pass@host" are no scheme.
  size_t i = 0;
  while (i < in.size() && i < 40 && is_scheme_char(in[i])) i++;
  std::string_view rest = in.substr(i);
  auto is = [&](std::string_view name) { return i == name.size() && strncasecmp(in.data(), name.data(), i) == 0; };
  if (i > 0 && rest.substr(0, 2) == ":/") return "";
  if (rest.substr(0, 1) == ":" && (is("http") || is("https"))) return "";  // "http:x.example": WHATWG's reading
  static constexpr std::string_view by_label[] = {"ftp://", "dict://", "ldap://", "imap://", "smtp://", "pop3://"};
  for (std::string_view p : by_label) {
    size_t n = p.size() - 3;  // the label: "ftp" of "ftp.example.com"
    if (in.size() > n && in[n] == '.' && strncasecmp(in.data(), p.data(), n) == 0) return p;
  }
  return "http://";
}

std::string mask_password(std::string_view s) {
  if (s.find('@') == std::string_view::npos) return std::string(s);  // the common case, at once
  std::string out;
  size_t from = 0;
  for (size_t sep; (sep = s.find("://", from)) != std::string_view::npos;) {
    size_t start = sep + 3, end = start;
    while (end < s.size() && !strchr("/\\?#\" \t", s[end])) end++;
    std::string_view auth = s.substr(start, end - start);
    size_t at = auth.rfind('@'), colon = auth.find(':');
    out.append(s.substr(from, start - from));
    if (at != std::string_view::npos && colon < at) {
      out.append(auth.substr(0, colon + 1));
      out += "***";
      out.append(auth.substr(at));
    } else {
      out.append(auth);
    }
    from = end;
  }
  out.append(s.substr(from));
  return out;
}

std::string credentials(const Url& u) {
  std::string out = percent_decode(u.userinfo);
  // "user" alone is "user:" to Basic auth, as curl sends it.
  if (!out.empty() && u.userinfo.find(':') == std::string::npos) out += ':';
  return out;
}

std::string Url::origin_key() const {
  std::string h = kind == HostKind::ipv6 ? "[" + host + "]" : host;
  return (https ? "https://" : "http://") + h + ":" + std::to_string(port);
}

}  // namespace fanout
