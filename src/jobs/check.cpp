// The seeds' job: fetch each URL and keep only its status. The body is read
// to the end (a status is only trustworthy once the response is complete)
// and thrown away; the driver counts its bytes.
#include "fanout/job.hpp"

namespace fanout {
namespace {

class CheckJob : public Job {
 public:
  const char* name() const override { return "check"; }
  std::unique_ptr<Sink> sink(int) override { return std::make_unique<Sink>(); }
};

}  // namespace

std::unique_ptr<Job> make_check_job() { return std::make_unique<CheckJob>(); }

}  // namespace fanout
