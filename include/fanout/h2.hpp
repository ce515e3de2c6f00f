// HTTP/2 frames (RFC 9113 §4 and §6) without I/O: the 9-byte header, each
// frame type's payload checked as the RFC says a receiver must, and a
// writer. What a connection does with them is h2_conn's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace fanout::h2 {

constexpr size_t kFrameHeader = 9;
constexpr uint32_t kMinMaxFrame = 16384, kMaxMaxFrame = 16777215;  // SETTINGS_MAX_FRAME_SIZE's range
constexpr uint32_t kMaxWindow = 0x7fffffff;
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";  // 24 bytes, the client's first

enum Type : uint8_t { DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION };
enum Flag : uint8_t { END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY_FLAG = 0x20 };
enum Setting : uint16_t {
  HEADER_TABLE_SIZE = 1, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE
};
enum Error : uint32_t {
  NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR,
  REFUSED_STREAM, CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, ENHANCE_YOUR_CALM, INADEQUATE_SECURITY, HTTP_1_1_REQUIRED
};
// "PROTOCOL_ERROR", as RFC 9113 §7 and curl name them; "unknown" past 13.
const char* error_name(uint32_t code);

struct Frame {
  uint32_t length = 0;
  uint8_t type = 0, flags = 0;
  uint32_t stream = 0;
  // Set by parse_payload: the payload less padding and priority fields (the
  // data of DATA, the block fragment of HEADERS, CONTINUATION and
  // PUSH_PROMISE, GOAWAY's debug data, PING's 8 bytes, SETTINGS' entries).
  const uint8_t* data = nullptr;
  size_t size = 0;
  uint8_t pad = 0;  // PADDED: the padding's length (it follows data)
  // HEADERS with PRIORITY_FLAG, and PRIORITY (weight 1 to 256).
  bool exclusive = false;
  uint32_t dependency = 0;
  uint16_t weight = 0;
  uint32_t promised = 0;     // PUSH_PROMISE
  uint32_t error = 0;        // RST_STREAM, GOAWAY
  uint32_t last_stream = 0;  // GOAWAY
  uint32_t increment = 0;    // WINDOW_UPDATE
  size_t settings() const { return size / 6; }
  void setting(size_t i, uint16_t& id, uint32_t& value) const;
};

uint32_t get32(const uint8_t* p);
// The header at p (9 bytes); then NO_ERROR or FRAME_SIZE_ERROR if the
// length passes max_frame (this side's SETTINGS_MAX_FRAME_SIZE).
uint32_t parse_header(const uint8_t* p, uint32_t max_frame, Frame& f);
// The payload (f.length bytes at p), checked by §6's rules for its type:
// NO_ERROR, or the error code the RFC gives (a connection error but for
// WINDOW_UPDATE of 0 on a stream, which the caller makes a stream error).
// Unknown types are NO_ERROR (§4.1: ignored).
uint32_t parse_payload(const uint8_t* p, Frame& f);

void put_header(std::string& out, uint32_t length, uint8_t type, uint8_t flags, uint32_t stream);
void put32(std::string& out, uint32_t v);
void put_frame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream, const void* payload, size_t n);

}  // namespace fanout::h2
