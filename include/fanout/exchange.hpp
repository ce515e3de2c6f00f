// One request's exchange on its connection, HTTP/1.1 or HTTP/2, behind
// the one small interface the engine knows (STYLE 13: bytes in, bytes out,
// events): start the request, the bytes to send, the bytes received and
// what they came to. HTTP/1.1 carries one request at a time: its bytes,
// and the response through the parser. HTTP/2 carries the request as a
// stream on the connection's session (H2Link), which a loop shares among
// many requests. Neither touches a socket or a clock.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fanout/core.hpp"
#include "fanout/h2_link.hpp"
#include "fanout/http.hpp"

namespace fanout {

// What an exchange tells its request as the response comes.
struct Hearer {
  virtual void first_byte() = 0;               // the response began
  virtual void head(const http::Head& h) = 0;  // its final head
  virtual void body(const char* p, size_t n) = 0;

 protected:
  ~Hearer() = default;
};

// What the bytes received came to.
struct Heard {
  // failed: the connection failed under the request (on a kept-alive
  // connection, before any byte, that is a stale connection: the engine
  // sends the request again); bad: the response is wrong (no second go).
  enum What { more, done, failed, bad } what = more;
  bool keep = false;     // done: the connection can carry another request
  bool refused = false;  // failed: the server did not process the request
  Failure failure;
  static Heard ended(bool keep) {
    Heard h;
    h.what = done;
    h.keep = keep;
    return h;
  }
  static Heard fail(What w, Failure f, bool refused = false) {
    Heard h;
    h.what = w;
    h.refused = refused;
    h.failure = std::move(f);
    return h;
  }
};

class Exchange {
 public:
  // The request goes: false if the connection takes no new one.
  virtual bool start(const Url& url, bool head, const std::vector<std::string>& headers) = 0;
  // Bytes to send (the request's, or what the protocol owes the peer),
  // then how many went; sent() is true when none are left.
  virtual std::string_view unsent() = 0;
  virtual bool sent(size_t n) = 0;
  // Bytes read from the connection; 0 bytes is its end.
  virtual Heard received(const char* p, size_t n) = 0;
  // The request is over on this connection (an HTTP/2 stream still open
  // is reset: the connection may outlive the request).
  virtual void stop() = 0;

 protected:
  ~Exchange() = default;
};

class Http1Exchange final : public Exchange {
 public:
  Http1Exchange(Hearer& to, Result& r) : to_(to), r_(r) {}
  // The request unsent() will be (start() says it too, and readies the parser).
  void request(const Url& url, bool head, const std::vector<std::string>& headers);
  // Through an http:// proxy: the request line's absolute form, and the
  // proxy's credentials (a header line, or empty).
  void via_proxy(bool absolute, const std::string* auth) {
    absolute_ = absolute;
    proxy_auth_ = auth;
  }
  bool start(const Url& url, bool head, const std::vector<std::string>& headers) override;
  std::string_view unsent() override;
  bool sent(size_t n) override;
  Heard received(const char* p, size_t n) override;
  void stop() override {}

 private:
  Heard deliver(const char* buf, size_t n, size_t& used);

  Hearer& to_;
  Result& r_;
  const Url* url_ = nullptr;
  const std::vector<std::string>* headers_ = nullptr;
  bool head_request_ = false;
  bool absolute_ = false;
  const std::string* proxy_auth_ = nullptr;  // the proxy's (Config's), or null
  std::string req_;  // the request's bytes, made when first asked for
  size_t off_ = 0;
  http::ResponseParser parser_;
  http::Head head_;
  std::string carry_;  // a response head still incomplete, between reads
};

class H2Exchange final : public Exchange, public H2Stream {
 public:
  H2Exchange(Hearer& to, Result& r) : to_(to), r_(r) {}
  void attach(H2Link& link) { link_ = &link; }
  bool start(const Url& url, bool head, const std::vector<std::string>& headers) override;
  std::string_view unsent() override { return link_->s.out(); }
  bool sent(size_t n) override;
  Heard received(const char* p, size_t n) override;
  void stop() override;
  // On a connection a loop lends, its pump reads for every stream: the
  // request waits while waiting(), then settle() says what its stream heard.
  bool waiting() const { return fail_.cause == Cause::none && !done_ && !link_->over(); }
  Heard settle();

  void on_headers(uint32_t id, std::span<const h2::Field> f, bool end) override;
  void on_data(uint32_t id, const uint8_t* p, size_t n, bool end) override;
  void on_reset(uint32_t id, uint32_t code, const char* why) override;
  void on_goaway(uint32_t, uint32_t) override {}

 private:
  Hearer& to_;
  Result& r_;
  H2Link* link_ = nullptr;
  uint32_t id_ = 0;
  bool head_seen_ = false, done_ = false, refused_ = false;
  Failure fail_;  // what the stream's events found, for settle()
  std::vector<h2::FieldView> fields_;
  std::string text_;  // what fields_ has that no string holds as it is sent
  http::Head head_;
};

}  // namespace fanout
