// HTTP/2 for the engine: a client Session that lives on a connection (and
// goes back to the pool with it), the request as HTTP/2 fields, and the
// response's fields as the head the jobs read. The request under way on
// the connection hears its stream's events through `to`.
#pragma once
#include <string>
#include <vector>

#include "fanout/core.hpp"
#include "fanout/h2_session.hpp"
#include "fanout/http.hpp"
#include "fanout/url.hpp"

namespace fanout {

// One request's stream: hears its events from the link. `parked` is the
// driver's: what to wake when the stream hears something (a loop's waiter).
struct H2Stream : h2::Handler {
  void* parked = nullptr;
  bool heard = false;  // something came since the driver last looked
 protected:
  ~H2Stream() = default;
};

// A connection's HTTP/2 side: the session, and the streams under way on
// it, each routed its own events. A blocking worker carries one stream at
// a time; a loop carries up to --max-streams, and reads for all of them
// in one place (fetch_async.cpp's pump).
struct H2Link final : h2::Handler {
  h2::Session s;
  explicit H2Link(h2::Session::Options o) : s(h2::Session::client, *this, o) {}
  // A stream for the request's fields, its events to `to`; 0 when the
  // connection takes no new stream.
  uint32_t open(H2Stream& to, const std::vector<h2::FieldView>& f);
  // The stream is over for its request: reset it (CANCEL) if it still runs.
  void close(uint32_t id);
  size_t streams() const { return streams_.size(); }
  // Room for another stream: the server's limit and ours (max).
  bool room(size_t max) const { return s.can_open() && streams_.size() < max; }
  // Bytes read from the connection; 0 bytes is its end.
  void feed(const char* p, size_t n);
  bool eof = false;  // the peer closed the connection
  Failure broke;     // a read or write on it failed (a loop's pump says how)
  bool over() const { return eof || s.dead() || broke.cause != Cause::none; }  // no stream goes on here
  void hear_all();   // every stream hears: the connection is over
  // Streams that heard something since the driver last took them.
  std::vector<H2Stream*>& heard() { return heard_; }
  void* pump = nullptr;    // a loop's pump (the one reader and writer) while it waits
  // A write that said "again" must be made again with the same length
  // (mbedTLS answers for the length it was first given), though out() grew.
  size_t retry_len = 0;
  size_t unsent = 0;       // streams whose requests are in out() and not yet sent
  uint64_t opened = 0, counted = 0;  // streams opened here; those counted in the pool's stats
  size_t most = 0;                   // streams at once, at most

  void on_headers(uint32_t id, std::span<const h2::Field> f, bool end) override {
    if (H2Stream* to = find(id)) to->on_headers(id, f, end);
  }
  void on_data(uint32_t id, const uint8_t* p, size_t n, bool end) override {
    if (H2Stream* to = find(id)) to->on_data(id, p, n, end);
  }
  void on_reset(uint32_t id, uint32_t code, const char* why) override {
    if (H2Stream* to = find(id)) to->on_reset(id, code, why);
  }
  void on_goaway(uint32_t, uint32_t) override {}

 private:
  H2Stream* find(uint32_t id);  // and marks it heard
  struct Slot {  // (trivially copied: closing one moves the rest with memmove)
    uint32_t id;
    H2Stream* to;
  };
  std::vector<Slot>::iterator at(uint32_t id);
  std::vector<Slot> streams_;  // in the order of their ids
  std::vector<H2Stream*> heard_;
};

// The request (RFC 9113 §8.3.1): the pseudo-header fields, then
// user-agent, accept, authorization as http::request() has them, then -H
// headers in lower case. Host becomes :authority; the fields HTTP/2 does
// not allow (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
// Upgrade: §8.2.2) are left out.
// The fields are views into url, extra and text (which this fills).
void request_fields(const Url& url, bool head, const std::vector<std::string>& extra, std::string& text,
                    std::vector<h2::FieldView>& out);

// A response head from its fields (§8.3.2): ":status" first, three digits,
// and no other pseudo-header; upper case in a name is malformed (§8.2.1).
// nullptr, or what is wrong.
const char* response_head(std::span<const h2::Field> f, http::Head& head);

}  // namespace fanout
