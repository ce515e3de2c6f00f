#include "supervisor.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout/stop.hpp"
#include "wire.hpp"

namespace fanout {
namespace {

// After the grace, how long workers have to report before they are killed.
constexpr auto kReportTime = std::chrono::milliseconds(300);

}  // namespace

bool Supervisor::spawn(const Body& body, bool nonblocking, std::string& err) {
  int result[2], jobs[2];
  if (sys::pipe(result) < 0) {
    err = sys::describe("pipe2", errno);
    return false;
  }
  if (sys::pipe(jobs, nonblocking ? O_NONBLOCK : 0) < 0) {
    err = sys::describe("pipe2", errno);
    sys::close(result[0]);
    sys::close(result[1]);
    return false;
  }
  fflush(nullptr);
  int id = int(kids_.size());
  pid_t pid = sys::fork();
  if (pid < 0) {
    err = sys::describe("fork", errno);
    for (int fd : {result[0], result[1], jobs[0], jobs[1]}) sys::close(fd);
    return false;
  }
  if (pid == 0) {
    sys::counters() = {};  // fork copied the parent's counts
    // Drop the parent's ends of every pipe, or a sibling's EOF never comes.
    for (auto& k : kids_) {
      if (k.result_fd >= 0) sys::close(k.result_fd);
      if (k.work_fd >= 0) sys::close(k.work_fd);
    }
    sys::close(result[0]);
    sys::close(jobs[1]);
    body(id, result[1], jobs[0]);
    _exit(0);
  }
  sys::close(result[1]);
  sys::close(jobs[0]);
  kids_.push_back({id, pid, result[0], jobs[1], {}, {}, false, false, {}});
  run_.totals.workers++;
  return true;
}

void Supervisor::send(size_t k, Request rq) {
  wire::put_request(kids_[k].out, rq);
  kids_[k].held.emplace(rq.seq, std::move(rq));
}

void Supervisor::no_more_work(size_t k) {
  kids_[k].closing = true;
  flush(kids_[k]);
}

// What can be written now; a dead reader gives EPIPE, and its EOF on the
// result pipe says the rest.
void Supervisor::flush(Kid& kid) {
  while (!kid.out.empty() && kid.work_fd >= 0) {
    ssize_t n = sys::pipe_write(kid.work_fd, kid.out.data(), kid.out.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) kid.out.clear();
    else kid.out.erase(0, size_t(n));
  }
  if (kid.closing && kid.work_fd >= 0) {
    sys::close(kid.work_fd);
    kid.work_fd = -1;
  }
}

// The workers hear the signal too (a terminal sends it to them all; kill
// does not): they take no more work and end what they have in the grace.
void Supervisor::on_signal() {
  told_ = true;
  for (size_t k = 0; k < kids_.size(); k++) {
    if (kids_[k].result_fd < 0) continue;
    kill(kids_[k].pid, stop::signal());
    kids_[k].out.clear();  // what was not sent stays unsent: cancelled
    no_more_work(k);
  }
}

void Supervisor::wait(const std::function<bool(size_t)>& more, const std::function<void(size_t)>& died) {
  std::vector<pollfd> pfds;
  for (size_t k = 0; k < kids_.size(); k++) kids_[k].hungry = more(k);
  for (;;) {
    if (stop::requested() && !told_) on_signal();
    if (stop::count() > 1 && !killed_) {  // a second signal: no grace, and a worker may not have heard it
      killed_ = true;
      for (auto& k : kids_)
        if (k.result_fd >= 0) kill(k.pid, SIGKILL);
    }
    Deadline cancel = stop::cancel_at();  // (max for a moment while the handler writes it)
    Deadline kill_at = told_ && cancel != Deadline::max() ? cancel + kReportTime : Deadline::max();
    if (told_ && !killed_ && Clock::now() >= kill_at) {
      killed_ = true;
      for (auto& k : kids_)
        if (k.result_fd >= 0) kill(k.pid, SIGKILL);
    }
    pfds.clear();
    bool live = false, hungry = false;
    for (auto& k : kids_) {
      flush(k);
      pfds.push_back({k.result_fd, POLLIN, 0});  // fd -1 is skipped
      pfds.push_back({k.out.empty() ? -1 : k.work_fd, POLLOUT, 0});
      live |= k.result_fd >= 0;
      hungry |= k.hungry && k.result_fd >= 0;
    }
    if (!live) return;
    pfds.push_back({hungry && !told_ ? run_.input_fd() : -1, POLLIN, 0});
    Deadline by = std::min(kill_at, run_.flush_by());
    int timeout = by == Deadline::max() ? -1 : ms_left(by);
    if (sys::poll(pfds.data(), pfds.size(), timeout) < 0 && errno != EINTR) return;
    run_.flush_due();
    size_t polled = (pfds.size() - 1) / 2;  // died() may add a worker as we go
    for (size_t k = 0; k < polled; k++)
      if (pfds[2 * k].revents) read_from(k, more, died);
    if (pfds.back().revents)  // the input has more
      for (size_t k = 0; k < kids_.size(); k++)
        if (kids_[k].hungry && kids_[k].result_fd >= 0) kids_[k].hungry = more(k);
  }
}

void Supervisor::fail_unanswered(const std::string& why) {
  for (Request rq; run_.take(rq);) run_.land_failed(rq, Cause::worker, why);
}

void Supervisor::read_from(size_t k, const std::function<bool(size_t)>& more,
                           const std::function<void(size_t)>& died) {
  char buf[65536];
  ssize_t got = sys::pipe_read(kids_[k].result_fd, buf, sizeof buf);
  if (got < 0 && errno == EINTR) return;
  if (got > 0) {
    kids_[k].in.append(buf, size_t(got));
    bool any = false;
    wire::take(
        kids_[k].in,
        [&](uint32_t seq, Result& r) {
          auto it = kids_[k].held.find(seq);
          if (it == kids_[k].held.end()) return;  // not one it holds: nothing lands twice
          r.line = it->second.line;
          r.worker = kids_[k].id;
          run_.land(it->second, r);
          kids_[k].held.erase(it);
          any = true;
        },
        [&](const Totals& t) { run_.totals.add(t); },
        [&](RingBatch& b) {
          b.worker = kids_[k].id;
          run_.batches.push_back(b);
        });
    if (any && !told_) kids_[k].hungry = more(k);
    return;
  }
  // The pipe closed: the worker is done, or dead.
  Kid& kid = kids_[k];
  sys::close(kid.result_fd);
  kid.result_fd = -1;
  kid.out.clear();
  no_more_work(k);
  int st = 0;
  while (sys::waitpid(kid.pid, &st, 0) < 0 && errno == EINTR) {}
  // After a signal, what it still held is cancelled (Run::interrupt counts it).
  bool lost = !kid.held.empty() && !told_;
  if (lost)
    for (auto& [seq, rq] : kid.held) {
      Result r = wire::died(rq.line, kid.id, kid.pid, st);
      run_.land(rq, r);
    }
  kid.held.clear();
  if (!told_ && (lost || !(WIFEXITED(st) && WEXITSTATUS(st) == 0))) died(k);
}

}  // namespace fanout
