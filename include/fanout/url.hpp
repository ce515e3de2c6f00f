// http and https URLs, parsed as the WHATWG URL standard parses special
// URLs, less IDNA: a host that is not ASCII after percent-decoding is an
// error ("needs IDNA") rather than a guess. Percent-encodings in the input are
// kept as given; only bytes the standard says to encode are encoded.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace fanout {

struct Url {
  enum class HostKind { name, ipv4, ipv6 };
  bool https = false;
  HostKind kind = HostKind::name;
  std::string host;      // "example.com", "127.0.0.1" or "::1" (no brackets)
  uint16_t port = 0;     // effective port: the default when none is given
  std::string userinfo;  // "user:pass" as serialized, or empty
  std::string path;      // always starts with '/'
  std::string query;     // "" or "?..."
  std::string fragment;  // "" or "#..." (never sent)

  bool default_port() const { return port == (https ? 443 : 80); }
  std::string target() const { return path + query; }    // request-target
  std::string authority() const;                         // Host header value
  void append_authority(std::string& out) const;         // the same, onto out
  std::string href() const;
  std::string origin_key() const;  // "https://host:443": what kept-alive connections are pooled by
};

enum class UrlError { none, syntax, scheme, host, idna, port };

// Returns UrlError::none and fills out, or an error with a reason in why.
UrlError parse_url(std::string_view in, Url& out, std::string* why = nullptr);
// What curl (CURLU_GUESS_SCHEME) and wget put before a URL given without a
// scheme ("example.com/x", "localhost:8080", "mailto:a@b" too, as curl):
// "http://", or curl's guess by the host's first label ("ftp." -> "ftp://",
// unsupported here); "" when the text has its scheme: curl's "scheme:/",
// and http: or https: without the slashes, as WHATWG reads them.
std::string_view guess_scheme(std::string_view in);
// A reference (a Location header) against base: absolute, "//host/...",
// "/path", "?query", "#fragment" or a relative path.
UrlError resolve_url(const Url& base, std::string_view ref, Url& out, std::string* why = nullptr);

// s with the password of every "scheme://user:password@" in it shown as
// "***": what a result, a summary or an error may print of a URL.
std::string mask_password(std::string_view s);
// The user and password of u.userinfo, percent-decoded: "user:password",
// what Basic auth sends (as curl does); empty when there is none.
std::string credentials(const Url& u);

}  // namespace fanout
