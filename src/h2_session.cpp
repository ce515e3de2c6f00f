// An HTTP/2 connection: RFC 9113 §5 (streams, flow control), §6 (what each
// frame does) and §8.1 (header blocks), for a client or a server.
#include "fanout/h2_session.hpp"

#include <algorithm>
#include <cstring>

namespace fanout::h2 {
namespace {

void put_setting(std::string& out, uint16_t id, uint32_t v) {
  out += char(id >> 8);
  out += char(id);
  put32(out, v);
}

void put_window_update(std::string& out, uint32_t stream, uint32_t n) {
  put_header(out, 4, WINDOW_UPDATE, 0, stream);
  put32(out, n);
}

// What a peer must not index (RFC 7541 §7.1.3), and what changes with each
// request, which would only push useful entries out of the table.
// (""sv: no strlen() at each call, at -Os.)
hpack::Encoder::Index how(std::string_view name) {
  using namespace std::literals;
  switch (name.size()) {  // only a name of the same length can be one of these
    case 4: return name == "date"sv || name == "etag"sv ? hpack::Encoder::without : hpack::Encoder::incremental;
    case 5: return name == ":path"sv ? hpack::Encoder::without : hpack::Encoder::incremental;
    case 6: return name == "cookie"sv ? hpack::Encoder::never : hpack::Encoder::incremental;
    case 10: return name == "set-cookie"sv ? hpack::Encoder::never : hpack::Encoder::incremental;
    case 13:
      if (name == "authorization"sv) return hpack::Encoder::never;
      return name == "last-modified"sv ? hpack::Encoder::without : hpack::Encoder::incremental;
    case 14: return name == "content-length"sv ? hpack::Encoder::without : hpack::Encoder::incremental;
    case 19: return name == "proxy-authorization"sv ? hpack::Encoder::never : hpack::Encoder::incremental;
    default: return hpack::Encoder::incremental;
  }
}

struct Gather {
  std::vector<Field>& fields;
  size_t count = 0, bytes = 0, limit;
};

bool gather(void* ctx, std::string_view name, std::string_view value) {
  auto& g = *static_cast<Gather*>(ctx);
  g.bytes += name.size() + value.size() + 32;  // RFC 9113 §6.5.2's measure
  if (g.bytes > g.limit) return true;           // decoded on (for the table), no longer kept
  if (g.count == g.fields.size()) g.fields.emplace_back();
  g.fields[g.count].name.assign(name);
  g.fields[g.count].value.assign(value);
  g.count++;
  return true;
}

}  // namespace

Session::Session(Role role, Handler& h, Options o)
    : role_(role), h_(h), opt_(o), preface_left_(role == server ? sizeof kPreface - 1 : 0),
      next_id_(role == client ? 1 : 2), recv_window_(std::max<uint32_t>(o.connection_window, 65535)) {
  if (role == client) out_.assign(kPreface, sizeof kPreface - 1);
  std::string s;
  if (role == client) put_setting(s, ENABLE_PUSH, 0);
  else put_setting(s, MAX_CONCURRENT_STREAMS, o.max_streams);
  put_setting(s, INITIAL_WINDOW_SIZE, o.window);
  put_setting(s, MAX_HEADER_LIST_SIZE, o.max_header_list);
  put_frame(out_, SETTINGS, 0, 0, s.data(), s.size());
  if (recv_window_ > 65535) put_window_update(out_, 0, recv_window_ - 65535);
}

// Streams open in the order of their ids (each side's ids only grow), and
// stay in it: found by halving, not by a walk over up to 100 of them.
Session::Stream* Session::find(uint32_t id) {
  auto it = std::lower_bound(streams_.begin(), streams_.end(), id, [](const Stream& s, uint32_t v) { return s.id < v; });
  return it != streams_.end() && it->id == id ? &*it : nullptr;
}

void Session::forget(uint32_t id) {
  if (Stream* s = find(id)) streams_.erase(streams_.begin() + (s - streams_.data()));
}

bool Session::fail(uint32_t code, const char* why) {
  if (dead_) return false;
  dead_ = true;
  error_ = code;
  why_ = why;
  goaway(code, why);
  return false;
}

void Session::stream_error(Stream& s, uint32_t code, const char* why) {
  uint32_t id = s.id;
  put_header(out_, 4, RST_STREAM, 0, id);
  put32(out_, code);
  forget(id);
  h_.on_reset(id, code, why);
}

void Session::close_if_done(Stream& s) {
  if (s.remote_closed && s.local_closed) forget(s.id);
}

bool Session::feed(const uint8_t* p, size_t n) {
  if (dead_) return false;
  if (!in_.empty()) {  // the rest of a frame: work on the joined bytes
    in_.append(reinterpret_cast<const char*>(p), n);
    p = reinterpret_cast<const uint8_t*>(in_.data());
    n = in_.size();
  }
  size_t off = 0;
  if (preface_left_) {
    size_t k = std::min(n, preface_left_);
    const char* want = kPreface + (sizeof kPreface - 1 - preface_left_);
    if (memcmp(p, want, k) != 0) return fail(PROTOCOL_ERROR, "not the HTTP/2 client preface");
    preface_left_ -= k;
    off = k;
  }
  bool ok = true;
  while (ok && n - off >= kFrameHeader) {
    Frame f;
    if (parse_header(p + off, kMinMaxFrame, f)) {
      ok = fail(FRAME_SIZE_ERROR, "a frame larger than SETTINGS_MAX_FRAME_SIZE");
      break;
    }
    if (n - off - kFrameHeader < f.length) break;
    const uint8_t* payload = p + off + kFrameHeader;
    off += kFrameHeader + f.length;
    if (uint32_t err = parse_payload(payload, f)) {
      Stream* s = f.type == WINDOW_UPDATE && f.stream ? find(f.stream) : nullptr;
      if (s) stream_error(*s, err, "WINDOW_UPDATE of 0");
      else if (!(f.type == WINDOW_UPDATE && f.stream)) ok = fail(err, "a malformed frame");
      continue;
    }
    ok = frame(f);
  }
  if (!ok) {
    in_.clear();
    return false;
  }
  if (p == reinterpret_cast<const uint8_t*>(in_.data())) in_.erase(0, off);
  else in_.assign(reinterpret_cast<const char*>(p) + off, n - off);
  return true;
}

bool Session::frame(const Frame& f) {
  if (block_stream_ && f.type != CONTINUATION) return fail(PROTOCOL_ERROR, "a frame inside a header block");
  if (!settings_seen_ && f.type != SETTINGS) return fail(PROTOCOL_ERROR, "the first frame is not SETTINGS");
  bool idle = role_ == client ? f.stream % 2 == 0 || f.stream >= next_id_ : f.stream % 2 == 1 && f.stream > last_peer_id_;
  switch (f.type) {
    case DATA:
      return data(f);
    case HEADERS:
      return headers(f);
    case CONTINUATION:
      if (f.stream != block_stream_) return fail(PROTOCOL_ERROR, "CONTINUATION without HEADERS");
      block_.append(reinterpret_cast<const char*>(f.data), f.size);
      if (block_.size() > 4 * size_t(opt_.max_header_list) + 65536) return fail(ENHANCE_YOUR_CALM, "a header block without end");
      return f.flags & END_HEADERS ? end_block(f.stream, block_end_stream_) : true;
    case RST_STREAM:
      if (f.stream && idle) return fail(PROTOCOL_ERROR, "RST_STREAM on an idle stream");
      if (find(f.stream)) {
        forget(f.stream);
        h_.on_reset(f.stream, f.error, nullptr);
      }
      return true;
    case SETTINGS:
      return settings(f);
    case PUSH_PROMISE:
      return fail(PROTOCOL_ERROR, "PUSH_PROMISE, though SETTINGS_ENABLE_PUSH is 0");
    case PING:
      if (!(f.flags & ACK)) {
        put_frame(out_, PING, ACK, 0, f.data, 8);
        pings_++;
      }
      return true;
    case GOAWAY: {
      goaway_seen_ = true;
      error_ = f.error;
      std::vector<uint32_t> lost;  // ours the peer never took: they may go again
      for (auto& s : streams_)
        if (s.id > f.last_stream && (s.id % 2 == 1) == (role_ == client)) lost.push_back(s.id);
      for (uint32_t id : lost) {
        forget(id);
        h_.on_reset(id, REFUSED_STREAM, "GOAWAY: the peer never took the stream");
      }
      h_.on_goaway(f.last_stream, f.error);
      return true;
    }
    case WINDOW_UPDATE:
      if (f.stream == 0) {
        send_window_ += f.increment;
        if (send_window_ > kMaxWindow) return fail(FLOW_CONTROL_ERROR, "the connection's window past 2^31 - 1");
      } else if (Stream* s = find(f.stream)) {
        s->send_window += f.increment;
        if (s->send_window > kMaxWindow) stream_error(*s, FLOW_CONTROL_ERROR, "a stream's window past 2^31 - 1");
      } else if (idle) {
        return fail(PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
      }
      h_.on_writable();
      return true;
    default:  // PRIORITY, and types this side does not know (§5.5)
      return true;
  }
}

bool Session::headers(const Frame& f) {
  uint32_t id = f.stream;
  if (role_ == client) {
    if (id % 2 == 0 || id >= next_id_) return fail(PROTOCOL_ERROR, "HEADERS on a stream the client did not open");
  } else if (id % 2 == 0) {
    return fail(PROTOCOL_ERROR, "HEADERS on an even stream");
  } else if (id > last_peer_id_) {
    last_peer_id_ = id;
    if (goaway_seen_ || dead_) return true;
    Stream s{id, peer_.window, opt_.window, 0};
    streams_.push_back(s);
  } else if (!find(id)) {
    return fail(STREAM_CLOSED, "HEADERS on a closed stream");
  }
  block_.assign(reinterpret_cast<const char*>(f.data), f.size);
  block_stream_ = id;
  block_end_stream_ = f.flags & END_STREAM;
  return f.flags & END_HEADERS ? end_block(id, block_end_stream_) : true;
}

bool Session::end_block(uint32_t id, bool end_stream) {
  block_stream_ = 0;
  Gather g{fields_, 0, 0, opt_.max_header_list};
  if (const char* err = dec_.decode(reinterpret_cast<const uint8_t*>(block_.data()), block_.size(), gather, &g))
    return fail(COMPRESSION_ERROR, err);
  Stream* s = find(id);
  if (!s) return true;  // a stream this side reset: the block kept the tables in step, nothing more
  if (role_ == server && streams_.size() > opt_.max_streams) {
    stream_error(*s, REFUSED_STREAM, "past SETTINGS_MAX_CONCURRENT_STREAMS");
    return true;
  }
  if (s->remote_closed) {
    stream_error(*s, STREAM_CLOSED, "HEADERS after the stream's end");
    return true;
  }
  if (g.bytes > g.limit) {
    stream_error(*s, CANCEL, "a header list past SETTINGS_MAX_HEADER_LIST_SIZE");
    return true;
  }
  s->head_seen = true;
  if (end_stream) s->remote_closed = true;
  h_.on_headers(id, std::span<const Field>(fields_.data(), g.count), end_stream);  // (fields_ keeps its strings' room)
  if ((s = find(id))) close_if_done(*s);
  return true;
}

void Session::credit(Stream* s, size_t n) {
  recv_unacked_ += uint32_t(n);
  if (recv_unacked_ >= opt_.connection_window / 2) {
    put_window_update(out_, 0, recv_unacked_);
    recv_window_ += recv_unacked_;
    recv_unacked_ = 0;
  }
  if (!s || s->remote_closed) return;
  s->recv_unacked += uint32_t(n);
  if (s->recv_unacked >= opt_.window / 2) {
    put_window_update(out_, s->id, s->recv_unacked);
    s->recv_window += s->recv_unacked;
    s->recv_unacked = 0;
  }
}

bool Session::data(const Frame& f) {
  uint32_t id = f.stream;
  size_t flow = f.length;  // padding counts too (§6.9.1)
  if (flow > recv_window_) return fail(FLOW_CONTROL_ERROR, "DATA past the connection's window");
  recv_window_ -= uint32_t(flow);
  Stream* s = find(id);
  bool idle = role_ == client ? id % 2 == 0 || id >= next_id_ : id > last_peer_id_;
  if (!s) {
    if (idle) return fail(PROTOCOL_ERROR, "DATA on an idle stream");
    credit(nullptr, flow);  // a stream this side reset: the bytes still count for the connection
    return true;
  }
  if (s->remote_closed || !s->head_seen) {
    stream_error(*s, s->remote_closed ? STREAM_CLOSED : PROTOCOL_ERROR,
                 s->remote_closed ? "DATA after the stream's end" : "DATA before HEADERS");
    credit(nullptr, flow);
    return true;
  }
  if (flow > s->recv_window) {
    stream_error(*s, FLOW_CONTROL_ERROR, "DATA past the stream's window");
    credit(nullptr, flow);
    return true;
  }
  s->recv_window -= uint32_t(flow);
  bool end = f.flags & END_STREAM;
  if (end) s->remote_closed = true;
  h_.on_data(id, f.data, f.size, end);
  s = find(id);  // the handler may have reset it, or opened others
  credit(s, flow);
  if (s) close_if_done(*s);
  return true;
}

bool Session::settings(const Frame& f) {
  settings_seen_ = true;
  if (f.flags & ACK) return true;
  for (size_t i = 0; i < f.settings(); i++) {
    uint16_t id;
    uint32_t v;
    f.setting(i, id, v);
    switch (id) {
      case HEADER_TABLE_SIZE: enc_.set_peer_limit(v); break;
      case MAX_CONCURRENT_STREAMS: peer_.max_streams = v; break;
      case INITIAL_WINDOW_SIZE:  // §6.9.2: every stream's window moves by the difference
        for (auto& s : streams_) {
          s.send_window += int64_t(v) - int64_t(peer_.window);
          if (s.send_window > kMaxWindow) return fail(FLOW_CONTROL_ERROR, "a stream's window past 2^31 - 1");
        }
        peer_.window = v;
        break;
      case MAX_FRAME_SIZE: peer_.max_frame = v; break;
      case MAX_HEADER_LIST_SIZE: peer_.max_list = v; break;
      default: break;
    }
  }
  put_header(out_, 0, SETTINGS, ACK, 0);
  h_.on_writable();
  return true;
}

bool Session::can_open() const {
  return role_ == client && !dead_ && !goaway_seen_ && streams_.size() < peer_.max_streams && next_id_ < kMaxWindow;
}

template <class F>
void Session::block(uint8_t type, uint32_t stream, const F* f, size_t n, bool end_stream) {
  std::string& hb = block_out_;  // (its room kept from block to block)
  hb.clear();
  enc_.begin(hb);
  for (size_t i = 0; i < n; i++) enc_.field(hb, f[i].name, f[i].value, how(f[i].name));
  size_t at = 0;
  do {
    size_t len = std::min<size_t>(hb.size() - at, peer_.max_frame);
    uint8_t flags = at + len == hb.size() ? END_HEADERS : 0;
    if (at == 0 && end_stream) flags |= END_STREAM;
    put_frame(out_, at == 0 ? type : uint8_t(CONTINUATION), flags, stream, hb.data() + at, len);
    at += len;
  } while (at < hb.size());
}

uint32_t Session::request(const Field* f, size_t n, bool end_stream) { return open(f, n, end_stream); }
uint32_t Session::request(const FieldView* f, size_t n, bool end_stream) { return open(f, n, end_stream); }

template <class F>
uint32_t Session::open(const F* f, size_t n, bool end_stream) {
  if (!can_open()) return 0;
  uint32_t id = next_id_;
  next_id_ += 2;
  Stream s{id, peer_.window, opt_.window, 0};
  s.local_closed = end_stream;
  streams_.push_back(s);
  block(HEADERS, id, f, n, end_stream);
  return id;
}

void Session::respond(uint32_t stream, const Field* f, size_t n, bool end_stream) {
  Stream* s = find(stream);
  if (!s || s->local_closed) return;
  block(HEADERS, stream, f, n, end_stream);
  if (end_stream) {
    s->local_closed = true;
    close_if_done(*s);
  }
}

size_t Session::send_data(uint32_t stream, const char* p, size_t n, bool end_stream) {
  Stream* s = find(stream);
  if (!s || s->local_closed) return 0;
  size_t sent = 0;
  for (;;) {
    int64_t room = std::min<int64_t>({send_window_, s->send_window, int64_t(peer_.max_frame)});
    size_t chunk = std::min<size_t>(n - sent, size_t(std::max<int64_t>(room, 0)));
    bool last = end_stream && sent + chunk == n;
    if (chunk == 0 && !last) break;
    put_frame(out_, DATA, last ? END_STREAM : 0, stream, p + sent, chunk);
    send_window_ -= int64_t(chunk);
    s->send_window -= int64_t(chunk);
    sent += chunk;
    if (last) {
      s->local_closed = true;
      close_if_done(*s);
      break;
    }
    if (sent == n) break;
  }
  return sent;
}

void Session::reset(uint32_t stream, uint32_t code) {
  if (!find(stream)) return;
  put_header(out_, 4, RST_STREAM, 0, stream);
  put32(out_, code);
  forget(stream);
}

void Session::goaway(uint32_t code, const char* why) {
  put_header(out_, uint32_t(8 + strlen(why)), GOAWAY, 0, 0);
  put32(out_, last_peer_id_);
  put32(out_, code);
  out_ += why;
}

void Session::ping(const char opaque[8]) { put_frame(out_, PING, 0, 0, opaque, 8); }

}  // namespace fanout::h2
