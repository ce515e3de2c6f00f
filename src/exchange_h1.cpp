// HTTP/1.1's exchange: the request's bytes out, the response's bytes
// through the parser to the request's hearer.
#include "fanout/exchange.hpp"

namespace fanout {
namespace {

// A head that keeps growing without ending (blank lines before it do not
// count in the parser's own limit): give up at twice the limit.
constexpr size_t kMaxCarry = 2 * http::ResponseParser::kMaxHeadBytes;

struct BodyCtx {
  Hearer& to;
  Result& r;
};

void on_body(void* ctx, const char* p, size_t n) {
  auto* b = static_cast<BodyCtx*>(ctx);
  b->r.bytes += n;
  b->to.body(p, n);
}

Failure parse_failure(const http::ResponseParser& p) {
  return {Cause::http, std::string("http: ") + p.error_message(), p.error_code()};
}

}  // namespace

void Http1Exchange::request(const Url& url, bool head, const std::vector<std::string>& headers) {
  url_ = &url;
  headers_ = &headers;
  head_request_ = head;
  req_.clear();
  off_ = 0;
}

bool Http1Exchange::start(const Url& url, bool head, const std::vector<std::string>& headers) {
  request(url, head, headers);
  carry_.clear();
  parser_.reset(head);
  return true;
}

std::string_view Http1Exchange::unsent() {
  if (req_.empty()) req_ = http::request(*url_, head_request_, *headers_, true, absolute_, proxy_auth_ ? *proxy_auth_ : std::string_view());
  return std::string_view(req_).substr(off_);
}

bool Http1Exchange::sent(size_t n) {
  off_ += n;
  return off_ >= req_.size();
}

// The parser's events for buf: the head and body go to the hearer. used:
// the bytes consumed; the rest is a head still incomplete.
Heard Http1Exchange::deliver(const char* buf, size_t n, size_t& used) {
  BodyCtx ctx{to_, r_};
  used = 0;
  for (;;) {
    auto s = parser_.feed(buf + used, n - used, on_body, &ctx);
    used += s.used;
    switch (s.ev) {
      case http::ResponseParser::head:
        r_.status = parser_.status();
        r_.version = parser_.minor_version() == 0 ? 10 : 11;
        parser_.head_view(head_);
        to_.head(head_);
        continue;
      case http::ResponseParser::done:
        return Heard::ended(parser_.keep_alive() && used == n);  // nothing unasked-for after it
      case http::ResponseParser::error:
        return Heard::fail(Heard::bad, parse_failure(parser_));
      case http::ResponseParser::more:
        if (s.used == 0) return {};
    }
  }
}

Heard Http1Exchange::received(const char* p, size_t n) {
  if (n == 0) {  // the peer closed: the end of a close-delimited body, or too soon
    // (On a reused connection before any byte, the server had closed it
    // just as it was taken: the engine gives it one more go, on a new one.)
    if (parser_.finish().ev != http::ResponseParser::done) return Heard::fail(Heard::failed, parse_failure(parser_));
    return Heard::ended(false);
  }
  to_.first_byte();
  bool carried = !carry_.empty();
  if (carried) carry_.append(p, n);
  const char* buf = carried ? carry_.data() : p;
  size_t len = carried ? carry_.size() : n;
  size_t used = 0;
  Heard h = deliver(buf, len, used);
  if (h.what != Heard::more) return h;
  // What is left is a head still incomplete: keep it for the next read.
  if (carried) carry_.erase(0, used);
  else carry_.assign(p + used, n - used);
  if (carry_.size() >= kMaxCarry)
    return Heard::fail(Heard::bad, {Cause::http, "http: response head larger than " +
                                                     std::to_string(http::ResponseParser::kMaxHeadBytes) + " bytes", 27});
  return h;
}

}  // namespace fanout
