// SPDX-License-Identifier: Apache-2.0
/// @brief Allocators per device type, and the registry that maps a device to its allocator.
///
/// The registry is one of the two process-wide tables tessera allows (with the device registry):
/// the CUDA backend registers its caching allocator here when it is linked in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <tessera/device.h>

namespace tessera {

/// Memory statistics an allocator keeps (bytes). `reserved` >= `allocated` for caching allocators.
struct MemoryStats {
  int64_t allocated = 0;       ///< bytes handed out and not yet freed
  int64_t peak_allocated = 0;  ///< max of `allocated` since the last reset_peak()
  int64_t reserved = 0;        ///< bytes held from the system (cached included)
  int64_t num_allocs = 0;      ///< number of allocate() calls
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  /// Returns memory for `nbytes` bytes (64-byte aligned on CPU); never null for nbytes > 0.
  virtual void* allocate(size_t nbytes, Device device) = 0;
  virtual void deallocate(void* ptr, size_t nbytes, Device device) noexcept = 0;
  virtual MemoryStats stats(Device device) const = 0;
  virtual void reset_peak(Device device) = 0;
  /// Gives cached blocks back to the system (no-op where nothing is cached).
  virtual void empty_cache() {}
};

/// The allocator registered for `type`; throws tessera::Error if the backend is not built in.
Allocator& allocator_for(DeviceType type);
/// Installs `alloc` (not owned; must outlive all tensors on that device type).
void register_allocator(DeviceType type, Allocator* alloc);
/// Statistics of the allocator for `device`.
MemoryStats memory_stats(Device device = kCPU);
void reset_peak_memory(Device device = kCPU);

}  // namespace tessera
