// SPDX-License-Identifier: Apache-2.0
/// @brief Storage: a reference-counted byte buffer on one device, shared by a tensor and its views.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include <tessera/device.h>

namespace tessera {

class StorageImpl {
 public:
  /// Allocates nbytes on `device` through the registered allocator.
  StorageImpl(size_t nbytes, Device device);
  /// Wraps external memory; `deleter` (may be empty) is called on destruction.
  StorageImpl(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~StorageImpl();
  StorageImpl(const StorageImpl&) = delete;
  StorageImpl& operator=(const StorageImpl&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  /// Bumped by every in-place write through any view; autograd checks saved tensors against it.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  bool owned_ = true;
  std::function<void(void*)> deleter_;
  std::atomic<uint64_t> version_{0};
};

using Storage = std::shared_ptr<StorageImpl>;

}  // namespace tessera
