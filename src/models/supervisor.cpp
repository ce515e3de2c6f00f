#include "supervisor.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire.hpp"

namespace fanout {

bool Supervisor::spawn(const Body& body, bool work, std::string& err) {
  int result[2], jobs[2] = {-1, -1};
  if (sys::pipe(result) < 0) {
    err = sys::describe("pipe2", errno);
    return false;
  }
  if (work && sys::pipe(jobs) < 0) {
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
    for (int fd : {result[0], result[1], jobs[0], jobs[1]})
      if (fd >= 0) sys::close(fd);
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
    if (jobs[1] >= 0) sys::close(jobs[1]);
    body(id, result[1], jobs[0]);
    _exit(0);
  }
  sys::close(result[1]);
  if (jobs[0] >= 0) sys::close(jobs[0]);
  kids_.push_back({id, pid, result[0], jobs[1], {}, {}});
  run_.totals.workers++;
  return true;
}

void Supervisor::send(size_t k, uint32_t i) {
  hold(k, i);
  // A dead reader gives EPIPE here; its EOF on the result pipe says the rest.
  sys::write_all(kids_[k].work_fd, &i, sizeof i);
}

void Supervisor::no_more_work(size_t k) {
  if (kids_[k].work_fd >= 0) sys::close(kids_[k].work_fd);
  kids_[k].work_fd = -1;
}

void Supervisor::wait(const std::function<void(size_t)>& reported, const std::function<void(size_t)>& died) {
  std::vector<pollfd> pfds;
  for (;;) {
    pfds.clear();
    for (auto& k : kids_) pfds.push_back({k.result_fd, POLLIN, 0});  // fd -1 is skipped
    bool live = false;
    for (auto& p : pfds) live |= p.fd >= 0;
    if (!live) return;
    if (sys::poll(pfds.data(), pfds.size(), -1) < 0 && errno != EINTR) return;
    for (size_t k = 0; k < pfds.size(); k++)
      if (pfds[k].revents) read_from(k, reported, died);
  }
}

void Supervisor::fail_unanswered(const std::string& why) {
  for (size_t i = 0; i < answered_.size(); i++) {
    if (answered_[i]) continue;
    run_.results[i].line = run_.reqs[i].line;
    run_.results[i].fail(Cause::worker, why);
    answered_[i] = true;
    run_.land(i);
  }
}

void Supervisor::read_from(size_t k, const std::function<void(size_t)>& reported,
                           const std::function<void(size_t)>& died) {
  char buf[65536];
  ssize_t got = sys::read(kids_[k].result_fd, buf, sizeof buf);
  if (got < 0 && errno == EINTR) return;
  if (got > 0) {
    kids_[k].in.append(buf, size_t(got));
    wire::take(
        kids_[k].in,
        [&](uint32_t i, Result& r) {
          if (i >= answered_.size() || answered_[i]) return;
          r.line = run_.reqs[i].line;
          r.worker = kids_[k].id;
          run_.results[i] = std::move(r);
          answered_[i] = true;
          run_.land(i);
          reported(k);
        },
        [&](const Totals& t) { run_.totals.add(t); });
    return;
  }
  // The pipe closed: the worker is done, or dead.
  Kid& kid = kids_[k];
  sys::close(kid.result_fd);
  kid.result_fd = -1;
  no_more_work(k);
  int st = 0;
  while (sys::waitpid(kid.pid, &st, 0) < 0 && errno == EINTR) {}
  bool lost = false;
  for (uint32_t i : kid.held) {
    if (answered_[i]) continue;
    run_.results[i] = wire::died(run_.reqs[i].line, kid.id, kid.pid, st);
    answered_[i] = true;
    run_.land(i);
    lost = true;
  }
  kid.held.clear();
  if (lost || !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) died(k);
}

}  // namespace fanout
