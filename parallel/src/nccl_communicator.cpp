// SPDX-License-Identifier: Apache-2.0
/// @brief NCCL backend (see nccl.h). Compiled only when CUDA and NCCL are found (TESSERA_HAS_NCCL).
///
/// Design: one ncclComm_t and one non-blocking CUDA stream per communicator. Each op packs a
/// non-contiguous input with native::contiguous (which runs on the tensor's device), enqueues the
/// NCCL call, then polls cudaStreamQuery + ncclCommGetAsyncError under the timeout, so a peer that
/// died or hangs turns into an Error instead of a blocked GPU. NCCL reduces bf16/fp16 natively;
/// bool travels as uint8 with max (= logical or). Avg uses ncclAvg (NCCL >= 2.10).
/// Stream order: tessera enqueues ops on the current stream of the device (docs/cuda.md), and the
/// communicator's stream is non-blocking (no implicit order with the legacy default stream), so
/// every op first makes its stream wait for an event recorded on the current stream: the NCCL call
/// reads the input only after the kernels that produced it (and the packing copy) have run. The
/// result is ready for any stream on return (the host waited for the NCCL stream); an async
/// all-reduce's tensor must not be touched before Work::wait / test says it is done.
/// Empty tensors make no NCCL call (every rank skips it: shapes must match across ranks).
#include <tessera/parallel/nccl.h>

#include <chrono>
#include <cstring>
#include <thread>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <tessera/creation.h>
#include <tessera/cuda.h>
#include <tessera/kernels/cuda/check.h>
#include <tessera/native.h>

namespace tessera::parallel {
namespace {

#define TESSERA_NCCL_CHECK(call, what)                                \
  do {                                                                \
    const ncclResult_t tessera_rc_ = (call);                          \
    TESSERA_CHECK(tessera_rc_ == ncclSuccess, what,                   \
                  ": NCCL error: ", ncclGetErrorString(tessera_rc_)); \
  } while (0)

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case kBool:
      return ncclUint8;
    case kInt32:
      return ncclInt32;
    case kInt64:
      return ncclInt64;
    case kBFloat16:
      return ncclBfloat16;
    case kFloat16:
      return ncclFloat16;
    case kFloat32:
      return ncclFloat32;
    case kFloat64:
      return ncclFloat64;
  }
  TESSERA_FAIL("NCCL: unsupported dtype ", t);
}

ncclRedOp_t nccl_op(ReduceOp op, DType t) {
  if (t == kBool) return ncclMax;
  switch (op) {
    case ReduceOp::Sum:
      return ncclSum;
    case ReduceOp::Avg:
      return ncclAvg;
    case ReduceOp::Max:
      return ncclMax;
  }
  return ncclSum;
}

Tensor dense(const Tensor& t) { return t.is_contiguous() ? t : native::contiguous(t); }

class NcclCommunicator;

class NcclWork final : public Work {
 public:
  NcclWork(NcclCommunicator* c, Tensor t, Tensor buf)
      : c_(c), t_(std::move(t)), buf_(std::move(buf)) {}
  ~NcclWork() override {
    try {
      wait();
    } catch (...) {
    }
  }
  void wait() override;
  bool test() override;

 private:
  NcclCommunicator* c_;
  Tensor t_, buf_;
  bool done_ = false;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, int device) : device_(device) {
    rank_ = bootstrap.rank();
    size_ = bootstrap.size();
    for (int r = 0; r < size_; ++r) world_ranks_.push_back(bootstrap.world_rank_of(r));
    TESSERA_CUDA_CHECK(cudaSetDevice(device));
    ncclUniqueId id;
    std::memset(&id, 0, sizeof id);
    if (rank_ == 0) TESSERA_NCCL_CHECK(ncclGetUniqueId(&id), "make_nccl_communicator");
    Tensor bytes = empty({static_cast<int64_t>(sizeof id)}, {.dtype = kBool});
    std::memcpy(bytes.data_ptr(), &id, sizeof id);
    bootstrap.broadcast(bytes, 0);  // the id travels over the bootstrap (MPI) communicator
    std::memcpy(&id, bytes.data_ptr(), sizeof id);
    TESSERA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    TESSERA_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    TESSERA_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_), "make_nccl_communicator");
  }
  ~NcclCommunicator() override {
    if (comm_ != nullptr) {
      if (aborted_)
        ncclCommAbort(comm_);
      else
        ncclCommDestroy(comm_);
    }
    if (stream_ != nullptr) TESSERA_CUDA_CHECK_PRINT(cudaStreamDestroy(stream_));
    if (ready_ != nullptr) TESSERA_CUDA_CHECK_PRINT(cudaEventDestroy(ready_));
  }

  /// The NCCL stream waits for what the current stream of the device has enqueued so far.
  void after_current_stream() {
    const cuda::Stream current = cuda::current_stream(device_);
    TESSERA_CUDA_CHECK(cudaEventRecord(ready_, static_cast<cudaStream_t>(current.handle())));
    TESSERA_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_, 0));
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  int world_rank_of(int r) const override { return world_ranks_.at(static_cast<size_t>(r)); }

  void check_device(const char* what, const Tensor& t) const {
    TESSERA_CHECK(t.defined() && t.device() == Device(DeviceType::CUDA, device_), what,
                  ": the NCCL communicator works on cuda:", device_, " tensors, got ", describe(t));
    TESSERA_CHECK(!aborted_, what, ": this NCCL communicator was aborted after a timeout");
  }

  void all_reduce(Tensor& t, ReduceOp op) override { all_reduce_async(t, op)->wait(); }

  std::unique_ptr<Work> all_reduce_async(Tensor t, ReduceOp op) override {
    check_reduce("all_reduce", t, op);
    check_device("all_reduce", t);
    Tensor buf = dense(t);
    after_current_stream();
    if (buf.numel() > 0)
      TESSERA_NCCL_CHECK(
          ncclAllReduce(buf.data_ptr(), buf.data_ptr(), static_cast<size_t>(buf.numel()),
                        nccl_type(buf.dtype()), nccl_op(op, buf.dtype()), comm_, stream_),
          "all_reduce");
    payload_bytes_ += buf.nbytes();
    return std::make_unique<NcclWork>(this, std::move(t), std::move(buf));
  }

  void broadcast(Tensor& t, int root) override {
    check_device("broadcast", t);
    TESSERA_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " out of range");
    Tensor buf = dense(t);
    after_current_stream();
    if (buf.numel() > 0)
      TESSERA_NCCL_CHECK(
          ncclBroadcast(buf.data_ptr(), buf.data_ptr(), static_cast<size_t>(buf.nbytes()),
                        ncclUint8, root, comm_, stream_),
          "broadcast");
    if (rank_ == root) payload_bytes_ += buf.nbytes();
    synchronize("broadcast");
    if (!buf.is_same(t)) native::copy_(t, buf);
  }

  Tensor all_gather(const Tensor& x) override {
    check_device("all_gather", x);
    Tensor buf = dense(x);
    Shape shape = x.shape();
    shape.insert(shape.begin(), size_);
    Tensor out = empty(shape, {.dtype = x.dtype(), .device = x.device()});
    after_current_stream();
    if (buf.numel() > 0)
      TESSERA_NCCL_CHECK(
          ncclAllGather(buf.data_ptr(), out.data_ptr(), static_cast<size_t>(buf.nbytes()),
                        ncclUint8, comm_, stream_),
          "all_gather");
    payload_bytes_ += buf.nbytes();
    synchronize("all_gather");
    return out;
  }

  Tensor reduce_scatter(const Tensor& x, ReduceOp op) override {
    check_reduce("reduce_scatter", x, op);
    check_device("reduce_scatter", x);
    TESSERA_CHECK(x.dim() >= 1 && x.size(0) == size_,
                  "reduce_scatter: expected a leading dim equal "
                  "to the communicator size ",
                  size_, ", got ", describe(x));
    Tensor buf = dense(x);
    Shape shape(x.shape().begin() + 1, x.shape().end());
    Tensor out = empty(shape, {.dtype = x.dtype(), .device = x.device()});
    after_current_stream();
    if (out.numel() > 0)
      TESSERA_NCCL_CHECK(
          ncclReduceScatter(buf.data_ptr(), out.data_ptr(), static_cast<size_t>(out.numel()),
                            nccl_type(x.dtype()), nccl_op(op, x.dtype()), comm_, stream_),
          "reduce_scatter");
    payload_bytes_ += buf.nbytes();
    synchronize("reduce_scatter");
    return out;
  }

  void send(const Tensor& t, int dst, int) override {
    check_device("send", t);
    check_peer("send", *this, dst);
    Tensor buf = dense(t);
    after_current_stream();
    if (buf.numel() > 0)
      TESSERA_NCCL_CHECK(ncclSend(buf.data_ptr(), static_cast<size_t>(buf.nbytes()), ncclUint8, dst,
                                  comm_, stream_),
                         "send");
    payload_bytes_ += buf.nbytes();
    synchronize("send");
  }

  void recv(Tensor& t, int src, int) override {
    check_device("recv", t);
    check_peer("recv", *this, src);
    Tensor buf = dense(t);
    after_current_stream();
    if (buf.numel() > 0)
      TESSERA_NCCL_CHECK(ncclRecv(buf.data_ptr(), static_cast<size_t>(buf.nbytes()), ncclUint8, src,
                                  comm_, stream_),
                         "recv");
    synchronize("recv");
    if (!buf.is_same(t)) native::copy_(t, buf);
  }

  void barrier() override {
    // A one-byte all-reduce: NCCL has no barrier of its own.
    Tensor one = zeros({1}, {.dtype = kBool, .device = Device(DeviceType::CUDA, device_)});
    all_reduce(one, ReduceOp::Max);
  }

  std::shared_ptr<Communicator> split(int color, int key) override {
    TESSERA_FAIL(
        "NCCL communicator: split is not supported; build sub-communicators from the MPI "
        "(bootstrap) communicator's split and call make_nccl_communicator on each (color ",
        color, ", key ", key, ")");
  }

  bool query(const char* what) {
    const cudaError_t q = cudaStreamQuery(stream_);
    if (q == cudaSuccess) return true;
    TESSERA_CHECK(q == cudaErrorNotReady, what, ": CUDA error: ", cudaGetErrorString(q));
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    TESSERA_CHECK(async == ncclSuccess, what,
                  ": NCCL asynchronous error: ", ncclGetErrorString(async));
    return false;
  }

  /// Polls the stream under the watchdog; on expiry aborts the NCCL communicator.
  void synchronize(const char* what) {
    const auto start = std::chrono::steady_clock::now();
    while (!query(what)) {
      const double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (timeout_s_ > 0 && waited > timeout_s_) {
        aborted_ = true;
        ncclCommAbort(comm_);
        comm_ = nullptr;
        TESSERA_FAIL(what, " on the NCCL communicator (world rank ", world_rank_of(rank_), " of ",
                     size_, ") timed out after ", waited,
                     " s: a peer died or hangs (NCCL cannot say which; "
                     "the MPI watchdog of the bootstrap communicator can). Limit: "
                     "TESSERA_COLLECTIVE_TIMEOUT_S=",
                     timeout_s_, ". Abort the job.");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

 private:
  int device_, rank_ = 0, size_ = 1;
  std::vector<int> world_ranks_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t ready_ = nullptr;
  bool aborted_ = false;
};

void NcclWork::wait() {
  if (done_) return;
  done_ = true;
  c_->synchronize("all_reduce");
  if (!buf_.is_same(t_)) native::copy_(t_, buf_);
}

bool NcclWork::test() {
  if (done_) return true;
  if (!c_->query("all_reduce")) return false;
  wait();
  return true;
}

}  // namespace

std::shared_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device) {
  return std::make_shared<NcclCommunicator>(bootstrap, device);
}

}  // namespace tessera::parallel
