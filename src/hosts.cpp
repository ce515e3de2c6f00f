#include "fanout/hosts.hpp"

#include <algorithm>
#include <cmath>

namespace fanout {
namespace {

// Latency buckets: 2^(1/3) apart from 8 us (the first holds less too, the
// last more: 21 s and up), so a bucket's middle is within 12% of any value in it.
int bucket(double ms) {
  double us = ms * 1000;
  if (us < 8) return 0;
  return std::min(63, int(3 * std::log2(us / 8)));
}

double middle_ms(int b) { return 0.008 * std::pow(2.0, (b + 0.5) / 3); }

}  // namespace

double p90_of(const Hosts::Tracked& e) {
  uint64_t n = 0;
  for (uint8_t c : e.lat) n += c;
  if (!n) return 0;
  uint64_t rank = uint64_t(0.9 * double(n)), seen = 0;  // the value at rank floor(0.9 n), as Latency's
  for (int b = 0; b < 64; b++)
    if ((seen += e.lat[b]) > rank) return middle_ms(b);
  return middle_ms(63);
}

void Hosts::Statuses::add(int32_t k) {
  for (int i = 0; i < 4; i++) {
    if (n[i] && key[i] == k) {
      n[i]++;
      return;
    }
    if (!n[i]) {
      key[i] = k;
      n[i] = 1;
      return;
    }
  }
  other++;  // a fifth kind and more
}

std::string Hosts::Statuses::json() const {
  std::string s = "{";
  for (int i = 0; i < 4 && n[i]; i++)
    s += (i ? ", \"" : "\"") + (key[i] >= 0 ? std::to_string(key[i]) : std::string(cause_name(Cause(-1 - key[i])))) +
         "\": " + std::to_string(n[i]);
  if (other) s += std::string(n[0] ? ", " : "") + "\"other\": " + std::to_string(other);
  return s + "}";
}

template <class E>
E* Hosts::Table<E>::find(std::string_view host) {
  auto it = index.find(host);
  return it == index.end() ? nullptr : &entries[it->second];
}

template <class E>
const E* Hosts::Table<E>::find(std::string_view host) const {
  auto it = index.find(host);
  return it == index.end() ? nullptr : &entries[it->second];
}

template <class E>
void Hosts::Table<E>::down(size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap.size() && entries[heap[l]].count < entries[heap[m]].count) m = l;
    if (r < heap.size() && entries[heap[r]].count < entries[heap[m]].count) m = r;
    if (m == i) return;
    std::swap(heap[i], heap[m]);
    entries[heap[i]].heap = uint32_t(i);
    entries[heap[m]].heap = uint32_t(m);
    i = m;
  }
}

template <class E>
E& Hosts::Table<E>::bump(std::string_view host) {
  if (E* e = find(host)) {
    e->count++;
    down(e->heap);
    return *e;
  }
  if (entries.size() < cap) {  // room: a new entry, with the smallest count there can be
    auto at = uint32_t(entries.size());
    E& e = entries.emplace_back();
    e.host = host;
    e.count = 1;
    index.emplace(e.host, at);
    heap.push_back(at);
    size_t i = heap.size() - 1;
    for (; i > 0 && entries[heap[(i - 1) / 2]].count > e.count; i = (i - 1) / 2) {  // up
      heap[i] = heap[(i - 1) / 2];
      entries[heap[i]].heap = uint32_t(i);
    }
    heap[i] = at;
    e.heap = uint32_t(i);
    return e;
  }
  uint32_t at = heap[0];  // full: the least counted host gives its place, and its count
  E& e = entries[at];
  index.erase(e.host);
  uint64_t least = e.count;
  e = E{};
  e.host = host;
  e.count = least + 1;
  index.emplace(e.host, at);
  down(0);
  return e;
}

void Hosts::add(std::string_view host, const Result& r) {
  if (host.empty() || r.skipped) return;
  int32_t key = r.ok() ? r.status : -1 - int32_t(r.cause);
  Tracked& t = tracked_.bump(host);
  t.seen++;
  t.statuses.add(key);
  uint8_t* lat = t.lat;
  int b = bucket(r.ms);
  if (lat[b] == UINT8_MAX)  // full: every bucket halved keeps the shape
    for (int i = 0; i < 64; i++) lat[i] /= 2;
  lat[b]++;
  Entry* f = !r.ok() || r.status >= 400 ? &failing_.bump(host) : failing_.find(host);
  if (f) {
    f->seen++;
    f->statuses.add(key);
  }
}

std::vector<Hosts::Row> Hosts::most_failures(size_t k) const {
  std::vector<const Entry*> v;
  for (auto& e : failing_.entries) v.push_back(&e);
  std::sort(v.begin(), v.end(), [](const Entry* a, const Entry* b) { return a->count != b->count ? a->count > b->count : a->host < b->host; });
  std::vector<Row> rows;
  for (size_t i = 0; i < v.size() && i < k; i++) {
    // Counted from the host's first failure: the requests table, where it
    // still holds the host, has all of them.
    const Tracked* t = tracked_.find(v[i]->host);
    rows.push_back({v[i]->host, t ? t->seen : v[i]->seen, v[i]->count, 0, (t ? t->statuses : v[i]->statuses).json()});
  }
  return rows;
}

std::vector<Hosts::Row> Hosts::slowest(size_t k) const {
  uint64_t most = 0;
  for (auto& e : tracked_.entries) most = std::max(most, e.seen);
  std::vector<std::pair<double, const Tracked*>> v;
  for (auto& e : tracked_.entries)
    if (e.seen >= std::min<uint64_t>(5, most)) v.push_back({p90_of(e), &e});
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second->seen != b.second->seen ? a.second->seen > b.second->seen : a.second->host < b.second->host;
  });
  std::vector<Row> rows;
  for (size_t i = 0; i < v.size() && i < k; i++) {
    const Tracked* e = v[i].second;
    uint64_t failed = 0;
    if (const Entry* f = failing_.find(e->host)) failed = f->count;
    rows.push_back({e->host, e->seen, failed, v[i].first, e->statuses.json()});
  }
  return rows;
}

template <class E>
size_t Hosts::Table<E>::bytes() const {
  size_t b = (entries.size() + 512 / sizeof(E) + 1) * sizeof(E) + heap.capacity() * sizeof(uint32_t);  // (and the deque's last block)
  // the index: its buckets, and a node each (key, value, next, cached hash)
  b += index.bucket_count() * sizeof(void*) + index.size() * (sizeof(std::string_view) + 2 * sizeof(void*) + sizeof(uint64_t));
  for (auto& e : entries)
    if (e.host.capacity() > 15) b += e.host.capacity() + 1;  // past the string's own buffer
  return b;
}

size_t Hosts::bytes() const { return sizeof *this + tracked_.bytes() + failing_.bytes(); }

}  // namespace fanout
