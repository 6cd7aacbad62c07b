// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim's data-race checker: memory accesses between barriers by different threads.
///
/// Kernel files compiled with tessera_cudasim_sources(... RACE_CHECK ...) are instrumented by GCC's
/// -fsanitize=kernel-address in callback mode (asan-instrumentation-with-call-threshold=0, no stack
/// or global redzones): every load and store calls __asan_{load,store}N_noabort(address), which
/// cudasim implements here instead of a sanitizer runtime. With Options::race_check on, each byte
/// touched since the last __syncthreads remembers its last writer and its readers:
///   - a write after another thread's read or write, or a read after another thread's write, is a
///     race unless both threads are lanes of one warp and a full-warp collective (__syncwarp,
///     a shuffle, ...) completed in between;
///   - __syncthreads starts a new epoch (forgets everything); atomics are ignored (AtomicScope);
///   - the calling fiber's own stack is skipped (private), so shared and global memory are checked.
/// A race is reported at the next barrier or collective, or when the block ends (the callbacks are
/// declared nothrow by GCC, so they must not throw). Cost: a hash-map update per byte accessed.
/// Not covered: accesses made inside cudasim (ldmatrix, cp.async), other blocks (each block has its
/// own epoch), and code not compiled with RACE_CHECK.
#include <dlfcn.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "block.h"

namespace tessera::cudasim::detail {

thread_local constinit int tls_atomic_depth = 0;

namespace {

std::string describe(const BlockRun& b, int32_t tid) {
  const Fiber* f = b.fibers[static_cast<size_t>(tid)];
  return "thread (" + std::to_string(f->state.thread_idx.x) + "," +
         std::to_string(f->state.thread_idx.y) + "," + std::to_string(f->state.thread_idx.z) + ")";
}

/// "binary+0xoffset": what `addr2line -e binary 0xoffset` turns into a source line.
std::string pc_str(const void* pc) {
  Dl_info info;
  char buf[64];
  if (dladdr(pc, &info) != 0 && info.dli_fname != nullptr) {
    std::snprintf(buf, sizeof(buf), "+0x%" PRIxPTR,
                  reinterpret_cast<uintptr_t>(pc) - reinterpret_cast<uintptr_t>(info.dli_fbase));
    return std::string(info.dli_fname) + buf;
  }
  std::snprintf(buf, sizeof(buf), "pc %p", pc);
  return buf;
}

void record_race(BlockRun& b, uintptr_t addr, const char* kind, int32_t first, const void* first_pc,
                 int32_t second, const void* second_pc) {
  if (!b.race_error.empty()) return;
  char a[32];
  std::snprintf(a, sizeof(a), "0x%" PRIxPTR, addr);
  b.race_error = std::string("data race (") + kind + ") on address " + a + ": " +
                 (first == kManyReaders ? std::string("several threads") : describe(b, first)) +
                 " (" + pc_str(first_pc) + ") and " + describe(b, second) + " (" +
                 pc_str(second_pc) +
                 ") access it between two barriers without synchronisation (addr2line -e "
                 "<binary> <offset> gives the source lines)";
}

[[maybe_unused]] void on_access(uintptr_t addr, size_t size, bool write, const void* pc) {
  ThreadState* t = tls_thread;
  if (t == nullptr || tls_atomic_depth > 0) return;
  auto* f = static_cast<Fiber*>(t->impl);
  BlockRun& b = *f->block;
  if (!b.race_check) return;
  const auto lo = reinterpret_cast<uintptr_t>(f->stack.bottom());
  if (addr >= lo && addr < lo + f->stack.size()) return;  // the thread's own stack

  const auto tid = static_cast<int32_t>(t->linear_tid);
  const auto warp = static_cast<int32_t>(t->linear_tid / 32);
  const uint32_t epoch = b.warp_epoch[static_cast<size_t>(warp)];
  // Is an access by `other` at warp epoch `e` ordered before this one?
  auto ordered = [&](int32_t other, int32_t other_warp, uint32_t e) {
    return other == tid || (other_warp == warp && epoch > e);
  };
  for (size_t i = 0; i < size; ++i) {
    RaceRecord& r = b.race_bytes[addr + i];
    if (r.writer >= 0 && !ordered(r.writer, r.writer / 32, r.writer_epoch)) {
      record_race(b, addr + i, write ? "write after write" : "read after write", r.writer,
                  r.writer_pc, tid, pc);
    }
    if (write) {
      if (r.reader != -1 &&
          !ordered(r.reader == kManyReaders ? -1 : r.reader, r.readers_warp, r.reader_epoch)) {
        record_race(b, addr + i, "write after read", r.reader, r.reader_pc, tid, pc);
      }
      r.writer = tid;
      r.writer_epoch = epoch;
      r.writer_pc = pc;
      r.reader = -1;
      r.readers_warp = -1;
    } else if (r.reader == -1 || r.reader == tid) {
      r.reader = tid;
      r.readers_warp = warp;
      r.reader_epoch = epoch;
      r.reader_pc = pc;
    } else {
      if (r.readers_warp != warp) r.readers_warp = -1;
      r.reader = kManyReaders;
      r.reader_epoch = std::max(r.reader_epoch, epoch);
      r.reader_pc = pc;
    }
  }
}

}  // namespace

void race_new_epoch(BlockRun& b) { b.race_bytes.clear(); }

void race_report_pending(BlockRun& b) {
  if (!b.race_error.empty()) {
    std::string msg = std::move(b.race_error);
    b.race_error.clear();
    b.race_check = false;  // one report per block
    fault(std::move(msg));
  }
}

}  // namespace tessera::cudasim::detail

// The instrumentation's callbacks. Not compiled into ASan builds, whose runtime owns these names
// (RACE_CHECK is ignored there: -fsanitize=address and kernel-address do not mix).
#if !defined(__SANITIZE_ADDRESS__)
#define TESSERA_CUDASIM_HOOKS(n)                                                   \
  extern "C" void __asan_load##n##_noabort(uintptr_t a) {                          \
    tessera::cudasim::detail::on_access(a, n, false, __builtin_return_address(0)); \
  }                                                                                \
  extern "C" void __asan_store##n##_noabort(uintptr_t a) {                         \
    tessera::cudasim::detail::on_access(a, n, true, __builtin_return_address(0));  \
  }
TESSERA_CUDASIM_HOOKS(1)
TESSERA_CUDASIM_HOOKS(2)
TESSERA_CUDASIM_HOOKS(4)
TESSERA_CUDASIM_HOOKS(8)
TESSERA_CUDASIM_HOOKS(16)
#undef TESSERA_CUDASIM_HOOKS
extern "C" void __asan_loadN_noabort(uintptr_t a, size_t n) {
  tessera::cudasim::detail::on_access(a, n, false, __builtin_return_address(0));
}
extern "C" void __asan_storeN_noabort(uintptr_t a, size_t n) {
  tessera::cudasim::detail::on_access(a, n, true, __builtin_return_address(0));
}
extern "C" void __asan_handle_no_return() {}
#endif
