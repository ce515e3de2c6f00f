// HTTP/2 frames: http2jp/http2-frame-test-case in ../shared/corpora
// (every frame decodes to its fields and encodes back to its bytes; every
// error case is refused with one of the codes it allows), then ours.
#include <doctest/doctest.h>

#include <cstring>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>

#include "fanout/h2.hpp"
#include "json.hpp"
#include "util.hpp"

namespace h2 = fanout::h2;

namespace {

std::string unhex(const std::string& h) {
  std::string o;
  for (size_t i = 0; i + 1 < h.size(); i += 2) o += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return o;
}

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// The whole frame: NO_ERROR and f filled, or the error code.
uint32_t decode(const std::string& wire, h2::Frame& f) {
  REQUIRE(wire.size() >= h2::kFrameHeader);
  if (uint32_t e = h2::parse_header(u8(wire), h2::kMinMaxFrame, f)) return e;
  REQUIRE(wire.size() == h2::kFrameHeader + f.length);
  return h2::parse_payload(u8(wire) + h2::kFrameHeader, f);
}

std::string str(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

TEST_CASE("h2: the http2-frame-test-case corpus") {
  std::string root = t::corpora() + "/http2-frames";
  const char* dirs[] = {"continuation", "data", "error", "goaway", "headers", "ping", "priority", "push_promise",
                        "rst_stream", "settings", "window_update"};
  int normal = 0, errors = 0;
  for (const char* d : dirs) {
    std::vector<std::string> files;
    if (!t::files_in(root + "/" + d, [](const char* n) { return strstr(n, ".json") != nullptr; }, files)) {
      t::no_corpus("http2 frame cases: " + root + " not found");
      return;
    }
    for (auto& fn : files) {
      std::string text;
      REQUIRE(t::read_file(root + "/" + d + "/" + fn, text));
      tj::Value j = tj::parse(text);
      std::string wire = unhex(j["wire"].str);
      INFO(d << "/" << fn << ": " << j["description"].str);
      h2::Frame f;
      uint32_t err = decode(wire, f);
      if (!j["error"].is_null()) {
        errors++;
        bool allowed = false;
        for (auto& e : j["error"].arr) allowed |= uint32_t(e.num) == err;
        CHECK_MESSAGE(allowed, "got " << h2::error_name(err));
        continue;
      }
      normal++;
      REQUIRE(err == h2::NO_ERROR);
      const tj::Value& fr = j["frame"];
      CHECK(f.length == fr["length"].num);
      CHECK(f.type == fr["type"].num);
      CHECK(f.flags == fr["flags"].num);
      CHECK(f.stream == fr["stream_identifier"].num);
      const tj::Value& pl = fr["frame_payload"];
      // Encoded again from what was decoded: the same bytes.
      std::string payload;
      auto pad_len = [&] {
        if (f.flags & h2::PADDED) payload += char(f.pad);
      };
      auto prio = [&] {
        h2::put32(payload, f.dependency | (f.exclusive ? 0x80000000u : 0));
        payload += char(f.weight - 1);
      };
      auto padding = [&] { payload += str(f.data + f.size, f.pad); };
      switch (f.type) {
        case h2::DATA:
        case h2::HEADERS:
        case h2::PUSH_PROMISE: {
          std::string key = f.type == h2::DATA ? "data" : "header_block_fragment";
          CHECK(str(f.data, f.size) == pl[key].str);
          if (pl["padding_length"].is_null()) CHECK(!(f.flags & h2::PADDED));
          else {
            CHECK(f.pad == pl["padding_length"].num);
            CHECK(str(f.data + f.size, f.pad) == pl["padding"].str);
          }
          pad_len();
          if (f.type == h2::HEADERS && (f.flags & h2::PRIORITY_FLAG)) {
            CHECK(f.dependency == pl["stream_dependency"].num);
            CHECK(f.weight == pl["weight"].num);
            CHECK(f.exclusive == pl["exclusive"].b);
            prio();
          }
          if (f.type == h2::PUSH_PROMISE) {
            CHECK(f.promised == pl["promised_stream_id"].num);
            h2::put32(payload, f.promised);
          }
          payload += str(f.data, f.size);
          padding();
          break;
        }
        case h2::CONTINUATION:
          CHECK(str(f.data, f.size) == pl["header_block_fragment"].str);
          payload = str(f.data, f.size);
          break;
        case h2::PRIORITY:
          CHECK(f.dependency == pl["stream_dependency"].num);
          CHECK(f.weight == pl["weight"].num);
          CHECK(f.exclusive == pl["exclusive"].b);
          prio();
          break;
        case h2::RST_STREAM:
          CHECK(f.error == pl["error_code"].num);
          h2::put32(payload, f.error);
          break;
        case h2::SETTINGS:
          REQUIRE(f.settings() == pl["settings"].arr.size());
          for (size_t i = 0; i < f.settings(); i++) {
            uint16_t id;
            uint32_t v;
            f.setting(i, id, v);
            CHECK(id == pl["settings"].arr[i].arr[0].num);
            CHECK(v == pl["settings"].arr[i].arr[1].num);
            payload += char(id >> 8);
            payload += char(id);
            h2::put32(payload, v);
          }
          break;
        case h2::PING:
          CHECK(str(f.data, f.size) == pl["opaque_data"].str);
          payload = str(f.data, f.size);
          break;
        case h2::GOAWAY:
          CHECK(f.last_stream == pl["last_stream_id"].num);
          CHECK(f.error == pl["error_code"].num);
          CHECK(str(f.data, f.size) == pl["additional_debug_data"].str);
          h2::put32(payload, f.last_stream);
          h2::put32(payload, f.error);
          payload += str(f.data, f.size);
          break;
        case h2::WINDOW_UPDATE:
          CHECK(f.increment == pl["window_size_increment"].num);
          h2::put32(payload, f.increment);
          break;
      }
      std::string again;
      h2::put_frame(again, f.type, f.flags, f.stream, payload.data(), payload.size());
      CHECK(again == wire);
    }
  }
  MESSAGE(normal << " frames, " << errors << " error cases");
  CHECK(normal == 12);
  CHECK(errors == 22);
}

TEST_CASE("h2: frame rules the corpus leaves out") {
  h2::Frame f;
  struct Case { const char* hex; uint32_t err; const char* why; };
  const Case cases[] = {
      {"000000000800000001", h2::FRAME_SIZE_ERROR, "DATA PADDED with no pad length"},
      {"00000100080000000100", h2::NO_ERROR, "DATA PADDED, pad 0, no data"},
      {"0000050120000000010000000310", h2::NO_ERROR, "HEADERS with PRIORITY, empty fragment"},
      {"00000401200000000100000003", h2::FRAME_SIZE_ERROR, "HEADERS with PRIORITY, 4 bytes"},
      {"000006040000000000000200000002", h2::PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH 2"},
      {"000006040000000000000480000000", h2::FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE 2^31"},
      {"000006040000000000000500003fff", h2::PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE 16383"},
      {"000006040000000000000501000000", h2::PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE 2^24"},
      {"00000604000000000000ff00000001", h2::NO_ERROR, "an unknown setting is ignored"},
      {"00000408000000000000000000", h2::PROTOCOL_ERROR, "WINDOW_UPDATE of 0 on the connection"},
      {"000004080000000000800003e8", h2::NO_ERROR, "WINDOW_UPDATE: the reserved bit is ignored"},
      {"000000090000000000", h2::PROTOCOL_ERROR, "CONTINUATION on stream 0"},
      {"0000030b0000000001616263", h2::NO_ERROR, "an unknown type is ignored"},
      {"000000070000000000", h2::FRAME_SIZE_ERROR, "GOAWAY of 0 bytes"},
  };
  for (auto& c : cases) {
    INFO(c.why);
    std::string w = unhex(c.hex);
    if (w.size() >= h2::kFrameHeader) {
      h2::Frame g;
      h2::parse_header(u8(w), h2::kMinMaxFrame, g);
      if (w.size() != h2::kFrameHeader + g.length) {
        FAIL("case bytes do not match its length");
        continue;
      }
    }
    CHECK(decode(w, f) == c.err);
  }
  // The largest frame a peer allows: 16384 bytes unless it says more.
  std::string big;
  h2::put_header(big, 16385, h2::DATA, 0, 1);
  CHECK(h2::parse_header(u8(big), h2::kMinMaxFrame, f) == h2::FRAME_SIZE_ERROR);
  CHECK(h2::parse_header(u8(big), 32768, f) == h2::NO_ERROR);
  CHECK(f.length == 16385);
  CHECK(std::string(h2::error_name(h2::REFUSED_STREAM)) == "REFUSED_STREAM");
  CHECK(std::string(h2::error_name(14)) == "unknown");
  CHECK(sizeof h2::kPreface == 25);
}

// Sessions: a client and a server on this one code, the bytes carried
// between them by the test (in one piece, or a byte at a time).
#include "fanout/h2_session.hpp"

namespace {

struct Peer : h2::Handler {
  h2::Session s;
  std::vector<std::string> log;  // events, as text
  std::map<uint32_t, std::string> body;
  std::vector<std::vector<h2::Field>> heads;
  size_t held = 0, most_held = 0;  // body bytes the handler keeps (none: it writes them away)
  explicit Peer(h2::Session::Role r, h2::Session::Options o = {}) : s(r, *this, o) {}
  void on_headers(uint32_t id, std::span<const h2::Field> f, bool end) override {
    std::string e = "headers " + std::to_string(id);
    for (auto& x : f) e += " " + x.name + "=" + x.value;
    log.push_back(e + (end ? " END" : ""));
    heads.emplace_back(f.begin(), f.end());
  }
  void on_data(uint32_t id, const uint8_t* p, size_t n, bool end) override {
    body[id].append(reinterpret_cast<const char*>(p), n);
    if (end) log.push_back("end " + std::to_string(id) + " " + std::to_string(body[id].size()));
  }
  void on_reset(uint32_t id, uint32_t code, const char* why) override {
    log.push_back("reset " + std::to_string(id) + " " + h2::error_name(code) + (why ? std::string(" ") + why : ""));
  }
  void on_goaway(uint32_t last, uint32_t code) override {
    log.push_back("goaway " + std::to_string(last) + " " + h2::error_name(code));
  }
};

// Carries bytes both ways until neither side has any; step 0: all at once.
// Returns the bytes carried.
size_t pump(Peer& a, Peer& b, size_t step = 0) {
  size_t moved = 0;
  for (int round = 0; round < 100000; round++) {
    bool any = false;
    for (auto [from, to] : {std::pair<Peer*, Peer*>{&a, &b}, {&b, &a}}) {
      std::string bytes;
      bytes.swap(from->s.out());
      if (bytes.empty()) continue;
      any = true;
      moved += bytes.size();
      size_t n = step ? step : bytes.size();
      for (size_t i = 0; i < bytes.size() && !to->s.dead(); i += n)
        to->s.feed(u8(bytes) + i, std::min(n, bytes.size() - i));
    }
    if (!any) return moved;
  }
  FAIL("pump: no end");
  return moved;
}

std::vector<h2::Field> get(const std::string& path, const std::string& authority = "example.com") {
  return {{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", path}, {"user-agent", "fanout/test"}};
}

}  // namespace

TEST_CASE("h2 session: requests and responses between a client and a server, whole and a byte at a time") {
  for (size_t step : {size_t(0), size_t(1), size_t(7)}) {
    INFO("step " << step);
    Peer c(h2::Session::client), sv(h2::Session::server);
    auto req = get("/a");
    uint32_t id = c.s.request(req.data(), req.size(), true);
    CHECK(id == 1);
    pump(c, sv, step);
    REQUIRE(sv.log.size() == 1);
    CHECK(sv.log[0] == "headers 1 :method=GET :scheme=https :authority=example.com :path=/a user-agent=fanout/test END");
    std::vector<h2::Field> head = {{":status", "200"}, {"content-type", "text/plain"}};
    sv.s.respond(1, head.data(), head.size(), false);
    CHECK(sv.s.send_data(1, "hello", 5, true) == 5);
    pump(c, sv, step);
    REQUIRE(c.log.size() == 2);
    CHECK(c.log[0] == "headers 1 :status=200 content-type=text/plain");
    CHECK(c.log[1] == "end 1 5");
    CHECK(c.body[1] == "hello");
    CHECK(c.s.open_streams() == 0);
    CHECK(sv.s.open_streams() == 0);
    CHECK_FALSE(c.s.dead());
    CHECK_FALSE(sv.s.dead());
    // The second request on the connection is all indexes but :path.
    std::string sent_before = c.s.out();
    auto req2 = get("/b");
    CHECK(c.s.request(req2.data(), req2.size(), true) == 3);
    size_t block = c.s.out().size() - sent_before.size() - h2::kFrameHeader;
    CHECK(block == 4 + 4);  // four indexes, :path as a literal (its name indexed, 1 + 1 + 2)
    pump(c, sv, step);
    CHECK(sv.log.back() == "headers 3 :method=GET :scheme=https :authority=example.com :path=/b user-agent=fanout/test END");
  }
}

TEST_CASE("h2 session: MAX_CONCURRENT_STREAMS holds, and streams interleave") {
  h2::Session::Options o;
  o.max_streams = 10;
  Peer c(h2::Session::client), sv(h2::Session::server, o);
  pump(c, sv);  // the server's SETTINGS reach the client
  std::vector<uint32_t> ids;
  for (int i = 0; i < 25; i++) {
    auto req = get("/" + std::to_string(i));
    if (uint32_t id = c.s.request(req.data(), req.size(), true)) ids.push_back(id);
  }
  CHECK(ids.size() == 10);
  CHECK_FALSE(c.s.can_open());
  pump(c, sv);
  // Answer in reverse order, the bodies in pieces that interleave.
  std::vector<h2::Field> head = {{":status", "200"}};
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) sv.s.respond(*it, head.data(), head.size(), false);
  for (int piece = 0; piece < 3; piece++)
    for (uint32_t id : ids) sv.s.send_data(id, "abc", 3, piece == 2);
  pump(c, sv);
  for (uint32_t id : ids) CHECK(c.body[id] == "abcabcabc");
  CHECK(c.s.can_open());
  CHECK(c.s.open_streams() == 0);
}

TEST_CASE("h2 session: flow control: 8 MB through 1 MB windows, the sender held back, nothing buffered") {
  Peer c(h2::Session::client), sv(h2::Session::server);
  auto req = get("/big");
  c.s.request(req.data(), req.size(), true);
  pump(c, sv);
  std::vector<h2::Field> head = {{":status", "200"}, {"content-length", "8388608"}};
  sv.s.respond(1, head.data(), head.size(), false);
  std::string chunk(256 * 1024, 'x');
  for (size_t i = 0; i < chunk.size(); i++) chunk[i] = char('a' + i % 26);
  size_t sent = 0, total = 8 << 20, blocked = 0;
  while (sent < total) {
    size_t off = sent % chunk.size();
    size_t want = std::min(chunk.size() - off, total - sent);
    size_t n = sv.s.send_data(1, chunk.data() + off, want, sent + want == total);
    sent += n;
    if (n < want) {
      blocked++;
      // What the server may send before the client's WINDOW_UPDATEs: the
      // stream's window (1 MB, its first SETTINGS) at most.
      CHECK(sv.s.out().size() <= (1u << 20) + 64 * (h2::kFrameHeader + 16384));
      pump(c, sv);
    }
  }
  pump(c, sv);
  CHECK(blocked > 0);
  CHECK(c.body[1].size() == total);
  bool same = true;
  for (size_t i = 0; i < total && same; i++) same = c.body[1][i] == char('a' + (i % chunk.size()) % 26);
  CHECK(same);
  CHECK(c.log.back() == "end 1 8388608");
}

TEST_CASE("h2 session: a header block over CONTINUATION, PING, RST_STREAM, GOAWAY") {
  Peer c(h2::Session::client), sv(h2::Session::server);
  pump(c, sv);
  auto req = get("/h");
  for (int i = 0; i < 40; i++) req.push_back({"x-big-" + std::to_string(i), std::string(1000, 'v')});  // 40 KB: three frames
  c.s.request(req.data(), req.size(), true);
  std::string& wire = c.s.out();
  size_t conts = 0;
  for (size_t at = 0; at + h2::kFrameHeader <= wire.size();) {
    h2::Frame f;
    h2::parse_header(u8(wire) + at, 1 << 24, f);
    conts += f.type == h2::CONTINUATION;
    at += h2::kFrameHeader + f.length;
  }
  CHECK(conts >= 2);
  pump(c, sv);
  REQUIRE(sv.heads.size() == 1);
  CHECK(sv.heads[0].size() == req.size());
  CHECK(sv.heads[0].back().value == std::string(1000, 'v'));

  const char opaque[8] = {'1', '2', '3', '4', '5', '6', '7', '8'};
  c.s.ping(opaque);
  pump(c, sv);
  CHECK(sv.s.pings_answered() == 1);

  sv.s.reset(1, h2::REFUSED_STREAM);
  pump(c, sv);
  CHECK(c.log.back() == "reset 1 REFUSED_STREAM");

  auto r3 = get("/3"), r5 = get("/5");
  c.s.request(r3.data(), r3.size(), true);
  c.s.request(r5.data(), r5.size(), true);
  pump(c, sv);
  sv.s.goaway(h2::NO_ERROR, "");  // the server took 5 (its last) ...
  pump(c, sv);
  CHECK(c.log.back() == "goaway 5 NO_ERROR");
  CHECK_FALSE(c.s.can_open());
  // ... a GOAWAY that took only stream 3 refuses 5, which may go again.
  Peer c2(h2::Session::client), sv2(h2::Session::server);
  pump(c2, sv2);
  c2.s.request(r3.data(), r3.size(), true);
  c2.s.request(r5.data(), r5.size(), true);
  std::string g;
  h2::put_header(g, 8, h2::GOAWAY, 0, 0);
  h2::put32(g, 1);
  h2::put32(g, h2::NO_ERROR);
  c2.s.feed(u8(g), g.size());
  CHECK(c2.log[0] == "reset 3 REFUSED_STREAM GOAWAY: the peer never took the stream");
  CHECK(c2.log[1] == "goaway 1 NO_ERROR");
}

TEST_CASE("h2 session: what a broken server sends ends the stream or the connection, with the RFC's code") {
  struct Case {
    const char* what;
    std::string frames;  // after the server's SETTINGS, on stream 1 (open, request sent)
    uint32_t conn_error;  // 0: the connection lives
    const char* log;      // the client's last event
  };
  auto frame = [](uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
    std::string o;
    h2::put_frame(o, type, flags, stream, payload.data(), payload.size());
    return o;
  };
  std::string head200 = frame(h2::HEADERS, h2::END_HEADERS, 1, "\x88");
  const Case cases[] = {
      {"a bad HPACK index", frame(h2::HEADERS, h2::END_HEADERS, 1, "\xff\x10"), h2::COMPRESSION_ERROR, ""},
      {"a frame inside a header block", frame(h2::HEADERS, 0, 1, "\x88") + frame(h2::PING, 0, 0, "12345678"), h2::PROTOCOL_ERROR, ""},
      {"PUSH_PROMISE", frame(h2::PUSH_PROMISE, h2::END_HEADERS, 1, std::string("\0\0\0\2\x88", 5)), h2::PROTOCOL_ERROR, ""},
      {"HEADERS on a stream never opened", frame(h2::HEADERS, h2::END_HEADERS, 3, "\x88"), h2::PROTOCOL_ERROR, ""},
      {"DATA before HEADERS", frame(h2::DATA, 0, 1, "x"), 0, "reset 1 PROTOCOL_ERROR DATA before HEADERS"},
      {"DATA after the end", frame(h2::HEADERS, h2::END_HEADERS | h2::END_STREAM, 1, "\x88") + frame(h2::DATA, 0, 1, "x"), 0,
       "headers 1 :status=200 END"},
      {"WINDOW_UPDATE of 0 on the stream", frame(h2::WINDOW_UPDATE, 0, 1, std::string(4, '\0')), 0,
       "reset 1 PROTOCOL_ERROR WINDOW_UPDATE of 0"},
      {"a 16 KB frame past 16384", head200 + frame(h2::DATA, 0, 1, std::string(16385, 'x')), h2::FRAME_SIZE_ERROR, ""},
      {"RST_STREAM", head200 + frame(h2::RST_STREAM, 0, 1, std::string("\0\0\0\2", 4)), 0, "reset 1 INTERNAL_ERROR"},
  };
  for (auto& c : cases) {
    INFO(c.what);
    Peer p(h2::Session::client);
    auto req = get("/x");
    p.s.request(req.data(), req.size(), true);
    p.s.out().clear();
    std::string settings = frame(h2::SETTINGS, 0, 0, "");
    bool alive = p.s.feed(u8(settings), settings.size());
    alive = alive && p.s.feed(u8(c.frames), c.frames.size());
    if (c.conn_error) {
      CHECK_FALSE(alive);
      CHECK(p.s.error() == c.conn_error);
      // The GOAWAY it owes is the last thing out, with the code.
      std::string& out = p.s.out();
      REQUIRE(out.size() >= 17);
      size_t at = 0;
      h2::Frame f;
      while (at < out.size()) {
        h2::parse_header(u8(out) + at, 1 << 24, f);
        if (at + h2::kFrameHeader + f.length == out.size()) break;
        at += h2::kFrameHeader + f.length;
      }
      CHECK(f.type == h2::GOAWAY);
      CHECK(h2::get32(u8(out) + at + h2::kFrameHeader + 4) == c.conn_error);
    } else {
      CHECK(alive);
      REQUIRE_FALSE(p.log.empty());
      CHECK(p.log.back() == c.log);
    }
  }
  // A header list past the client's limit ends the stream (CANCEL), and the
  // table stays in step: the next response on the connection decodes.
  h2::Session::Options small;
  small.max_header_list = 100;
  Peer c(h2::Session::client, small), sv(h2::Session::server);
  pump(c, sv);
  auto r1 = get("/1"), r3 = get("/3");
  c.s.request(r1.data(), r1.size(), true);
  c.s.request(r3.data(), r3.size(), true);
  pump(c, sv);
  std::vector<h2::Field> big = {{":status", "200"}, {"x-long", std::string(200, 'l')}}, ok = {{":status", "204"}, {"x-long", std::string(10, 'l')}};
  sv.s.respond(1, big.data(), big.size(), true);
  sv.s.respond(3, ok.data(), ok.size(), true);
  pump(c, sv);
  REQUIRE(c.log.size() == 2);
  CHECK(c.log[0] == "reset 1 CANCEL a header list past SETTINGS_MAX_HEADER_LIST_SIZE");
  CHECK(c.log[1] == "headers 3 :status=204 x-long=llllllllll END");
  CHECK_FALSE(c.s.dead());
}

// Against nghttpd (Debian's nghttp2-server, which make deps installs): the
// session over a real loopback socket, in cleartext with prior knowledge.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.hpp"

namespace {

struct Nghttpd {
  pid_t pid = -1;
  int port = 0;
  explicit Nghttpd(const std::string& root) {
    port = t::free_port();
    pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      std::string p = std::to_string(port);
      execlp("nghttpd", "nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", root.c_str(), p.c_str(), (char*)nullptr);
      _exit(127);
    }
  }
  ~Nghttpd() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
  int connect_() const {
    for (int i = 0; i < 200; i++) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(uint16_t(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
      close(fd);
      usleep(20000);
    }
    return -1;
  }
};

bool have(const char* prog) {
  std::string cmd = std::string("command -v ") + prog + " >/dev/null 2>&1";
  return system(cmd.c_str()) == 0;
}

// Writes out() and feeds what comes back until done() or 10 s.
template <class Done>
bool drive(int fd, Peer& p, Done done) {
  for (int i = 0; i < 100000 && !done(); i++) {
    std::string& out = p.s.out();
    while (!out.empty()) {
      ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      out.erase(0, size_t(n));
    }
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 10000) <= 0) return false;
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    if (!p.s.feed(reinterpret_cast<const uint8_t*>(buf), size_t(n))) return false;
  }
  return done();
}

}  // namespace

TEST_CASE("h2 session: interop with nghttpd (h2c, prior knowledge): 50 streams at once, 404s, a 4 MB body") {
  if (!have("nghttpd")) {
    const char* ci = getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("nghttpd is not installed (make deps installs nghttp2-server)");
    t::skip("nghttpd is not installed (make deps installs nghttp2-server)");
    return;
  }
  std::string root = t::temp_dir() + "/nghttpd";
  mkdir(root.c_str(), 0755);
  std::string big(4 << 20, 0);
  for (size_t i = 0; i < big.size(); i++) big[i] = char(i * 7 + i / 4096);
  t::write_file(root + "/big", big);
  for (int i = 0; i < 50; i++) t::write_file(root + "/f" + std::to_string(i), "file " + std::to_string(i) + "\n");
  Nghttpd srv(root);
  int fd = srv.connect_();
  REQUIRE(fd >= 0);
  Peer c(h2::Session::client);
  std::map<uint32_t, std::string> want;
  for (int i = 0; i < 60; i++) {  // 50 files, 10 missing
    auto req = get("/f" + std::to_string(i), "127.0.0.1:" + std::to_string(srv.port));
    uint32_t id = c.s.request(req.data(), req.size(), true);
    REQUIRE(id != 0);
    want[id] = i < 50 ? "file " + std::to_string(i) + "\n" : "";
  }
  auto ends = [&] {
    size_t n = 0;
    for (auto& e : c.log) n += e.rfind("end ", 0) == 0 || e.find(" END") != std::string::npos;
    return n;
  };
  CHECK(drive(fd, c, [&] { return ends() == 60; }));
  size_t ok = 0, missing = 0;
  for (auto& h : c.heads) {
    REQUIRE_FALSE(h.empty());
    CHECK(h[0].name == ":status");
    ok += h[0].value == "200";
    missing += h[0].value == "404";
  }
  CHECK(ok == 50);
  CHECK(missing == 10);
  for (auto& [id, body] : want)
    if (!body.empty()) CHECK(c.body[id] == body);
  // A body four times the stream's window, through WINDOW_UPDATEs.
  auto req = get("/big", "127.0.0.1:" + std::to_string(srv.port));
  uint32_t id = c.s.request(req.data(), req.size(), true);
  CHECK(drive(fd, c, [&] { return c.body[id].size() == big.size() && c.log.back().rfind("end ", 0) == 0; }));
  CHECK(c.body[id] == big);
  CHECK_FALSE(c.s.dead());
  close(fd);
}
