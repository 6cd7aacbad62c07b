// SPDX-License-Identifier: Apache-2.0
/// @brief The CPU allocator (64-byte aligned, with statistics) and the per-device-type registry.
#include <tessera/allocator.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>

#include <tessera/error.h>

#if defined(TESSERA_CUDA_BACKEND)
namespace tessera::cuda::detail {
Allocator& caching_allocator();  // tensor/src/cuda/allocator.cpp
}
#endif

namespace tessera {
namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes, Device) override {
    // 64-byte alignment: a cache line, and enough for any AVX-512 load.
    const size_t rounded = ((nbytes == 0 ? 1 : nbytes) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    TESSERA_CHECK(p != nullptr, "CPU allocator: out of memory allocating ", nbytes, " bytes");
    const int64_t now =
        allocated_.fetch_add(static_cast<int64_t>(nbytes)) + static_cast<int64_t>(nbytes);
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    num_allocs_.fetch_add(1);
    return p;
  }
  void deallocate(void* ptr, size_t nbytes, Device) noexcept override {
    std::free(ptr);
    allocated_.fetch_sub(static_cast<int64_t>(nbytes));
  }
  MemoryStats stats(Device) const override {
    MemoryStats s;
    s.allocated = allocated_.load();
    s.peak_allocated = peak_.load();
    s.reserved = s.allocated;
    s.num_allocs = num_allocs_.load();
    return s;
  }
  void reset_peak(Device) override { peak_.store(allocated_.load()); }

 private:
  std::atomic<int64_t> allocated_{0}, peak_{0}, num_allocs_{0};
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
