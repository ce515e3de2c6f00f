// HPACK: the tables and representations of RFC 7541, in the order the RFC
// gives them. Errors are strings that name the fault.
#include "fanout/hpack.hpp"

#include <cstring>

namespace fanout::hpack {
namespace {

// Appendix A, names and values, each ended by a NUL: one blob and 16-bit
// offsets instead of 122 pointers (each a relocation in the binary).
constexpr char kStatic[] =
    ":authority\0\0:method\0GET\0:method\0POST\0:path\0/\0:path\0/index.html\0"
    ":scheme\0http\0:scheme\0https\0:status\0" "200\0:status\0" "204\0:status\0" "206\0"
    ":status\0" "304\0:status\0" "400\0:status\0" "404\0:status\0" "500\0"
    "accept-charset\0\0accept-encoding\0gzip, deflate\0accept-language\0\0"
    "accept-ranges\0\0accept\0\0access-control-allow-origin\0\0age\0\0allow\0\0"
    "authorization\0\0cache-control\0\0content-disposition\0\0content-encoding\0\0"
    "content-language\0\0content-length\0\0content-location\0\0content-range\0\0"
    "content-type\0\0cookie\0\0date\0\0etag\0\0expect\0\0expires\0\0from\0\0host\0\0"
    "if-match\0\0if-modified-since\0\0if-none-match\0\0if-range\0\0"
    "if-unmodified-since\0\0last-modified\0\0link\0\0location\0\0max-forwards\0\0"
    "proxy-authenticate\0\0proxy-authorization\0\0range\0\0referer\0\0refresh\0\0"
    "retry-after\0\0server\0\0set-cookie\0\0strict-transport-security\0\0"
    "transfer-encoding\0\0user-agent\0\0vary\0\0via\0\0www-authenticate\0";

// Where each name and value starts; and the entries by their name's
// length, each length's first (1-based; 0: none) and the next of the same
// length, so that find() looks at a few entries, not 61.
constexpr size_t kLongestName = 27;  // access-control-allow-origin
struct Offsets {
  uint16_t at[2 * Table::kStatic + 1];
  uint8_t first[kLongestName + 1], next[Table::kStatic];
};
constexpr Offsets offsets() {
  Offsets o{};
  size_t k = 0, i = 0;
  while (k < 2 * Table::kStatic) {
    o.at[k++] = uint16_t(i);
    while (kStatic[i]) i++;
    i++;
  }
  o.at[k] = uint16_t(i);
  uint8_t last[kLongestName + 1] = {};
  for (size_t e = 0; e < Table::kStatic; e++) {
    size_t len = o.at[2 * e + 1] - o.at[2 * e] - 1;
    if (last[len]) o.next[last[len] - 1] = uint8_t(e + 1);
    else o.first[len] = uint8_t(e + 1);
    last[len] = uint8_t(e + 1);
  }
  return o;
}
constexpr Offsets kOff = offsets();
static_assert(kOff.at[2 * Table::kStatic] == sizeof kStatic, "61 names and values");

std::string_view static_part(size_t k) { return {kStatic + kOff.at[k], size_t(kOff.at[k + 1] - kOff.at[k] - 1)}; }

// Lengths first, here: at -Os string_view's == is a call each time, and
// most of an encoder's comparisons differ in length.
[[gnu::always_inline]] inline bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// Appendix B is a canonical Huffman code: codes of one length are
// consecutive, in the order of their symbols, and each length's first code
// follows the last of the length before. So the symbols in code order and
// how many codes each length has are the whole table; EOS is the last code.
constexpr char kSymbols[] =
    "012aceiost"                          // 5 bits
    " %-./3456789=A_bdfghlmnpru"          // 6 bits
    ":BCDEFGHIJKLMNOPQRSTUVWYjkqvwxyz"    // 7 bits
    "&*,;XZ"                              // 8 bits
    "!\"()?"                              // 10 bits
    "'+|"                                 // 11 bits
    "#>"                                  // 12 bits
    "\000$@[]~"                           // 13 bits
    "^}"                                  // 14 bits
    "<`{"                                 // 15 bits
    "\\\303\320"                          // 19 bits
    "\200\202\203\242\270\302\340\342"    // 20 bits
    "\231\241\247\254\260\261\263\321\330\331\343\345\346"  // 21 bits
    "\201\204\205\206\210\222\232\234\240\243\244\251\252\255\262\265\271\272\273\275\276\304\306\344\350\351"
    "\001\207\211\212\213\214\215\217\223\225\226\227\230\233\235\236\245\246\250\256\257\264\266\267\274\277\305\347\357"
    "\011\216\220\221\224\237\253\316\327\341\354\355"  // 24 bits
    "\307\317\352\353"                                   // 25 bits
    "\300\301\310\311\312\315\322\325\332\333\356\360\362\363\377"
    "\313\314\323\324\326\335\336\337\361\364\365\366\367\370\372\373\374\375\376"
    "\002\003\004\005\006\007\010\013\014\016\017\020\021\022\023\024\025\027\030\031\032\033\034\035\036\037\177\334\371"
    "\012\015\026";  // 30 bits, then EOS
constexpr uint8_t kCount[31] = {0, 0,  0,  0,  0,  10, 26, 32, 6,  0,  5,  3,  2,  6,  2, 3,
                                0, 0,  0,  3,  8,  13, 26, 29, 12, 4,  15, 19, 29, 0,  4};
static_assert(sizeof kSymbols == 257, "256 symbols and the literal's NUL (EOS is not in it)");

const char* get_string(const uint8_t*& p, const uint8_t* end, std::string& scratch, std::string_view& s) {
  if (p == end) return "a header block ends inside a field";
  bool huffman = *p & 0x80;
  uint32_t n;
  if (!get_int(p, end, 7, n)) return "an integer cut short or past 2^32 - 1";
  if (n > size_t(end - p)) return "a string past the end of the header block";
  if (huffman) {
    scratch.clear();
    if (!huffman_decode(p, n, scratch)) return "a bad Huffman code";
    s = scratch;
  } else {
    s = {reinterpret_cast<const char*>(p), n};
  }
  p += n;
  return nullptr;
}

void put_string(std::string& out, std::string_view s) {
  put_int(out, 0, 7, uint32_t(s.size()));
  out += s;
}

size_t entry_size(std::string_view name, std::string_view value) { return name.size() + value.size() + 32; }

}  // namespace

void put_int(std::string& out, uint8_t first, int prefix, uint32_t v) {
  uint32_t max = (1u << prefix) - 1;
  if (v < max) {
    out += char(first | v);
    return;
  }
  out += char(first | max);
  for (v -= max; v >= 0x80; v >>= 7) out += char(0x80 | (v & 0x7f));
  out += char(v);
}

bool get_int(const uint8_t*& p, const uint8_t* end, int prefix, uint32_t& v) {
  if (p == end) return false;
  uint32_t max = (1u << prefix) - 1;
  v = *p++ & max;
  if (v < max) return true;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (p == end) return false;
    uint8_t b = *p++;
    uint64_t sum = v + (uint64_t(b & 0x7f) << shift);
    if (sum > UINT32_MAX) return false;
    v = uint32_t(sum);
    if (!(b & 0x80)) return true;
  }
  return false;  // more than 5 bytes: no 32-bit value needs them
}

// Canonical decoding a bit at a time (as zlib's puff.c does it): at each
// length, the codes of that length are first .. first + count - 1.
bool huffman_decode(const uint8_t* p, size_t n, std::string& out) {
  uint32_t code = 0, first = 0, bits = 0;
  int len = 0, index = 0;
  for (size_t i = 0; i < n; i++) {
    for (int b = 7; b >= 0; b--) {
      uint32_t bit = (p[i] >> b) & 1;
      code |= bit;
      bits = bits << 1 | bit;
      len++;
      int count = kCount[len];
      if (code - first < uint32_t(count)) {
        index += int(code - first);
        if (index >= 256) return false;  // EOS inside a string is an error (RFC 7541 §5.2)
        out += kSymbols[index];
        code = first = bits = 0;
        len = index = 0;
        continue;
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
      if (len == 30) return false;  // no code is longer (the code is complete: unreachable)
    }
  }
  // What is left must be padding: at most 7 bits, all 1s (a prefix of EOS).
  return len <= 7 && bits == (1u << len) - 1;
}

bool Table::get(size_t index, std::string_view& name, std::string_view& value) const {
  if (index >= 1 && index <= kStatic) {
    name = static_part(2 * (index - 1));
    value = static_part(2 * (index - 1) + 1);
    return true;
  }
  if (index <= kStatic || index - kStatic - 1 >= entries_.size()) return false;
  const Entry& e = entries_[entries_.size() - (index - kStatic)];
  name = e.name;
  value = e.value;
  return true;
}

// (Straight over the tables, lengths first: a request's every field
// comes through here.)
size_t Table::find(std::string_view name, std::string_view value, bool& value_too) const {
  size_t by_name = 0;
  value_too = false;
  for (size_t e = name.size() <= kLongestName ? kOff.first[name.size()] : 0; e; e = kOff.next[e - 1]) {
    if (!same(static_part(2 * (e - 1)), name)) continue;
    if (same(static_part(2 * (e - 1) + 1), value)) {
      value_too = true;
      return e;
    }
    if (!by_name) by_name = e;
  }
  for (size_t i = 0; i < entries_.size(); i++) {
    const Entry& e = entries_[entries_.size() - 1 - i];
    if (!same(e.name, name)) continue;
    if (same(e.value, value)) {
      value_too = true;
      return kStatic + 1 + i;
    }
    if (!by_name) by_name = kStatic + 1 + i;
  }
  return by_name;
}

void Table::evict(size_t room) {
  size_t n = 0;
  while (n < entries_.size() && size_ + room > max_) size_ -= entry_size(entries_[n].name, entries_[n].value), n++;
  entries_.erase(entries_.begin(), entries_.begin() + long(n));
}

// An entry larger than the whole table empties it (RFC 7541 §4.4). The
// strings are copied before anything is evicted: name may be an entry's.
void Table::add(std::string_view name, std::string_view value) {
  size_t need = entry_size(name, value);
  if (need > max_) {
    entries_.clear();
    size_ = 0;
    return;
  }
  Entry e{std::string(name), std::string(value)};
  evict(need);
  entries_.push_back(std::move(e));
  size_ += need;
}

void Table::resize(uint32_t max) {
  max_ = max;
  evict(0);
}

const char* Decoder::decode(const uint8_t* p, size_t n, FieldFn fn, void* ctx) {
  const uint8_t* end = p + n;
  bool any = false;
  while (p < end) {
    uint8_t b = *p;
    std::string_view name, value;
    uint32_t i;
    if (b & 0x80) {  // indexed field (§6.1)
      if (!get_int(p, end, 7, i)) return "an integer cut short or past 2^32 - 1";
      if (!table_.get(i, name, value)) return i ? "an index that is not in the table" : "index 0";
    } else if ((b & 0xe0) == 0x20) {  // dynamic table size update (§6.3)
      if (any) return "a table size update after the first field";
      if (!get_int(p, end, 5, i)) return "an integer cut short or past 2^32 - 1";
      if (i > limit_) return "a table size update past SETTINGS_HEADER_TABLE_SIZE";
      table_.resize(i);
      continue;
    } else {  // a literal (§6.2): with incremental indexing, without, never indexed
      bool add = b & 0x40;
      if (!get_int(p, end, add ? 6 : 4, i)) return "an integer cut short or past 2^32 - 1";
      const char* err;
      if (i == 0) {
        if ((err = get_string(p, end, name_, name))) return err;
      } else {
        if (!table_.get(i, name, value)) return "a name index that is not in the table";
        if (add) name = name_.assign(name);  // add() may evict the entry it came from
      }
      if ((err = get_string(p, end, value_, value))) return err;
      if (add) table_.add(name, value);
    }
    any = true;
    if (!fn(ctx, name, value)) return "stopped";
  }
  return nullptr;
}

void Encoder::set_peer_limit(uint32_t max) {
  if (max > 4096) max = 4096;
  if (max != table_.max()) pending_ = max;
}

void Encoder::begin(std::string& out) {
  if (pending_ == UINT32_MAX) return;
  put_int(out, 0x20, 5, pending_);
  table_.resize(pending_);
  pending_ = UINT32_MAX;
}

void Encoder::field(std::string& out, std::string_view name, std::string_view value, Index how) {
  bool both;
  size_t i = table_.find(name, value, both);
  if (i && both) {
    put_int(out, 0x80, 7, uint32_t(i));
    return;
  }
  static constexpr uint8_t kFirst[] = {0x40, 0x00, 0x10};
  put_int(out, kFirst[how], how == incremental ? 6 : 4, uint32_t(i));
  if (!i) put_string(out, name);
  put_string(out, value);
  if (how == incremental) table_.add(name, value);
}

}  // namespace fanout::hpack
