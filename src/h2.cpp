// HTTP/2 frames: RFC 9113 §6, a type at a time, the checks in the order the
// RFC lists them.
#include "fanout/h2.hpp"

namespace fanout::h2 {

const char* error_name(uint32_t code) {
  static const char* const names[] = {
      "NO_ERROR",       "PROTOCOL_ERROR",    "INTERNAL_ERROR",      "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
      "STREAM_CLOSED",  "FRAME_SIZE_ERROR",  "REFUSED_STREAM",      "CANCEL",             "COMPRESSION_ERROR",
      "CONNECT_ERROR",  "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
  return code < sizeof names / sizeof *names ? names[code] : "unknown";
}

uint32_t get32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

void Frame::setting(size_t i, uint16_t& id, uint32_t& value) const {
  id = uint16_t(data[6 * i] << 8 | data[6 * i + 1]);
  value = get32(data + 6 * i + 2);
}

uint32_t parse_header(const uint8_t* p, uint32_t max_frame, Frame& f) {
  f = Frame{};
  f.length = uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2];
  f.type = p[3];
  f.flags = p[4];
  f.stream = get32(p + 5) & 0x7fffffff;  // the reserved bit is ignored (§4.1)
  return f.length > max_frame ? FRAME_SIZE_ERROR : NO_ERROR;
}

namespace {

// PADDED: the first byte is the padding's length, which must leave room for
// what comes before it (need) and the data (§6.1, §6.2, §6.6).
uint32_t unpad(Frame& f, size_t need) {
  if (!(f.flags & PADDED)) return NO_ERROR;
  if (f.size < 1) return FRAME_SIZE_ERROR;
  f.pad = f.data[0];
  f.data++;
  f.size--;
  if (size_t(f.pad) + need > f.size) return PROTOCOL_ERROR;
  f.size -= f.pad;
  return NO_ERROR;
}

void priority(Frame& f) {
  uint32_t d = get32(f.data);
  f.exclusive = d >> 31;
  f.dependency = d & 0x7fffffff;
  f.weight = uint16_t(f.data[4] + 1);
  f.data += 5;
  f.size -= 5;
}

}  // namespace

uint32_t parse_payload(const uint8_t* p, Frame& f) {
  f.data = p;
  f.size = f.length;
  uint32_t err;
  switch (f.type) {
    case DATA:
      if (f.stream == 0) return PROTOCOL_ERROR;
      return unpad(f, 0);
    case HEADERS: {
      if (f.stream == 0) return PROTOCOL_ERROR;
      size_t prio = f.flags & PRIORITY_FLAG ? 5 : 0;
      if ((err = unpad(f, prio))) return err;
      if (f.size < prio) return FRAME_SIZE_ERROR;
      if (prio) priority(f);
      return NO_ERROR;
    }
    case PRIORITY:
      if (f.stream == 0) return PROTOCOL_ERROR;
      if (f.size != 5) return FRAME_SIZE_ERROR;
      priority(f);
      return NO_ERROR;
    case RST_STREAM:
      if (f.stream == 0) return PROTOCOL_ERROR;
      if (f.size != 4) return FRAME_SIZE_ERROR;
      f.error = get32(p);
      return NO_ERROR;
    case SETTINGS:
      if (f.stream != 0) return PROTOCOL_ERROR;
      if ((f.flags & ACK) && f.size != 0) return FRAME_SIZE_ERROR;
      if (f.size % 6) return FRAME_SIZE_ERROR;
      for (size_t i = 0; i < f.settings(); i++) {  // §6.5.2: values out of range
        uint16_t id;
        uint32_t v;
        f.setting(i, id, v);
        if (id == ENABLE_PUSH && v > 1) return PROTOCOL_ERROR;
        if (id == INITIAL_WINDOW_SIZE && v > kMaxWindow) return FLOW_CONTROL_ERROR;
        if (id == MAX_FRAME_SIZE && (v < kMinMaxFrame || v > kMaxMaxFrame)) return PROTOCOL_ERROR;
      }
      return NO_ERROR;
    case PUSH_PROMISE:
      if (f.stream == 0) return PROTOCOL_ERROR;
      if ((err = unpad(f, 4))) return err;
      if (f.size < 4) return FRAME_SIZE_ERROR;
      f.promised = get32(f.data) & 0x7fffffff;
      if (f.promised == 0 || f.promised % 2) return PROTOCOL_ERROR;  // servers' streams are even
      f.data += 4;
      f.size -= 4;
      return NO_ERROR;
    case PING:
      if (f.stream != 0) return PROTOCOL_ERROR;
      return f.size == 8 ? NO_ERROR : FRAME_SIZE_ERROR;
    case GOAWAY:
      if (f.stream != 0) return PROTOCOL_ERROR;
      if (f.size < 8) return FRAME_SIZE_ERROR;
      f.last_stream = get32(p) & 0x7fffffff;
      f.error = get32(p + 4);
      f.data += 8;
      f.size -= 8;
      return NO_ERROR;
    case WINDOW_UPDATE:
      if (f.size != 4) return FRAME_SIZE_ERROR;
      f.increment = get32(p) & 0x7fffffff;
      return f.increment ? NO_ERROR : PROTOCOL_ERROR;
    case CONTINUATION:
      return f.stream == 0 ? PROTOCOL_ERROR : NO_ERROR;
    default:
      return NO_ERROR;
  }
}

void put32(std::string& out, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(b, 4);
}

void put_header(std::string& out, uint32_t length, uint8_t type, uint8_t flags, uint32_t stream) {
  char b[5] = {char(length >> 16), char(length >> 8), char(length), char(type), char(flags)};
  out.append(b, 5);
  put32(out, stream);
}

void put_frame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream, const void* payload, size_t n) {
  put_header(out, uint32_t(n), type, flags, stream);
  out.append(static_cast<const char*>(payload), n);
}

}  // namespace fanout::h2
