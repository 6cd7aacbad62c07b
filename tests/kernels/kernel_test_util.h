// SPDX-License-Identifier: Apache-2.0
/// @brief Shared helpers for the CPU kernel tests: random data, per-dtype tolerances, and a
/// comparison that reports the worst element (llm.c's check_tensor).
#pragma once

#include <omp.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <tessera/half.h>

namespace tessera::test {

/// Tolerance |got - ref| <= atol + rtol * |ref| per storage type. Float32 kernels accumulate in
/// float32 with vectorised orders and a ~2-ulp exp, so relative agreement is ~1e-6..1e-5; the
/// 16-bit types are limited by their storage rounding (bf16 8 bits, f16 11 bits of mantissa).
template <typename T>
struct Tol {
  static constexpr double rtol = 1e-5, atol = 1e-5;
};
template <>
struct Tol<double> {
  static constexpr double rtol = 1e-10, atol = 1e-11;
};
template <>
struct Tol<BFloat16> {
  static constexpr double rtol = 2e-2, atol = 2e-2;
};
template <>
struct Tol<Float16> {
  static constexpr double rtol = 4e-3, atol = 4e-3;
};

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, double>) return "float64";
  if constexpr (std::is_same_v<T, BFloat16>) return "bfloat16";
  return "float16";
}

/// Uniform values in [lo, hi) rounded to T; also returned as double (the exact stored values).
template <typename T>
std::vector<T> random_vec(int64_t n, std::mt19937_64& rng, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

template <typename T>
std::vector<double> to_double(const std::vector<T>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = static_cast<double>(static_cast<float>(v[i]));
  if constexpr (std::is_same_v<T, double>) r = v;
  return r;
}

/// Compares got against ref elementwise with atol + rtol*|ref|; infinities must match exactly and
/// no NaN is accepted. Reports max abs error, max error/tolerance and the worst index.
template <typename T>
void check_close(const std::string& what, const std::vector<T>& got, const std::vector<double>& ref,
                 double rtol = Tol<T>::rtol, double atol = Tol<T>::atol) {
  REQUIRE(got.size() == ref.size());
  if (got.empty()) return;
  double max_abs = 0, worst_ratio = 0;
  size_t worst = 0;
  bool bad_special = false;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = std::is_same_v<T, double> ? static_cast<double>(got[i])
                                               : static_cast<double>(static_cast<float>(got[i]));
    const double r = ref[i];
    if (std::isnan(g) || std::isinf(r) || std::isinf(g)) {
      if (std::isnan(g) || g != r) {
        bad_special = true;
        worst = i;
        worst_ratio = INFINITY;
      }
      continue;
    }
    const double err = std::fabs(g - r);
    const double ratio = err / (atol + rtol * std::fabs(r));
    max_abs = std::max(max_abs, err);
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  INFO(what << " [" << type_name<T>() << "]: max abs err " << max_abs << ", worst err/tol "
            << worst_ratio << " at index " << worst << " (got "
            << static_cast<double>(static_cast<float>(got[worst])) << ", ref " << ref[worst] << ")"
            << (bad_special ? " -- NaN/inf mismatch" : ""));
  CHECK(worst_ratio <= 1.0);
}

/// Bitwise equality of two buffers (thread-count invariance).
template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

/// Runs f() with the given OpenMP thread count, restoring the previous one.
template <typename F>
void with_threads(int n, F f) {
  const int old = omp_get_max_threads();
  omp_set_num_threads(n);
  f();
  omp_set_num_threads(old);
}

}  // namespace tessera::test
