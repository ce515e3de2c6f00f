// Which hosts failed most and which were slowest, over any number of hosts
// in bounded memory. Two Space-Saving tables (Metwally, Agrawal and El
// Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data
// Streams", 2005): one keeps the kTracked hosts with the most requests,
// each with its latency histogram and statuses; the other the kFailing
// hosts with the most failures. A full table gives the place of its
// smallest count to a new host, which takes that count on (so a count is
// never less than the host's own): any host with more than 1/kFailing of
// the run's failures is always in the second table, with its count exact
// when fewer hosts than that ever failed. The slowest are taken among the
// hosts the first table holds: with more hosts than kTracked, a host with
// fewer requests than 1/kTracked of the run's may be missing from it.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fanout/core.hpp"

namespace fanout {

class Hosts {
 public:
  static constexpr size_t kTracked = 8192, kFailing = 1024;
  // One final result of a request to host ("example.com", "h:8080").
  void add(std::string_view host, const Result& r);
  struct Row {
    std::string host;
    uint64_t requests = 0;   // seen since it came into the table
    uint64_t failures = 0;   // the table's count (most failures: at least the host's own)
    double p90_ms = 0;       // slowest: of the requests seen (within 12%)
    std::string statuses;    // {"200": 3, "503": 1, "connect": 2}: of the requests seen
  };
  std::vector<Row> most_failures(size_t k) const;  // most first; hosts with a failure only
  std::vector<Row> slowest(size_t k) const;        // by p90, slowest first, among hosts with 5 requests or more (all if none has)
  size_t hosts() const { return tracked_.entries.size(); }  // in the first table (at most kTracked)
  size_t bytes() const;  // the tables' memory, at most what kTracked and kFailing allow

  // The part both tables keep of a host.
  struct Statuses {
    int32_t key[4] = {};  // a status, or -1 - cause for a failure without one
    uint32_t n[4] = {};
    uint32_t other = 0;
    void add(int32_t k);
    std::string json() const;
  };
  struct Entry {
    std::string host;
    uint64_t count = 0;  // the table's (with what it took over)
    uint64_t seen = 0;   // its own, since it came in
    uint32_t heap = 0;   // its place in the min-heap
    Statuses statuses;
  };
  struct Tracked : Entry {
    // Requests by latency, 2^(1/3) apart from 8 us; when one is full, each
    // is halved (the shape stays, as a p90 needs).
    uint8_t lat[64] = {};
  };

 private:
  // A Space-Saving table of at most cap entries: min-heap by count, and an
  // index by host (keys point into the entries, which a deque never moves).
  template <class E>
  struct Table {
    size_t cap = 0;
    std::deque<E> entries;
    std::vector<uint32_t> heap;
    std::unordered_map<std::string_view, uint32_t> index;
    E* find(std::string_view host);
    const E* find(std::string_view host) const;
    E& bump(std::string_view host);  // its count + 1, taking the smallest's place if new and full
    void down(size_t i);
    size_t bytes() const;
  };
  Table<Tracked> tracked_{kTracked, {}, {}, {}};
  Table<Entry> failing_{kFailing, {}, {}, {}};
};

double p90_of(const Hosts::Tracked& e);

}  // namespace fanout
