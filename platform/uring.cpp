// io_uring on its raw system calls (io_uring_setup, mmap, io_uring_enter,
// io_uring_register), as the epoll reactor is written by hand: one ring a
// loop, made and used by one thread.
//
// It is a Poller, so the reactor, its timers and every waiter work on it
// unchanged; what differs is what wakes them. A connection's socket is not
// polled: its connect, sends, receives and close are operations on the
// ring, and their completions are the reactor's events (a receive's bytes
// make the socket "readable", a connect's end makes it "writable"). Reads
// and writes then take bytes from and give bytes to this ring instead of
// the kernel (SocketRing): a request costs no system call of its own, and
// one io_uring_enter a turn submits every operation the turn made and
// collects every completion. Other fds (c-ares' sockets, a worker's pipe)
// are watched with multishot poll operations, and the reactor's next timer
// is a timeout operation.
//
// Receives are multishot into a provided buffer ring where the kernel has
// them (Linux 6.0), and one plain receive at a time into the socket's own
// buffer where it does not. Where buffers can be consumed incrementally
// (Linux 6.12) many receives share one, each after the one before: small
// answers do not take a page each. A socket whose receive found the buffer ring
// empty (ENOBUFS: more answers at once than buffers) is read as epoll's
// are, a poll operation then recv(2), until a read empties it while
// buffers are back: no answer waits for buffers another socket holds.
#include "poller.hpp"

#if defined(__linux__)
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "sys.hpp"

namespace fanout {
namespace {

int ring_setup(unsigned entries, io_uring_params* p) {
  sys::count(sys::IO_URING_SETUP);
  return int(syscall(__NR_io_uring_setup, entries, p));
}
// io_uring_getevents_arg as Linux 6.12 has it: pad became min_wait_usec.
struct WaitArg {
  uint64_t sigmask = 0;
  uint32_t sigmask_sz = 0;
  uint32_t min_wait_usec = 0;
  uint64_t ts = 0;
};
constexpr unsigned kFeatMinTimeout = 1U << 15;  // IORING_FEAT_MIN_TIMEOUT (6.12)

int ring_enter(int fd, unsigned submit, unsigned wait, unsigned flags, WaitArg* arg = nullptr) {
  sys::count(sys::IO_URING_ENTER);
  if (arg) flags |= IORING_ENTER_EXT_ARG;
  return int(syscall(__NR_io_uring_enter, fd, submit, wait, flags, arg, arg ? sizeof *arg : 0));
}
int ring_register(int fd, unsigned op, void* arg, unsigned n) {
  sys::count(sys::IO_URING_REGISTER);
  return int(syscall(__NR_io_uring_register, fd, op, arg, n));
}

// What a completion belongs to: the operation's kind, the fd, and the fd's
// generation when it was submitted (a completion for a socket closed since,
// whose number a new socket may have, is known by it).
enum Kind : uint8_t { kPoll = 1, kConnect, kRecv, kSend, kClose, kCancel, kTimeout, kTimeoutUpdate, kPollRemove, kPollIn };
uint64_t tag(Kind k, int fd, uint32_t gen) { return uint64_t(k) << 56 | uint64_t(uint32_t(fd) & 0xffffff) << 32 | gen; }
Kind kind_of(uint64_t t) { return Kind(t >> 56); }
int fd_of(uint64_t t) { return int((t >> 32) & 0xffffff); }
uint32_t gen_of(uint64_t t) { return uint32_t(t); }

constexpr unsigned kEntries = 256;        // submission queue; completions twice that
constexpr unsigned kBufs = 128;          // provided buffers (a power of two; FANOUT_URING_BUFS for tests)
constexpr unsigned kBufsStep = 16;        // given at first, and each time the ring runs dry
constexpr unsigned kBufsStepInc = 4;      // the same when many receives share a buffer
constexpr uint16_t kPbufRingInc = 2;      // IOU_PBUF_RING_INC (6.12): a buffer takes receives until full
constexpr uint32_t kCqeBufMore = 1U << 4; // IORING_CQE_F_BUF_MORE: the kernel keeps the buffer
constexpr size_t kBufSize = 16 * 1024;    // a TLS record and its header fit in one
constexpr size_t kSendCap = 256 * 1024;   // queued on a socket before send() says EAGAIN
constexpr uint16_t kOwnBuf = 0xffff;      // a chunk in the socket's own buffer (no provided ones)
constexpr unsigned kBatchFrom = 8, kBatchMost = 64, kMinWaitUs = 150;  // batched waits (see wait())
constexpr unsigned kSkipMost = 8;  // turns that need not wait and leave their submissions to the next

class Uring final : public Poller, public SocketRing {
 public:
  explicit Uring(std::string& why) { why = open(); }
  ~Uring() override {
    // Closes still queued (the pool's, as the loop ends) run before the
    // ring goes: its end would cancel them, and leave their sockets open.
    if (fd_ >= 0 && (pending_ > 0 || closes_out_ > 0)) flush();
    if (buf_ring_) munmap(buf_ring_, ring_bytes());
    if (bufs_) munmap(bufs_, size_t(nbufs_) * kBufSize);
    if (sq_ptr_) munmap(sq_ptr_, sq_len_);
    if (cq_ptr_ && cq_ptr_ != sq_ptr_) munmap(cq_ptr_, cq_len_);
    if (sqes_) munmap(sqes_, sqes_len_);
    if (fd_ >= 0) sys::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  const char* name() const override { return "io_uring"; }
  bool edge() const override { return true; }
  SocketRing* sockets() override { return this; }

  // A fd that is not a ring socket: watched by a multishot poll.
  int add(int fd, uint32_t) override {
    Sock& s = sock(fd);
    if (s.ring) return 0;
    s.polled = true;
    arm_poll(fd, s);
    return 0;
  }
  int modify(int, uint32_t) override { return 0; }  // the poll watches everything
  int remove(int fd) override {
    Sock* s = find(fd);
    if (!s || !s->polled) return 0;
    io_uring_sqe* q = sqe(IORING_OP_POLL_REMOVE, -1, tag(kPollRemove, fd, s->gen), sys::OP_POLL);
    q->addr = tag(kPoll, fd, s->gen);
    s->polled = false;
    s->gen++;
    return 0;
  }
  void closing(int fd) override {
    Sock* s = find(fd);
    if (s && !s->ring) remove(fd);
  }

  int wait(PollEvent* out, int max, int64_t timeout_us) override {
    out_ = out;
    max_ = max;
    n_ = 0;
    reap();  // what completed since the last turn (without DEFER_TASKRUN)
    bool block = n_ == 0 && timeout_us != 0;
    if (block && timeout_us > 0) arm_timer(timeout_us);
    // A turn that must not wait (waiters already queued) leaves what it
    // made for the next turn that does, which submits it with theirs: a
    // few such turns in a row, then one enter anyway (completions only
    // come with an enter under DEFER_TASKRUN).
    // (Not when many went in since the last enter that collected: a
    // connect's end is what lets its request go.)
    if (!block && n_ == 0 && skipped_ < kSkipMost && pending_ + flushed_ < sq_entries_ / 2) {
      skipped_++;
      return 0;
    }
    skipped_ = 0;
    if (pending_ > 0 || block || defer_) {
      unsigned flags = block || defer_ ? IORING_ENTER_GETEVENTS : 0;
      // Many answers awaited: wait a little for a batch of them (Linux
      // 6.12's min_wait), so one enter carries many requests' operations:
      // kMinWaitUs for the batch, then whatever has come. (The kernel
      // keeps to the batch past min_wait only when no timeout is given:
      // the reactor's next timer, or a second.)
      unsigned want = block ? 1 : 0;
      WaitArg arg;
      __kernel_timespec wait_ts{};
      bool batch = block && min_wait_ && awaiting_ >= kBatchFrom;
      bool drain = !block && defer_;
      if (drain) {
        // Not waiting: ask for as many as there is room for, with no time
        // to wait (the kernel runs a turn's deferred work only up to what
        // is asked, or 20: with -c 10000 connects end faster than that).
        want = unsigned(max_ - n_);
        arg.ts = uint64_t(reinterpret_cast<uintptr_t>(&wait_ts));
      } else if (batch) {
        want = std::min<unsigned>(awaiting_ * 2 / 3, kBatchMost);
        arg.min_wait_usec = kMinWaitUs;
        int64_t us = timeout_us > 0 ? timeout_us : 1000000;
        wait_ts.tv_sec = us / 1000000;
        wait_ts.tv_nsec = us % 1000000 * 1000;
        arg.ts = uint64_t(reinterpret_cast<uintptr_t>(&wait_ts));
      }
      int r = enter(want, flags, batch || drain ? &arg : nullptr, block);
      if (r < 0 && errno != EINTR && errno != EBUSY && errno != EAGAIN && errno != ETIME) return -1;
      uint64_t before = reaped_;
      reap();
      if (batches_) batches_->back().reaped = uint32_t(reaped_ - before);
    }
    if (dry_) provide_more(), dry_ = false;
    return n_;
  }

  // ---- SocketRing --------------------------------------------------------
  // Out of descriptors: submit, and wait until every close queued has run
  // (a close after a cancel runs when the cancel is done).
  void flush() override {
    for (int tries = 0; tries < 1000; tries++) {
      unsigned head = *cq_head_, tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE), closed = 0;
      for (unsigned i = head; i != tail; i++) closed += kind_of(cqes_[i & cq_mask_].user_data) == kClose;
      if (closed >= closes_out_ && pending_ == 0) return;
      int r = enter(closed >= closes_out_ ? 0 : tail - head + 1, IORING_ENTER_GETEVENTS);
      if (r < 0 && errno != EINTR) return;
    }
  }
  void adopt(int fd) override {
    Sock& s = sock(fd);
    s.ring = true;
  }
  bool has(int fd) const override {
    return fd >= 0 && size_t(fd) < socks_.size() && socks_[size_t(fd)].ring;
  }
  void connect(int fd, const sockaddr* sa, socklen_t len) override {
    Sock& s = sock(fd);
    s.connecting = true;
    io_uring_sqe* q = sqe(IORING_OP_CONNECT, fd, tag(kConnect, fd, s.gen), sys::OP_CONNECT);
    // The kernel copies the address when it takes the entry (the connect's
    // prep), so it lives beside the entry's slot, not with the socket.
    sockaddr_in6& a = addrs_[size_t(q - sqes_)];
    std::memcpy(&a, sa, std::min<size_t>(len, sizeof a));
    q->addr = uint64_t(reinterpret_cast<uintptr_t>(&a));
    q->off = len;
    s.ops++;
  }
  int connected(int fd) override {
    Sock* s = find(fd);
    if (!s) return EBADF;
    return s->connecting ? -1 : s->connected ? 0 : s->err;
  }
  ssize_t recv(int fd, void* p, size_t n) override {
    Sock* s = find(fd);
    if (!s) return errno = EBADF, -1;
    size_t got = 0;
    while (got < n && s->in != kNone) {
      Chunk& c = chunks_[s->in];
      size_t k = std::min(n - got, size_t(c.end - c.off));
      std::memcpy(static_cast<char*>(p) + got, data(*s, c) + c.off, k);
      got += k;
      c.off = uint16_t(c.off + k);
      if (c.off == c.end) {
        unref(c.bid);
        s->in = drop_chunk(s->in);
      }
    }
    if (s->in == kNone) {
      if (got == 0 && s->starved && !s->eof && !s->err) return starved_recv(fd, *s, p, n);
      if (!s->eof && !s->err && s->connected && !s->recv_armed && !s->starved) arm_recv(fd, *s);
    }
    if (got > 0) return ssize_t(got);
    if (s->err) return errno = s->err, -1;
    if (s->eof) return 0;
    return errno = EAGAIN, -1;
  }
  ssize_t send(int fd, const void* p, size_t n) override {
    Sock* s = find(fd);
    if (!s) return errno = EBADF, -1;
    if (s->err) return errno = s->err, -1;
    // Not yet connected: as the kernel's send would, "again" (the connect's
    // end makes it writable); full: the same, until sends complete.
    if (Extra* x = ex(*s); !s->connected || (x && x->queued.size() + x->sending.size() >= kSendCap)) {
      s->blocked = true;
      return errno = EAGAIN, -1;
    }
    extra(*s).queued.append(static_cast<const char*>(p), n);
    if (s->connected && !s->send_busy) start_send(fd, *s);
    return ssize_t(n);
  }
  bool has_input(int fd) override {
    Sock* s = find(fd);
    return s && (s->in != kNone || s->eof || s->err || (s->starved && s->ready));
  }
  void keep_batches(std::vector<RingBatch>* to) override { batches_ = to; }
  bool close(int fd) override {
    Sock* s = find(fd);
    if (!s || !s->ring) return false;
    // Operations still out hold the socket open: cancel them, then close
    // (hard-linked, so the close runs whether or not a cancel found its
    // operation). Each is cancelled by its tag, which the kernel finds in
    // its hash; a cancel by fd reads every operation out (at -c 10000 a
    // close cost 130 us).
    if (s->connecting) cancel(fd, tag(kConnect, fd, s->gen));
    if (s->recv_armed) cancel(fd, tag(kRecv, fd, s->gen));
    if (s->send_busy) cancel(fd, tag(kSend, fd, s->gen));
    if (s->poll_in) cancel(fd, tag(kPollIn, fd, s->gen));
    sqe(IORING_OP_CLOSE, fd, tag(kClose, fd, s->gen), sys::OP_CLOSE);
    closes_out_++;
    for (uint32_t i = s->in; i != kNone; i = drop_chunk(i)) unref(chunks_[i].bid);
    s->in = kNone;
    if (s->awaiting) s->awaiting = false, awaiting_--;
    // The socket's state waits for its last completion where the kernel
    // has its send buffer or its address until then; a receive's or a
    // poll's completion finds no owner (its generation is gone) and gives
    // back its buffer. The number starts anew.
    uint32_t gen = s->gen + 1;
    if (s->ops > 0 && s->x) {
      s->closed = true;
      closing_.push_back({fd, std::make_unique<Sock>(*s)});
    } else {
      drop_extra(*s);
    }
    *s = Sock{};
    s->gen = gen;
    return true;
  }

 private:
  // Bytes received and not yet read: a socket's list of pieces of
  // buffers (from off to end in buffer bid), in one array for all.
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Chunk {
    uint16_t bid, off, end;
    uint32_t next = kNone;
  };
  static_assert(kBufSize <= UINT16_MAX);
  // What only a send or a receive into the socket's own buffer needs:
  // made for it, gone when nothing needs it.
  struct Extra {
    std::string sending, queued;  // the send out (the kernel's until it completes), and what waits
    size_t sent = 0;              // of sending
    std::unique_ptr<char[]> own;  // without provided buffers: the one receive's
  };
  struct Sock {
    uint32_t gen = 0;
    // (Small, and in one array by fd: -c 10000 is 10,000 of these.)
    bool ring : 1 = false, polled : 1 = false, closed : 1 = false, connecting : 1 = false;
    bool connected : 1 = false, recv_armed : 1 = false, send_busy : 1 = false, blocked : 1 = false;
    bool eof : 1 = false, awaiting : 1 = false;
    // The buffer ring ran dry for it: a poll says when bytes wait and
    // recv(2) takes them, until a read finds none and buffers are back.
    bool starved : 1 = false, poll_in : 1 = false, ready : 1 = false;
    uint8_t ops = 0;      // operations out
    uint8_t err = 0;      // a failed connect's, receive's or send's errno (Linux's fit)
    uint32_t in = kNone;  // bytes received and not yet read (chunks_)
    uint32_t x = 0;       // its Extra, in extras_ from 1 (0: none)
  };
  static_assert(sizeof(Sock) <= 16);

  Extra* ex(const Sock& s) { return s.x ? extras_[s.x - 1].get() : nullptr; }
  Extra& extra(Sock& s) {
    if (!s.x) {
      uint32_t i;
      if (!free_extras_.empty()) i = free_extras_.back(), free_extras_.pop_back();
      else i = uint32_t(extras_.size()), extras_.emplace_back();
      extras_[i].reset(new Extra);
      s.x = i + 1;
    }
    return *extras_[s.x - 1];
  }
  void drop_extra(Sock& s) {
    if (!s.x) return;
    extras_[s.x - 1].reset();
    free_extras_.push_back(s.x - 1);
    s.x = 0;
  }
  void trim(Sock& s) {
    Extra* x = ex(s);
    if (x && !s.send_busy && x->queued.empty() && !x->own) drop_extra(s);
  }
  void add_chunk(Sock& s, uint16_t bid, uint32_t at, uint32_t len) {
    uint32_t i = free_chunk_;
    if (i != kNone) free_chunk_ = chunks_[i].next;
    else i = uint32_t(chunks_.size()), chunks_.emplace_back();
    chunks_[i] = {bid, uint16_t(at), uint16_t(at + len), kNone};
    if (bid != kOwnBuf) bufs_state_[bid].refs++;
    if (s.in == kNone) {
      s.in = i;
      return;
    }
    uint32_t last = s.in;  // (a socket's list is a piece or two)
    while (chunks_[last].next != kNone) last = chunks_[last].next;
    chunks_[last].next = i;
  }
  uint32_t drop_chunk(uint32_t i) {  // the next
    uint32_t next = chunks_[i].next;
    chunks_[i].next = free_chunk_;
    free_chunk_ = i;
    return next;
  }

  std::string open() {
    io_uring_params p{};
    // One thread submits and reaps: the kernel runs completions' work when
    // that thread asks for events (DEFER_TASKRUN, 6.1), not in interrupts.
    p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = 2 * kEntries * 4;
    fd_ = ring_setup(kEntries, &p);
    if (fd_ < 0 && errno == EINVAL) {
      p = io_uring_params{};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = 2 * kEntries * 4;
      fd_ = ring_setup(kEntries, &p);
    } else {
      defer_ = fd_ >= 0;
    }
    if (fd_ < 0) return why_not(errno);
    min_wait_ = p.features & kFeatMinTimeout;
    if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_SINGLE_MMAP))
      return fail("the kernel's io_uring is too old (Linux 5.11 or later is needed)");
    sq_len_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    cq_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    sq_len_ = cq_len_ = std::max(sq_len_, cq_len_);
    sq_ptr_ = mmap(nullptr, sq_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, IORING_OFF_SQ_RING);
    if (sq_ptr_ == MAP_FAILED) return sq_ptr_ = nullptr, fail(std::string("mmap of the ring: ") + strerror(errno));
    cq_ptr_ = sq_ptr_;
    sqes_len_ = p.sq_entries * sizeof(io_uring_sqe);
    sqes_ = static_cast<io_uring_sqe*>(mmap(nullptr, sqes_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, IORING_OFF_SQES));
    if (sqes_ == MAP_FAILED) return sqes_ = nullptr, fail(std::string("mmap of the ring: ") + strerror(errno));
    addrs_.reset(new sockaddr_in6[p.sq_entries]);
    char* sq = static_cast<char*>(sq_ptr_);
    sq_head_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
    sq_tail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
    sq_mask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
    sq_array_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
    sq_entries_ = p.sq_entries;
    cq_head_ = reinterpret_cast<unsigned*>(sq + p.cq_off.head);
    cq_tail_ = reinterpret_cast<unsigned*>(sq + p.cq_off.tail);
    cq_mask_ = *reinterpret_cast<unsigned*>(sq + p.cq_off.ring_mask);
    cqes_ = reinterpret_cast<io_uring_cqe*>(sq + p.cq_off.cqes);
    if (const char* op = missing_op()) return fail(std::string("the kernel's io_uring has no ") + op + " operation (Linux 5.19 or later is needed)");
    setup_buffers();
    return "";
  }

  // The operations this model submits, asked of the kernel (IORING_REGISTER_PROBE).
  const char* missing_op() {
    constexpr unsigned kOps = IORING_OP_LAST;
    std::vector<char> mem(sizeof(io_uring_probe) + kOps * sizeof(io_uring_probe_op));
    auto* pr = reinterpret_cast<io_uring_probe*>(mem.data());
    if (ring_register(fd_, IORING_REGISTER_PROBE, pr, kOps) < 0) return "probe";
    struct { int op; const char* name; } need[] = {
        {IORING_OP_CONNECT, "connect"}, {IORING_OP_SEND, "send"}, {IORING_OP_RECV, "recv"},
        {IORING_OP_CLOSE, "close"}, {IORING_OP_POLL_ADD, "poll"}, {IORING_OP_TIMEOUT, "timeout"},
        {IORING_OP_ASYNC_CANCEL, "cancel"}, {IORING_OP_POLL_REMOVE, "poll remove"}, {IORING_OP_TIMEOUT_REMOVE, "timeout update"}};
    for (auto& n : need)
      if (n.op > pr->last_op || !(pr->ops[n.op].flags & IO_URING_OP_SUPPORTED)) return n.name;
    return nullptr;
  }

  // A provided buffer ring (Linux 5.19) and multishot receive (6.0); the
  // environment can turn them off (FANOUT_URING_SINGLESHOT=1), to run the
  // other way on a kernel that has them.
  void setup_buffers() {
    if (const char* e = getenv("FANOUT_URING_SINGLESHOT"); e && *e == '1') return;
    if (const char* e = getenv("FANOUT_URING_BUFS")) {  // (tests: a ring that runs dry)
      unsigned n = unsigned(atoi(e));
      if (n >= 1 && n <= 4096 && (n & (n - 1)) == 0) nbufs_ = n;
    }
    void* r = mmap(nullptr, ring_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) return;
    void* b = mmap(nullptr, size_t(nbufs_) * kBufSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {
      munmap(r, ring_bytes());
      return;
    }
    io_uring_buf_reg reg{};
    reg.ring_addr = uint64_t(reinterpret_cast<uintptr_t>(r));
    reg.ring_entries = nbufs_;
    reg.bgid = 0;
    reg.pad = getenv("FANOUT_URING_NOINC") ? 0 : kPbufRingInc;  // (the flags field, named pad before 6.12)
    inc_ = ring_register(fd_, IORING_REGISTER_PBUF_RING, &reg, 1) == 0;
    if (!inc_) reg.pad = 0;
    if (!inc_ && ring_register(fd_, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
      munmap(r, ring_bytes());
      munmap(b, size_t(nbufs_) * kBufSize);
      return;
    }
    buf_ring_ = r;
    bufs_ = static_cast<char*>(b);
    bufs_state_.reset(new BufState[nbufs_]);
    provide_more();
    multishot_ = true;
  }
  // The ring starts with a few buffers and takes more after each turn it
  // ran dry in, up to nbufs_: a run touches the pages of as many as it
  // needed at once (the kernel takes them in turn: every buffer given is
  // used).
  void provide_more() {
    unsigned step = inc_ ? kBufsStepInc : kBufsStep;
    for (unsigned i = 0; i < step && provided_ < nbufs_; i++) give_back(uint16_t(provided_++));
  }
  // A chunk of bid was read (or dropped): the buffer goes back once the
  // kernel is done with it and no chunk in it is unread.
  void unref(uint16_t bid) {
    if (bid == kOwnBuf) return;
    BufState& b = bufs_state_[bid];
    if (--b.refs == 0 && b.done) give_back(bid);
  }
  size_t ring_bytes() const { return size_t(nbufs_) * sizeof(io_uring_buf); }

  // The ring is an array of io_uring_buf whose first entry's last field is
  // the tail (io_uring_buf_ring): its bufs member is not used from C++,
  // where the header's empty struct before it takes a byte.
  void give_back(uint16_t bid) {
    if (bid == kOwnBuf || !buf_ring_) return;
    io_uring_buf& b = reinterpret_cast<io_uring_buf*>(buf_ring_)[buf_tail_ & (nbufs_ - 1)];
    b.addr = uint64_t(reinterpret_cast<uintptr_t>(bufs_ + size_t(bid) * kBufSize));
    b.len = uint32_t(kBufSize);
    b.bid = bid;
    bufs_state_[bid] = BufState{};
    buf_tail_++;
    static_assert(offsetof(io_uring_buf, resv) == 14 && sizeof(io_uring_buf) == 16);
    __atomic_store_n(&reinterpret_cast<io_uring_buf*>(buf_ring_)->resv, buf_tail_, __ATOMIC_RELEASE);
    free_bufs_++;
  }
  const char* data(Sock& s, const Chunk& c) { return c.bid == kOwnBuf ? ex(s)->own.get() : bufs_ + size_t(c.bid) * kBufSize; }
  // A provided buffer's bytes: filled by the kernel up to fill (with
  // incremental consumption, one buffer takes many receives, each after
  // the one before), unread in refs chunks, and done when the kernel has
  // moved past it.
  struct BufState {
    uint16_t fill = 0, refs = 0;
    bool done = false;
  };

  std::string why_not(int err) {
    std::string w = std::string("io_uring_setup: ") + sys::errno_name(err) + " (" + strerror(err) + "): ";
    if (err == ENOSYS)
      w += "this kernel has no io_uring (it needs Linux 5.11 or later built with CONFIG_IO_URING, or gVisor run with --iouring)";
    else if (err == EPERM || err == EACCES)
      w += "io_uring is not allowed here: a seccomp profile blocks it (a container's default: run it with a profile that "
           "allows io_uring_setup, io_uring_enter and io_uring_register), or sysctl kernel.io_uring_disabled is 2 (set it "
           "to 0, or to 1 with this user in kernel.io_uring_group)";
    else if (err == ENOMEM)
      w += "no memory may be locked for the ring (raise RLIMIT_MEMLOCK: ulimit -l)";
    else
      w += "the kernel refused a ring";
    return fail(w);
  }
  std::string fail(std::string why) {
    if (fd_ >= 0) sys::close(fd_);
    fd_ = -1;
    return why;
  }

  Sock& sock(int fd) {
    if (size_t(fd) >= socks_.size()) socks_.resize(size_t(fd) + 1);
    return socks_[size_t(fd)];
  }
  Sock* find(int fd) { return fd >= 0 && size_t(fd) < socks_.size() ? &socks_[size_t(fd)] : nullptr; }

  // One io_uring_enter with everything queued: what went in leaves
  // pending_ (and counts toward flushed_ unless the enter collected), and
  // --trace gets its batch (the caller fills in what it reaped).
  int enter(unsigned want, unsigned flags, WaitArg* arg = nullptr, bool waits = true) {
    int64_t from = batches_ ? now_ns() : 0;
    int r = ring_enter(fd_, pending_, want, flags, arg);
    int err = errno;
    if (r > 0) pending_ -= std::min(pending_, unsigned(r));
    if (flags & IORING_ENTER_GETEVENTS) flushed_ = 0;
    else if (r > 0) flushed_ += unsigned(r);
    if (batches_) batches_->push_back({from, now_ns(), uint32_t(std::max(r, 0)), 0, waits ? want : 0});
    errno = err;
    return r;
  }

  // A submission entry, zeroed, for one operation; the ring is submitted
  // first if it is full.
  io_uring_sqe* sqe(uint8_t op, int fd, uint64_t user, sys::RingOp counted) {
    unsigned tail = *sq_tail_;
    if (tail - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE) >= sq_entries_) enter(0, 0, nullptr, false);
    unsigned i = tail & sq_mask_;
    io_uring_sqe* q = &sqes_[i];
    std::memset(q, 0, sizeof *q);
    q->opcode = op;
    q->fd = fd;
    q->user_data = user;
    sq_array_[i] = i;
    __atomic_store_n(sq_tail_, tail + 1, __ATOMIC_RELEASE);
    pending_++;
    sys::count(counted);
    return q;
  }

  void cancel(int fd, uint64_t what) {
    io_uring_sqe* q = sqe(IORING_OP_ASYNC_CANCEL, -1, tag(kCancel, fd, 0), sys::OP_CANCEL);
    q->addr = what;
    q->flags |= IOSQE_IO_HARDLINK;
  }

  void arm_poll(int fd, Sock& s) {
    io_uring_sqe* q = sqe(IORING_OP_POLL_ADD, fd, tag(kPoll, fd, s.gen), sys::OP_POLL);
    q->len = IORING_POLL_ADD_MULTI;
    q->poll32_events = POLLIN | POLLOUT | POLLRDHUP | POLLERR | POLLHUP;
  }

  // One poll for bytes to read (a starved socket's).
  void arm_poll_in(int fd, Sock& s) {
    if (s.poll_in) return;
    io_uring_sqe* q = sqe(IORING_OP_POLL_ADD, fd, tag(kPollIn, fd, s.gen), sys::OP_POLL);
    q->poll32_events = POLLIN | POLLRDHUP;
    s.poll_in = true;
    s.ops++;
  }

  // A starved socket's read: recv(2) while bytes wait; once they are all
  // read (a short read, or none), the ring's receive again if buffers are
  // back, or another poll.
  ssize_t starved_recv(int fd, Sock& s, void* p, size_t n) {
    s.ready = false;
    ssize_t r;
    while ((r = sys::recv(fd, p, n, MSG_DONTWAIT)) < 0 && errno == EINTR) {}
    if (r == 0) s.eof = true;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) s.err = uint8_t(errno);
    if (r == 0 || (r < 0 && s.err) || size_t(r) == n) return r;
    if (free_bufs_ > 0) {
      s.starved = false;
      if (!s.recv_armed) arm_recv(fd, s);
    } else {
      arm_poll_in(fd, s);
    }
    return r > 0 ? r : (errno = EAGAIN, -1);
  }

  void arm_recv(int fd, Sock& s) {
    io_uring_sqe* q = sqe(IORING_OP_RECV, fd, tag(kRecv, fd, s.gen), sys::OP_RECV);
    if (multishot_) {
      q->ioprio = IORING_RECV_MULTISHOT;
      q->flags |= IOSQE_BUFFER_SELECT;
      q->buf_group = 0;
    } else {
      Extra& x = extra(s);
      if (!x.own) x.own.reset(new char[kBufSize]);
      q->addr = uint64_t(reinterpret_cast<uintptr_t>(x.own.get()));
      q->len = uint32_t(kBufSize);
    }
    s.recv_armed = true;
    s.ops++;
  }

  void start_send(int fd, Sock& s) {
    Extra& o = *ex(s);
    if (o.sending.empty()) {
      o.sending.swap(o.queued);
      o.sent = 0;
    }
    io_uring_sqe* q = sqe(IORING_OP_SEND, fd, tag(kSend, fd, s.gen), sys::OP_SEND);
    q->addr = uint64_t(reinterpret_cast<uintptr_t>(o.sending.data() + o.sent));
    q->len = uint32_t(o.sending.size() - o.sent);
    q->msg_flags = MSG_NOSIGNAL;
    s.send_busy = true;
    s.ops++;
  }

  // The reactor's next timer, as one timeout operation at an absolute
  // time: moved earlier when a nearer one comes; one that fires early
  // costs a turn.
  void arm_timer(int64_t timeout_us) {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t at = int64_t(now.tv_sec) * 1000000000 + now.tv_nsec + timeout_us * 1000;
    if (timer_armed_ && timer_at_ <= at) return;
    ts_.tv_sec = at / 1000000000;
    ts_.tv_nsec = at % 1000000000;
    if (timer_armed_) {
      io_uring_sqe* q = sqe(IORING_OP_TIMEOUT_REMOVE, -1, tag(kTimeoutUpdate, 0, 0), sys::OP_TIMEOUT);
      q->addr = tag(kTimeout, 0, 0);
      q->addr2 = uint64_t(reinterpret_cast<uintptr_t>(&ts_));
      q->timeout_flags = IORING_TIMEOUT_UPDATE | IORING_TIMEOUT_ABS;
    } else {
      io_uring_sqe* q = sqe(IORING_OP_TIMEOUT, -1, tag(kTimeout, 0, 0), sys::OP_TIMEOUT);
      q->addr = uint64_t(reinterpret_cast<uintptr_t>(&ts_));
      q->len = 1;
      q->timeout_flags = IORING_TIMEOUT_ABS;
    }
    timer_armed_ = true;
    timer_at_ = at;
  }

  void event(int fd, uint32_t e) {
    if (n_ < max_) out_[n_++] = {fd, e};
  }

  // Completions to events, as many as the caller has room for.
  void reap() {
    unsigned head = *cq_head_;
    unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
    while (head != tail && n_ < max_) {
      io_uring_cqe c = cqes_[head & cq_mask_];
      head++;
      __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
      sys::count(sys::OP_COMPLETIONS);
      reaped_++;
      complete(c);
        tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
    }
  }

  Sock* owner(uint64_t t) {
    int fd = fd_of(t);
    uint32_t gen = gen_of(t);
    if (Sock* s = find(fd); s && s->gen == gen) return s;
    for (auto& [closed_fd, s] : closing_)
      if (s->gen == gen && closed_fd == fd) return s.get();
    return nullptr;
  }

  void complete(const io_uring_cqe& c) {
    Kind k = kind_of(c.user_data);
    int fd = fd_of(c.user_data);
    bool more = c.flags & IORING_CQE_F_MORE;
    if (k == kTimeout) {
      if (!more) timer_armed_ = false;
      return;
    }
    if (k == kTimeoutUpdate) {
      if (c.res < 0) timer_armed_ = false;  // it had fired: the next wait arms another
      return;
    }
    if (k == kClose) closes_out_--;
    if (k == kClose || k == kCancel || k == kPollRemove) return;
    Sock* s = owner(c.user_data);
    uint32_t at = 0;  // where a receive's bytes start in its buffer
    if (k == kRecv && (c.flags & IORING_CQE_F_BUFFER)) {
      // Incremental: the kernel keeps the buffer while it says "more"
      // (and a receive of nothing takes none of it). A buffer with no
      // bytes for anyone (nothing received, the socket gone) goes back
      // once the kernel is done with it.
      uint16_t bid = uint16_t(c.flags >> 16);
      BufState& b = bufs_state_[bid];
      at = b.fill;
      if (c.res > 0) b.fill = uint16_t(b.fill + c.res);
      if (!inc_ || (c.res > 0 && !(c.flags & kCqeBufMore))) {
        b.done = true;
        free_bufs_--;
      }
      if ((!s || s->closed || c.res <= 0) && b.done && b.refs == 0) give_back(bid);
    }
    if (!s) return;
    if (k == kPoll) {
      if (s->closed || !s->polled) return;
      uint32_t ev = c.res < 0 ? kHangup : uint32_t(c.res);
      event(fd, (ev & (POLLIN | POLLRDHUP) ? kReadable : 0) | (ev & POLLOUT ? kWritable : 0) |
                    (ev & (POLLERR | POLLHUP) ? kHangup : 0) | (ev & POLLRDHUP ? kPeerClosed : 0));
      if (!more && c.res != -ECANCELED) arm_poll(fd, *s);
      return;
    }
    if (!more) s->ops--;
    if (s->closed) {
      if (s->ops == 0) forget_closed(s);
      return;
    }
    switch (k) {
      case kPollIn:
        s->poll_in = false;
        if (c.res == -ECANCELED || !s->starved) break;  // (the ring's receive is back: it tells)
        s->ready = true;
        if (s->awaiting) s->awaiting = false, awaiting_--;
        event(fd, kReadable);
        break;
      case kConnect:
        s->connecting = false;
        s->err = uint8_t(c.res < 0 ? -c.res : 0);
        s->blocked = false;  // (the event below is the writable one a send that said EAGAIN waits for)
        if (c.res == 0) {
          s->connected = true;
          arm_recv(fd, *s);
          if (Extra* x = ex(*s); x && !x->queued.empty()) start_send(fd, *s);
        }
        trim(*s);
        event(fd, c.res < 0 ? kReadable | kWritable | kHangup : kWritable);
        break;
      case kRecv:
        if (!more) s->recv_armed = false;
        if (c.res > 0) {
          uint16_t bid = c.flags & IORING_CQE_F_BUFFER ? uint16_t(c.flags >> 16) : kOwnBuf;
          add_chunk(*s, bid, at, uint32_t(c.res));
          if (s->awaiting) s->awaiting = false, awaiting_--;
          event(fd, kReadable);
          // Multishot ended with bytes (the kernel's choice): go on.
          if (!more && multishot_) arm_recv(fd, *s);
        } else if (c.res == 0) {
          s->eof = true;
          event(fd, kReadable | kPeerClosed);
        } else if (c.res == -ENOBUFS) {  // the ring ran dry: readiness and recv(2) until buffers come back
          dry_ = true;
          s->starved = true;
          arm_poll_in(fd, *s);
        } else if (c.res != -ECANCELED) {
          s->err = uint8_t(-c.res);
          event(fd, kReadable | kHangup);
        }
        break;
      case kSend: {
        s->send_busy = false;
        if (c.res < 0) {
          s->err = uint8_t(-c.res);
          event(fd, kReadable | kWritable | kHangup);
          break;
        }
        Extra& o = *ex(*s);
        o.sent += size_t(c.res);
        if (o.sent < o.sending.size()) {  // a short send: the rest
          start_send(fd, *s);
          break;
        }
        o.sending.clear();
        o.sent = 0;
        if (!s->awaiting) s->awaiting = true, awaiting_++;
        if (!o.queued.empty()) start_send(fd, *s);
        else trim(*s);  // (no room kept between requests)
        Extra* x = ex(*s);
        if (s->blocked && (!x || x->queued.size() + x->sending.size() < kSendCap)) {
          s->blocked = false;
          event(fd, kWritable);
        }
        break;
      }
      default:
        break;
    }
  }

  void forget_closed(Sock* s) {
    for (auto& p : closing_)
      if (p.second.get() == s) {
        drop_extra(*s);
        p = std::move(closing_.back());
        closing_.pop_back();
        return;
      }
  }

  int fd_ = -1;
  bool defer_ = false, min_wait_ = false;
  unsigned awaiting_ = 0;  // sockets that sent and wait for their answer
  unsigned closes_out_ = 0;  // close operations not yet completed
  unsigned skipped_ = 0;     // turns in a row that did not enter
  unsigned flushed_ = 0;     // submitted (the ring full) since an enter that collected
  void *sq_ptr_ = nullptr, *cq_ptr_ = nullptr;
  size_t sq_len_ = 0, cq_len_ = 0, sqes_len_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  std::unique_ptr<sockaddr_in6[]> addrs_;  // a connect's address, by its entry's slot
  unsigned *sq_head_ = nullptr, *sq_tail_ = nullptr, *sq_array_ = nullptr, sq_mask_ = 0, sq_entries_ = 0;
  unsigned *cq_head_ = nullptr, *cq_tail_ = nullptr, cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  unsigned pending_ = 0;  // submissions not yet given to the kernel

  void* buf_ring_ = nullptr;
  char* bufs_ = nullptr;
  uint16_t buf_tail_ = 0;
  unsigned nbufs_ = kBufs;   // the most it may have
  unsigned provided_ = 0;    // buffers given to the kernel so far
  bool dry_ = false;         // a receive found none this turn
  bool multishot_ = false;
  unsigned free_bufs_ = 0;   // in the ring, the kernel's to fill
  bool inc_ = false;         // consumed incrementally (Linux 6.12)
  std::unique_ptr<BufState[]> bufs_state_;

  bool timer_armed_ = false;
  int64_t timer_at_ = 0;
  __kernel_timespec ts_{};

  std::vector<Sock> socks_;                     // by fd
  std::vector<Chunk> chunks_;                   // every socket's bytes not yet read
  uint32_t free_chunk_ = kNone;
  std::vector<std::pair<int, std::unique_ptr<Sock>>> closing_;  // closed, with operations still out (by the fd they had)
  std::vector<std::unique_ptr<Extra>> extras_;  // what sockets' connects and sends need now
  std::vector<uint32_t> free_extras_;

  std::vector<RingBatch>* batches_ = nullptr;  // --trace
  uint64_t reaped_ = 0;                        // completions read, all told
  static int64_t now_ns() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
  }

  PollEvent* out_ = nullptr;
  int max_ = 0, n_ = 0;
};

}  // namespace

std::unique_ptr<Poller> make_uring_poller(std::string& why) {
  auto u = std::make_unique<Uring>(why);
  if (!u->ok()) return nullptr;
  return u;
}

}  // namespace fanout
#else
namespace fanout {
std::unique_ptr<Poller> make_uring_poller(std::string& why) {
  why = "io_uring is Linux's (this system has kqueue: -m async)";
  return nullptr;
}
}  // namespace fanout
#endif
