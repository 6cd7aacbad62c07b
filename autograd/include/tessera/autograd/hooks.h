// SPDX-License-Identifier: Apache-2.0
/// @brief Gradient-ready hook: lets a caller act on a leaf's gradient as soon as backward has
/// accumulated its last contribution, while the rest of backward still runs (data-parallel
/// training starts the gradient all-reduce of finished buckets this way; see docs/parallel.md).
///
///   autograd::GradReadyGuard guard([&](const Tensor& leaf) { ...leaf.grad() is final... });
///   tessera::backward(loss);
///
/// While a guard is alive on this thread, every backward pass (not autograd::grad, which never
/// writes .grad()) calls the function once per leaf that the pass reaches, right after the last of
/// the leaf's AccumulateGrad nodes (one per use of the leaf) has run. Guards nest (the innermost
/// wins) and are thread-local like GradMode. The function runs inside the engine, under
/// NoGradGuard; it must not run backward itself. Exceptions propagate out of backward.
#pragma once

#include <functional>
#include <utility>

#include <tessera/tensor.h>

namespace tessera::autograd {

using GradReadyFn = std::function<void(const Tensor& leaf)>;

class GradReadyGuard {
 public:
  explicit GradReadyGuard(GradReadyFn fn) : fn_(std::move(fn)), prev_(slot()) { slot() = &fn_; }
  ~GradReadyGuard() { slot() = prev_; }
  GradReadyGuard(const GradReadyGuard&) = delete;
  GradReadyGuard& operator=(const GradReadyGuard&) = delete;

  /// The innermost active hook on this thread, or nullptr (read by the engine).
  static const GradReadyFn* current() { return slot(); }

 private:
  static const GradReadyFn*& slot() {
    thread_local const GradReadyFn* active = nullptr;
    return active;
  }
  GradReadyFn fn_;
  const GradReadyFn* prev_;
};

}  // namespace tessera::autograd
