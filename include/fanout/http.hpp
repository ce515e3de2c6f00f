// HTTP/1.1 without I/O: a request writer and an incremental response parser.
//
// The parser allocates nothing. The head (status line and headers) must be
// contiguous in the caller's buffer: until it is complete, feed() consumes
// nothing and the caller presents the same bytes again with more appended
// (validated lines are not scanned twice). The body is streamed: feed()
// consumes what it can and hands body bytes to a callback as spans of the
// caller's buffer, so chunked input fed one byte at a time works.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fanout/url.hpp"

namespace fanout::http {

struct Header {
  std::string_view name, value;
};

// A response head, whichever protocol carried it: what the engine and the
// jobs read. The views last until the call that passes it returns.
struct Head {
  int status = 0;
  const char* version = "1.1";  // curl's http_version: "1.0", "1.1" or "2"
  std::vector<Header> headers;
};

// "GET /x HTTP/1.1\r\nHost: ...". extra holds "Name: value" lines from -H;
// a user header replaces the default of the same name, and "Name:" with an
// empty value removes it, as in curl. absolute: to an http:// proxy (the
// request line names the whole URL), with proxy_auth's header line.
std::string request(const Url& url, bool head, const std::vector<std::string>& extra,
                    bool keep_alive, bool absolute = false, std::string_view proxy_auth = {});
std::string base64(std::string_view in);           // RFC 4648, padded
// An HTTP date (RFC 9110 5.6.7, any of its three forms) as seconds since
// 1970 (INT64_MIN: not one); and one written as IMF-fixdate.
int64_t parse_date(std::string_view v);
std::string format_date(int64_t t);
bool ieq(std::string_view a, std::string_view b);  // ASCII, any case
// -H gave a header of this name (any case): fanout's own default is left out.
bool user_has(const std::vector<std::string>& extra, std::string_view name);
std::string_view trim(std::string_view s);          // spaces and tabs, both ends

// A header that carries a secret: its name holds key, secret, token, auth
// or cookie (any case). It never follows a redirect to another origin.
bool is_secret_header(std::string_view name);
// Checks one -H argument; returns an empty string or what is wrong with it.
std::string check_header_arg(std::string_view h);

class ResponseParser {
 public:
  static constexpr size_t kMaxHeaders = 100;
  static constexpr size_t kMaxHeadBytes = 32 * 1024;  // < 65536: see Off
  static constexpr size_t kMaxTrailerBytes = 32 * 1024;

  enum Ev { more, head, done, error };
  struct Step {
    size_t used;  // bytes of the input consumed
    Ev ev;
  };
  using BodyFn = void (*)(void* ctx, const char* p, size_t n);
  enum class Body { none, length, chunked, eof };

  // head_request: the response has no body whatever its headers say.
  void reset(bool head_request = false);
  // Ev::head: the head is parsed; status(), header(i) point into the bytes
  //   just consumed and stay valid until the caller drops them.
  // Ev::done: the message is complete; used stops at its last byte.
  // Ev::more: everything usable is consumed; call again with more bytes.
  Step feed(const char* p, size_t n, BodyFn fn, void* ctx);
  // The peer closed the connection. Ev::done ends a close-delimited body.
  Step finish();
  // The head just parsed (Ev::head), as a protocol-neutral view.
  void head_view(Head& h) const;

  int status() const { return status_; }
  int minor_version() const { return minor_; }
  size_t header_count() const { return nheaders_; }
  Header header(size_t i) const;
  const char* error_message() const { return error_; }
  // curl's exit code for the error: 52 nothing came, 18 the body was cut,
  // 56 a broken chunked body, 61 a transfer coding fanout does not undo,
  // 27 a head too large, 8 a reply that is not HTTP.
  int error_code() const { return code_; }
  bool keep_alive() const { return keep_alive_; }
  Body body_kind() const { return body_; }
  uint64_t content_length() const { return content_length_; }
  int interim_responses() const { return interim_; }
  bool started() const { return started_; }

 private:
  Step fail(const char* why, size_t used = 0, int code = 8);
  Step feed_head(const char* p, size_t n);
  const char* check_status_line(const char* p, size_t n);
  const char* check_header_line(const char* base, size_t off, size_t n);
  const char* unfold(const char* base, size_t off, size_t n);
  void note_connection(std::string_view value);
  const char* finish_head();
  Step feed_chunked(const char* p, size_t n, BodyFn fn, void* ctx);

  enum State { s_head, s_body, s_done, s_error };
  enum Chunk {
    c_size, c_size_more, c_size_ws, c_ext_name_start, c_ext_name, c_ext_name_ws, c_ext_value_start, c_ext_token,
    c_ext_quoted, c_ext_escape, c_ext_after_quote, c_size_lf, c_data, c_data_cr, c_data_lf,
    c_trailer_start, c_trailer_line, c_trailer_lf, c_end_lf
  };
  // Offsets into the head (at most kMaxHeadBytes, so 16 bits): 800 bytes for
  // 100 headers, which matters in a coroutine frame per request in flight.
  struct Off { uint16_t name, name_len, value, value_len; };

  State state_ = s_head;
  bool head_request_ = false;
  bool started_ = false;
  const char* base_ = nullptr;  // the buffer of the last completed head
  size_t skip_ = 0;             // leading CRLFs before the status line
  size_t scanned_ = 0;          // head bytes already validated
  size_t line_no_ = 0;
  int status_ = 0, minor_ = 1, interim_ = 0;
  size_t nheaders_ = 0;
  Off hdr_[kMaxHeaders];
  const char* error_ = nullptr;
  int code_ = 0;
  bool keep_alive_ = true, has_cl_ = false, has_te_ = false, te_chunked_ = false;
  bool te_other_ = false;  // a transfer coding other than chunked (gzip ...)
  bool conn_close_ = false, conn_keep_alive_ = false;
  Body body_ = Body::none;
  uint64_t content_length_ = 0, remaining_ = 0;
  Chunk chunk_ = c_size;
  size_t trailer_bytes_ = 0;
};

}  // namespace fanout::http
