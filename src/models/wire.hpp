// Records between a parent and its worker processes: requests down the
// work pipe; one record per result, and the totals at the end (after a
// ring's batches, with --trace), up the result pipe. Both sides are the same binary, so the layout is simply the
// struct. A result names its request by seq.
#pragma once
#include <cstring>
#include <string>

#include "fanout/model.hpp"

namespace fanout::wire {

enum : uint32_t { kResult = 1, kTotals = 2, kBatches = 3 };
struct Head {
  uint32_t kind, index;
  int32_t status, cause, lane;
  uint64_t bytes;
  double ms;
  int64_t at[kPhases];
  uint16_t redirects, retries;
  uint8_t skipped, version;
  int16_t code;
  int64_t write_from, write_ns;
  uint16_t remote_port;
  uint8_t not_modified;
  uint32_t url_len, file_len, payload_len, ip_len, etag_len, lm_len;  // of the bytes that follow: error, URL, file, payload, remote_ip, etag, last_modified
  uint32_t len;                             // bytes that follow: those five, or a Totals
  float late_ms;
  uint32_t omitted;
};

inline void put_result(std::string& out, uint32_t index, const Result& r) {
  Head h{kResult, index, r.status, int32_t(r.cause), r.lane, r.bytes, r.ms, {}, r.redirects, r.retries,
         r.skipped, r.version, r.code, r.write_from, r.write_ns, r.remote_port, r.not_modified, uint32_t(r.url.size()), uint32_t(r.file.size()),
         uint32_t(r.payload.size()), uint32_t(r.remote_ip.size()), uint32_t(r.etag.size()), uint32_t(r.last_modified.size()),
         uint32_t(r.error.size() + r.url.size() + r.file.size() + r.payload.size() + r.remote_ip.size() + r.etag.size() + r.last_modified.size()),
         r.late_ms, r.omitted};
  memcpy(h.at, r.at, sizeof h.at);
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  out += r.error;
  out += r.url;
  out += r.file;
  out += r.payload;
  out += r.remote_ip;
  out += r.etag;
  out += r.last_modified;
}

constexpr size_t kTotalsBytes = sizeof(Head) + sizeof(Totals);  // what put_totals adds
inline void put_totals(std::string& out, const Totals& t) {
  Head h{kTotals, 0, 0, 0, 0, 0, 0, {}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, uint32_t(sizeof t), 0, 0};
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(reinterpret_cast<const char*>(&t), sizeof t);
}

inline void put_batches(std::string& out, const std::vector<RingBatch>& b) {
  Head h{kBatches, 0, 0, 0, 0, 0, 0, {}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, uint32_t(b.size() * sizeof(RingBatch)), 0, 0};
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(reinterpret_cast<const char*>(b.data()), b.size() * sizeof(RingBatch));
}

// A request, down the work pipe: the worker parses its URL again.
struct RequestHead {
  uint32_t seq, line, text_len, error_len;
  int32_t code;  // with an error: curl's code for it
};

inline void put_request(std::string& out, const Request& rq) {
  RequestHead h{rq.seq, rq.line, uint32_t(rq.text.size()), uint32_t(rq.error.size()), rq.code};
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  out += rq.text;
  out += rq.error;
}

// Takes the first whole request off in at *off; false if it is not all there.
inline bool take_request(const std::string& in, size_t* off, Request& rq) {
  RequestHead h;
  if (in.size() - *off < sizeof h) return false;
  memcpy(&h, in.data() + *off, sizeof h);
  if (in.size() - *off - sizeof h < size_t(h.text_len) + h.error_len) return false;
  const char* p = in.data() + *off + sizeof h;
  rq = Request{};
  rq.seq = h.seq;
  rq.line = h.line;
  rq.text.assign(p, h.text_len);
  rq.error.assign(p + h.text_len, h.error_len);
  rq.code = h.code;
  if (rq.error.empty()) parse_url(rq.text, rq.url);  // it parsed in the parent
  *off += sizeof h + h.text_len + h.error_len;
  return true;
}

// The result of a request whose worker died before reporting it.
inline Result died(uint32_t line, int worker, long pid, int wait_status) {
  Result r;
  r.line = line;
  r.worker = worker;
  r.fail(Cause::worker, "worker " + std::to_string(worker) + " (pid " + std::to_string(pid) + ") " +
                            sys::wait_status(wait_status));
  return r;
}

// Takes every whole record off the front of in.
template <class OnResult, class OnTotals, class OnBatch>
void take(std::string& in, OnResult on_result, OnTotals on_totals, OnBatch on_batch) {
  size_t off = 0;
  while (in.size() - off >= sizeof(Head)) {
    Head h;
    memcpy(&h, in.data() + off, sizeof h);
    if (in.size() - off - sizeof h < h.len) break;
    const char* body = in.data() + off + sizeof h;
    if (h.kind == kTotals && h.len == sizeof(Totals)) {
      Totals t;
      memcpy(&t, body, sizeof t);
      on_totals(t);
    } else if (h.kind == kBatches) {
      for (size_t i = 0; i + sizeof(RingBatch) <= h.len; i += sizeof(RingBatch)) {
        RingBatch b;
        memcpy(&b, body + i, sizeof b);
        on_batch(b);
      }
    } else if (h.kind == kResult) {
      Result r;
      r.status = h.status;
      r.cause = Cause(h.cause);
      r.code = h.code;
      r.bytes = h.bytes;
      r.ms = h.ms;
      r.late_ms = h.late_ms;
      r.omitted = h.omitted;
      r.lane = h.lane;
      memcpy(r.at, h.at, sizeof r.at);
      r.redirects = h.redirects;
      r.retries = h.retries;
      r.skipped = h.skipped;
      r.version = h.version;
      r.write_from = h.write_from;
      r.write_ns = h.write_ns;
      r.remote_port = h.remote_port;
      r.not_modified = h.not_modified;
      size_t err_len = h.len - h.url_len - h.file_len - h.payload_len - h.ip_len - h.etag_len - h.lm_len;
      r.error.assign(body, err_len);
      r.url.assign(body + err_len, h.url_len);
      r.file.assign(body + err_len + h.url_len, h.file_len);
      r.payload.assign(body + err_len + h.url_len + h.file_len, h.payload_len);
      const char* more = body + err_len + h.url_len + h.file_len + h.payload_len;
      r.remote_ip.assign(more, h.ip_len);
      r.etag.assign(more + h.ip_len, h.etag_len);
      r.last_modified.assign(more + h.ip_len + h.etag_len, h.lm_len);
      on_result(h.index, r);
    }
    off += sizeof h + h.len;
  }
  in.erase(0, off);
}

}  // namespace fanout::wire
