// SPDX-License-Identifier: Apache-2.0
/// @brief Fibers for cudasim: a hand-written x86-64 context switch and guarded, pooled stacks.
///
/// glibc's swapcontext makes an rt_sigprocmask system call per switch (322 ns measured); the switch
/// here saves only what the SysV ABI makes callee-saved (rbx, rbp, r12-r15, MXCSR, x87 control
/// word) and swaps rsp: ~13 ns. Under AddressSanitizer every switch is wrapped in
/// __sanitizer_start/finish_switch_fiber so ASan knows which stack is live (exceptions unwinding a
/// fiber stack would otherwise trip its stack checks).
#pragma once

#include <cstddef>

namespace tessera::cudasim::detail {

/// An mmap'd stack with a PROT_NONE guard page below it (a fiber's stack overflow faults instead of
/// corrupting the neighbouring fiber).
class Stack {
 public:
  explicit Stack(size_t bytes);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  void* bottom() const { return bottom_; }  ///< lowest usable address
  size_t size() const { return size_; }
  void* top() const { return static_cast<char*>(bottom_) + size_; }

 private:
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  void* bottom_ = nullptr;
  size_t size_ = 0;
};

/// Prepares `stack` so that the first switch to the returned stack pointer calls entry(arg) with a
/// 16-byte aligned stack. entry must never return (it switches away for the last time).
void* make_context(const Stack& stack, void (*entry)(void*), void* arg);

/// Saves the current context's stack pointer into *save_sp and continues on new_sp.
extern "C" void tessera_cudasim_switch(void** save_sp, void* new_sp);

/// ASan fiber annotations; no-ops without -fsanitize=address.
void asan_start_switch(void** fake_stack_save, const void* bottom, size_t size);
void asan_finish_switch(void* fake_stack_save, const void** old_bottom, size_t* old_size);
void asan_unpoison(void* p, size_t n);

}  // namespace tessera::cudasim::detail
