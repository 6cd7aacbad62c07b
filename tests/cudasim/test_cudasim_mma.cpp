// SPDX-License-Identifier: Apache-2.0
/// @brief mma.m16n8k16 and ldmatrix emulation against a float64 product; wrong layouts must fail.
///
/// Inputs are rounded to bf16/f16 on the host (tessera::BFloat16/Float16, RNE like CUDA's
/// __float2bfloat16/__float2half), so the reference is exact up to the float32 accumulation:
/// tolerance 1e-5 * sum_k |a||b| + |c|.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <tessera/half.h>

#include "cudasim/cudasim_test_kernels.h"

namespace ct = tessera::cudasim_test;

namespace {

std::vector<float> random_matrix(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> m(static_cast<size_t>(n));
  for (float& v : m) v = dist(rng);
  return m;
}

float round16(float v, bool bf16) {
  return bf16 ? static_cast<float>(tessera::BFloat16(v)) : static_cast<float>(tessera::Float16(v));
}

/// Largest |d - ref| / tolerance for D = A(16xK=16) * B(16xN) + C, all row-major.
double max_scaled_error(const std::vector<float>& a, const std::vector<float>& b,
                        const std::vector<float>* c, const std::vector<float>& d, int ncols,
                        bool bf16) {
  double worst = 0.0;
  for (int m = 0; m < 16; ++m) {
    for (int n = 0; n < ncols; ++n) {
      double ref = c ? (*c)[m * ncols + n] : 0.0, mag = c ? std::abs(ref) : 0.0;
      for (int k = 0; k < 16; ++k) {
        const double p =
            static_cast<double>(round16(a[m * 16 + k], bf16)) * round16(b[k * ncols + n], bf16);
        ref += p;
        mag += std::abs(p);
      }
      const double tol = 1e-5 * mag + 1e-6;
      worst = std::max(worst, std::abs(d[m * ncols + n] - ref) / tol);
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("cudasim: mma.m16n8k16 fragments round-trip against a float64 product",
          "[cudasim][mma]") {
  const bool bf16 = GENERATE(true, false);
  const auto a = random_matrix(256, 1), b = random_matrix(128, 2), c = random_matrix(128, 3);
  std::vector<float> d(128, 0.0f);
  ct::mma_direct(a.data(), b.data(), c.data(), d.data(), bf16, false);
  INFO((bf16 ? "bf16" : "f16"));
  REQUIRE(max_scaled_error(a, b, &c, d, 8, bf16) <= 1.0);

  // A kernel with a layout mistake (A registers 1 and 2 swapped) must get a wrong product.
  ct::mma_direct(a.data(), b.data(), c.data(), d.data(), bf16, true);
  REQUIRE(max_scaled_error(a, b, &c, d, 8, bf16) > 1000.0);
}

TEST_CASE("cudasim: ldmatrix x1/x2/x4 and .trans feed mma correctly", "[cudasim][mma][ldmatrix]") {
  const auto a = random_matrix(256, 4), b = random_matrix(256, 5);
  for (int variant = 0; variant < 4; ++variant) {
    std::vector<float> d(256, 0.0f);
    ct::mma_ldmatrix(a.data(), b.data(), d.data(), variant);
    INFO("variant " << variant);
    REQUIRE(max_scaled_error(a, b, nullptr, d, 16, true) <= 1.0);
  }
  // Row-major B loaded without .trans gives B^T fragments: wrong product.
  std::vector<float> d(256, 0.0f);
  ct::mma_ldmatrix(a.data(), b.data(), d.data(), 4);
  REQUIRE(max_scaled_error(a, b, nullptr, d, 16, true) > 1000.0);
}

TEST_CASE("cudasim: cp.async lands only when waited for", "[cudasim][cp_async]") {
  const int n = 2048;
  std::vector<float> x(n), y(n, 0.0f);
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>(i) - 17.5f;
  ct::cp_async_copy(x.data(), y.data(), n, true);
  REQUIRE(y == x);
  // Reading shared memory before cp.async.wait_group sees the poisoned (NaN) buffer.
  ct::cp_async_copy(x.data(), y.data(), n, false);
  // (Which chunks are stale depends on the schedule: a thread's own wait retires its copies.)
  int stale = 0;
  for (int i = 0; i < n; ++i) {
    if ((i % 512) < 256) {
      stale += std::isnan(y[i]) ? 1 : 0;
      if (!std::isnan(y[i])) REQUIRE(y[i] == x[i]);
    } else {
      REQUIRE(y[i] == x[i]);  // the second half is read after cp.async.wait_group 0
    }
  }
  REQUIRE(stale > 0);
}
