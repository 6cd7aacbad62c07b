// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim's runtime interface: the current CUDA thread, barriers, warp rendezvous, options.
///
/// A CUDA thread is a fiber; the block's fibers run cooperatively on one OS thread and switch only
/// at barriers and warp collectives. The functions here are what the intrinsics in intrinsics.h and
/// tensor_core.h call; kernels never call them directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <source_location>

#include <tessera/cudasim/keywords.h>

#include <vector_types.h>

namespace tessera::cudasim {

/// What one simulated CUDA thread sees: its builtin variables and where it is in the warp.
struct ThreadState {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned linear_tid;  ///< x + y*bx + z*bx*by, CUDA's warp assignment order.
  unsigned lane;        ///< linear_tid % 32.
  void* impl;           ///< the runtime's fiber.
};

namespace detail {
/// Set by the scheduler before it resumes a fiber; null outside a kernel.
extern thread_local constinit ThreadState* tls_thread;
[[noreturn]] void outside_kernel(const char* what);

/// Non-zero while an atomic runs: the race checker ignores atomic accesses. The guard's functions
/// are not instrumented (they run inside instrumented kernel code).
extern thread_local constinit int tls_atomic_depth;
struct AtomicScope {
  __attribute__((no_sanitize_address)) AtomicScope() { ++tls_atomic_depth; }
  __attribute__((no_sanitize_address)) ~AtomicScope() { --tls_atomic_depth; }
  AtomicScope(const AtomicScope&) = delete;
  AtomicScope& operator=(const AtomicScope&) = delete;
};
inline ThreadState& this_thread(const char* what) {
  ThreadState* t = tls_thread;
  if (t == nullptr) [[unlikely]]
    outside_kernel(what);
  return *t;
}
}  // namespace detail

/// The warp collectives the runtime knows. Lanes meeting in one rendezvous must use the same kind
/// and parameter (PTX: "the same qualifiers and the same membermask").
enum class WarpOp : uint32_t {
  kSyncWarp,
  kShflIdx,
  kShflUp,
  kShflDown,
  kShflXor,
  kBallot,
  kAny,
  kAll,
  kReduceAdd,
  kReduceMin,
  kReduceMax,
  kLdMatrix,  ///< param: count (1, 2, 4) | 0x10 for .trans
  kMmaBf16,   ///< mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32
  kMmaF16,    ///< mma.sync.m16n8k16.row.col.f32.f16.f16.f32
};

/// Per-lane payload of a rendezvous: inputs and the result the computing lane writes back.
struct WarpSlot {
  alignas(16) unsigned char in[48];
  alignas(16) unsigned char out[16];
};
constexpr size_t kWarpSlotIn = sizeof(WarpSlot::in);
constexpr size_t kWarpSlotOut = sizeof(WarpSlot::out);

/// Waits until every non-exited lane named in `mask` calls the same collective, then returns this
/// lane's result in `out`. Reports misuse (own lane missing from mask, masks or kinds differing,
/// an exited lane in the mask) as tessera::Error from the launch.
void warp_collective(WarpOp op, uint32_t param, unsigned mask, const void* in, size_t in_bytes,
                     void* out, size_t out_bytes, std::source_location loc);

/// Block barrier. kind: 0 plain, 1 count, 2 and, 3 or; returns the reduction of `pred`.
int block_barrier(int kind, int pred, std::source_location loc);

/// The block's dynamic shared memory (TESSERA_DYNAMIC_SMEM): 128-byte aligned, filled with 0xFF
/// (NaN for floats), followed by a canary checked when the block ends.
void* dynamic_smem();
size_t dynamic_smem_bytes();

/// cp.async emulation: the 16 bytes are read at issue and written to shared memory only when a
/// wait retires their group, so reading the destination before waiting sees stale data.
void cp_async_16(void* smem_dst, const void* gmem_src, std::source_location loc);
void cp_async_commit();
void cp_async_wait(int newest_pending_allowed);
void cp_async_wait_all();

/// __trap(): stops the launch with an error naming the thread.
[[noreturn]] void trap(std::source_location loc);

/// Non-exited lanes of the calling thread's warp (cudasim's __activemask).
unsigned active_mask();

// ---- options -----------------------------------------------------------------------------------

/// Order in which ready fibers (and blocks) run. Correct kernels give identical results in all.
enum class Schedule { kIndex, kReverse, kRandom };

struct Options {
  Schedule schedule = Schedule::kIndex;
  uint64_t seed = 1;       ///< for kRandom
  int threads = 0;         ///< OS threads running blocks; 0 = OpenMP's default
  size_t stack_bytes = 0;  ///< fiber stack; 0 = 128 KiB (256 KiB under ASan)
  /// Report data races (two threads access one address between barriers, at least one writing)
  /// in kernels compiled with tessera_cudasim_sources(... RACE_CHECK ...). See race.cpp.
  bool race_check = false;
};

/// Process-wide options, initialised from TESSERA_CUDASIM_SCHEDULE=index|reverse|random[:seed],
/// TESSERA_CUDASIM_THREADS=n and TESSERA_CUDASIM_RACECHECK=0|1. Not to be changed while a launch is
/// running.
Options options();
void set_options(const Options& o);

/// Sets options for a scope (tests), restoring the previous ones on exit.
class ScopedOptions {
 public:
  explicit ScopedOptions(const Options& o) : saved_(options()) { set_options(o); }
  ~ScopedOptions() { set_options(saved_); }
  ScopedOptions(const ScopedOptions&) = delete;
  ScopedOptions& operator=(const ScopedOptions&) = delete;

 private:
  Options saved_;
};

const char* schedule_name(Schedule s);

}  // namespace tessera::cudasim
