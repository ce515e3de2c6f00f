// HTTP/1.1 response parsing as RFC 9112 says a client should: no obs-fold,
// one agreed Content-Length, chunked only as the final transfer coding.
// Lines end in CRLF, and a bare LF is accepted too (RFC 9112 §2.2 allows a
// recipient to; curl, browsers and the small servers on routers do it); a
// CR not followed by LF is an error. Errors are strings that name the fault.
#include "fanout/http.hpp"

#include <climits>
#include <cstring>
#include <ctime>

namespace fanout::http {

// An HTTP date in any of RFC 9110's three forms (5.6.7: IMF-fixdate, RFC
// 850, asctime), as seconds since 1970; INT64_MIN if it is none.
int64_t parse_date(std::string_view v) {
  std::string s(trim(v));
  tm t{};
  const char* end = nullptr;
  for (const char* form : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    t = tm{};
    if ((end = strptime(s.c_str(), form, &t)) && !*end) break;
  }
  if (!end || *end) return INT64_MIN;
  // In 64 bits, not time_t's: a date past 2038 is no date at all to
  // timegm() on a 32-bit board (armhf, mipsel).
  int64_t y = t.tm_year + 1900, m = t.tm_mon + 1;
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + t.tm_mday - 1;
  int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;  // since 1970-01-01
  int64_t at = days * 86400 + t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec;
  return at;
}

std::string format_date(int64_t t) {
  time_t tt = time_t(t);
  tm g{};
  gmtime_r(&tt, &g);
  char b[40];
  strftime(b, sizeof b, "%a, %d %b %Y %H:%M:%S GMT", &g);
  return b;
}

namespace {

bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}
int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
bool bad_text(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

}  // namespace

std::string check_header_arg(std::string_view h) {
  size_t colon = h.find(':');
  if (colon == std::string_view::npos || colon == 0) return "expected \"Name: value\"";
  for (size_t i = 0; i < colon; i++)
    if (!is_tchar(h[i])) return "bad character in header name";
  for (unsigned char c : h.substr(colon + 1))
    if (bad_text(c)) return "control character in header value";
  return "";
}

// ASCII case folding (header names are ASCII; the C library's tolower is a
// call per byte).
static char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; }

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void ResponseParser::head_view(Head& h) const {
  h.status = status_;
  h.version = minor_ == 0 ? "1.0" : "1.1";
  h.headers.resize(nheaders_);
  for (size_t i = 0; i < nheaders_; i++) h.headers[i] = header(i);
}

void ResponseParser::reset(bool head_request) {
  *this = ResponseParser();
  head_request_ = head_request;
}

Header ResponseParser::header(size_t i) const {
  const Off& o = hdr_[i];
  return {std::string_view(base_ + o.name, o.name_len), std::string_view(base_ + o.value, o.value_len)};
}

ResponseParser::Step ResponseParser::fail(const char* why, size_t used, int code) {
  state_ = s_error;
  error_ = why;
  if (!code_) code_ = code;  // finish_head() may have said
  return {used, error};
}

ResponseParser::Step ResponseParser::feed(const char* p, size_t n, BodyFn fn, void* ctx) {
  switch (state_) {
    case s_head: return feed_head(p, n);
    case s_done: return {0, done};
    case s_error: return {0, error};
    case s_body: break;
  }
  if (body_ == Body::length) {
    size_t take = n < remaining_ ? n : size_t(remaining_);
    if (take) fn(ctx, p, take);
    remaining_ -= take;
    if (remaining_ == 0) { state_ = s_done; return {take, done}; }
    return {take, more};
  }
  if (body_ == Body::eof) {
    if (n) fn(ctx, p, n);
    return {n, more};
  }
  return feed_chunked(p, n, fn, ctx);
}

ResponseParser::Step ResponseParser::feed_head(const char* p, size_t n) {
  if (n) started_ = true;
  // Blank lines before the status line are skipped (a server's stray CRLF
  // after the previous body).
  if (line_no_ == 0 && scanned_ == skip_) {
    for (;;) {
      if (skip_ < n && p[skip_] == '\n') skip_++;
      else if (skip_ + 1 < n && p[skip_] == '\r' && p[skip_ + 1] == '\n') skip_ += 2;
      else break;
    }
    scanned_ = skip_;
    if (skip_ < n && p[skip_] == '\r' && skip_ + 1 == n) return {0, more};
    size_t have = n - skip_ < 5 ? n - skip_ : 5;  // fail fast on a non-HTTP peer
    if (memcmp(p + skip_, "HTTP/", have) != 0) return fail("response does not start with HTTP/");
  }
  for (;;) {
    size_t pos = scanned_, end = pos;
    if (line_no_ == 1 && pos < n && (p[pos] == ' ' || p[pos] == '\t'))  // fail at once
      return fail("space after status line");
    while (end < n && p[end] != '\r' && p[end] != '\n') end++;
    if (end >= n || (p[end] == '\r' && end + 1 >= n)) {
      if (n - skip_ > kMaxHeadBytes) return fail("response head larger than 32768 bytes", 0, 27);
      return {0, more};
    }
    if (p[end] == '\r' && p[end + 1] != '\n') return fail("CR without LF in response head");
    size_t next = end + (p[end] == '\r' ? 2 : 1);
    if (next - skip_ > kMaxHeadBytes) return fail("response head larger than 32768 bytes", 0, 27);
    const char* why = nullptr;
    if (line_no_ == 0) {
      why = check_status_line(p + pos, end - pos);
    } else if (end == pos) {  // the empty line: the head is complete
      base_ = p;
      if ((why = finish_head())) return fail(why);
      if (status_ >= 100 && status_ < 200) {  // interim: parse the next head
        bool h = head_request_;
        int interim = interim_ + 1;
        reset(h);
        interim_ = interim;
        return {next, more};
      }
      state_ = body_ == Body::none || (body_ == Body::length && remaining_ == 0) ? s_done : s_body;
      return {next, head};
    } else {
      why = check_header_line(p, pos, end - pos);
    }
    if (why) return fail(why);
    scanned_ = next;
    line_no_++;
  }
}

const char* ResponseParser::check_status_line(const char* p, size_t n) {
  if (n < 12 || memcmp(p, "HTTP/", 5) != 0) return "bad status line";
  if (p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
    return "bad HTTP version";
  int major = p[5] - '0', minor = p[7] - '0';
  if (!(major == 1 && minor <= 1) && !(major == 0 && minor == 9)) return "unsupported HTTP version";
  minor_ = major == 1 ? minor : 0;
  if (p[8] != ' ') return "expected one space after HTTP version";
  for (int i = 9; i < 12; i++)
    if (p[i] < '0' || p[i] > '9') return "bad status code";
  status_ = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  if (n > 12 && p[12] != ' ') return "bad status code";
  if (status_ < 100) return "unsupported status code (below 100)";  // curl: "Unsupported response code"
  for (size_t i = 13; i < n; i++)
    if (bad_text(p[i])) return "control character in reason phrase";
  return nullptr;
}

const char* ResponseParser::check_header_line(const char* base, size_t off, size_t n) {
  const char* p = base + off;
  if (p[0] == ' ' || p[0] == '\t') {
    if (line_no_ == 1) return "space after status line";
    return unfold(base, off, n);
  }
  size_t i = 0;
  while (i < n && is_tchar(p[i])) i++;
  if (i == 0 || i == n || p[i] != ':') return "bad header name";
  std::string_view name(p, i), value = trim(std::string_view(p + i + 1, n - i - 1));
  for (unsigned char c : value)
    if (bad_text(c)) return "control character in header value";
  if (nheaders_ == kMaxHeaders) return "more than 100 headers";
  hdr_[nheaders_++] = {uint16_t(off), uint16_t(i), uint16_t(value.data() - base), uint16_t(value.size())};

  if (ieq(name, "Content-Length")) {
    if (value.empty()) return "bad Content-Length";
    uint64_t v = 0;
    for (unsigned char c : value) {
      if (c < '0' || c > '9') return "bad Content-Length";
      if (v > (UINT64_MAX >> 1) / 10) return "Content-Length too large";
      v = v * 10 + (c - '0');
    }
    if (has_cl_ && v != content_length_) return "conflicting Content-Length headers";
    has_cl_ = true;
    content_length_ = v;
  } else if (ieq(name, "Transfer-Encoding")) {
    has_te_ = true;
    size_t comma = value.rfind(',');
    te_chunked_ = ieq(trim(comma == std::string_view::npos ? value : value.substr(comma + 1)), "chunked");
    // A coding fanout does not undo (gzip ...) would hand on a body that is
    // not the resource: an error, as curl's 61.
    for (std::string_view v = value; !v.empty();) {
      size_t c = v.find(',');
      std::string_view coding = trim(v.substr(0, c));
      if (!coding.empty() && !ieq(coding, "chunked") && !ieq(coding, "identity")) te_other_ = true;
      v = c == std::string_view::npos ? std::string_view() : v.substr(c + 1);
    }
  } else if (ieq(name, "Connection")) {
    note_connection(value);
  }
  return nullptr;
}

void ResponseParser::note_connection(std::string_view value) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view tok = trim(value.substr(0, comma));
    if (ieq(tok, "close")) conn_close_ = true;
    if (ieq(tok, "keep-alive")) conn_keep_alive_ = true;
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
  }
}

// obs-fold: a line starting with whitespace continues the header before it
// (RFC 9112 5.2: a user agent accepts it). The value's view then spans the
// fold as received. A folded Content-Length or Transfer-Encoding could be
// read differently by different parsers, so those stay errors; a folded
// Connection only continues its list of tokens.
const char* ResponseParser::unfold(const char* base, size_t off, size_t n) {
  Off& h = hdr_[nheaders_ - 1];
  std::string_view name(base + h.name, h.name_len);
  if (ieq(name, "Content-Length") || ieq(name, "Transfer-Encoding"))
    return "folded Content-Length or Transfer-Encoding header";
  std::string_view more = trim(std::string_view(base + off, n));
  for (unsigned char c : more)
    if (bad_text(c)) return "control character in header value";
  if (ieq(name, "Connection")) note_connection(more);
  if (more.empty()) return nullptr;
  size_t end = size_t(more.data() - base) + more.size();
  if (h.value_len == 0) h.value = uint16_t(more.data() - base);
  h.value_len = uint16_t(end - h.value);
  return nullptr;
}

const char* ResponseParser::finish_head() {
  if (status_ == 101) return "unexpected 101 Switching Protocols";
  if (status_ < 200) return nullptr;
  if (has_te_ && has_cl_) return "both Transfer-Encoding and Content-Length";
  if (te_other_) {
    code_ = 61;  // CURLE_BAD_CONTENT_ENCODING
    return "unsupported Transfer-Encoding (fanout undoes chunked only)";
  }
  keep_alive_ = minor_ >= 1 ? !conn_close_ : conn_keep_alive_ && !conn_close_;
  if (head_request_ || status_ == 204 || status_ == 304) body_ = Body::none;
  else if (has_te_) body_ = te_chunked_ ? Body::chunked : Body::eof;
  else if (has_cl_) body_ = Body::length;
  else body_ = Body::eof;
  if (body_ == Body::eof) keep_alive_ = false;
  remaining_ = body_ == Body::length ? content_length_ : 0;
  return nullptr;
}

ResponseParser::Step ResponseParser::feed_chunked(const char* p, size_t n, BodyFn fn, void* ctx) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (chunk_ == c_data) {
      size_t take = n - i < remaining_ ? n - i : size_t(remaining_);
      fn(ctx, p + i, take);
      i += take;
      remaining_ -= take;
      if (remaining_ == 0) chunk_ = c_data_cr;
      continue;
    }
    if (++trailer_bytes_ > kMaxTrailerBytes) return fail("chunk header or trailers too large", i, 56);
    if (c == '\n' && (chunk_ == c_size_more || chunk_ == c_ext_name || chunk_ == c_ext_token ||
                      chunk_ == c_ext_after_quote))
      chunk_ = c_size_lf;  // a bare LF ends the size line: handled as its LF below
    int h = hexval(c);
    switch (chunk_) {
      case c_size:
        if (h < 0) return fail("bad chunk size", i, 56);
        remaining_ = uint64_t(h);
        chunk_ = c_size_more;
        break;
      case c_size_more:
        if (h >= 0) {
          if (remaining_ >> 59) return fail("chunk size too large", i, 56);
          remaining_ = remaining_ * 16 + uint64_t(h);
        } else if (c == ';') {
          chunk_ = c_ext_name_start;
        } else if (c == '\r') {
          chunk_ = c_size_lf;
        } else if (c == ' ' || c == '\t') {
          chunk_ = c_size_ws;  // BWS before an extension (RFC 9112 7.1.1)
        } else {
          return fail("bad chunk size", i, 56);
        }
        break;
      case c_size_ws:  // after BWS only another extension may come
        if (c == ';') chunk_ = c_ext_name_start;
        else if (c != ' ' && c != '\t') return fail("bad chunk size", i, 56);
        break;
      case c_ext_name_start:
        if (c == ' ' || c == '\t') break;  // BWS after ';'
        if (!is_tchar(c)) return fail("bad chunk extension", i, 56);
        chunk_ = c_ext_name;
        break;
      case c_ext_name:
        if (c == '=') chunk_ = c_ext_value_start;
        else if (c == ';') chunk_ = c_ext_name_start;
        else if (c == '\r') chunk_ = c_size_lf;
        else if (c == ' ' || c == '\t') chunk_ = c_ext_name_ws;
        else if (!is_tchar(c)) return fail("bad chunk extension", i, 56);
        break;
      case c_ext_name_ws:  // BWS before '=' or the next ';'
        if (c == '=') chunk_ = c_ext_value_start;
        else if (c == ';') chunk_ = c_ext_name_start;
        else if (c != ' ' && c != '\t') return fail("bad chunk extension", i, 56);
        break;
      case c_ext_value_start:
        if (c == ' ' || c == '\t') break;  // BWS after '='
        if (c == '"') chunk_ = c_ext_quoted;
        else if (is_tchar(c)) chunk_ = c_ext_token;
        else return fail("bad chunk extension", i, 56);
        break;
      case c_ext_token:
        if (c == ';') chunk_ = c_ext_name_start;
        else if (c == '\r') chunk_ = c_size_lf;
        else if (c == ' ' || c == '\t') chunk_ = c_size_ws;
        else if (!is_tchar(c)) return fail("bad chunk extension", i, 56);
        break;
      case c_ext_quoted:
        if (c == '"') chunk_ = c_ext_after_quote;
        else if (c == '\\') chunk_ = c_ext_escape;
        else if (bad_text(c)) return fail("bad chunk extension", i, 56);
        break;
      case c_ext_escape:
        if (bad_text(c)) return fail("bad chunk extension", i, 56);
        chunk_ = c_ext_quoted;
        break;
      case c_ext_after_quote:
        if (c == ';') chunk_ = c_ext_name_start;
        else if (c == '\r') chunk_ = c_size_lf;
        else if (c == ' ' || c == '\t') chunk_ = c_size_ws;
        else return fail("bad chunk extension", i, 56);
        break;
      case c_size_lf:
        if (c != '\n') return fail("expected LF after chunk size", i, 56);
        chunk_ = remaining_ ? c_data : c_trailer_start;
        trailer_bytes_ = 0;
        break;
      case c_data_cr:
        if (c == '\n') {  // a bare LF after the data
          chunk_ = c_size;
          trailer_bytes_ = 0;
          break;
        }
        if (c != '\r') return fail("expected CRLF after chunk data", i, 56);
        chunk_ = c_data_lf;
        break;
      case c_data_lf:
        if (c != '\n') return fail("expected CRLF after chunk data", i, 56);
        chunk_ = c_size;
        trailer_bytes_ = 0;
        break;
      case c_trailer_start:
        if (c == '\n') {  // the empty line, LF only
          state_ = s_done;
          return {i + 1, done};
        }
        if (c == '\r') chunk_ = c_end_lf;
        else if (c == ' ' || c == '\t' || !is_tchar(c)) return fail("bad trailer", i, 56);
        else chunk_ = c_trailer_line;
        break;
      case c_trailer_line:
        if (c == '\r') chunk_ = c_trailer_lf;
        else if (c == '\n') chunk_ = c_trailer_start;
        else if (bad_text(c)) return fail("control character in trailer", i, 56);
        break;
      case c_trailer_lf:
        if (c != '\n') return fail("CR without LF in trailer", i, 56);
        chunk_ = c_trailer_start;
        break;
      case c_end_lf:
        if (c != '\n') return fail("CR without LF after trailers", i, 56);
        state_ = s_done;
        return {i + 1, done};
      case c_data:
        break;
    }
    i++;
  }
  return {n, more};
}

ResponseParser::Step ResponseParser::finish() {
  switch (state_) {
    case s_done: return {0, done};
    case s_error: return {0, error};
    case s_head:
      return started_ || interim_ ? fail("connection closed in the response head")
                                  : fail("empty reply from server", 0, 52);
    case s_body: break;
  }
  if (body_ == Body::eof) { state_ = s_done; return {0, done}; }
  return fail("connection closed before the end of the body", 0, 18);  // CURLE_PARTIAL_FILE
}

}  // namespace fanout::http
