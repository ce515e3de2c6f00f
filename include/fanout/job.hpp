// What to do with each response. A job makes one Sink per worker; the
// driver hands the sink the head and the body as they arrive, and lets it
// have the last word on the result (a download that cannot be written is an
// error even after a 200).
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "fanout/core.hpp"

namespace fanout {

namespace http { class ResponseParser; }

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void begin(const Request&) {}
  virtual void head(const http::ResponseParser&) {}
  virtual void body(const char*, size_t) {}
  virtual void end(Result&) {}
};

class Job {
 public:
  virtual ~Job() = default;
  virtual const char* name() const = 0;
  virtual std::unique_ptr<Sink> sink(int worker) = 0;
};

// "check": GET (or HEAD) each URL, read and discard the body.
std::unique_ptr<Job> make_check_job();

}  // namespace fanout
