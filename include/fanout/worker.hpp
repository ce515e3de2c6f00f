// A worker owns everything one line of execution needs: its resolver and
// what it learned (Memo), its sink and its read buffer. Models create one
// per thread or process and never share them; a thread pool shares only
// its connection pool and the TLS client its connections point into.
#pragma once
#include <memory>
#include <vector>

#include "fanout/core.hpp"
#include "fanout/dns.hpp"
#include "fanout/job.hpp"
#include "fanout/perform.hpp"
#include "fanout/pool.hpp"
#include "fanout/tls.hpp"

namespace fanout {

class Worker {
 public:
  static constexpr size_t kBufSize = 64 * 1024;
  // Shared: a thread pool's connections and their TLS client; null for a
  // worker of its own (seq, procs).
  struct Shared {
    Pool* pool;
    TlsClient* tls;
  };
  Worker(int worker_id, const Config& c, Job& job, Shared shared = {nullptr, nullptr})
      : id(worker_id), cfg(c), dns(c), sink(job.sink(worker_id)), buf(kBufSize),
        own_tls(shared.tls ? nullptr : new TlsClient(c)), tls(shared.tls ? shared.tls : own_tls.get()),
        own(shared.pool ? nullptr : new Pool(c.per_host, idle_cap(1, 2))), pool(shared.pool ? shared.pool : own.get()),
        env(c, *tls) {}
  int id;
  const Config& cfg;
  Resolver dns;
  Memo memo;
  std::unique_ptr<Sink> sink;
  std::vector<char> buf;
  std::unique_ptr<TlsClient> own_tls;
  TlsClient* tls;
  std::unique_ptr<Pool> own;  // after own_tls: its connections point into it
  Pool* pool;
  LiveEnv env;
};

// The blocking driver: one request from resolve to last body byte, on the
// calling thread, waiting in poll() until the request's deadline.
// Always fills r (status or error); never throws.
void fetch_blocking(Worker& w, const Request& rq, Result& r);

}  // namespace fanout
