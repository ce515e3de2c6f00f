// A worker owns everything one line of execution needs: its resolver, its
// TLS state, its sink and its read buffer. Models create one per thread or
// process (or per loop) and never share them.
#pragma once
#include <memory>
#include <vector>

#include "fanout/core.hpp"
#include "fanout/dns.hpp"
#include "fanout/job.hpp"
#include "fanout/pool.hpp"
#include "fanout/tls.hpp"

namespace fanout {

class Worker {
 public:
  static constexpr size_t kBufSize = 32 * 1024;  // also the response-head limit
  // pool: shared (threads), or null for one of its own (seq, procs).
  Worker(int worker_id, const Config& c, Job& job, Pool* shared = nullptr)
      : id(worker_id), cfg(c), dns(c), sink(job.sink(worker_id)), buf(kBufSize),
        own(shared ? nullptr : new Pool(c.per_host)), pool(shared ? shared : own.get()) {}
  int id;
  const Config& cfg;
  Resolver dns;
  TlsClient tls;
  std::unique_ptr<Sink> sink;
  std::vector<char> buf;
  std::unique_ptr<Pool> own;
  Pool* pool;
};

// The blocking driver: one request from resolve to last body byte, on the
// calling thread, with blocking sockets and poll() for the deadline.
// Always fills r (status or error); never throws.
void fetch_blocking(Worker& w, const Request& rq, Result& r);

}  // namespace fanout
