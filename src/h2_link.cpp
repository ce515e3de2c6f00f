// The request and the response head in HTTP/2's terms (RFC 9113 §8.3),
// a connection's streams, and HTTP/2's exchange: a request as one stream.
#include "fanout/h2_link.hpp"

#include <algorithm>

#include "fanout/exchange.hpp"

namespace fanout {
uint32_t H2Link::open(H2Stream& to, const std::vector<h2::FieldView>& f) {
  uint32_t id = s.request(f.data(), f.size(), true);
  if (!id) return 0;
  to.heard = false;
  streams_.push_back({id, &to});
  opened++;
  most = std::max(most, streams_.size());
  return id;
}

// streams_ is in the order of the ids (they only grow): found by halving.
std::vector<H2Link::Slot>::iterator H2Link::at(uint32_t id) {
  auto it = std::lower_bound(streams_.begin(), streams_.end(), id, [](const Slot& e, uint32_t v) { return e.id < v; });
  return it != streams_.end() && it->id == id ? it : streams_.end();
}

void H2Link::close(uint32_t id) {
  auto it = at(id);
  if (it == streams_.end()) return;
  H2Stream* st = it->to;
  streams_.erase(it);
  if (st->heard) std::erase(heard_, st);
  // A stream the session still knows was not finished: the server may stop.
  if (!over()) s.reset(id, h2::CANCEL);
}

H2Stream* H2Link::find(uint32_t id) {
  auto it = at(id);
  if (it == streams_.end()) return nullptr;
  H2Stream* st = it->to;
  if (!st->heard) heard_.push_back(st);
  st->heard = true;
  return st;
}

void H2Link::hear_all() {
  for (auto& [sid, st] : streams_)
    if (!st->heard) {
      st->heard = true;
      heard_.push_back(st);
    }
}

void H2Link::feed(const char* p, size_t n) {
  if (n == 0) eof = true;
  else if (!s.dead()) s.feed(reinterpret_cast<const uint8_t*>(p), n);
}

void request_fields(const Url& url, bool head, const std::vector<std::string>& extra, std::string& text,
                    std::vector<h2::FieldView>& out) {
  using namespace std::literals;  // ""sv: no strlen() at each call, at -Os
  // text holds what no string has as it is sent: the authority, the target,
  // the credentials, the -H names in lower case. Room for all of it first,
  // so the views into it stay good.
  size_t room = url.host.size() + 8 + url.path.size() + url.query.size();
  if (!url.userinfo.empty()) room += 6 + 4 * (url.userinfo.size() / 3 + 1);
  for (auto& h : extra) room += h.size();
  text.clear();
  text.reserve(room);
  out.clear();
  out.reserve(6 + extra.size());
  std::string_view authority;
  for (auto& h : extra) {  // -H Host: names the authority, as it names Host in HTTP/1.1
    std::string_view name = std::string_view(h).substr(0, h.find(':'));
    std::string_view value = http::trim(std::string_view(h).substr(h.find(':') + 1));
    if (http::ieq(name, "Host"sv) && !value.empty()) authority = value;
  }
  auto piece = [&](size_t from) { return std::string_view(text).substr(from); };
  if (authority.empty()) {
    url.append_authority(text);
    authority = piece(0);
  }
  size_t at = text.size();
  text.append(url.path).append(url.query);
  std::string_view target = piece(at);
  out.push_back({":method"sv, head ? "HEAD"sv : "GET"sv});
  out.push_back({":scheme"sv, url.https ? "https"sv : "http"sv});
  out.push_back({":authority"sv, authority});
  out.push_back({":path"sv, target});
  if (!http::user_has(extra, "User-Agent"sv)) out.push_back({"user-agent"sv, "fanout/" FANOUT_VERSION ""sv});
  if (!http::user_has(extra, "Accept"sv)) out.push_back({"accept"sv, "*/*"sv});
  if (!url.userinfo.empty() && !http::user_has(extra, "Authorization"sv)) {
    at = text.size();
    text.append("Basic "sv).append(http::base64(credentials(url)));
    out.push_back({"authorization"sv, piece(at)});
  }
  for (auto& h : extra) {
    std::string_view name = std::string_view(h).substr(0, h.find(':'));
    std::string_view value = http::trim(std::string_view(h).substr(h.find(':') + 1));
    at = text.size();
    for (char c : name) text += c >= 'A' && c <= 'Z' ? char(c + 32) : c;
    name = piece(at);
    if (value.empty() || name == "host"sv || name == "connection"sv || name == "keep-alive"sv || name == "proxy-connection"sv ||
        name == "transfer-encoding"sv || name == "upgrade"sv)
      continue;
    out.push_back({name, value});
  }
}

const char* response_head(std::span<const h2::Field> f, http::Head& head) {
  using namespace std::literals;
  head.status = 0;
  head.version = "2";
  head.headers.clear();
  head.headers.reserve(f.size());
  if (f.empty() || f[0].name != ":status"sv) return "the response's first field is not :status";
  const std::string& s = f[0].value;
  if (s.size() != 3 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
    return "a :status that is not three digits";
  head.status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
  for (size_t i = 1; i < f.size(); i++) {
    if (!f[i].name.empty() && f[i].name[0] == ':') return "a pseudo-header other than :status in a response";
    for (char c : f[i].name)
      if (c >= 'A' && c <= 'Z') return "upper case in a header name";
    head.headers.push_back({f[i].name, f[i].value});
  }
  return nullptr;
}

bool H2Exchange::start(const Url& url, bool head, const std::vector<std::string>& headers) {
  head_seen_ = done_ = refused_ = false;
  fail_ = {};
  request_fields(url, head, headers, text_, fields_);
  id_ = link_->open(*this, fields_);
  return id_ != 0;
}

// The request's frames, or frames the session owes (WINDOW_UPDATE, SETTINGS' ACK).
bool H2Exchange::sent(size_t n) {
  link_->s.out().erase(0, n);
  return link_->s.out().empty();
}

// The one stream on the connection: none other needs to hear that it heard.
Heard H2Exchange::received(const char* p, size_t n) {
  link_->feed(p, n);
  for (H2Stream* st : link_->heard()) st->heard = false;
  link_->heard().clear();
  return settle();
}

Heard H2Exchange::settle() {
  auto failed = [&](Failure f) { return Heard::fail(Heard::failed, std::move(f), refused_); };
  if (fail_.cause != Cause::none) {
    Failure f = std::move(fail_);
    fail_ = {};
    return failed(std::move(f));
  }
  if (done_) return Heard::ended(!link_->over() && link_->s.can_open());
  if (link_->broke.cause != Cause::none) return failed(link_->broke);
  if (link_->s.dead())
    return failed({Cause::http2, std::string("http2: ") + link_->s.why() + " (" + h2::error_name(link_->s.error()) + ")"});
  if (link_->eof)
    return failed({Cause::http2_stream, "HTTP/2 stream " + std::to_string(id_) + " was not closed cleanly before end of the underlying stream"});
  return {};
}

void H2Exchange::stop() {
  if (id_) link_->close(id_);
  id_ = 0;
}

void H2Exchange::on_headers(uint32_t id, std::span<const h2::Field> f, bool end) {
  if (id != id_ || done_) return;
  const char* bad = response_head(f, head_);
  if (!bad && !head_seen_ && head_.status < 200 && end) bad = "an interim (1xx) response ends the stream";
  if (bad) {
    link_->s.reset(id, h2::PROTOCOL_ERROR);
    fail_ = {Cause::http2_stream, "HTTP/2 stream " + std::to_string(id) + ": malformed response: " + bad};
    return;
  }
  if (head_seen_ || head_.status < 200) {  // trailers, or an interim response
    done_ = head_seen_ && end;
    return;
  }
  head_seen_ = true;
  to_.first_byte();
  r_.status = head_.status;
  r_.version = 20;
  to_.head(head_);
  done_ = end;
}

void H2Exchange::on_data(uint32_t id, const uint8_t* p, size_t n, bool end) {
  if (id != id_ || done_ || !head_seen_) return;
  r_.bytes += n;
  to_.body(reinterpret_cast<const char*>(p), n);
  done_ = end;
}

// curl's words: "HTTP/2 stream 1 was not closed cleanly: PROTOCOL_ERROR
// (err 1)". A refused stream was not processed: it may go again, as a
// request on a stale kept-alive connection does.
void H2Exchange::on_reset(uint32_t id, uint32_t code, const char* why) {
  if (id != id_) return;
  std::string s = "HTTP/2 stream " + std::to_string(id);
  std::string err = std::string(h2::error_name(code)) + " (err " + std::to_string(code) + ")";
  refused_ = code == h2::REFUSED_STREAM;
  if (refused_) fail_ = {Cause::recv, s + " was refused: " + (why ? why : err)};
  else if (why) fail_ = {Cause::http2_stream, s + ": " + why + ": " + err};
  else fail_ = {Cause::http2_stream, s + " was not closed cleanly: " + err};
}

}  // namespace fanout
