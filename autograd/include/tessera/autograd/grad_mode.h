// SPDX-License-Identifier: Apache-2.0
/// @brief Thread-local gradient mode: NoGradGuard / EnableGradGuard (RAII), GradMode::is_enabled().
#pragma once

namespace tessera::autograd {

/// Whether differentiable ops record graph nodes on this thread (on by default). Each thread has
/// its own flag, like PyTorch, so a data-loader thread under no_grad does not affect training.
class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

/// Disables recording for its lifetime, restoring the previous mode on exit.
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

/// Enables recording for its lifetime (inside a NoGradGuard scope).
class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(GradMode::is_enabled()) { GradMode::set_enabled(true); }
  ~EnableGradGuard() { GradMode::set_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace tessera::autograd

namespace tessera {
using autograd::EnableGradGuard;
using autograd::GradMode;
using autograd::NoGradGuard;
}  // namespace tessera
