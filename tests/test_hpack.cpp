// HPACK: RFC 7541's own examples (Appendix C), then four encoders' stories
// from http2jp/hpack-test-case in ../shared/corpora/hpack, each story's
// blocks in order on one decoder; then ours: every story's header lists
// encoded by our encoder and decoded again; then broken blocks.
#include <doctest/doctest.h>

#include <cstring>

#include "fanout/hpack.hpp"
#include "json.hpp"
#include "util.hpp"

namespace hp = fanout::hpack;

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

std::string unhex(const std::string& h) {
  std::string o;
  for (size_t i = 0; i + 1 < h.size();) {
    if (h[i] == ' ') {
      i++;
      continue;
    }
    o += char(std::stoi(h.substr(i, 2), nullptr, 16));
    i += 2;
  }
  return o;
}

bool collect(void* ctx, std::string_view n, std::string_view v) {
  static_cast<Fields*>(ctx)->emplace_back(std::string(n), std::string(v));
  return true;
}

const char* decode(hp::Decoder& d, const std::string& wire, Fields& out) {
  out.clear();
  return d.decode(reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), collect, &out);
}

std::string huff(const std::string& hex) {
  std::string w = unhex(hex), out;
  if (!hp::huffman_decode(reinterpret_cast<const uint8_t*>(w.data()), w.size(), out)) return "(error)";
  return out;
}

}  // namespace

TEST_CASE("hpack: integers (RFC 7541 C.1), at every prefix and up to 2^32 - 1") {
  std::string o;
  hp::put_int(o, 0, 5, 10);
  CHECK(o == unhex("0a"));
  o.clear();
  hp::put_int(o, 0, 5, 1337);
  CHECK(o == unhex("1f9a0a"));
  o.clear();
  hp::put_int(o, 0, 8, 42);
  CHECK(o == unhex("2a"));
  for (int prefix = 1; prefix <= 8; prefix++)
    for (uint32_t v : {0u, 1u, 30u, 31u, 32u, 126u, 127u, 128u, 255u, 256u, 16383u, 1u << 20, 0xfffffffeu, 0xffffffffu}) {
      o.clear();
      hp::put_int(o, 0, prefix, v);
      const uint8_t* p = reinterpret_cast<const uint8_t*>(o.data());
      uint32_t got = 0;
      INFO(prefix << " " << v);
      CHECK(hp::get_int(p, p + o.size(), prefix, got));
      CHECK(got == v);
      CHECK(p == reinterpret_cast<const uint8_t*>(o.data()) + o.size());
      const uint8_t* q = reinterpret_cast<const uint8_t*>(o.data());
      if (o.size() > 1) CHECK_FALSE(hp::get_int(q, q + o.size() - 1, prefix, got));  // cut short
    }
  // 2^32 and more, and a sixth byte, are refused.
  std::string big = unhex("1fe1ffffff0f");  // 31 + 0xffffffe1 + ... > 2^32 - 1
  const uint8_t* p = reinterpret_cast<const uint8_t*>(big.data());
  uint32_t v;
  CHECK_FALSE(hp::get_int(p, p + big.size(), 5, v));
  std::string six = unhex("1f808080808000");
  p = reinterpret_cast<const uint8_t*>(six.data());
  CHECK_FALSE(hp::get_int(p, p + six.size(), 5, v));
}

TEST_CASE("hpack: Huffman strings of RFC 7541 C.4 and C.6, and every byte value") {
  CHECK(huff("f1e3c2e5f23a6ba0ab90f4ff") == "www.example.com");
  CHECK(huff("a8eb10649cbf") == "no-cache");
  CHECK(huff("25a849e95ba97d7f") == "custom-key");
  CHECK(huff("25a849e95bb8e8b4bf") == "custom-value");
  CHECK(huff("6402") == "302");
  CHECK(huff("aec3771a4b") == "private");
  CHECK(huff("d07abe941054d444a8200595040b8166e082a62d1bff") == "Mon, 21 Oct 2013 20:13:21 GMT");
  CHECK(huff("9d29ad171863c78f0b97c8e9ae82ae43d3") == "https://www.example.com");
  CHECK(huff("") == "");
  // Padding: at most 7 bits, all 1s; EOS itself is an error.
  CHECK(huff("ff") == "(error)");                // 8 bits of padding
  CHECK(huff("f1e3c2e5f23a6ba0ab90f4fe") == "(error)");  // padding with a 0
  CHECK(huff("ffffffff") == "(error)");          // EOS (30 1s) and more
  CHECK(huff("fffffffc") == "(error)");          // EOS then 00: EOS is refused as soon as decoded
  // Every byte (and so every code length) decodes: the 8-bit-aligned codes
  // of the symbols above 0x7f are 19 to 30 bits, so encode them here from
  // the canonical code, which the decoder must invert.
  // (Known codes from Appendix B: 0x00 is 1ff8/13, 0xff is 3ffffee/26,
  // '\n' is 3ffffffc/30.)
  struct Known { uint32_t code; int bits; char sym; };
  for (Known k : {Known{0x1ff8, 13, '\0'}, Known{0x3ffffee, 26, '\xff'}, Known{0x3ffffffc, 30, '\n'},
                  Known{0x7fff0, 19, '\\'}, Known{0x3f8, 10, '!'}, Known{0x5c, 7, ':'}}) {
    // The code, then padding to a byte boundary.
    uint64_t v = k.code;
    int bits = k.bits, pad = (8 - bits % 8) % 8;
    v = (v << pad) | ((1u << pad) - 1);
    std::string w;
    for (int b = bits + pad - 8; b >= 0; b -= 8) w += char((v >> b) & 0xff);
    std::string out;
    INFO(int((unsigned char)k.sym));
    CHECK(hp::huffman_decode(reinterpret_cast<const uint8_t*>(w.data()), w.size(), out));
    CHECK(out == std::string(1, k.sym));
  }
}

TEST_CASE("hpack: RFC 7541 C.2 to C.6, the blocks in order on one decoder") {
  hp::Decoder d;
  Fields f;
  // C.2: one field each, on a fresh decoder.
  REQUIRE(decode(d, unhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"), f) == nullptr);
  CHECK(f == Fields{{"custom-key", "custom-header"}});
  CHECK(d.table().size() == 55);
  hp::Decoder d2;
  REQUIRE(decode(d2, unhex("040c2f73616d706c652f70617468"), f) == nullptr);
  CHECK(f == Fields{{":path", "/sample/path"}});
  CHECK(d2.table().size() == 0);
  REQUIRE(decode(d2, unhex("100870617373776f726406736563726574"), f) == nullptr);
  CHECK(f == Fields{{"password", "secret"}});
  CHECK(d2.table().size() == 0);
  REQUIRE(decode(d2, unhex("82"), f) == nullptr);
  CHECK(f == Fields{{":method", "GET"}});

  // C.3 (plain) and C.4 (Huffman): three requests.
  const char* c3[] = {"828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
                      "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"};
  const char* c4[] = {"828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf",
                      "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"};
  Fields want[] = {
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}},
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}, {"cache-control", "no-cache"}},
      {{":method", "GET"}, {":scheme", "https"}, {":path", "/index.html"}, {":authority", "www.example.com"}, {"custom-key", "custom-value"}},
  };
  size_t sizes[] = {57, 110, 164};
  for (const char** blocks : {c3, c4}) {
    hp::Decoder dec;
    for (int i = 0; i < 3; i++) {
      INFO("request " << i + 1);
      REQUIRE(decode(dec, unhex(blocks[i]), f) == nullptr);
      CHECK(f == want[i]);
      CHECK(dec.table().size() == sizes[i]);
    }
  }

  // C.5 (plain) and C.6 (Huffman): three responses, the table at 256 bytes
  // (set by a size update here: the RFC's encoder was told so by SETTINGS),
  // so entries are evicted.
  const char* c5[] = {
      "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
      "4803333037c1c0bf",
      "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31"};
  const char* c6[] = {
      "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
      "4883640effc1c0bf",
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"};
  Fields wr[] = {
      {{":status", "302"}, {"cache-control", "private"}, {"date", "Mon, 21 Oct 2013 20:13:21 GMT"}, {"location", "https://www.example.com"}},
      {{":status", "307"}, {"cache-control", "private"}, {"date", "Mon, 21 Oct 2013 20:13:21 GMT"}, {"location", "https://www.example.com"}},
      {{":status", "200"}, {"cache-control", "private"}, {"date", "Mon, 21 Oct 2013 20:13:22 GMT"}, {"location", "https://www.example.com"},
       {"content-encoding", "gzip"}, {"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"}},
  };
  size_t rsizes[] = {222, 222, 215};
  for (const char** blocks : {c5, c6}) {
    hp::Decoder dec;
    for (int i = 0; i < 3; i++) {
      INFO("response " << i + 1);
      std::string w = unhex(blocks[i]);
      if (i == 0) w = unhex("3fe101") + w;  // a size update to 256 first
      REQUIRE(decode(dec, w, f) == nullptr);
      CHECK(f == wr[i]);
      CHECK(dec.table().size() == rsizes[i]);
    }
  }
}

namespace {

struct Story {
  std::string name;
  std::vector<std::pair<uint32_t, std::string>> cases;  // header_table_size (0: none), wire
  std::vector<Fields> fields;
};

bool load_stories(std::vector<Story>& out) {
  std::string root = t::corpora() + "/hpack";
  const char* encoders[] = {"nghttp2", "nghttp2-change-table-size", "go-hpack", "haskell-http2-linear-huffman"};
  for (const char* e : encoders) {
    std::vector<std::string> files;
    if (!t::files_in(root + "/" + e, [](const char* n) { return strncmp(n, "story_", 6) == 0; }, files)) return false;
    for (auto& fn : files) {
      std::string text;
      if (!t::read_file(root + "/" + e + "/" + fn, text)) return false;
      tj::Value j = tj::parse(text);
      Story s;
      s.name = std::string(e) + "/" + fn;
      for (auto& c : j["cases"].arr) {
        uint32_t size = c.has("header_table_size") ? uint32_t(c["header_table_size"].num) : 0;
        s.cases.emplace_back(size, unhex(c["wire"].str));
        Fields f;
        for (auto& h : c["headers"].arr) f.emplace_back(h.keys[0], h.vals[0].str);
        s.fields.push_back(std::move(f));
      }
      out.push_back(std::move(s));
    }
  }
  return true;
}

}  // namespace

TEST_CASE("hpack: four encoders' stories decode, each story on one decoder") {
  std::vector<Story> stories;
  if (!load_stories(stories)) {
    t::no_corpus("hpack stories: " + t::corpora() + "/hpack not found");
    return;
  }
  size_t blocks = 0;
  for (auto& s : stories) {
    hp::Decoder d;
    for (size_t i = 0; i < s.cases.size(); i++) {
      INFO(s.name << " case " << i);
      if (s.cases[i].first) d.set_limit(std::max<uint32_t>(4096, s.cases[i].first));
      Fields f;
      const char* err = decode(d, s.cases[i].second, f);
      CHECK(err == nullptr);
      CHECK(f == s.fields[i]);
      CHECK(d.table().size() <= d.table().max());
      blocks++;
    }
  }
  MESSAGE(stories.size() << " stories, " << blocks << " header blocks");
  CHECK(stories.size() >= 100);
  CHECK(blocks > 10000);
}

TEST_CASE("hpack: our encoder's blocks decode to what it was given, and repeats cost a byte a field") {
  std::vector<Story> stories;
  if (!load_stories(stories)) {
    t::no_corpus("hpack stories: " + t::corpora() + "/hpack not found");
    return;
  }
  size_t raw = 0, coded = 0;
  for (auto& s : stories) {
    hp::Encoder e;
    hp::Decoder d;
    for (size_t i = 0; i < s.fields.size(); i++) {
      INFO(s.name << " case " << i);
      std::string w;
      e.begin(w);
      for (auto& [n, v] : s.fields[i]) {
        auto how = n == ":path" ? hp::Encoder::without : n == "cookie" ? hp::Encoder::never : hp::Encoder::incremental;
        e.field(w, n, v, how);
        raw += n.size() + v.size() + 4;
      }
      coded += w.size();
      Fields f;
      CHECK(decode(d, w, f) == nullptr);
      CHECK(f == s.fields[i]);
      CHECK(d.table().size() == e.table().size());  // the two tables agree
    }
  }
  CHECK(coded < raw / 2);
  // A second identical block is all indexes (but :path, sent as it is).
  hp::Encoder e;
  hp::Decoder d;
  std::string w1, w2;
  Fields req = {{":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {"user-agent", "fanout/1"}, {"accept", "*/*"}};
  for (auto& [n, v] : req) e.field(w1, n, v);
  for (auto& [n, v] : req) e.field(w2, n, v);
  CHECK(w2.size() == req.size());
  Fields f;
  CHECK(decode(d, w1, f) == nullptr);
  CHECK(decode(d, w2, f) == nullptr);
  CHECK(f == req);
  // A smaller table for the peer: the next block starts with the update,
  // and entries that no longer fit are gone on both sides.
  e.set_peer_limit(64);
  std::string w3;
  e.begin(w3);
  for (auto& [n, v] : req) e.field(w3, n, v);
  CHECK((uint8_t(w3[0]) & 0xe0) == 0x20);
  CHECK(decode(d, w3, f) == nullptr);
  CHECK(f == req);
  CHECK(d.table().max() == 64);
  CHECK(d.table().size() == e.table().size());
  // Secrets are never indexed: 0001 and a literal, on both sides.
  std::string w4;
  e.field(w4, "authorization", "Basic c2VjcmV0", hp::Encoder::never);
  CHECK((uint8_t(w4[0]) & 0xf0) == 0x10);
  size_t before = e.table().count();
  e.field(w4, "authorization", "Basic c2VjcmV0", hp::Encoder::never);
  CHECK(e.table().count() == before);
}

TEST_CASE("hpack: broken blocks are refused with what is wrong") {
  struct Case { const char* hex; const char* why; };
  const Case cases[] = {
      {"80", "index 0"},
      {"be", "not in the table"},                              // 62, the dynamic table is empty
      {"ff80ffffff1f", "past 2^32 - 1"},                       // an index past 2^32 - 1
      {"7e", "not in the table"},                              // literal, name index 62
      {"8220", "after the first field"},                       // a size update after a field
      {"3fe21f", "past SETTINGS_HEADER_TABLE_SIZE"},           // 4097 > 4096
      {"4005", "past the end of the header block"},            // a name of 5 bytes, none there
      {"400161", "ends inside a field"},                       // a name, no value
      {"4081ff0161", "Huffman"},                               // a name of 8 padding bits
      {"0084ffffffff01", "Huffman"},                           // a name that is EOS
      {"0f", "cut short"},                                     // an index integer cut short
  };
  for (auto& c : cases) {
    hp::Decoder d;
    Fields f;
    INFO(c.hex);
    const char* err = decode(d, unhex(c.hex), f);
    REQUIRE(err != nullptr);
    CHECK(strstr(err, c.why) != nullptr);
  }
  // A field that does not fit the table empties it and is still a field.
  hp::Decoder d;
  Fields f;
  REQUIRE(decode(d, unhex("3f13") + unhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"), f) == nullptr);  // 55 > 50
  CHECK(d.table().max() == 50);
  CHECK(d.table().count() == 0);
  CHECK(f == Fields{{"custom-key", "custom-header"}});
}
