// HTTP/2 for the engine: a client Session that lives on a connection (and
// goes back to the pool with it), the request as HTTP/2 fields, and the
// response's fields as the head the jobs read. The request under way on
// the connection hears its stream's events through `to`.
#pragma once
#include <string>
#include <vector>

#include "fanout/h2_session.hpp"
#include "fanout/http.hpp"
#include "fanout/url.hpp"

namespace fanout {

struct H2Link final : h2::Handler {
  h2::Session s;
  h2::Handler* to = nullptr;  // the engine whose stream is under way, or none
  explicit H2Link(h2::Session::Options o) : s(h2::Session::client, *this, o) {}
  void on_headers(uint32_t id, std::vector<h2::Field>& f, bool end) override {
    if (to) to->on_headers(id, f, end);
  }
  void on_data(uint32_t id, const uint8_t* p, size_t n, bool end) override {
    if (to) to->on_data(id, p, n, end);
  }
  void on_reset(uint32_t id, uint32_t code, const char* why) override {
    if (to) to->on_reset(id, code, why);
  }
  void on_goaway(uint32_t last, uint32_t code) override {
    if (to) to->on_goaway(last, code);
  }
};

// The request (RFC 9113 §8.3.1): the pseudo-header fields, then
// user-agent, accept, authorization as http::request() has them, then -H
// headers in lower case. Host becomes :authority; the fields HTTP/2 does
// not allow (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
// Upgrade: §8.2.2) are left out.
void request_fields(const Url& url, bool head, const std::vector<std::string>& extra, std::vector<h2::Field>& out);

// A response head from its fields (§8.3.2): ":status" first, three digits,
// and no other pseudo-header; upper case in a name is malformed (§8.2.1).
// nullptr, or what is wrong.
const char* response_head(const std::vector<h2::Field>& f, http::Head& head);

}  // namespace fanout
