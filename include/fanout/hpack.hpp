// HPACK (RFC 7541), the header compression of HTTP/2, without I/O: a
// decoder for the header blocks a peer sends and an encoder for ours. Each
// side keeps the dynamic table its peer's other side keeps, so one decoder
// and one encoder a connection, each given every block in order.
//
// Huffman-coded strings are decoded (RFC 7541 Appendix B, a canonical code:
// the code lengths say it all); strings are sent as they are, which every
// decoder must take.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fanout::hpack {

// The dynamic table: newest last in the vector (index 62 is its back),
// evicted oldest first, each entry counted as name + value + 32 bytes (RFC
// 7541 §4.1). At most a few hundred entries: a vector is smaller code than
// a deque, and moving them on eviction costs little.
class Table {
 public:
  static constexpr size_t kStatic = 61;  // entries in the static table
  explicit Table(uint32_t max) : max_(max) {}
  // 1 .. kStatic: the static table; kStatic + 1 ..: the dynamic one.
  // false: no such entry.
  bool get(size_t index, std::string_view& name, std::string_view& value) const;
  // The entry equal to (name, value), or one with that name and value
  // false; 0: none. Static before dynamic.
  size_t find(std::string_view name, std::string_view value, bool& value_too) const;
  void add(std::string_view name, std::string_view value);
  void resize(uint32_t max);  // evicts what no longer fits
  uint32_t max() const { return max_; }
  size_t size() const { return size_; }
  size_t count() const { return entries_.size(); }

 private:
  struct Entry {
    std::string name, value;
  };
  void evict(size_t room);
  std::vector<Entry> entries_;
  size_t size_ = 0;
  uint32_t max_;
};

class Decoder {
 public:
  // limit: the SETTINGS_HEADER_TABLE_SIZE this side announced (4096 until
  // it says otherwise); a size update above it is an error.
  explicit Decoder(uint32_t limit = 4096) : table_(limit), limit_(limit) {}
  // Called for each field in order; the views last until it returns. false
  // stops the block: decode() then returns "stopped".
  using FieldFn = bool (*)(void* ctx, std::string_view name, std::string_view value);
  // One whole header block (a HEADERS payload and its CONTINUATIONs, joined).
  // nullptr, or what is wrong with it: a COMPRESSION_ERROR, after which the
  // table is not to be trusted (the connection ends).
  const char* decode(const uint8_t* p, size_t n, FieldFn fn, void* ctx);
  // A new SETTINGS_HEADER_TABLE_SIZE of this side, once the peer has it.
  void set_limit(uint32_t limit) { limit_ = limit; }
  const Table& table() const { return table_; }

 private:
  Table table_;
  uint32_t limit_;
  std::string name_, value_;  // strings decoded from Huffman or copied off the table
};

class Encoder {
 public:
  // The peer's SETTINGS_HEADER_TABLE_SIZE is 4096 until it says otherwise;
  // this encoder keeps its table at most that.
  Encoder() : table_(4096) {}
  enum Index { incremental, without, never };  // never: a secret (RFC 7541 §7.1.3)
  // Appends one field to a header block: an index when the table has it;
  // else the name indexed if known, and the value as a literal.
  void field(std::string& out, std::string_view name, std::string_view value, Index how = incremental);
  // The peer's new SETTINGS_HEADER_TABLE_SIZE: the next block starts with
  // a size update (down to it, or to 4096 at most: more saves little).
  void set_peer_limit(uint32_t max);
  // Call before the first field of each block (for the size update).
  void begin(std::string& out);
  const Table& table() const { return table_; }

 private:
  Table table_;
  uint32_t pending_ = UINT32_MAX;  // a size update owed at the next block
};

// Integers and strings of RFC 7541 §5 (exposed for the tests and fuzzing).
void put_int(std::string& out, uint8_t first, int prefix, uint32_t v);
// false: the input ends first, or the value passes 2^32 - 1.
bool get_int(const uint8_t*& p, const uint8_t* end, int prefix, uint32_t& v);
// Appends the decoded string; false: a code past the end, EOS, or padding
// that is not 1s or longer than 7 bits.
bool huffman_decode(const uint8_t* p, size_t n, std::string& out);

}  // namespace fanout::hpack
