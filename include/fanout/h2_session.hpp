// One HTTP/2 connection without I/O (RFC 9113), for either end: fanout is
// the client, tools/origin the server, on this one code (STYLE 13, as
// nghttp2's session). Bytes from the peer go in through feed(); what they
// mean comes out as calls on a Handler; bytes to send collect in out().
//
// The session keeps the settings, both flow-control windows of the
// connection and of each stream, HPACK's two tables, header blocks split
// over CONTINUATION, PING answers and GOAWAY. It says nothing about what a
// request or a response means: its handler gets the header fields as sent.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fanout/h2.hpp"
#include "fanout/hpack.hpp"

namespace fanout::h2 {

struct Field {
  std::string name, value;
};
// A field to send, its bytes held elsewhere (a request's, made per request).
struct FieldView {
  std::string_view name, value;
};

class Handler {
 public:
  // A whole header block: a response head (or an interim 1xx one, or
  // trailers) for a client; a request for a server.
  virtual void on_headers(uint32_t stream, std::span<const Field> fields, bool end_stream) = 0;
  // Body bytes (the session opens the windows again once this returns).
  virtual void on_data(uint32_t stream, const uint8_t* p, size_t n, bool end_stream) = 0;
  // The stream ended without its end: the peer's RST_STREAM (why null), or
  // a stream error found here, for which RST_STREAM is in out() (why says).
  virtual void on_reset(uint32_t stream, uint32_t code, const char* why) = 0;
  // GOAWAY: streams above last were not processed and may go again
  // elsewhere; no new stream opens here.
  virtual void on_goaway(uint32_t last, uint32_t code) = 0;
  // The peer's windows opened (a server sending a body it could not finish).
  virtual void on_writable() {}

 protected:
  ~Handler() = default;
};

class Session {
 public:
  enum Role { client, server };
  struct Options {
    uint32_t max_streams = 100;          // SETTINGS_MAX_CONCURRENT_STREAMS: the peer may open (server)
    uint32_t window = 1 << 20;           // each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE)
    uint32_t connection_window = 1 << 24;
    uint32_t max_header_list = 64 * 1024;  // SETTINGS_MAX_HEADER_LIST_SIZE
  };
  // A client's out() starts with the preface, a server's with its
  // SETTINGS; both with the connection's WINDOW_UPDATE.
  Session(Role role, Handler& h, Options o);
  Session(Role role, Handler& h) : Session(role, h, Options{}) {}

  // Bytes from the peer, any amount. false: the connection is over (a
  // GOAWAY is in out() if one is owed; why() says what went wrong).
  bool feed(const uint8_t* p, size_t n);
  std::string& out() { return out_; }  // to send; the caller erases what it sent
  bool dead() const { return dead_; }
  const char* why() const { return why_; }
  uint32_t error() const { return error_; }  // the code of a connection error, or the peer's GOAWAY

  // Client: a new stream with these fields, sent as one block (HEADERS and
  // CONTINUATION); 0 when none may open now (see can_open).
  uint32_t request(const Field* f, size_t n, bool end_stream);
  uint32_t request(const FieldView* f, size_t n, bool end_stream);
  bool can_open() const;
  size_t open_streams() const { return streams_.size(); }
  // Server: a response head on a stream the client opened.
  void respond(uint32_t stream, const Field* f, size_t n, bool end_stream);
  // DATA, as much as the peer's windows take now; returns how much.
  size_t send_data(uint32_t stream, const char* p, size_t n, bool end_stream);
  void reset(uint32_t stream, uint32_t code);  // RST_STREAM; the stream is forgotten
  void goaway(uint32_t code, const char* why);
  void ping(const char opaque[8]);
  // Raw frames, for origin's faults: what a broken peer would send.
  void raw(std::string_view bytes) { out_ += bytes; }
  uint32_t peer_max_frame() const { return peer_.max_frame; }
  uint32_t pings_answered() const { return pings_; }

 private:
  struct Stream {
    uint32_t id;
    int64_t send_window;
    uint32_t recv_window, recv_unacked;
    bool remote_closed = false, local_closed = false;
    bool head_seen = false;  // a final (non-1xx) head arrived, so a next block is trailers
  };
  struct Settings {
    uint32_t table = 4096, max_streams = UINT32_MAX, window = 65535, max_frame = kMinMaxFrame, max_list = UINT32_MAX;
  };
  bool frame(const Frame& f);
  bool headers(const Frame& f);
  bool end_block(uint32_t stream, bool end_stream);
  bool data(const Frame& f);
  bool settings(const Frame& f);
  bool fail(uint32_t code, const char* why);
  void stream_error(Stream& s, uint32_t code, const char* why);
  template <class F>
  void block(uint8_t type, uint32_t stream, const F* f, size_t n, bool end_stream);
  template <class F>
  uint32_t open(const F* f, size_t n, bool end_stream);
  void credit(Stream* s, size_t n);
  void close_if_done(Stream& s);
  Stream* find(uint32_t id);
  void forget(uint32_t id);

  Role role_;
  Handler& h_;
  Options opt_;
  Settings peer_;
  hpack::Decoder dec_;
  hpack::Encoder enc_;
  std::string in_, out_;  // in_: an incomplete frame, kept until the rest comes
  size_t preface_left_;   // server: bytes of the client preface still to check
  std::vector<Stream> streams_;
  std::vector<Field> fields_;
  std::string block_;           // a header block being gathered
  std::string block_out_;       // one being made
  uint32_t block_stream_ = 0;   // its stream, while CONTINUATION is due
  bool block_end_stream_ = false;
  uint32_t next_id_, last_peer_id_ = 0;
  int64_t send_window_ = 65535;
  uint32_t recv_window_, recv_unacked_ = 0;
  bool settings_seen_ = false, goaway_seen_ = false, dead_ = false;
  uint32_t error_ = 0, pings_ = 0;
  const char* why_ = nullptr;
};

}  // namespace fanout::h2
