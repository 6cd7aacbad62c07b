// SPDX-License-Identifier: Apache-2.0
/// @brief Communicator: collectives and point-to-point transfers on Tensors, with three backends
/// (LocalCommunicator for one process, MPI for CPU tensors, NCCL for CUDA tensors).
///
/// Semantics (identical for every backend; tests/parallel/test_collectives.cpp checks each against
/// its definition):
///   all_reduce(t, op)       t <- op over ranks of t (in place). Sum, Avg (floating only), Max.
///   broadcast(t, root)      t <- root's t (in place).
///   all_gather(x)           -> stack([x_0, ..., x_{n-1}])            shape (n, *x.shape)
///   reduce_scatter(x, op)   x has shape (n, ...); -> op over ranks of x[rank]   shape x.shape[1:]
///   send(t, dst) / recv(t, src)   t's bytes; the receiver's shape and dtype must match the
///   sender's barrier()
/// Every dtype works. 16-bit floats are reduced in float32 and rounded once; Bool reduces with
/// logical or (Sum and Max); Avg of an integer tensor is an error. Non-contiguous tensors are
/// packed into a contiguous buffer and the result is written back through the view. Empty tensors
/// are allowed (every rank still takes part, so sequence numbers stay aligned).
///
/// All ranks of a communicator must call the same collectives in the same order with the same
/// shapes and dtypes (checked cheaply where the backend can: MPI compares byte counts).
///
/// Watchdog: every blocking wait is bounded by timeout_s() (default from the environment variable
/// TESSERA_COLLECTIVE_TIMEOUT_S, 300 s; 0 = wait forever). On expiry the waiting rank asks the
/// other ranks, over a separate control channel, whether they are waiting in the same collective,
/// and throws a tessera::Error naming the (world) ranks that never arrived. The communicator is
/// then unusable; the program should abort the job (MPI_Abort via abort_job()).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <tessera/tensor.h>

namespace tessera::parallel {

enum class ReduceOp : uint8_t { Sum, Avg, Max };
std::string reduce_op_name(ReduceOp op);

/// A collective in flight (all_reduce_async). wait() completes it (with the watchdog) and applies
/// the final step (Avg's division, a 16-bit cast back). Destroying an unfinished Work waits.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  /// Non-blocking check; lets the backend progress the transfer. True once complete.
  virtual bool test() = 0;
  /// Lets the backend progress the transfer without completing the Work (wait() or test() still
  /// must be called, on the thread that owns it). MPI: one MPI_Test; callable from another thread
  /// when MPI runs at MPI_THREAD_MULTIPLE and no other thread uses this Work at the same time
  /// (DataParallel's progress thread). Default: nothing.
  virtual void progress() {}
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// The backend's name: "local", "mpi", "nccl".
  virtual std::string backend() const = 0;
  /// The world rank of this communicator's rank r (for messages).
  virtual int world_rank_of(int r) const = 0;

  virtual void all_reduce(Tensor& t, ReduceOp op = ReduceOp::Sum) = 0;
  /// Starts an all-reduce of a contiguous tensor; the result is in `t` after wait().
  virtual std::unique_ptr<Work> all_reduce_async(Tensor t, ReduceOp op = ReduceOp::Sum) = 0;
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual Tensor all_gather(const Tensor& x) = 0;
  virtual Tensor reduce_scatter(const Tensor& x, ReduceOp op = ReduceOp::Sum) = 0;
  virtual void send(const Tensor& t, int dst, int tag = 0) = 0;
  virtual void recv(Tensor& t, int src, int tag = 0) = 0;
  virtual void barrier() = 0;
  /// Ranks with the same color form a new communicator, ordered by key (MPI_Comm_split).
  /// Collective over this communicator.
  virtual std::shared_ptr<Communicator> split(int color, int key) = 0;

  /// Payload bytes of every tensor this rank has passed to a collective or send (in the wire
  /// dtype: float32 for 16-bit reductions). What actually crosses the wire depends on the backend's
  /// algorithm (a ring all-reduce of n bytes sends 2 (p - 1) / p * n per rank); docs/parallel.md
  /// compares the two with Open MPI's own byte counters.
  int64_t payload_bytes() const { return payload_bytes_; }
  double timeout_s() const { return timeout_s_; }
  void set_timeout_s(double s) { timeout_s_ = s; }

 protected:
  Communicator();
  int64_t payload_bytes_ = 0;
  double timeout_s_;
};

/// World size 1: every collective is the identity (all_gather adds the leading dim of 1, Avg
/// divides by 1), send/recv to self is an error. Lets every program run without MPI.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }
  int world_rank_of(int r) const override { return r; }
  void all_reduce(Tensor& t, ReduceOp op = ReduceOp::Sum) override;
  std::unique_ptr<Work> all_reduce_async(Tensor t, ReduceOp op = ReduceOp::Sum) override;
  void broadcast(Tensor& t, int root) override;
  Tensor all_gather(const Tensor& x) override;
  Tensor reduce_scatter(const Tensor& x, ReduceOp op = ReduceOp::Sum) override;
  void send(const Tensor& t, int dst, int tag = 0) override;
  void recv(Tensor& t, int src, int tag = 0) override;
  void barrier() override {}
  std::shared_ptr<Communicator> split(int color, int key) override;
};

/// The default for TESSERA_COLLECTIVE_TIMEOUT_S (seconds; read each time; malformed -> Error).
double collective_timeout_from_env();

/// Checks shared by every backend (reduce op vs dtype, reduce_scatter's leading dim, ranks).
void check_reduce(const char* op_name, const Tensor& t, ReduceOp op);
void check_peer(const char* op_name, const Communicator& c, int peer);

}  // namespace tessera::parallel
