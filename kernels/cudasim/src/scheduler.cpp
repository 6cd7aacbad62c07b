// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim's launch and block scheduler: barriers, warp rendezvous, divergence reports.
///
/// Design: a block's threads are fibers on one OS thread. The scheduler makes rounds over the ready
/// fibers in the order the Schedule asks for (index, reverse, seeded shuffle) and runs each until
/// it blocks at a barrier or collective or exits. The last thread to arrive at a barrier (or the
/// last lane of a warp collective) completes it; then all of them become ready and the next round
/// resumes them in schedule order. When no
/// fiber is ready before all are done, the block is deadlocked and the report says who waits where.
/// Cost: two context switches per thread per barrier (~13 ns each) plus a round over the block.
/// Blocks run on OpenMP threads (each OS thread has its own fiber pool); see NOTE [static shared
/// memory] in keywords.h for when they run one after another.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <numeric>
#include <sstream>

#include <tessera/error.h>

#include "block.h"

namespace tessera::cudasim::detail {

thread_local constinit ThreadState* tls_thread = nullptr;

namespace {

constexpr size_t kSmemAlign = 128;
constexpr size_t kCanaryBytes = 256;
constexpr unsigned char kCanary = 0x7F;  // reads past the end see ~3.4e38 in float and bf16
constexpr unsigned char kPoison = 0xFF;  // uninitialised dynamic smem: NaN in every float type
constexpr size_t kDefaultSmemLimit = 48 * 1024;
constexpr size_t kMaxSmemOptin = 227 * 1024;

thread_local Worker tls_worker;

std::string dim_str(dim3 d) {
  std::ostringstream os;
  os << '(' << d.x << ',' << d.y << ',' << d.z << ')';
  return os.str();
}
std::string idx_str(uint3 d) { return dim_str(dim3(d.x, d.y, d.z)); }
std::string loc_str(const std::source_location& loc) {
  std::string f = loc.file_name();
  const auto slash = f.find_last_of('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  return f + ":" + std::to_string(loc.line());
}
std::string hex(unsigned v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}
std::string thread_str(const Fiber* f) { return "thread " + idx_str(f->state.thread_idx); }

const char* barrier_name(int kind) {
  static constexpr const char* kNames[] = {"__syncthreads", "__syncthreads_count",
                                           "__syncthreads_and", "__syncthreads_or"};
  return kNames[kind];
}

Fiber& current_fiber(const char* what) { return *static_cast<Fiber*>(this_thread(what).impl); }

void yield_to_scheduler(Fiber& f, bool exiting) {
  Worker& w = *f.block->worker;
  asan_start_switch(exiting ? nullptr : &f.asan_fake_stack, w.scheduler_stack_bottom,
                    w.scheduler_stack_size);
  tessera_cudasim_switch(&f.sp, w.scheduler_sp);
  asan_finish_switch(f.asan_fake_stack, &w.scheduler_stack_bottom, &w.scheduler_stack_size);
}

void retire_copies(Fiber& f, size_t count) {
  for (size_t i = 0; i < count; ++i) std::memcpy(f.copies[i].dst, f.copies[i].data, 16);
  f.copies.erase(f.copies.begin(), f.copies.begin() + static_cast<std::ptrdiff_t>(count));
  size_t kept = 0;
  for (size_t& end : f.committed_groups) {
    if (end > count) f.committed_groups[kept++] = end - count;
  }
  f.committed_groups.resize(kept);
}

/// A thread returned from the kernel: nobody may still be waiting for it.
void on_thread_exit(Fiber& f) {
  retire_copies(f, f.copies.size());
  BlockRun& b = *f.block;
  const unsigned warp = f.state.linear_tid / 32;
  const unsigned bit = 1u << f.state.lane;
  Warp& w = b.warps[warp];
  w.exited |= bit;
  ++b.done;
  if (b.first_exited == nullptr) b.first_exited = &f;
  if (b.barrier_waiting > 0) {
    fault(thread_str(&f) + " exited while " + std::to_string(b.barrier_waiting) +
          " thread(s) wait at " + barrier_name(b.barrier_kind) + " (" + loc_str(b.barrier_loc) +
          "), e.g. " + thread_str(b.barrier_first) +
          ": divergent barrier (every thread of the block must reach the same __syncthreads)");
  }
  for (const WarpGroup& g : w.groups) {
    if (g.mask & bit) {
      fault("lane " + std::to_string(f.state.lane) + " of warp " + std::to_string(warp) +
            " exited while lanes " + hex(g.arrived) + " wait for it in " +
            warp_op_name(g.op, g.param) + " with mask " + hex(g.mask) + " (" + loc_str(g.loc) +
            ")");
    }
  }
}

void fiber_main(void* arg) {
  auto& f = *static_cast<Fiber*>(arg);
  BlockRun& b = *f.block;
  asan_finish_switch(nullptr, &b.worker->scheduler_stack_bottom, &b.worker->scheduler_stack_size);
  try {
    b.run(b.ctx);
    on_thread_exit(f);
  } catch (const KernelFault& e) {
    b.failed = true;
    b.error = e.message;
    b.error_fiber = &f;
  } catch (const Error& e) {
    b.failed = true;
    b.error = e.what();
    b.error_fiber = &f;
  } catch (const std::exception& e) {
    b.failed = true;
    b.error = std::string("exception: ") + e.what();
    b.error_fiber = &f;
  } catch (...) {
    b.failed = true;
    b.error = "unknown exception";
    b.error_fiber = &f;
  }
  f.status = FiberStatus::kDone;
  yield_to_scheduler(f, /*exiting=*/true);
  __builtin_trap();  // a finished fiber is never resumed
}

void resume(Worker& w, Fiber& f) {
  tls_thread = &f.state;
  asan_start_switch(&w.scheduler_fake_stack, f.stack.bottom(), f.stack.size());
  tessera_cudasim_switch(&w.scheduler_sp, f.sp);
  asan_finish_switch(w.scheduler_fake_stack, nullptr, nullptr);
  tls_thread = nullptr;
}

std::string deadlock_report(const BlockRun& b) {
  std::ostringstream os;
  os << "deadlock: no thread can proceed (" << b.done << " of " << b.fibers.size() << " exited).";
  if (b.barrier_waiting > 0) {
    os << " " << b.barrier_waiting << " thread(s) wait at " << barrier_name(b.barrier_kind) << " ("
       << loc_str(b.barrier_loc) << "), e.g. " << thread_str(b.barrier_first) << ".";
  }
  for (size_t wi = 0; wi < b.warps.size(); ++wi) {
    for (const WarpGroup& g : b.warps[wi].groups) {
      os << " Warp " << wi << ": lanes " << hex(g.arrived) << " wait in "
         << warp_op_name(g.op, g.param) << " with mask " << hex(g.mask) << " (" << loc_str(g.loc)
         << ") for lanes " << hex(g.mask & ~g.arrived) << ".";
    }
  }
  os << " Divergent barrier or warp collective: every thread of the block must reach the same "
        "__syncthreads, and every lane named in a *_sync mask must call the same collective.";
  return os.str();
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void check_canary(const BlockRun& b) {
  const unsigned char* end = b.smem + b.smem_bytes;
  for (size_t i = 0; i < kCanaryBytes; ++i) {
    if (end[i] != kCanary) {
      fault("dynamic shared memory overflow: the block wrote byte " +
            std::to_string(b.smem_bytes + i) + " of a " + std::to_string(b.smem_bytes) +
            "-byte dynamic shared memory allocation (smem_bytes of the launch)");
    }
  }
}

/// Runs one block to completion on this OS thread. Throws KernelFault (with the failing thread's
/// message) on a kernel error.
void run_block(const LaunchSpec& spec, void (*run)(void*), void* ctx, uint64_t block_linear,
               const Options& opt, size_t stack_bytes) {
  Worker& worker = tls_worker;
  if (worker.stack_bytes != stack_bytes) {
    worker.pool.clear();
    worker.stack_bytes = stack_bytes;
  }
  const unsigned nthreads = spec.block.x * spec.block.y * spec.block.z;
  while (worker.pool.size() < nthreads) worker.pool.push_back(std::make_unique<Fiber>(stack_bytes));

  BlockRun b;
  b.spec = &spec;
  b.run = run;
  b.ctx = ctx;
  b.worker = &worker;
  b.block_idx.x = static_cast<unsigned>(block_linear % spec.grid.x);
  b.block_idx.y = static_cast<unsigned>((block_linear / spec.grid.x) % spec.grid.y);
  b.block_idx.z = static_cast<unsigned>(block_linear / (uint64_t{spec.grid.x} * spec.grid.y));
  b.rng.seed(splitmix(opt.seed ^ splitmix(block_linear)));
  b.warps.resize((nthreads + 31) / 32);
  b.race_check = opt.race_check;
  if (b.race_check) b.warp_epoch.assign(b.warps.size(), 0);
  for (unsigned t = 0; t < nthreads; ++t) b.warps[t / 32].existing |= 1u << (t % 32);

  struct SmemDeleter {
    void operator()(unsigned char* p) const { ::operator delete (p, std::align_val_t{kSmemAlign}); }
  };
  std::unique_ptr<unsigned char, SmemDeleter> smem(static_cast<unsigned char*>(
      ::operator new (spec.smem_bytes + kCanaryBytes, std::align_val_t{kSmemAlign})));
  b.smem = smem.get();
  b.smem_bytes = spec.smem_bytes;
  std::memset(b.smem, kPoison, spec.smem_bytes);
  std::memset(b.smem + spec.smem_bytes, kCanary, kCanaryBytes);

  b.fibers.resize(nthreads);
  for (unsigned t = 0; t < nthreads; ++t) {
    Fiber& f = *worker.pool[t];
    // ASan: a finished fiber never returns from fiber_main, so that frame's redzones stay
    // poisoned near the top of the stack; an abandoned one (failed block) may have poison anywhere.
    if (f.dirty) {
      asan_unpoison(f.stack.bottom(), f.stack.size());
      f.dirty = false;
    } else {
      constexpr size_t kTop = 16 * 1024;
      asan_unpoison(static_cast<char*>(f.stack.top()) - kTop, kTop);
    }
    f.block = &b;
    f.status = FiberStatus::kReady;
    f.copies.clear();
    f.committed_groups.clear();
    f.asan_fake_stack = nullptr;
    f.state.thread_idx.x = t % spec.block.x;
    f.state.thread_idx.y = (t / spec.block.x) % spec.block.y;
    f.state.thread_idx.z = t / (spec.block.x * spec.block.y);
    f.state.block_idx = b.block_idx;
    f.state.block_dim = spec.block;
    f.state.grid_dim = spec.grid;
    f.state.linear_tid = t;
    f.state.lane = t % 32;
    f.state.impl = &f;
    f.sp = make_context(f.stack, &fiber_main, &f);
    b.fibers[t] = &f;
  }

  std::vector<Fiber*> ready;
  ready.reserve(nthreads);
  while (b.done < nthreads && !b.failed) {
    ready.clear();
    for (Fiber* f : b.fibers) {
      if (f->status == FiberStatus::kReady) ready.push_back(f);
    }
    if (ready.empty()) {
      b.failed = true;
      b.error = deadlock_report(b);
      break;
    }
    if (opt.schedule == Schedule::kReverse) {
      std::reverse(ready.begin(), ready.end());
    } else if (opt.schedule == Schedule::kRandom) {
      std::shuffle(ready.begin(), ready.end(), b.rng);
    }
    for (Fiber* f : ready) {
      if (f->status != FiberStatus::kReady) continue;
      resume(worker, *f);
      if (b.failed) break;
    }
  }
  if (b.failed) {
    for (Fiber* f : b.fibers) {
      if (f->status != FiberStatus::kDone) f->dirty = true;
      f->status = FiberStatus::kDone;
    }
    std::string where = "block " + idx_str(b.block_idx);
    if (b.error_fiber != nullptr) where += ", " + thread_str(b.error_fiber);
    fault(where + ": " + b.error);
  }
  try {
    race_report_pending(b);
    check_canary(b);
  } catch (KernelFault& e) {
    e.message = "block " + idx_str(b.block_idx) + ": " + e.message;
    throw;
  }
}

}  // namespace

void fault(std::string message) { throw KernelFault{std::move(message)}; }

void outside_kernel(const char* what) {
  TESSERA_FAIL("cudasim: ", what, " used outside a kernel launched through cudasim");
}

}  // namespace tessera::cudasim::detail

namespace tessera::cudasim {

using namespace detail;

int block_barrier(int kind, int pred, std::source_location loc) {
  Fiber& f = current_fiber(barrier_name(kind));
  BlockRun& b = *f.block;
  if (b.race_check) race_report_pending(b);
  if (b.done > 0) {
    fault(thread_str(&f) + " reached " + barrier_name(kind) + " (" + loc_str(loc) + ") but " +
          std::to_string(b.done) + " thread(s) of the block have exited, e.g. " +
          thread_str(b.first_exited) +
          ": divergent barrier (every thread of the block must reach the same __syncthreads)");
  }
  if (b.barrier_waiting == 0) {
    b.barrier_kind = kind;
    b.barrier_loc = loc;
    b.barrier_first = &f;
    b.barrier_count = 0;
  } else if (b.barrier_kind != kind || b.barrier_loc.line() != loc.line() ||
             std::strcmp(b.barrier_loc.file_name(), loc.file_name()) != 0) {
    fault(thread_str(&f) + " reached " + barrier_name(kind) + " (" + loc_str(loc) + ") while " +
          std::to_string(b.barrier_waiting) + " thread(s) wait at " + barrier_name(b.barrier_kind) +
          " (" + loc_str(b.barrier_loc) + "), e.g. " + thread_str(b.barrier_first) +
          ": divergent barrier");
  }
  b.barrier_count += pred != 0;
  ++b.barrier_waiting;
  const auto n = static_cast<unsigned>(b.fibers.size());
  int result = 0;
  if (b.barrier_waiting == n) {
    switch (kind) {
      case 1:
        result = b.barrier_count;
        break;
      case 2:
        result = b.barrier_count == static_cast<int>(n);
        break;
      case 3:
        result = b.barrier_count > 0;
        break;
      default:
        result = 0;
    }
    for (Fiber* o : b.fibers) {
      if (o->status == FiberStatus::kBarrier) {
        o->status = FiberStatus::kReady;
        o->barrier_result = result;
      }
    }
    b.barrier_waiting = 0;
    if (b.race_check) race_new_epoch(b);
    // The releasing thread yields too, so that after the barrier the threads start again in the
    // schedule's order (a race then shows up as a difference between schedules).
    f.barrier_result = result;
    f.status = FiberStatus::kReady;
  } else {
    f.status = FiberStatus::kBarrier;
    f.wait_loc = loc;
  }
  yield_to_scheduler(f, false);
  return f.barrier_result;
}

void warp_collective(WarpOp op, uint32_t param, unsigned mask, const void* in, size_t in_bytes,
                     void* out, size_t out_bytes, std::source_location loc) {
  Fiber& f = current_fiber(warp_op_name(op, param));
  BlockRun& b = *f.block;
  const unsigned warp_id = f.state.linear_tid / 32;
  const unsigned lane = f.state.lane;
  const unsigned bit = 1u << lane;
  Warp& w = b.warps[warp_id];
  const char* name = warp_op_name(op, param);  // strings are only built on the error paths
  if ((mask & bit) == 0) {
    fault("lane " + std::to_string(lane) + " of warp " + std::to_string(warp_id) + " called " +
          std::string(name) + " (" + loc_str(loc) + ") with mask " + hex(mask) +
          ", which does not include the lane itself");
  }
  const unsigned eff = mask & w.existing;
  if (eff & w.exited) {
    fault(std::string(name) + " (" + loc_str(loc) + ") with mask " + hex(mask) + " names lane(s) " +
          hex(eff & w.exited) + " of warp " + std::to_string(warp_id) + " that have exited");
  }
  const bool full_warp = op == WarpOp::kLdMatrix || op == WarpOp::kMmaBf16 || op == WarpOp::kMmaF16;
  if (full_warp && eff != 0xffffffffu) {
    fault(std::string(name) + " (" + loc_str(loc) +
          ") is .sync.aligned and needs all 32 lanes of the warp, but "
          "warp " +
          std::to_string(warp_id) + " has lanes " + hex(w.existing) +
          " (block size not a multiple of 32?)");
  }
  size_t gi = w.groups.size();
  for (size_t i = 0; i < w.groups.size(); ++i) {
    if (w.groups[i].mask & eff) {
      gi = i;
      break;
    }
  }
  if (gi < w.groups.size()) {
    const WarpGroup& g = w.groups[gi];
    if (g.mask != eff || g.op != op || g.param != param) {
      fault("lane " + std::to_string(lane) + " of warp " + std::to_string(warp_id) + " called " +
            std::string(name) + " with mask " + hex(mask) + " (" + loc_str(loc) + ") while lanes " +
            hex(g.arrived) + " wait in " + warp_op_name(g.op, g.param) + " with mask " +
            hex(g.mask) + " (" + loc_str(g.loc) +
            "): the lanes of one warp collective must call the same intrinsic with the same mask");
    }
  } else {
    w.groups.push_back(WarpGroup{op, param, eff, 0, loc});
  }
  if (in_bytes > 0) std::memcpy(w.slots[lane].in, in, in_bytes);
  w.groups[gi].arrived |= bit;
  if (w.groups[gi].arrived == w.groups[gi].mask) {
    if (b.race_check) {
      race_report_pending(b);
      if (eff == w.existing) ++b.warp_epoch[warp_id];  // orders the lanes' earlier accesses
    }
    compute_warp_op(op, param, eff, w.slots);
    w.groups.erase(w.groups.begin() + static_cast<std::ptrdiff_t>(gi));
    for (unsigned l = 0; l < 32; ++l) {
      if ((eff >> l) & 1u) b.fibers[warp_id * 32 + l]->status = FiberStatus::kReady;
    }
  } else {
    f.status = FiberStatus::kWarp;
    f.wait_loc = loc;
  }
  yield_to_scheduler(f, false);  // completing lane too: lanes resume in the schedule's order
  if (out_bytes > 0) std::memcpy(out, w.slots[lane].out, out_bytes);
}

void* dynamic_smem() { return current_fiber("dynamic shared memory").block->smem; }
size_t dynamic_smem_bytes() { return current_fiber("dynamic shared memory").block->smem_bytes; }

void cp_async_16(void* smem_dst, const void* gmem_src, std::source_location loc) {
  Fiber& f = current_fiber("cp.async");
  if (reinterpret_cast<uintptr_t>(smem_dst) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(gmem_src) % 16 != 0) {
    fault("cp.async (" + loc_str(loc) + "): 16-byte copy needs 16-byte aligned addresses");
  }
  Fiber::PendingCopy c;
  c.dst = static_cast<unsigned char*>(smem_dst);
  std::memcpy(c.data, gmem_src, 16);
  f.copies.push_back(c);
}

void cp_async_commit() {
  Fiber& f = current_fiber("cp.async.commit_group");
  f.committed_groups.push_back(f.copies.size());
}

void cp_async_wait(int newest_pending_allowed) {
  Fiber& f = current_fiber("cp.async.wait_group");
  const auto n = static_cast<int>(f.committed_groups.size());
  if (n <= newest_pending_allowed) return;
  retire_copies(f, f.committed_groups[static_cast<size_t>(n - newest_pending_allowed - 1)]);
}

void cp_async_wait_all() {
  Fiber& f = current_fiber("cp.async.wait_all");
  retire_copies(f, f.copies.size());
  f.committed_groups.clear();
}

void trap(std::source_location loc) { fault("__trap() called (" + loc_str(loc) + ")"); }

unsigned active_mask() {
  Fiber& f = current_fiber("__activemask");
  const Warp& w = f.block->warps[f.state.linear_tid / 32];
  return w.existing & ~w.exited;
}

void launch(const LaunchSpec& spec, void (*run)(void*), void* ctx) {
  auto fail = [&](const std::string& msg) {
    throw Error(spec.file, spec.line,
                std::string("cudasim: launch of kernel `") + spec.name + "` <<<" +
                    dim_str(spec.grid) + ", " + dim_str(spec.block) + ", " +
                    std::to_string(spec.smem_bytes) + ">>>: " + msg);
  };
  if (tls_thread != nullptr) fail("launched from inside a kernel (dynamic parallelism)");
  const dim3 g = spec.grid, bl = spec.block;
  const uint64_t nthreads = uint64_t{bl.x} * bl.y * bl.z;
  if (bl.x == 0 || bl.y == 0 || bl.z == 0 || nthreads > 1024 || bl.x > 1024 || bl.y > 1024 ||
      bl.z > 64) {
    fail("invalid block size (each dimension >= 1, x,y <= 1024, z <= 64, at most 1024 threads)");
  }
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7FFFFFFFu || g.y > 65535 || g.z > 65535) {
    fail("invalid grid size (each dimension >= 1, x < 2^31, y,z <= 65535)");
  }
  if (spec.smem_bytes > kDefaultSmemLimit) {
    const int attr = max_dynamic_smem_attribute(spec.kernel);
    if (spec.smem_bytes > kMaxSmemOptin) fail("dynamic shared memory exceeds 227 KiB");
    if (spec.smem_bytes > static_cast<size_t>(attr)) {
      fail(
          "more than 48 KiB of dynamic shared memory needs cudaFuncSetAttribute(kernel, "
          "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) first (set: " +
          std::to_string(attr) + ")");
    }
  }
  const Options opt = options();
  size_t stack_bytes = opt.stack_bytes;
  if (stack_bytes == 0) stack_bytes = TESSERA_CUDASIM_STATIC_SHARED ? 256 * 1024 : 128 * 1024;
#if defined(__SANITIZE_ADDRESS__)
  stack_bytes = std::max<size_t>(stack_bytes, 256 * 1024);
#endif

  const uint64_t nblocks = uint64_t{g.x} * g.y * g.z;
  // Block order: a permutation i -> (a*i + c) mod n with gcd(a, n) = 1 for kRandom.
  uint64_t mul = 1, add = 0;
  if (opt.schedule == Schedule::kRandom && nblocks > 1) {
    std::mt19937_64 rng(splitmix(opt.seed));
    do {
      mul = rng() % nblocks;
    } while (mul == 0 || std::gcd(mul, nblocks) != 1);
    add = rng() % nblocks;
  }
  auto block_at = [&](uint64_t i) -> uint64_t {
    if (opt.schedule == Schedule::kReverse) return nblocks - 1 - i;
    if (opt.schedule == Schedule::kRandom)
      return static_cast<uint64_t>((static_cast<unsigned __int128>(mul) * i + add) % nblocks);
    return i;
  };

  int threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();
  if (spec.serial_blocks || nblocks < 2) threads = 1;
  threads = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(threads), nblocks));

  std::mutex error_mutex;
  std::string error;
  std::atomic<bool> failed{false};
  auto run_one = [&](uint64_t i) {
    if (failed.load(std::memory_order_relaxed)) return;
    try {
      run_block(spec, run, ctx, block_at(i), opt, stack_bytes);
    } catch (const KernelFault& e) {
      std::lock_guard lock(error_mutex);
      if (!failed.exchange(true)) error = e.message;
    } catch (const std::exception& e) {
      std::lock_guard lock(error_mutex);
      if (!failed.exchange(true)) error = e.what();
    }
  };
  if (threads <= 1) {
    for (uint64_t i = 0; i < nblocks && !failed; ++i) run_one(i);
  } else {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (uint64_t i = 0; i < nblocks; ++i) run_one(i);
  }
  if (failed) fail(error);
}

}  // namespace tessera::cudasim
