// SPDX-License-Identifier: Apache-2.0
/// @brief MPI backend of Communicator for CPU tensors (Open MPI 4.1 / any MPI-3 library).
///
/// Design: every operation is issued non-blocking (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather,
/// MPI_Ireduce_scatter_block, MPI_Isend/Irecv, MPI_Ibarrier) and completed by one polling loop
/// (`wait`) that enforces the collective timeout. Polling yields, then sleeps 50 us between tests,
/// so oversubscribed ranks (more ranks than cores) do not starve each other.
/// Reductions run in a "wire" dtype: float32 for 16-bit floats (one rounding at the end), the
/// dtype itself otherwise; bool uses MPI_C_BOOL with logical or. Non-contiguous and 16-bit tensors
/// go through a contiguous wire buffer that is copied back through the caller's view.
///
/// NOTE [watchdog]: on timeout the waiting rank sends its collective sequence number to every
/// other rank on a duplicate "control" communicator and listens for theirs for another timeout
/// period. Ranks stuck in the same collective time out too and answer; a rank that is dead or busy
/// elsewhere never does, so the error names exactly the ranks that did not arrive. The timed-out
/// request cannot be cancelled (MPI has no cancel for collectives): its buffers are kept alive in
/// `abandoned_` so a late completion never writes freed memory.
#include "mpi_communicator.h"

#include <chrono>
#include <climits>
#include <sstream>
#include <thread>

#include <tessera/creation.h>
#include <tessera/native.h>

namespace tessera::parallel::detail {
namespace {

constexpr int kWatchdogTag = 7001;

std::string mpi_error_string(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, buf, &len);
  return std::string(buf, static_cast<size_t>(len));
}

#define TESSERA_MPI_CHECK(call, what)                                  \
  do {                                                                 \
    const int tessera_mpi_rc_ = (call);                                \
    TESSERA_CHECK(tessera_mpi_rc_ == MPI_SUCCESS, what,                \
                  ": MPI error: ", mpi_error_string(tessera_mpi_rc_)); \
  } while (0)

/// The MPI type of a reduction's wire dtype.
MPI_Datatype wire_type(DType t) {
  switch (t) {
    case kBool:
      return MPI_C_BOOL;
    case kInt32:
      return MPI_INT32_T;
    case kInt64:
      return MPI_INT64_T;
    case kFloat32:
      return MPI_FLOAT;
    case kFloat64:
      return MPI_DOUBLE;
    default:
      TESSERA_FAIL("MPI: no wire type for ", t);
  }
}

DType wire_dtype(DType t) { return (t == kBFloat16 || t == kFloat16) ? kFloat32 : t; }

MPI_Op mpi_op(ReduceOp op, DType wire) {
  if (wire == kBool) return MPI_LOR;
  return op == ReduceOp::Max ? MPI_MAX : MPI_SUM;
}

int checked_count(int64_t n, const char* what) {
  TESSERA_CHECK(n <= INT_MAX, what, ": ", n, " elements exceed MPI's int count limit ", INT_MAX,
                " (split the tensor)");
  return static_cast<int>(n);
}

/// A contiguous buffer in `dtype` holding t's values: t itself when already so.
Tensor wire_buffer(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype && t.is_contiguous()) return t;
  Tensor b = native::to(t, dtype, /*copy=*/true);
  return b.is_contiguous() ? b : native::contiguous(b);
}

/// After a reduction into `buf` (the wire buffer of `t`): Avg's division, then write back.
void finish_reduce(Tensor& t, Tensor& buf, ReduceOp op, int size) {
  if (op == ReduceOp::Avg && size > 1) native::mul_(buf, Scalar(1.0 / static_cast<double>(size)));
  if (!buf.is_same(t)) native::copy_(t, buf);
}

class MpiCommunicator;

class MpiWork final : public Work {
 public:
  MpiWork(MpiCommunicator* comm, MPI_Request req, Tensor t, Tensor buf, ReduceOp op, uint64_t seq)
      : comm_(comm), req_(req), t_(std::move(t)), buf_(std::move(buf)), op_(op), seq_(seq) {}
  ~MpiWork() override;
  void wait() override;
  bool test() override;
  void progress() override;

 private:
  MpiCommunicator* comm_;
  MPI_Request req_;
  Tensor t_, buf_;
  ReduceOp op_;
  uint64_t seq_;
  bool done_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) {
    TESSERA_MPI_CHECK(MPI_Comm_dup(comm, &comm_), "communicator");
    TESSERA_MPI_CHECK(MPI_Comm_dup(comm, &ctrl_), "communicator");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(ctrl_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Group group, world_group;
    MPI_Comm_group(comm_, &group);
    MPI_Comm_group(MPI_COMM_WORLD, &world_group);
    std::vector<int> ranks(static_cast<size_t>(size_));
    for (int i = 0; i < size_; ++i) ranks[static_cast<size_t>(i)] = i;
    world_ranks_.resize(ranks.size());
    MPI_Group_translate_ranks(group, size_, ranks.data(), world_group, world_ranks_.data());
    MPI_Group_free(&group);
    MPI_Group_free(&world_group);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    if (abandoned_.empty()) {  // a communicator with a hung collective is leaked, not freed
      MPI_Comm_free(&comm_);
      MPI_Comm_free(&ctrl_);
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  int world_rank_of(int r) const override { return world_ranks_.at(static_cast<size_t>(r)); }

  void all_reduce(Tensor& t, ReduceOp op) override {
    auto w = all_reduce_async(t, op);
    w->wait();
  }

  std::unique_ptr<Work> all_reduce_async(Tensor t, ReduceOp op) override {
    check_reduce("all_reduce", t, op);
    check_usable("all_reduce");
    Tensor buf = wire_buffer(t, wire_dtype(t.dtype()));
    const int n = checked_count(buf.numel(), "all_reduce");
    MPI_Request req;
    TESSERA_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buf.data_ptr(), n, wire_type(buf.dtype()),
                                     mpi_op(op, buf.dtype()), comm_, &req),
                      "all_reduce");
    payload_bytes_ += buf.nbytes();
    return std::make_unique<MpiWork>(this, req, std::move(t), std::move(buf), op, ++seq_);
  }

  void broadcast(Tensor& t, int root) override {
    TESSERA_CHECK(t.defined(), "broadcast: undefined tensor");
    TESSERA_CHECK(root >= 0 && root < size_, "broadcast: root ", root,
                  " is not a rank of a world of ", size_);
    check_usable("broadcast");
    Tensor buf = wire_buffer(t, t.dtype());
    MPI_Request req;
    TESSERA_MPI_CHECK(MPI_Ibcast(buf.data_ptr(), checked_count(buf.nbytes(), "broadcast"), MPI_BYTE,
                                 root, comm_, &req),
                      "broadcast");
    if (rank_ == root) payload_bytes_ += buf.nbytes();
    wait(req, "broadcast", ++seq_, {buf});
    if (!buf.is_same(t)) native::copy_(t, buf);
  }

  Tensor all_gather(const Tensor& x) override {
    TESSERA_CHECK(x.defined(), "all_gather: undefined tensor");
    check_usable("all_gather");
    Tensor buf = wire_buffer(x, x.dtype());
    Shape shape = x.shape();
    shape.insert(shape.begin(), size_);
    Tensor out = empty(shape, {.dtype = x.dtype()});
    const int bytes = checked_count(buf.nbytes(), "all_gather");
    checked_count(out.nbytes(), "all_gather");
    MPI_Request req;
    TESSERA_MPI_CHECK(MPI_Iallgather(buf.data_ptr(), bytes, MPI_BYTE, out.data_ptr(), bytes,
                                     MPI_BYTE, comm_, &req),
                      "all_gather");
    payload_bytes_ += buf.nbytes();
    wait(req, "all_gather", ++seq_, {buf, out});
    return out;
  }

  Tensor reduce_scatter(const Tensor& x, ReduceOp op) override {
    check_reduce("reduce_scatter", x, op);
    TESSERA_CHECK(x.dim() >= 1 && x.size(0) == size_,
                  "reduce_scatter: expected a leading dim equal "
                  "to the communicator size ",
                  size_, ", got ", describe(x));
    check_usable("reduce_scatter");
    const DType wd = wire_dtype(x.dtype());
    Tensor buf = wire_buffer(x, wd);
    Shape shape(x.shape().begin() + 1, x.shape().end());
    Tensor out = empty(shape, {.dtype = wd});
    const int n = checked_count(out.numel(), "reduce_scatter");
    checked_count(buf.numel(), "reduce_scatter");
    MPI_Request req;
    TESSERA_MPI_CHECK(MPI_Ireduce_scatter_block(buf.data_ptr(), out.data_ptr(), n, wire_type(wd),
                                                mpi_op(op, wd), comm_, &req),
                      "reduce_scatter");
    payload_bytes_ += buf.nbytes();
    wait(req, "reduce_scatter", ++seq_, {buf, out});
    if (op == ReduceOp::Avg && size_ > 1)
      native::mul_(out, Scalar(1.0 / static_cast<double>(size_)));
    return wd == x.dtype() ? out : native::to(out, x.dtype());
  }

  void send(const Tensor& t, int dst, int tag) override {
    TESSERA_CHECK(t.defined(), "send: undefined tensor");
    check_peer("send", *this, dst);
    TESSERA_CHECK(tag >= 0 && tag < 32767, "send: tag must be in [0, 32767), got ", tag);
    check_usable("send");
    Tensor buf = wire_buffer(t, t.dtype());
    MPI_Request req;
    TESSERA_MPI_CHECK(MPI_Isend(buf.data_ptr(), checked_count(buf.nbytes(), "send"), MPI_BYTE, dst,
                                tag, comm_, &req),
                      "send");
    payload_bytes_ += buf.nbytes();
    wait(req, "send", seq_, {buf});
  }

  void recv(Tensor& t, int src, int tag) override {
    TESSERA_CHECK(t.defined(), "recv: undefined tensor");
    check_peer("recv", *this, src);
    TESSERA_CHECK(tag >= 0 && tag < 32767, "recv: tag must be in [0, 32767), got ", tag);
    check_usable("recv");
    Tensor buf = t.is_contiguous() ? t : empty(t.shape(), {.dtype = t.dtype()});
    MPI_Request req;
    TESSERA_MPI_CHECK(MPI_Irecv(buf.data_ptr(), checked_count(buf.nbytes(), "recv"), MPI_BYTE, src,
                                tag, comm_, &req),
                      "recv");
    MPI_Status status;
    wait(req, "recv", seq_, {buf}, &status);
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    TESSERA_CHECK(count == buf.nbytes(), "recv: expected ", buf.nbytes(), " bytes (", describe(t),
                  ") from rank ", src, ", got ", count, " (the sender's shape or dtype differs)");
    if (!buf.is_same(t)) native::copy_(t, buf);
  }

  void barrier() override {
    check_usable("barrier");
    MPI_Request req;
    TESSERA_MPI_CHECK(MPI_Ibarrier(comm_, &req), "barrier");
    wait(req, "barrier", ++seq_, {});
  }

  std::shared_ptr<Communicator> split(int color, int key) override {
    TESSERA_CHECK(color >= 0, "split: color must be >= 0, got ", color);
    check_usable("split");
    MPI_Comm sub;
    TESSERA_MPI_CHECK(MPI_Comm_split(comm_, color, key, &sub), "split");
    auto c = std::make_shared<MpiCommunicator>(sub);
    MPI_Comm_free(&sub);
    c->set_timeout_s(timeout_s_);
    return c;
  }

  /// Polls `req` to completion under the watchdog (NOTE [watchdog]). `keep` are the buffers the
  /// request reads or writes: abandoned with it on timeout.
  void wait(MPI_Request& req, const char* what, uint64_t seq, std::vector<Tensor> keep,
            MPI_Status* status = nullptr) {
    const auto start = std::chrono::steady_clock::now();
    for (int spins = 0;; ++spins) {
      int flag = 0;
      const int rc = MPI_Test(&req, &flag, status ? status : MPI_STATUS_IGNORE);
      TESSERA_CHECK(rc == MPI_SUCCESS, what, " (collective #", seq,
                    "): MPI error: ", mpi_error_string(rc));
      if (flag) return;
      if (timeout_s_ > 0) {
        const double waited =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (waited > timeout_s_) {
          abandoned_.push_back({req, std::move(keep)});
          diagnose_timeout(what, seq, waited);
        }
      }
      if (spins < 64)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  bool test(MPI_Request& req, const char* what) {
    int flag = 0;
    TESSERA_MPI_CHECK(MPI_Test(&req, &flag, MPI_STATUS_IGNORE), what);
    return flag != 0;
  }

 private:
  void check_usable(const char* what) const {
    TESSERA_CHECK(abandoned_.empty(), what,
                  ": this communicator already timed out in an earlier "
                  "collective; its ranks are out of step (abort the job)");
  }

  [[noreturn]] void diagnose_timeout(const char* what, uint64_t seq, double waited) {
    const int n = size_;
    // Buffers live in a heap block leaked on purpose: the sends to a dead rank never complete.
    auto* mine = new int64_t(static_cast<int64_t>(seq));
    auto* theirs = new std::vector<int64_t>(static_cast<size_t>(n), -1);
    std::vector<MPI_Request> recvs(static_cast<size_t>(n), MPI_REQUEST_NULL);
    for (int r = 0; r < n; ++r) {
      if (r == rank_) continue;
      MPI_Request s;
      MPI_Isend(mine, 1, MPI_INT64_T, r, kWatchdogTag, ctrl_, &s);
      MPI_Request_free(&s);
      MPI_Irecv(&(*theirs)[static_cast<size_t>(r)], 1, MPI_INT64_T, r, kWatchdogTag, ctrl_,
                &recvs[static_cast<size_t>(r)]);
    }
    const double grace = std::max(1.0, timeout_s_);
    const auto start = std::chrono::steady_clock::now();
    std::vector<bool> answered(static_cast<size_t>(n), false);
    answered[static_cast<size_t>(rank_)] = true;
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
           grace) {
      bool all = true;
      for (int r = 0; r < n; ++r) {
        auto& q = recvs[static_cast<size_t>(r)];
        if (answered[static_cast<size_t>(r)]) continue;
        int flag = 0;
        MPI_Test(&q, &flag, MPI_STATUS_IGNORE);
        if (flag)
          answered[static_cast<size_t>(r)] = true;
        else
          all = false;
      }
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::ostringstream missing, elsewhere, present;
    for (int r = 0; r < n; ++r) {
      const size_t i = static_cast<size_t>(r);
      if (!answered[i]) {
        missing << (missing.tellp() > 0 ? ", " : "") << world_rank_of(r);
        MPI_Cancel(&recvs[i]);
        MPI_Request_free(&recvs[i]);
      } else if (r != rank_ && (*theirs)[i] != static_cast<int64_t>(seq)) {
        elsewhere << (elsewhere.tellp() > 0 ? ", " : "") << world_rank_of(r) << " (in #"
                  << (*theirs)[i] << ")";
      } else {
        present << (present.tellp() > 0 ? ", " : "") << world_rank_of(r);
      }
    }
    std::ostringstream msg;
    msg << what << " (collective #" << seq << " on a communicator of " << n
        << " ranks) timed out after " << waited << " s on world rank " << world_rank_of(rank_)
        << ": ";
    if (missing.tellp() > 0)
      msg << "world rank(s) " << missing.str() << " never arrived (dead or hung); ";
    if (elsewhere.tellp() > 0)
      msg << "rank(s) " << elsewhere.str() << " wait in another collective; ";
    msg << "waiting here: " << present.str()
        << ". Limit: TESSERA_COLLECTIVE_TIMEOUT_S=" << timeout_s_ << ". Abort the job.";
    TESSERA_FAIL(msg.str());
  }

  struct Abandoned {
    MPI_Request req;
    std::vector<Tensor> keep;
  };
  MPI_Comm comm_ = MPI_COMM_NULL, ctrl_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  uint64_t seq_ = 0;
  std::vector<int> world_ranks_;
  std::vector<Abandoned> abandoned_;
};

MpiWork::~MpiWork() {
  if (done_) return;
  try {
    wait();
  } catch (...) {  // a destructor must not throw; the error already surfaced or will at the next op
  }
}

void MpiWork::wait() {
  if (done_) return;
  done_ = true;
  comm_->wait(req_, "all_reduce", seq_, {t_, buf_});
  finish_reduce(t_, buf_, op_, comm_->size());
}

void MpiWork::progress() {
  // A completed request becomes MPI_REQUEST_NULL, which MPI_Test reports as complete again: the
  // owner's wait() / test() then finishes the reduction. Errors surface there too.
  if (done_ || req_ == MPI_REQUEST_NULL) return;
  int flag = 0;
  MPI_Test(&req_, &flag, MPI_STATUS_IGNORE);
}

bool MpiWork::test() {
  if (done_) return true;
  if (!comm_->test(req_, "all_reduce")) return false;
  done_ = true;
  finish_reduce(t_, buf_, op_, comm_->size());
  return true;
}

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator(MPI_Comm comm) {
  return std::make_shared<MpiCommunicator>(comm);
}

}  // namespace tessera::parallel::detail
