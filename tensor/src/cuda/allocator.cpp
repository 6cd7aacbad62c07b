// SPDX-License-Identifier: Apache-2.0
/// @brief The caching CUDA allocator registered for DeviceType::CUDA.
///
/// Design (a small version of PyTorch's CUDACachingAllocator):
/// - Sizes round up to 512 bytes (below 1 MiB) or to 2 MiB (above), so similar requests share
///   blocks. cudaMalloc is called only on a cache miss; freed blocks go back to a free list keyed
///   by (device, stream) and sorted by size.
/// - A block is reused only by an allocation on the *same stream* it was allocated on: work
///   queued on that stream that still reads the old tensor runs before any new work there, so no
///   event is needed. Using a tensor on another stream requires the caller to synchronise (there
///   is no record_stream yet).
/// - Best fit: the smallest free block >= the request, if it is at most 2x the request (a huge
///   block is not wasted on a tiny tensor). Blocks are never split.
/// - On cudaMalloc failure the cache is emptied and the call retried once; then tessera::Error
///   with the request and the statistics.
/// Statistics per device: allocated (rounded bytes in use), reserved (bytes held from the driver),
/// peak allocated, number of allocations.
#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <tessera/error.h>

#include "cuda/common.h"

namespace tessera::cuda {
namespace detail {
namespace {

constexpr size_t kSmall = size_t{1} << 20;
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t{2} << 20;

size_t round_size(size_t n) {
  if (n == 0) n = 1;
  const size_t r = n < kSmall ? kSmallRound : kLargeRound;
  return (n + r - 1) / r * r;
}

struct Block {
  size_t size;
  int device;
  cudaStream_t stream;
};

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes, Device device) override {
    check_available("allocate");
    const size_t size = round_size(nbytes);
    const int dev = device.index;
    cudaStream_t stream = stream_of(dev);
    std::lock_guard<std::mutex> lock(mutex_);
    auto& pool = free_[{dev, stream}];
    auto it = pool.lower_bound(size);
    void* p = nullptr;
    if (it != pool.end() && it->first <= 2 * size) {
      p = it->second;
      pool.erase(it);
    } else {
      p = device_malloc(size, dev, nbytes);
      stats_[dev].reserved += static_cast<int64_t>(size);
      live_[p] = Block{size, dev, stream};
    }
    const Block& b = live_.at(p);
    MemoryStats& s = stats_[dev];
    s.allocated += static_cast<int64_t>(b.size);
    s.peak_allocated = std::max(s.peak_allocated, s.allocated);
    s.num_allocs += 1;
    return p;
  }

  void deallocate(void* ptr, size_t, Device) noexcept override {
    if (ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) {
      std::fprintf(stderr, "tessera: CUDA allocator: freeing unknown pointer %p\n", ptr);
      return;
    }
    const Block& b = it->second;
    stats_[b.device].allocated -= static_cast<int64_t>(b.size);
    free_[{b.device, b.stream}].emplace(b.size, ptr);
  }

  MemoryStats stats(Device device) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = stats_.find(device.index);
    return it == stats_.end() ? MemoryStats{} : it->second;
  }

  void reset_peak(Device device) override {
    std::lock_guard<std::mutex> lock(mutex_);
    MemoryStats& s = stats_[device.index];
    s.peak_allocated = s.allocated;
  }

  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached();
  }

 private:
  void* device_malloc(size_t size, int dev, size_t requested) {
    DeviceGuard g(dev);
    void* p = nullptr;
    cudaError_t st = cudaMalloc(&p, size);
    if (st == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached();
      st = cudaMalloc(&p, size);
    }
    if (st != cudaSuccess) {
      (void)cudaGetLastError();
      const MemoryStats& s = stats_[dev];
      TESSERA_FAIL("CUDA allocator: cudaMalloc of ", size, " bytes (", requested,
                   " requested) on cuda:", dev, " failed: ", cudaGetErrorName(st), " (",
                   cudaGetErrorString(st), "); allocated ", s.allocated, " bytes, reserved ",
                   s.reserved, " bytes");
    }
    return p;
  }

  /// Frees every cached block (mutex held).
  void release_cached() {
    for (auto& [key, pool] : free_) {
      for (auto& [size, p] : pool) {
        DeviceGuard g(key.first);
        TESSERA_CUDA_CHECK_PRINT(cudaFree(p));
        stats_[key.first].reserved -= static_cast<int64_t>(size);
        live_.erase(p);
      }
      pool.clear();
    }
  }

  mutable std::mutex mutex_;
  std::map<std::pair<int, cudaStream_t>, std::multimap<size_t, void*>> free_;
  std::unordered_map<void*, Block> live_;  // every block held from the driver, free or in use
  std::map<int, MemoryStats> stats_;
};

}  // namespace

Allocator& caching_allocator() {
  // Never destroyed: tensors in static storage may be freed after it would be, and freeing at
  // process exit races the CUDA runtime's own teardown.
  static CachingAllocator* a = new CachingAllocator;
  return *a;
}

}  // namespace detail

MemoryStats memory_stats(int device) {
  return detail::caching_allocator().stats(Device(DeviceType::CUDA, device));
}
void empty_cache() { detail::caching_allocator().empty_cache(); }

}  // namespace tessera::cuda
