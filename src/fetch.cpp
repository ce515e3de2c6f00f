// The blocking driver, used by seq, threads and procs: it carries out the
// engine's steps on the calling thread. Sockets are non-blocking; where a
// call says "again", the thread waits in poll() until the request's
// deadline, so strace shows one thread per request waiting in poll.
#include <cerrno>
#include <vector>

#include "fanout/worker.hpp"
#include "sys.hpp"

namespace fanout {
namespace {

// poll() one fd until the engine's deadline; false when time ran out
// first. A signal (EINTR) may have moved the deadline: it is read again.
bool wait_for(int fd, bool write, const Engine& e) {
  pollfd p{fd, short(write ? POLLOUT : POLLIN), 0};
  int r;
  while ((r = sys::poll(&p, 1, ms_left(e.deadline()))) < 0 && errno == EINTR) {}
  return r > 0;
}

bool again(Io io) { return io == Io::want_read || io == Io::want_write; }

// Happy Eyeballs: the attempts under way in one poll(), until one of them
// is writable, the next attempt's time, or the deadline.
void race(Engine& e, Conn& c) {
  Race race;
  std::vector<pollfd> p;
  while (e.step() == Engine::connect) {
    if (e.start_attempt()) {
      race.start(e, c);
      continue;
    }
    p.clear();
    for (auto& t : race.tries) p.push_back({t.conn->fd, POLLOUT, 0});
    int r;
    while ((r = sys::poll(p.data(), nfds_t(p.size()), ms_left(std::min(e.next_attempt(), e.deadline())))) < 0 && errno == EINTR) {}
    size_t k = 0;
    while (r > 0 && k < p.size() && !p[k].revents) k++;
    if (r > 0 && k < p.size()) race.check(e, c, k);
    else if (Clock::now() >= e.deadline()) e.timed_out();
    else if (Clock::now() >= e.next_attempt()) e.attempt_due();
  }
  race.end();
}

}  // namespace

void fetch_blocking(Worker& w, const Request& rq, Result& r) {
  Engine e(w.cfg, w.memo, w.env, rq, *w.sink, r, w.id);
  r.lane = w.id;
  std::unique_ptr<Conn> c;
  for (;;) {
    switch (e.step()) {
      case Engine::acquire:
        if (w.pool->acquire(e.key(), e.fresh(), e.deadline(), c)) e.acquired(c->reused, c->h2.get(), c->peer);
        else e.no_connection();
        break;
      case Engine::resolve: {
        Failure f;
        w.dns.resolve(e.lookup(), e.deadline(), e.answer(), f);
        e.resolved(std::move(f));
        break;
      }
      case Engine::tunnel:
      case Engine::connect:
        if (e.step() == Engine::connect && e.racing()) {
          race(e, *c);
          break;
        }
        [[fallthrough]];
      case Engine::handshake:
      case Engine::send:
      case Engine::recv: {
        // A response is waited for before it is read: poll + recv, not a
        // recv that says EAGAIN first.
        bool ready = e.step() != Engine::recv || c->t->pending(*c) || wait_for(c->fd, false, e);
        Io io;
        while (ready && again(io = perform(e, *c, *w.tls, w.cfg, w.buf.data(), w.buf.size())))
          ready = wait_for(c->fd, io == Io::want_write, e);
        if (!ready) e.timed_out();
        break;
      }
      case Engine::release:
        w.pool->release(e.key(), std::move(c), e.keep());
        e.released();
        break;
      case Engine::wait:
        while (sys::poll(nullptr, 0, std::max(1, ms_left(e.until()))) < 0 && errno == EINTR) {}
        e.waited();
        break;
      case Engine::done:
        return;
    }
  }
}

}  // namespace fanout
