// The request and the response head in HTTP/2's terms (RFC 9113 §8.3).
#include "fanout/h2_link.hpp"

#include <algorithm>

namespace fanout {
namespace {

void add(std::vector<h2::Field>& out, std::string_view name, std::string_view value) {
  out.emplace_back();
  out.back().name = name;
  out.back().value = value;
}

}  // namespace

uint32_t H2Link::open(H2Stream& to, const std::vector<h2::Field>& f) {
  uint32_t id = s.request(f.data(), f.size(), true);
  if (!id) return 0;
  to.heard = false;
  streams_.emplace_back(id, &to);
  opened++;
  most = std::max(most, streams_.size());
  return id;
}

void H2Link::close(uint32_t id) {
  for (size_t i = 0; i < streams_.size(); i++)
    if (streams_[i].first == id) {
      H2Stream* st = streams_[i].second;
      streams_[i] = streams_.back();
      streams_.pop_back();
      if (st->heard) std::erase(heard_, st);
      // A stream the session still knows was not finished: the server may stop.
      if (!over()) s.reset(id, h2::CANCEL);
      return;
    }
}

H2Stream* H2Link::find(uint32_t id) {
  for (auto& [sid, st] : streams_)
    if (sid == id) {
      if (!st->heard) heard_.push_back(st);
      st->heard = true;
      return st;
    }
  return nullptr;
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

void request_fields(const Url& url, bool head, const std::vector<std::string>& extra, std::vector<h2::Field>& out) {
  out.clear();
  std::string authority = url.authority();
  for (auto& h : extra) {  // -H Host: names the authority, as it names Host in HTTP/1.1
    std::string_view name = std::string_view(h).substr(0, h.find(':'));
    std::string_view value = http::trim(std::string_view(h).substr(h.find(':') + 1));
    if (http::ieq(name, "Host") && !value.empty()) authority = value;
  }
  add(out, ":method", head ? "HEAD" : "GET");
  add(out, ":scheme", url.https ? "https" : "http");
  add(out, ":authority", authority);
  add(out, ":path", url.target());
  if (!http::user_has(extra, "User-Agent")) add(out, "user-agent", "fanout/" FANOUT_VERSION);
  if (!http::user_has(extra, "Accept")) add(out, "accept", "*/*");
  if (!url.userinfo.empty() && !http::user_has(extra, "Authorization")) add(out, "authorization", "Basic " + http::base64(credentials(url)));
  for (auto& h : extra) {
    std::string name = h.substr(0, h.find(':'));
    std::string_view value = http::trim(std::string_view(h).substr(h.find(':') + 1));
    for (auto& c : name) c = c >= 'A' && c <= 'Z' ? char(c + 32) : c;
    if (value.empty() || name == "host" || name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
        name == "transfer-encoding" || name == "upgrade")
      continue;
    add(out, name, value);
  }
}

const char* response_head(const std::vector<h2::Field>& f, http::Head& head) {
  head.status = 0;
  head.version = "2";
  head.headers.clear();
  if (f.empty() || f[0].name != ":status") return "the response's first field is not :status";
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

}  // namespace fanout
