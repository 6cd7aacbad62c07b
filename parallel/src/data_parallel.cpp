// SPDX-License-Identifier: Apache-2.0
/// @brief DataParallel (see data_parallel.h): bucket assignment, launch on readiness, finish.
#include <tessera/parallel/data_parallel.h>

#include <chrono>
#include <thread>
#include <unordered_map>

#include <tessera/autograd/engine.h>
#include <tessera/autograd/grad_mode.h>
#include <tessera/autograd/hooks.h>
#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/parallel/environment.h>

namespace tessera::parallel {

DataParallel::DataParallel(std::vector<Tensor> params, std::shared_ptr<Communicator> dp,
                           DataParallelOptions opts)
    : params_(std::move(params)), comm_(std::move(dp)), opts_(opts) {
  TESSERA_CHECK(comm_ != nullptr, "DataParallel: null communicator");
  TESSERA_CHECK(opts_.bucket_bytes > 0, "DataParallel: bucket_bytes must be positive, got ",
                opts_.bucket_bytes);
  where_.resize(params_.size());
  // Reverse order: the last layers' gradients are ready first.
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    TESSERA_CHECK(p.defined() && p.requires_grad() && p.is_leaf() && is_floating(p.dtype()),
                  "DataParallel: parameter ", k,
                  " must be a floating leaf that requires grad, got ", describe(p));
    if (buckets_.empty() || buckets_.back().dtype != p.dtype() ||
        (buckets_.back().numel > 0 &&
         (buckets_.back().numel + p.numel()) * static_cast<int64_t>(p.element_size()) >
             opts_.bucket_bytes)) {
      buckets_.emplace_back();
      buckets_.back().dtype = p.dtype();
    }
    Bucket& b = buckets_.back();
    where_[k] = {buckets_.size() - 1, b.params.size()};
    b.params.push_back(k);
    b.offsets.push_back(b.numel);
    b.numel += p.numel();
  }
  ready_.assign(params_.size(), false);
  for (size_t k = 0; k < params_.size(); ++k) index_[params_[k].unsafe_impl()] = k;
  // Only MPI needs driving from the host (local: nothing in flight; NCCL: the GPU progresses).
  use_thread_ = opts_.progress_thread && opts_.overlap && comm_->backend() == "mpi";
  TESSERA_CHECK(!use_thread_ || Environment::thread_multiple(),
                "DataParallel: progress_thread needs MPI at MPI_THREAD_MULTIPLE; set "
                "TESSERA_DP_PROGRESS_THREAD=1 before parallel::Environment starts MPI");
  TESSERA_CHECK(opts_.progress_interval_us >= 0, "DataParallel: progress_interval_us must be >= 0");
  reset_step();
}

DataParallel::~DataParallel() = default;

void DataParallel::reset_step() {
  for (Bucket& b : buckets_) {
    b.pending = static_cast<int>(b.params.size());
    b.work.reset();
  }
  std::fill(ready_.begin(), ready_.end(), false);
  stats_ = {};
  stats_.buckets = static_cast<int>(buckets_.size());
  in_step_ = true;
}

void DataParallel::broadcast_parameters() {
  autograd::NoGradGuard no_grad;
  for (Tensor& p : params_) comm_->broadcast(p, 0);
}

void DataParallel::launch(Bucket& b) {
  if (!b.buffer.defined()) b.buffer = empty({b.numel}, {.dtype = b.dtype});
  for (size_t s = 0; s < b.params.size(); ++s) {
    Tensor& p = params_[b.params[s]];
    Tensor slot = native::narrow(b.buffer, 0, b.offsets[s], p.numel());
    const Tensor g = p.grad();
    if (g.defined())
      native::copy_(slot, native::reshape(g, {p.numel()}));
    else
      native::zero_(slot);
  }
  b.work = comm_->all_reduce_async(b.buffer, ReduceOp::Avg);
  stats_.payload_bytes += b.buffer.nbytes();
}

void DataParallel::progress_loop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Bucket& b : buckets_)
        if (b.work) b.work->progress();
      stats_.progress_polls += 1;
      if (stop_) return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(opts_.progress_interval_us));
  }
}

void DataParallel::on_grad_ready(const Tensor& leaf) {
  if (!opts_.overlap) return;
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  if (use_thread_) lock.lock();
  // Leaves not managed here (e.g. inputs that require grad) are ignored.
  const auto it = index_.find(leaf.unsafe_impl());
  if (it == index_.end() || ready_[it->second]) return;
  ready_[it->second] = true;
  // MPI moves non-blocking collectives only inside MPI calls: testing the buckets in flight at
  // every ready gradient (a few microseconds) lets them progress while backward computes.
  for (Bucket& other : buckets_)
    if (other.work) other.work->test();
  Bucket& b = buckets_[where_[it->second].first];
  if (--b.pending == 0 && !b.work) {
    autograd::NoGradGuard no_grad;
    launch(b);
    stats_.launched_in_backward += 1;
  }
}

void DataParallel::backward(const Tensor& loss) {
  if (!in_step_) reset_step();
  {
    std::thread progress;
    if (use_thread_) {
      stop_ = false;
      progress = std::thread([this] { progress_loop(); });
    }
    struct Join {  // also when backward throws
      DataParallel* self;
      std::thread& t;
      ~Join() {
        if (!t.joinable()) return;
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          self->stop_ = true;
        }
        t.join();
      }
    } join{this, progress};
    autograd::GradReadyGuard hook([this](const Tensor& leaf) { on_grad_ready(leaf); });
    tessera::backward(loss);
  }
  finish();
}

void DataParallel::finish() {
  if (!in_step_) reset_step();
  autograd::NoGradGuard no_grad;
  for (Bucket& b : buckets_)
    if (!b.work) launch(b);
  const auto t0 = std::chrono::steady_clock::now();
  for (Bucket& b : buckets_) b.work->wait();
  stats_.wait_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Bucket& b : buckets_) {
    for (size_t s = 0; s < b.params.size(); ++s) {
      Tensor& p = params_[b.params[s]];
      const Tensor avg =
          native::reshape(native::narrow(b.buffer, 0, b.offsets[s], p.numel()), p.shape());
      Tensor g = p.grad();
      if (g.defined())
        native::copy_(g, avg);
      else
        p.set_grad(native::clone(avg));
    }
    b.work.reset();
  }
  in_step_ = false;
}

}  // namespace tessera::parallel
