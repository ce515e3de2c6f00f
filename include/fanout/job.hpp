// What to do with each response. A job makes one Sink per worker; the
// driver hands the sink the head and the body as they arrive, and lets it
// have the last word on the result (a download that cannot be written is an
// error even after a 200).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "fanout/core.hpp"

namespace fanout {

namespace http { struct Head; }

class Sink {
 public:
  virtual ~Sink() = default;
  // The job has this one already (--skip-existing): nothing is fetched,
  // and r says where it is. Asked once, before anything else.
  virtual bool have(const Request&, Result&) { return false; }
  // -N: what the job has of this URL, to ask only for a newer one: an
  // ETag (If-None-Match) and an HTTP date (If-Modified-Since); empty: none.
  virtual void validators(const Request&, std::string& /*etag*/, std::string& /*modified*/) {}
  virtual void begin(const Request&) {}
  virtual void head(const http::Head&) {}
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

// "download" (--output-dir DIR): each 2xx body saved under DIR at save_path(url),
// written to a temporary name in the same folder and renamed when it is
// complete. null, and err, if DIR cannot be opened.
std::unique_ptr<Job> make_download_job(const Config& cfg, std::string& err);
// Where a URL's body goes, relative to DIR, as its parts: "HOST[_PORT]",
// then the path's segments, the last one a file. Different URLs never get
// the same name, and no name can leave DIR:
// - the folder is the host, with "_PORT" unless it is https on 443 (so
//   http://h/ is h_80); a '_' in a host name is escaped;
// - a byte that is not safe in a file name ('%' included) is %XX, so a
//   name never holds '/' and is never "." or "..";
// - a path that ends in '/' gets "index.html" (a real "index.html" is
//   index%2Ehtml), an empty segment is "%00", and a query is kept after
//   "%3F": /a/?q=1 -> a/index.html%3Fq=1.
std::vector<std::string> save_path(const Url& u);
// -J: the file name a Content-Disposition value gives (RFC 6266, RFC 8187's
// filename*), made safe as save_path's are: one name, no folder, never "."
// or ".."; "" when it gives none.
std::string disposition_name(std::string_view value);

// "pages" (--out, --merge-json): each 2xx body kept in the result's
// payload, for the run to write in input order; with json, the body must
// be a JSON array, and the payload is its elements.
std::unique_ptr<Job> make_pages_job(bool json);

}  // namespace fanout
