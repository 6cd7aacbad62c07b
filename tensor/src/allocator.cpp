// SPDX-License-Identifier: Apache-2.0
/// @brief The CPU allocator (64-byte aligned, with statistics) and the per-device-type registry.
#include <tessera/allocator.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <tessera/error.h>

#if defined(TESSERA_CUDA_BACKEND)
namespace tessera::cuda::detail {
Allocator& caching_allocator();  // tensor/src/cuda/allocator.cpp
}
#endif

namespace tessera {
namespace {

// NOTE [CPU block cache]: a fresh large allocation comes from mmap, and its first touch costs a
// page fault per 4 KiB: an out-of-place op on 64 MiB spent 4x longer faulting than computing. Freed
// blocks of kCacheMin (64 KiB) and more are therefore kept per rounded size and handed out again
// (training loops allocate the same sizes every step). The floor was 1 MiB; a small GPT's
// activations are 100-400 KiB, which glibc also serves from mmap (or trims back to the kernel),
// and perf showed page faults and malloc/munmap at ~5% of its training step. At most kMaxCached
// bytes are kept; empty_cache() returns them. Sanitizer builds skip the cache so use-after-free
// stays visible to ASan.
class CpuAllocator final : public Allocator {
 public:
  ~CpuAllocator() override { empty_cache(); }

  void* allocate(size_t nbytes, Device) override {
    const size_t rounded = round_size(nbytes);
    void* p = take_cached(rounded);
    if (p == nullptr) {
      // 64-byte alignment: a cache line, and enough for any AVX-512 load.
      p = std::aligned_alloc(64, rounded);
      TESSERA_CHECK(p != nullptr, "CPU allocator: out of memory allocating ", nbytes, " bytes");
    }
    const int64_t now =
        allocated_.fetch_add(static_cast<int64_t>(nbytes)) + static_cast<int64_t>(nbytes);
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    num_allocs_.fetch_add(1);
    return p;
  }
  void deallocate(void* ptr, size_t nbytes, Device) noexcept override {
    allocated_.fetch_sub(static_cast<int64_t>(nbytes));
    const size_t rounded = round_size(nbytes);
    if (kCacheEnabled && rounded >= kCacheMin) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + rounded <= kMaxCached) {
        try {
          free_[rounded].push_back(ptr);
          cached_ += rounded;
          return;
        } catch (...) {  // no memory for the list itself: just free the block
        }
      }
    }
    std::free(ptr);
  }
  MemoryStats stats(Device) const override {
    MemoryStats s;
    s.allocated = allocated_.load();
    s.peak_allocated = peak_.load();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      s.reserved = s.allocated + static_cast<int64_t>(cached_);
    }
    s.num_allocs = num_allocs_.load();
    return s;
  }
  void reset_peak(Device) override { peak_.store(allocated_.load()); }
  void empty_cache() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* b : blocks) std::free(b);
    free_.clear();
    cached_ = 0;
  }

 private:
#if defined(__SANITIZE_ADDRESS__)
  static constexpr bool kCacheEnabled = false;
#else
  static constexpr bool kCacheEnabled = true;
#endif
  static constexpr size_t kCacheMin = size_t{1} << 16;   // 64 KiB
  static constexpr size_t kMaxCached = size_t{1} << 30;  // 1 GiB
  static constexpr size_t kLargeMin = size_t{1} << 20;   // 1 MiB
  static constexpr size_t kLargeGranule = size_t{1} << 16;
  static constexpr size_t kMidGranule = size_t{1} << 12;

  /// 64 bytes for small blocks; 4 KiB granules for cacheable blocks under 1 MiB and 64 KiB ones
  /// above (more reuse across sizes, at most 1/16 of a block wasted).
  static size_t round_size(size_t nbytes) {
    const size_t n = nbytes == 0 ? 1 : nbytes;
    if (n >= kLargeMin) return (n + kLargeGranule - 1) / kLargeGranule * kLargeGranule;
    if (n >= kCacheMin) return (n + kMidGranule - 1) / kMidGranule * kMidGranule;
    return (n + 63) / 64 * 64;
  }
  void* take_cached(size_t rounded) {
    if (!kCacheEnabled || rounded < kCacheMin) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(rounded);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= rounded;
    return p;
  }

  std::atomic<int64_t> allocated_{0}, peak_{0}, num_allocs_{0};
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

// The allocator registry: one of the two process-wide tables tessera keeps (docs/architecture.md).
struct Registry {
  CpuAllocator cpu;
  std::array<std::atomic<Allocator*>, 2> by_type{};
  Registry() {
    by_type[static_cast<int>(DeviceType::CPU)] = &cpu;
#if defined(TESSERA_CUDA_BACKEND)
    by_type[static_cast<int>(DeviceType::CUDA)] = &cuda::detail::caching_allocator();
#endif
  }
};
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

Allocator& allocator_for(DeviceType type) {
  Allocator* a = registry().by_type[static_cast<int>(type)].load();
  TESSERA_CHECK(a != nullptr, "no allocator for device type ",
                type == DeviceType::CUDA ? "cuda" : "cpu",
                ": this build of tessera has no CUDA backend (configure with TESSERA_CUDA=ON) "
                "or no CUDA device is available");
  return *a;
}

void register_allocator(DeviceType type, Allocator* alloc) {
  registry().by_type[static_cast<int>(type)].store(alloc);
}

MemoryStats memory_stats(Device device) { return allocator_for(device.type).stats(device); }
void reset_peak_memory(Device device) { allocator_for(device.type).reset_peak(device); }

}  // namespace tessera
