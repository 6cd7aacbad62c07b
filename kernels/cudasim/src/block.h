// SPDX-License-Identifier: Apache-2.0
/// @brief Private state of one running block: its fibers, barrier, warp rendezvous and errors.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <source_location>
#include <string>
#include <unordered_map>
#include <vector>

#include <tessera/cudasim/launch.h>

#include "fiber.h"

namespace tessera::cudasim::detail {

struct BlockRun;

/// A failure inside a kernel thread; the launch turns it into tessera::Error with the context.
struct KernelFault {
  std::string message;
};
[[noreturn]] void fault(std::string message);

enum class FiberStatus { kReady, kBarrier, kWarp, kDone };

/// One simulated CUDA thread.
struct Fiber {
  explicit Fiber(size_t stack_bytes) : stack(stack_bytes) {}
  ThreadState state{};
  Stack stack;
  void* sp = nullptr;
  void* asan_fake_stack = nullptr;
  bool dirty = false;  ///< abandoned mid-kernel: its stack may still hold ASan poison
  FiberStatus status = FiberStatus::kDone;
  std::source_location wait_loc;
  int barrier_result = 0;
  BlockRun* block = nullptr;
  struct PendingCopy {
    unsigned char* dst;
    unsigned char data[16];
  };
  std::vector<PendingCopy> copies;       ///< cp.async issued, not yet retired
  std::vector<size_t> committed_groups;  ///< copies.size() at each commit, oldest first
};

/// Collective in progress in one warp: lanes of `mask` that have arrived are in `arrived`.
struct WarpGroup {
  WarpOp op;
  uint32_t param;
  unsigned mask;
  unsigned arrived;
  std::source_location loc;
};

struct Warp {
  unsigned existing = 0;  ///< lanes that exist (a partial last warp has fewer)
  unsigned exited = 0;
  std::vector<WarpGroup> groups;
  WarpSlot slots[32];
};

/// Per OS thread: the fiber pool and the scheduler's own context.
struct Worker {
  std::vector<std::unique_ptr<Fiber>> pool;
  size_t stack_bytes = 0;
  void* scheduler_sp = nullptr;
  void* scheduler_fake_stack = nullptr;
  const void* scheduler_stack_bottom = nullptr;
  size_t scheduler_stack_size = 0;
};

/// Race checker's view of one byte since the last __syncthreads (race.cpp).
struct RaceRecord {
  int32_t writer = -1;  ///< linear tid of the last writer
  uint32_t writer_epoch = 0;
  const void* writer_pc = nullptr;
  int32_t reader = -1;        ///< one reader, or kManyReaders
  uint32_t reader_epoch = 0;  ///< the newest reader's warp epoch
  int32_t readers_warp = -1;  ///< the warp of every reader, or -1 if they span warps
  const void* reader_pc = nullptr;
};
constexpr int32_t kManyReaders = -2;

struct BlockRun {
  const LaunchSpec* spec = nullptr;
  void (*run)(void*) = nullptr;
  void* ctx = nullptr;
  Worker* worker = nullptr;
  uint3 block_idx{};
  std::vector<Fiber*> fibers;
  unsigned done = 0;
  Fiber* first_exited = nullptr;
  // __syncthreads in progress
  unsigned barrier_waiting = 0;
  int barrier_kind = 0;
  std::source_location barrier_loc;
  Fiber* barrier_first = nullptr;
  int barrier_count = 0;
  std::vector<Warp> warps;
  unsigned char* smem = nullptr;
  size_t smem_bytes = 0;
  std::mt19937_64 rng;
  // race checker (Options::race_check)
  bool race_check = false;
  std::unordered_map<uintptr_t, RaceRecord> race_bytes;
  std::vector<uint32_t> warp_epoch;  ///< full-warp collectives completed, per warp
  std::string race_error;
  bool failed = false;
  std::string error;
  Fiber* error_fiber = nullptr;
};

/// The warp collective's computation, run by the lane that completes the rendezvous.
void compute_warp_op(WarpOp op, uint32_t param, unsigned mask, WarpSlot* slots);
const char* warp_op_name(WarpOp op, uint32_t param);

/// Race checker hooks (race.cpp): a new __syncthreads epoch, and a failure to report.
void race_new_epoch(BlockRun& b);
void race_report_pending(BlockRun& b);

/// Largest dynamic shared memory set through cudaFuncSetAttribute for `kernel` (0 if none).
int max_dynamic_smem_attribute(const void* kernel);

}  // namespace tessera::cudasim::detail
