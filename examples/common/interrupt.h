// SPDX-License-Identifier: Apache-2.0
/// @brief Ctrl-C handling for trainers: the first SIGINT/SIGTERM asks the loop to save and stop; a
/// second one exits at once.
#pragma once

namespace tessera::examples {

/// Installs the handlers for its lifetime (RAII) and restores the previous ones after.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  /// True once an interrupt arrived.
  static bool requested();
};

}  // namespace tessera::examples
