// SPDX-License-Identifier: Apache-2.0
/// @brief GELU forward/backward on CPU with a vectorisable erfc (exact) and sigmoid (tanh form).
//
// gelu.cpp: elementwise GELU, both PyTorch variants.
// Shapes:  x, y, grad_y, grad_x (n) contiguous.
// Mapping: fixed chunks of kGrain elements over OpenMP threads; `omp simd` loops. glibc's erff,
//          tanhf and expf are opaque scalar calls that block vectorisation, so float uses
//          exp_fast (vec_math.h) and, for the exact form, Numerical Recipes' erfcc Chebyshev fit
//          (fractional error < 1.2e-7 for all z >= 0): Phi(x) = erfc(-x/sqrt2)/2 computed from the
//          tail that is small, so x Phi(x) keeps full relative precision for x << 0. float64 uses
//          std::erfc / std::exp (the reference path).
// Cost:    forward ~25 FLOP/element, 2n*sizeof(T) bytes; backward ~35 FLOP/element,
//          3n*sizeof(T) bytes: memory-bound once vectorised; floor = bytes / copy bandwidth.
// Tests: tests/kernels/test_gelu.cpp   Bench: benches/kernels/bench_gelu.cpp
#include <tessera/kernels/cpu/gelu.h>

#include <cmath>
#include <type_traits>

#include <tessera/error.h>
#include <tessera/kernels/cpu/compute_type.h>
#include <tessera/kernels/cpu/strided_loop.h>

#include "vec_math.h"

namespace tessera::kernels::cpu {
namespace {

using detail::exp_fast;

constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kCubic = 0.044715;

// erfc(z) for z >= 0 (Numerical Recipes erfcc), vectorisable in float.
TESSERA_ALWAYS_INLINE float erfc_nonneg(float z) {
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  return t * exp_fast(-z * z + p);
}
TESSERA_ALWAYS_INLINE double erfc_nonneg(double z) { return std::erfc(z); }

// Phi(x) = P(N(0,1) <= x), from the small tail.
template <typename A>
TESSERA_ALWAYS_INLINE A normal_cdf(A x) {
  const A tail = A(0.5) * erfc_nonneg(std::fabs(x) * static_cast<A>(kInvSqrt2));
  return x < A(0) ? tail : A(1) - tail;
}

template <typename A>
TESSERA_ALWAYS_INLINE A sigmoid_2u(A x) {
  const A u = static_cast<A>(kSqrt2OverPi) * (x + static_cast<A>(kCubic) * x * x * x);
  return A(1) / (A(1) + exp_fast(A(-2) * u));
}

template <typename A>
TESSERA_ALWAYS_INLINE A gelu_value(A x, GeluApproximation approx) {
  return approx == GeluApproximation::kTanh ? x * sigmoid_2u(x) : x * normal_cdf(x);
}

template <typename A>
TESSERA_ALWAYS_INLINE A gelu_grad(A x, GeluApproximation approx) {
  if (approx == GeluApproximation::kTanh) {
    const A s = sigmoid_2u(x);
    const A du = static_cast<A>(kSqrt2OverPi) * (A(1) + A(3) * static_cast<A>(kCubic) * x * x);
    return s + A(2) * x * s * (A(1) - s) * du;
  }
  return normal_cdf(x) + x * static_cast<A>(kInvSqrt2Pi) * exp_fast(A(-0.5) * x * x);
}

}  // namespace

template <typename T>
void gelu_forward(const T* x, T* y, int64_t n, GeluApproximation approx) {
  using A = compute_t<T>;
  TESSERA_CHECK(n >= 0, "gelu_forward: expected n >= 0, got ", n);
  if (n == 0) return;
  TESSERA_CHECK(x && y, "gelu_forward: x and y must be non-null");
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (approx == GeluApproximation::kTanh) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i)
        y[i] = static_cast<T>(gelu_value(static_cast<A>(x[i]), GeluApproximation::kTanh));
    } else {
#pragma omp simd
      for (int64_t i = b; i < e; ++i)
        y[i] = static_cast<T>(gelu_value(static_cast<A>(x[i]), GeluApproximation::kNone));
    }
  });
}

template <typename T>
void gelu_backward(const T* grad_y, const T* x, T* grad_x, int64_t n, GeluApproximation approx) {
  using A = compute_t<T>;
  TESSERA_CHECK(n >= 0, "gelu_backward: expected n >= 0, got ", n);
  if (n == 0) return;
  TESSERA_CHECK(grad_y && x && grad_x, "gelu_backward: grad_y, x and grad_x must be non-null");
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (approx == GeluApproximation::kTanh) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i)
        grad_x[i] = static_cast<T>(static_cast<A>(grad_y[i]) *
                                   gelu_grad(static_cast<A>(x[i]), GeluApproximation::kTanh));
    } else {
#pragma omp simd
      for (int64_t i = b; i < e; ++i)
        grad_x[i] = static_cast<T>(static_cast<A>(grad_y[i]) *
                                   gelu_grad(static_cast<A>(x[i]), GeluApproximation::kNone));
    }
  });
}

#define TESSERA_INSTANTIATE_GELU(T)                                        \
  template void gelu_forward<T>(const T*, T*, int64_t, GeluApproximation); \
  template void gelu_backward<T>(const T*, const T*, T*, int64_t, GeluApproximation);
TESSERA_INSTANTIATE_GELU(float)
TESSERA_INSTANTIATE_GELU(double)
TESSERA_INSTANTIATE_GELU(BFloat16)
TESSERA_INSTANTIATE_GELU(Float16)
#undef TESSERA_INSTANTIATE_GELU

}  // namespace tessera::kernels::cpu
