// SPDX-License-Identifier: Apache-2.0
/// @brief DataParallel: keeps replicas' gradients equal by averaging them over the dp communicator
/// in buckets, launched as soon as a bucket's gradients are complete during backward.
///
/// Buckets: parameters in reverse registration order (the order backward produces their
/// gradients), cut every `bucket_bytes`, one dtype per bucket. A bucket is packed into one
/// contiguous buffer and averaged with one all_reduce_async (MPI_Iallreduce). During backward the
/// engine reports each leaf whose gradient is final (autograd::GradReadyGuard); the bucket whose
/// last gradient arrives is launched at once, and launching tests the buckets already in flight so
/// MPI progresses them while backward continues. finish() launches what is left (parameters that
/// got no gradient contribute zeros, and get a zero gradient, so every rank sends the same
/// bucket layout), waits for all buckets and copies the averages back into .grad().
///
/// Progress: MPI moves non-blocking collectives only inside MPI calls. By default the buckets in
/// flight are tested at every ready gradient (from the engine's hook, on the backward thread).
/// With `progress_thread` (MPI communicators; needs MPI_THREAD_MULTIPLE, which the Environment
/// requests when TESSERA_DP_PROGRESS_THREAD=1), a thread also calls MPI_Test on them every
/// `progress_interval_us` while backward runs, so transfers also advance during long stretches of
/// backward without a ready gradient. Work objects are touched under one mutex; the thread is
/// joined before finish().
///
/// Stats (per step, for docs/parallel.md): payload bytes all-reduced, buckets launched inside
/// backward, seconds spent waiting in finish() (communication not hidden by backward).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <tessera/parallel/communicator.h>

namespace tessera::parallel {

struct DataParallelOptions {
  int64_t bucket_bytes = int64_t{1} << 20;
  /// Launch buckets during backward (needs the engine's gradient-ready hook).
  bool overlap = true;
  /// A thread that progresses the buckets in flight during backward (see above).
  bool progress_thread = false;
  int progress_interval_us = 100;
};

struct DataParallelStats {
  int64_t payload_bytes = 0;  ///< gradient bytes handed to all-reduce this step
  int buckets = 0;
  int launched_in_backward = 0;
  double wait_seconds = 0;     ///< time finish() spent blocked on communication
  int64_t progress_polls = 0;  ///< rounds of the progress thread (0 without it)
};

class DataParallel {
 public:
  DataParallel(std::vector<Tensor> params, std::shared_ptr<Communicator> dp,
               DataParallelOptions opts = {});
  ~DataParallel();

  /// Copies rank 0's parameter values to every rank (replicas start identical).
  void broadcast_parameters();
  /// backward(loss) with bucketed, overlapped gradient averaging; on return every parameter's
  /// .grad() holds the average over dp ranks. Equivalent to tessera::backward + finish().
  void backward(const Tensor& loss);
  /// Launches the buckets not yet launched, waits for all, writes averaged gradients back.
  void finish();
  /// Called by the gradient-ready hook: `leaf`'s gradient is final for this backward pass.
  void on_grad_ready(const Tensor& leaf);

  const DataParallelStats& last_stats() const { return stats_; }
  int num_buckets() const { return static_cast<int>(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    int64_t numel = 0;
    DType dtype = kFloat32;
    int pending = 0;
    Tensor buffer;
    std::unique_ptr<Work> work;
  };
  void launch(Bucket& b);
  void reset_step();
  void progress_loop();

  std::vector<Tensor> params_;
  std::shared_ptr<Communicator> comm_;
  DataParallelOptions opts_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> where_;  // param -> (bucket, slot)
  std::vector<bool> ready_;
  std::unordered_map<const TensorImpl*, size_t> index_;
  DataParallelStats stats_;
  bool in_step_ = false;
  bool use_thread_ = false;
  std::mutex mu_;  // Work objects and stats_ while the progress thread runs
  bool stop_ = false;
};

}  // namespace tessera::parallel
