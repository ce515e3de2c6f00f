// The parent's side of procs and hybrid: it forks the workers, reads their
// results off one pipe each and lands them, reaps each worker when its pipe
// closes, and gives every line a dead worker held an error that says how
// it died. Nothing a worker held is lost, and nothing lands twice.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "fanout/model.hpp"

namespace fanout {

class Supervisor {
 public:
  explicit Supervisor(Run& run) : run_(run), answered_(run.reqs.size()) {}
  // Forks worker number size(). In the child, body(id, result_fd, work_fd)
  // runs and must not return; work_fd is -1 unless `work` asks for a pipe
  // to send it line numbers on (send()). false: err says why.
  using Body = std::function<void(int id, int result_fd, int work_fd)>;
  bool spawn(const Body& body, bool work, std::string& err);
  size_t size() const { return kids_.size(); }
  void hold(size_t k, uint32_t i) { kids_[k].held.push_back(i); }  // worker k has line i
  void send(size_t k, uint32_t i);  // hold, and tell it over its work pipe
  void no_more_work(size_t k);      // close its work pipe: it finishes and exits
  // Until every worker has exited. reported(k): worker k landed a result
  // (it may take more). died(k): it died, and its lines have their errors.
  void wait(const std::function<void(size_t)>& reported, const std::function<void(size_t)>& died);
  // After wait(): the lines no worker took get this error.
  void fail_unanswered(const std::string& why);

 private:
  struct Kid {
    int id;
    pid_t pid;
    int result_fd, work_fd;
    std::string in;
    std::vector<uint32_t> held;
  };
  void read_from(size_t k, const std::function<void(size_t)>& reported, const std::function<void(size_t)>& died);

  Run& run_;
  std::vector<Kid> kids_;
  std::vector<bool> answered_;
};

}  // namespace fanout
