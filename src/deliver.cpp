#include "fanout/deliver.hpp"

namespace fanout {
namespace {

struct BodyCtx {
  Sink& sink;
  Result& r;
};

void on_body(void* ctx, const char* p, size_t n) {
  auto* b = static_cast<BodyCtx*>(ctx);
  b->r.bytes += n;
  b->sink.body(p, n);
}

}  // namespace

Delivered deliver(http::ResponseParser& p, const char* buf, size_t n, Sink& sink, Result& r, http::Head& head) {
  BodyCtx ctx{sink, r};
  Delivered d;
  for (;;) {
    auto s = p.feed(buf + d.used, n - d.used, on_body, &ctx);
    d.used += s.used;
    switch (s.ev) {
      case http::ResponseParser::head:
        r.status = p.status();
        r.version = p.minor_version() == 0 ? 10 : 11;
        p.head_view(head);
        sink.head(head);
        continue;
      case http::ResponseParser::done:
        d.end = true;
        d.keep = p.keep_alive() && d.used == n;  // nothing unasked-for after it
        return d;
      case http::ResponseParser::error:
        r.fail(Cause::http, std::string("http: ") + p.error_message(), p.error_code());
        d.end = true;
        return d;
      case http::ResponseParser::more:
        if (s.used == 0) return d;
    }
  }
}

}  // namespace fanout
