// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA device intrinsics for g++: barriers, warp collectives, atomics, math, bit tricks.
///
/// Barriers and warp collectives go through the runtime (core.h), which checks their CUDA contract.
/// Atomics use std::atomic_ref because blocks may run on several OS threads; inside a block the
/// fibers never preempt each other, so only cross-block atomicity needs hardware help.
/// Device-only math (__expf, rsqrtf, ...) mirrors the hardware's approximation route where cheap
/// (__expf is ex2.approx(x*log2e)), so a kernel's error budget looks like it does on the GPU.
#pragma once

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <source_location>
#include <type_traits>

#include <tessera/cudasim/core.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

// ---- barriers
// ------------------------------------------------------------------------------------

inline void __syncthreads(std::source_location loc = std::source_location::current()) {
  ::tessera::cudasim::block_barrier(0, 1, loc);
}
inline int __syncthreads_count(int pred,
                               std::source_location loc = std::source_location::current()) {
  return ::tessera::cudasim::block_barrier(1, pred, loc);
}
inline int __syncthreads_and(int pred, std::source_location loc = std::source_location::current()) {
  return ::tessera::cudasim::block_barrier(2, pred, loc);
}
inline int __syncthreads_or(int pred, std::source_location loc = std::source_location::current()) {
  return ::tessera::cudasim::block_barrier(3, pred, loc);
}
inline void __syncwarp(unsigned mask = 0xffffffffu,
                       std::source_location loc = std::source_location::current()) {
  ::tessera::cudasim::warp_collective(::tessera::cudasim::WarpOp::kSyncWarp, 0, mask, nullptr, 0,
                                      nullptr, 0, loc);
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
[[noreturn]] inline void __trap(std::source_location loc = std::source_location::current()) {
  ::tessera::cudasim::trap(loc);
}
inline unsigned __activemask() { return ::tessera::cudasim::active_mask(); }

inline constexpr int warpSize = 32;

// ---- warp shuffles and votes
// ---------------------------------------------------------------------

namespace tessera::cudasim::detail {
struct ShflIn {
  unsigned char value[16];
  int32_t b;
  int32_t c;
};
template <typename T>
T shfl(WarpOp op, unsigned mask, const T& var, int b, int c, std::source_location loc) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 16,
                "cudasim: __shfl_*_sync needs a trivially copyable value of at most 16 bytes");
  ShflIn in{};
  std::memcpy(in.value, &var, sizeof(T));
  in.b = b;
  in.c = c;
  T out;
  warp_collective(op, static_cast<uint32_t>(sizeof(T)), mask, &in, sizeof(in), &out, sizeof(T),
                  loc);
  return out;
}
/// PTX's c operand for a CUDA width: segment mask in bits 12:8, clamp in bits 4:0.
int shfl_control(int width, bool up, std::source_location loc);
inline unsigned vote(WarpOp op, unsigned mask, int pred, std::source_location loc) {
  const int32_t p = pred != 0;
  unsigned out = 0;
  warp_collective(op, 0, mask, &p, sizeof(p), &out, sizeof(out), loc);
  return out;
}
}  // namespace tessera::cudasim::detail

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32,
              std::source_location loc = std::source_location::current()) {
  using namespace ::tessera::cudasim;
  return detail::shfl(WarpOp::kShflIdx, mask, var, src_lane,
                      detail::shfl_control(width, false, loc), loc);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                 std::source_location loc = std::source_location::current()) {
  using namespace ::tessera::cudasim;
  return detail::shfl(WarpOp::kShflUp, mask, var, static_cast<int>(delta),
                      detail::shfl_control(width, true, loc), loc);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                   std::source_location loc = std::source_location::current()) {
  using namespace ::tessera::cudasim;
  return detail::shfl(WarpOp::kShflDown, mask, var, static_cast<int>(delta),
                      detail::shfl_control(width, false, loc), loc);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32,
                  std::source_location loc = std::source_location::current()) {
  using namespace ::tessera::cudasim;
  return detail::shfl(WarpOp::kShflXor, mask, var, lane_mask,
                      detail::shfl_control(width, false, loc), loc);
}
inline unsigned __ballot_sync(unsigned mask, int pred,
                              std::source_location loc = std::source_location::current()) {
  return ::tessera::cudasim::detail::vote(::tessera::cudasim::WarpOp::kBallot, mask, pred, loc);
}
inline int __any_sync(unsigned mask, int pred,
                      std::source_location loc = std::source_location::current()) {
  return static_cast<int>(
      ::tessera::cudasim::detail::vote(::tessera::cudasim::WarpOp::kAny, mask, pred, loc));
}
inline int __all_sync(unsigned mask, int pred,
                      std::source_location loc = std::source_location::current()) {
  return static_cast<int>(
      ::tessera::cudasim::detail::vote(::tessera::cudasim::WarpOp::kAll, mask, pred, loc));
}

namespace tessera::cudasim::detail {
inline uint32_t reduce(WarpOp op, uint32_t is_signed, unsigned mask, uint32_t v,
                       std::source_location loc) {
  uint32_t out = 0;
  warp_collective(op, is_signed, mask, &v, sizeof(v), &out, sizeof(out), loc);
  return out;
}
}  // namespace tessera::cudasim::detail
inline unsigned __reduce_add_sync(unsigned mask, unsigned v,
                                  std::source_location loc = std::source_location::current()) {
  return ::tessera::cudasim::detail::reduce(::tessera::cudasim::WarpOp::kReduceAdd, 0, mask, v,
                                            loc);
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned v,
                                  std::source_location loc = std::source_location::current()) {
  return ::tessera::cudasim::detail::reduce(::tessera::cudasim::WarpOp::kReduceMin, 0, mask, v,
                                            loc);
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned v,
                                  std::source_location loc = std::source_location::current()) {
  return ::tessera::cudasim::detail::reduce(::tessera::cudasim::WarpOp::kReduceMax, 0, mask, v,
                                            loc);
}
inline int __reduce_add_sync(unsigned mask, int v,
                             std::source_location loc = std::source_location::current()) {
  return static_cast<int>(::tessera::cudasim::detail::reduce(
      ::tessera::cudasim::WarpOp::kReduceAdd, 1, mask, static_cast<uint32_t>(v), loc));
}
inline int __reduce_min_sync(unsigned mask, int v,
                             std::source_location loc = std::source_location::current()) {
  return static_cast<int>(::tessera::cudasim::detail::reduce(
      ::tessera::cudasim::WarpOp::kReduceMin, 1, mask, static_cast<uint32_t>(v), loc));
}
inline int __reduce_max_sync(unsigned mask, int v,
                             std::source_location loc = std::source_location::current()) {
  return static_cast<int>(::tessera::cudasim::detail::reduce(
      ::tessera::cudasim::WarpOp::kReduceMax, 1, mask, static_cast<uint32_t>(v), loc));
}

// ---- atomics
// -------------------------------------------------------------------------------------

namespace tessera::cudasim::detail {
template <typename T>
std::atomic_ref<T> atomic(T* p) {
  return std::atomic_ref<T>(*p);
}
/// 16-bit atomics (__half, __nv_bfloat16) through a CAS on the aligned 32-bit word holding them.
template <typename T, typename Op>
T atomic_16(T* address, Op op) {
  static_assert(sizeof(T) == 2);
  const AtomicScope scope;
  const auto addr = reinterpret_cast<uintptr_t>(address);
  auto* word = reinterpret_cast<uint32_t*>(addr & ~uintptr_t{3});
  const unsigned shift = (addr & 2u) ? 16u : 0u;
  std::atomic_ref<uint32_t> ref(*word);
  uint32_t old_word = ref.load(std::memory_order_relaxed);
  for (;;) {
    const auto old_bits = static_cast<uint16_t>(old_word >> shift);
    const T old_val = std::bit_cast<T>(old_bits);
    const auto new_bits = std::bit_cast<uint16_t>(op(old_val));
    const uint32_t new_word =
        (old_word & ~(uint32_t{0xFFFF} << shift)) | (static_cast<uint32_t>(new_bits) << shift);
    if (ref.compare_exchange_weak(old_word, new_word, std::memory_order_relaxed)) return old_val;
  }
}
}  // namespace tessera::cudasim::detail

#define TESSERA_CUDASIM_ATOMIC_ADD(T)                                                             \
  inline T atomicAdd(T* address, T val) {                                                         \
    const ::tessera::cudasim::detail::AtomicScope scope;                                          \
    return ::tessera::cudasim::detail::atomic(address).fetch_add(val, std::memory_order_relaxed); \
  }
TESSERA_CUDASIM_ATOMIC_ADD(int)
TESSERA_CUDASIM_ATOMIC_ADD(unsigned)
TESSERA_CUDASIM_ATOMIC_ADD(unsigned long long)
TESSERA_CUDASIM_ATOMIC_ADD(float)
TESSERA_CUDASIM_ATOMIC_ADD(double)
#undef TESSERA_CUDASIM_ATOMIC_ADD

inline int atomicSub(int* address, int val) {
  const ::tessera::cudasim::detail::AtomicScope scope;
  return ::tessera::cudasim::detail::atomic(address).fetch_sub(val, std::memory_order_relaxed);
}
inline unsigned atomicSub(unsigned* address, unsigned val) {
  const ::tessera::cudasim::detail::AtomicScope scope;
  return ::tessera::cudasim::detail::atomic(address).fetch_sub(val, std::memory_order_relaxed);
}

#define TESSERA_CUDASIM_ATOMIC_RMW(name, T, expr)                                      \
  inline T name(T* address, T val) {                                                   \
    const ::tessera::cudasim::detail::AtomicScope scope;                               \
    auto ref = ::tessera::cudasim::detail::atomic(address);                            \
    T old = ref.load(std::memory_order_relaxed);                                       \
    for (;;) {                                                                         \
      const T next = (expr);                                                           \
      if (ref.compare_exchange_weak(old, next, std::memory_order_relaxed)) return old; \
    }                                                                                  \
  }
TESSERA_CUDASIM_ATOMIC_RMW(atomicMax, int, old > val ? old : val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicMax, unsigned, old > val ? old : val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicMax, long long, old > val ? old : val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicMax, unsigned long long, old > val ? old : val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicMin, int, old < val ? old : val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicMin, unsigned, old < val ? old : val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicMin, long long, old < val ? old : val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicMin, unsigned long long, old < val ? old : val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicAnd, int, old& val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicAnd, unsigned, old& val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicOr, int, old | val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicOr, unsigned, old | val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicXor, int, old ^ val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicXor, unsigned, old ^ val)
TESSERA_CUDASIM_ATOMIC_RMW(atomicInc, unsigned, old >= val ? 0u : old + 1u)
TESSERA_CUDASIM_ATOMIC_RMW(atomicDec, unsigned, (old == 0u || old > val) ? val : old - 1u)
#undef TESSERA_CUDASIM_ATOMIC_RMW

#define TESSERA_CUDASIM_ATOMIC_EXCH(T)                                                           \
  inline T atomicExch(T* address, T val) {                                                       \
    const ::tessera::cudasim::detail::AtomicScope scope;                                         \
    return ::tessera::cudasim::detail::atomic(address).exchange(val, std::memory_order_relaxed); \
  }                                                                                              \
  inline T atomicCAS(T* address, T compare, T val) {                                             \
    const ::tessera::cudasim::detail::AtomicScope scope;                                         \
    ::tessera::cudasim::detail::atomic(address).compare_exchange_strong(                         \
        compare, val, std::memory_order_relaxed);                                                \
    return compare;                                                                              \
  }
TESSERA_CUDASIM_ATOMIC_EXCH(int)
TESSERA_CUDASIM_ATOMIC_EXCH(unsigned)
TESSERA_CUDASIM_ATOMIC_EXCH(unsigned long long)
#undef TESSERA_CUDASIM_ATOMIC_EXCH
inline float atomicExch(float* address, float val) {
  const ::tessera::cudasim::detail::AtomicScope scope;
  return ::tessera::cudasim::detail::atomic(address).exchange(val, std::memory_order_relaxed);
}
inline unsigned short atomicCAS(unsigned short* address, unsigned short compare,
                                unsigned short val) {
  return ::tessera::cudasim::detail::atomic_16(
      address, [&](unsigned short old) { return old == compare ? val : old; });
}
inline __half atomicAdd(__half* address, __half val) {
  return ::tessera::cudasim::detail::atomic_16(
      address, [&](__half old) { return __float2half(__half2float(old) + __half2float(val)); });
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* address, __nv_bfloat16 val) {
  return ::tessera::cudasim::detail::atomic_16(address, [&](__nv_bfloat16 old) {
    return __float2bfloat16(__bfloat162float(old) + __bfloat162float(val));
  });
}

// ---- math the CUDA headers declare for device code only
// ------------------------------------------

inline float __expf(float x) { return exp2f(x * 1.4426950408889634f); }
inline float __exp10f(float x) { return exp2f(x * 3.3219280948873622f); }
inline float __logf(float x) { return log2f(x) * 0.6931471805599453f; }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log2f(x) * 0.3010299956639812f; }
inline float __powf(float x, float y) { return exp2f(y * log2f(x)); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) {
  *s = sinf(x);
  *c = cosf(x);
}
inline void sincosf(float x, float* s, float* c) {
  *s = sinf(x);
  *c = cosf(x);
}
/// Hardware __fdividef is x * rcp.approx(y); it returns 0 for 2^126 < |y| < 2^128.
inline float __fdividef(float x, float y) {
  const float ay = fabsf(y);
  if (ay > 0x1p126f && ay < std::numeric_limits<float>::infinity()) return 0.0f * x;
  return x * (1.0f / y);
}
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fdiv_rn(float x, float y) { return x / y; }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fsub_rn(float x, float y) { return x - y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : (x > 0.0f ? x : 0.0f); }
inline float exp10f(float x) { return powf(10.0f, x); }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline double __longlong_as_double(long long x) { return std::bit_cast<double>(x); }
inline long long __double_as_longlong(double x) { return std::bit_cast<long long>(x); }

// CUDA's integer min/max overloads (host code gets them from crt/math_functions.hpp under nvcc).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

// ---- bits and memory hints
// -----------------------------------------------------------------------

inline int __popc(unsigned x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(int x) { return std::countl_zero(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return std::countl_zero(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return x == 0 ? 0 : std::countr_zero(static_cast<unsigned>(x)) + 1; }
inline int __ffsll(long long x) {
  return x == 0 ? 0 : std::countr_zero(static_cast<unsigned long long>(x)) + 1;
}
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  return __builtin_bswap32(x);
}
inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned shift) {
  const uint64_t v = (static_cast<uint64_t>(hi) << 32) | lo;
  return static_cast<unsigned>((v << (shift & 31u)) >> 32);
}
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned shift) {
  const uint64_t v = (static_cast<uint64_t>(hi) << 32) | lo;
  return static_cast<unsigned>(v >> (shift & 31u));
}
template <typename T>
T __ldg(const T* p) {
  return *p;
}
template <typename T>
T __ldcs(const T* p) {
  return *p;
}
template <typename T>
T __ldcg(const T* p) {
  return *p;
}
template <typename T>
void __stcs(T* p, T v) {
  *p = v;
}
template <typename T>
void __stcg(T* p, T v) {
  *p = v;
}
inline long long clock64() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
inline void __nanosleep(unsigned) {}
