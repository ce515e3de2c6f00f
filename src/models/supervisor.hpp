// The parent's side of procs and hybrid: it forks the workers, sends each
// its requests down a work pipe, reads their results off a result pipe and
// lands them, reaps each worker when its pipe closes, and gives every
// request a dead worker held an error that says how it died. Nothing a
// worker held is lost, and nothing lands twice.
//
// SIGINT/SIGTERM: the workers are told (the same signal), get no more
// work, and have the grace to report what they have in flight; a worker
// still running a little after that is killed, and what it held is
// cancelled.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fanout/model.hpp"

namespace fanout {

class Supervisor {
 public:
  explicit Supervisor(Run& run) : run_(run) {}
  // Forks worker number size(). In the child, body(id, result_fd, work_fd)
  // runs and must not return. nonblocking: the child's work pipe is (for a
  // loop). false: err says why.
  using Body = std::function<void(int id, int result_fd, int work_fd)>;
  bool spawn(const Body& body, bool nonblocking, std::string& err);
  size_t size() const { return kids_.size(); }
  size_t held(size_t k) const { return kids_[k].held.size(); }
  // Worker k gets rq (sent when wait() next flushes), and holds it until
  // its result comes back.
  void send(size_t k, Request rq);
  void no_more_work(size_t k);  // its work pipe closes once sent: it finishes and exits
  // Until every worker has exited. more(k) gives worker k what it may hold
  // now: called at the start, after k reports, and when the input (a slow
  // pipe) has more; it returns true when the input had nothing yet.
  // died(k): it died, and its requests have their errors.
  void wait(const std::function<bool(size_t)>& more, const std::function<void(size_t)>& died);
  // After wait(): with no worker started, the rest of the input gets why.
  void fail_unanswered(const std::string& why);

 private:
  struct Kid {
    int id;
    pid_t pid;
    int result_fd, work_fd;
    std::string in, out;  // result bytes read, work bytes not yet written
    bool closing = false;  // close work_fd once out is written
    bool hungry = false;   // more() found no input yet
    std::unordered_map<uint32_t, Request> held;  // by seq
  };
  void read_from(size_t k, const std::function<bool(size_t)>& more, const std::function<void(size_t)>& died);
  void flush(Kid& kid);
  void on_signal();

  Run& run_;
  std::vector<Kid> kids_;
  bool told_ = false, killed_ = false;  // after a signal: the workers were told; were killed
};

}  // namespace fanout
