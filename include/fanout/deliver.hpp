// The one step both drivers share once bytes are in: feed them to the
// parser and hand the head and body to the job's sink.
#pragma once
#include <cstddef>

#include "fanout/http.hpp"
#include "fanout/job.hpp"

namespace fanout {

struct Delivered {
  size_t used = 0;    // bytes consumed; the rest is a head still incomplete
  bool end = false;   // the response is complete, or failed (r says which)
  bool keep = false;  // complete, and the connection can carry another request
};

// head: where the head goes for the sink (kept between calls: no allocation
// per response).
Delivered deliver(http::ResponseParser& p, const char* buf, size_t n, Sink& sink, Result& r, http::Head& head);

}  // namespace fanout
