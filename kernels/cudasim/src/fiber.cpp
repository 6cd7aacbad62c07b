// SPDX-License-Identifier: Apache-2.0
/// @brief x86-64 context switch, fiber stack setup and the ASan fiber hooks.
#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <tessera/error.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#error "cudasim's context switch is written for x86-64 (see docs/cudasim.md to port it)"
#endif

// Frame saved by tessera_cudasim_switch, from the new stack pointer upwards:
//   [0] x87 control word (2 bytes)   [8] MXCSR (4 bytes)
//   [16] r15 [24] r14 [32] r13 [40] r12 [48] rbx [56] rbp [64] return address
asm(R"(
  .text
  .globl tessera_cudasim_switch
  .type tessera_cudasim_switch,@function
  .p2align 4
tessera_cudasim_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw (%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size tessera_cudasim_switch,.-tessera_cudasim_switch

  .globl tessera_cudasim_trampoline
  .type tessera_cudasim_trampoline,@function
  .p2align 4
tessera_cudasim_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  xorl %ebp, %ebp
  andq $-16, %rsp
  callq *%r13
  ud2
  .cfi_endproc
  .size tessera_cudasim_trampoline,.-tessera_cudasim_trampoline
)");

extern "C" void tessera_cudasim_trampoline();

namespace tessera::cudasim::detail {

Stack::Stack(size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_ = (bytes + page - 1) / page * page;
  mapping_bytes_ = size_ + page;
  mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  TESSERA_CHECK(mapping_ != MAP_FAILED, "cudasim: cannot map a ", mapping_bytes_,
                "-byte fiber stack: ", std::strerror(errno));
  TESSERA_CHECK(mprotect(mapping_, page, PROT_NONE) == 0,
                "cudasim: cannot protect a fiber stack's guard page: ", std::strerror(errno));
  bottom_ = static_cast<char*>(mapping_) + page;
}

Stack::~Stack() {
  if (mapping_ != nullptr && mapping_ != MAP_FAILED) munmap(mapping_, mapping_bytes_);
}

void* make_context(const Stack& stack, void (*entry)(void*), void* arg) {
  auto top = reinterpret_cast<uintptr_t>(stack.top()) & ~uintptr_t{15};
  auto* frame = reinterpret_cast<uint64_t*>(top) - 10;  // 9 slots used, one spare keeps alignment
  uint32_t mxcsr = 0x1F80;  // all exceptions masked, round to nearest: the ABI's initial state
  uint16_t fcw = 0x037F;
  std::memset(frame, 0, 10 * sizeof(uint64_t));
  std::memcpy(&frame[0], &fcw, sizeof(fcw));
  std::memcpy(&frame[1], &mxcsr, sizeof(mxcsr));
  frame[2] = 0;                                  // r15
  frame[3] = 0;                                  // r14
  frame[4] = reinterpret_cast<uint64_t>(entry);  // r13
  frame[5] = reinterpret_cast<uint64_t>(arg);    // r12
  frame[6] = 0;                                  // rbx
  frame[7] = 0;                                  // rbp
  frame[8] = reinterpret_cast<uint64_t>(&tessera_cudasim_trampoline);
  return frame;
}

#if defined(__SANITIZE_ADDRESS__)
void asan_start_switch(void** fake_stack_save, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
}
void asan_finish_switch(void* fake_stack_save, const void** old_bottom, size_t* old_size) {
  __sanitizer_finish_switch_fiber(fake_stack_save, old_bottom, old_size);
}
void asan_unpoison(void* p, size_t n) { __asan_unpoison_memory_region(p, n); }
#else
void asan_start_switch(void**, const void*, size_t) {}
void asan_finish_switch(void*, const void**, size_t*) {}
void asan_unpoison(void*, size_t) {}
#endif

}  // namespace tessera::cudasim::detail

// ---- micro-benchmark
// -------------------------------------------------------------------------------

#include <chrono>

#include <tessera/cudasim/bench.h>

namespace tessera::cudasim {
namespace {
struct PingPong {
  void* main_sp = nullptr;
  void* fiber_sp = nullptr;
  int64_t remaining = 0;
  void* main_fake = nullptr;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
  const detail::Stack* stack = nullptr;
};
void ping_pong_fiber(void* arg) {
  auto& p = *static_cast<PingPong*>(arg);
  detail::asan_finish_switch(nullptr, &p.main_bottom, &p.main_size);
  void* fake = nullptr;
  for (;;) {
    detail::asan_start_switch(&fake, p.main_bottom, p.main_size);
    detail::tessera_cudasim_switch(&p.fiber_sp, p.main_sp);
    detail::asan_finish_switch(fake, &p.main_bottom, &p.main_size);
  }
}
}  // namespace

double measure_context_switch_ns(int64_t round_trips) {
  detail::Stack stack(64 * 1024);
  PingPong p;
  p.stack = &stack;
  p.fiber_sp = detail::make_context(stack, &ping_pong_fiber, &p);
  auto one = [&] {
    detail::asan_start_switch(&p.main_fake, stack.bottom(), stack.size());
    detail::tessera_cudasim_switch(&p.main_sp, p.fiber_sp);
    detail::asan_finish_switch(p.main_fake, nullptr, nullptr);
  };
  one();  // start the fiber
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < round_trips; ++i) one();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The fiber is left suspended in its loop; its stack is unmapped with `stack`.
  detail::asan_unpoison(stack.bottom(), stack.size());
  return s * 1e9 / (2.0 * static_cast<double>(round_trips));
}

}  // namespace tessera::cudasim
