// The seeds' paging job (003): every page of an API, its JSON arrays
// merged into one, in page order (`result += json.loads(r.text)`). A sink
// keeps one page's body; the run writes the pages out in input order as
// they land (Run::land), whichever worker or process fetched them.
#include "fanout/http.hpp"
#include "fanout/job.hpp"
#include "fanout/json.hpp"

namespace fanout {
namespace {

class PagesSink : public Sink {
 public:
  explicit PagesSink(bool json) : json_(json) {}
  void begin(const Request&) override {
    body_.clear();
    keep_ = false;
  }
  void head(const http::Head& h) override {
    p_status_ = h.status;  // kept by a page that is no JSON array, as curl keeps a status
    keep_ = h.status >= 200 && h.status <= 299;
  }
  void body(const char* p, size_t n) override {
    if (keep_) body_.append(p, n);
  }
  void end(Result& r) override {
    if (!keep_ || !r.ok()) return;
    if (!json_) {
      r.payload = std::move(body_);
      return;
    }
    std::string_view inner;
    std::string why;
    if (json::array_inner(body_, &inner, &why)) r.payload = std::string(inner);
    else r.fail(Cause::content, "content: " + why), r.status = p_status_;
    body_.clear();
  }

 private:
  bool json_, keep_ = false;
  int p_status_ = 0;
  std::string body_;
};

class PagesJob : public Job {
 public:
  explicit PagesJob(bool json) : json_(json) {}
  const char* name() const override { return json_ ? "merge-json" : "out"; }
  std::unique_ptr<Sink> sink(int) override { return std::make_unique<PagesSink>(json_); }

 private:
  bool json_;
};

}  // namespace

std::unique_ptr<Job> make_pages_job(bool json) { return std::make_unique<PagesJob>(json); }

}  // namespace fanout
