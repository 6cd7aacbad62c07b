// SPDX-License-Identifier: Apache-2.0
/// @brief GELU (exact and tanh) forward/backward against float64 references built from std::erf and
/// std::tanh (the reference backward checked with finite differences), all storage types.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/gelu.h>

#include "kernels/kernel_test_util.h"

using namespace tessera::kernels::cpu;
using tessera::BFloat16;
using tessera::Float16;
using namespace tessera::test;

namespace {

const double kPi = std::acos(-1.0);

double ref_gelu(double x, bool tanh_form) {
  if (tanh_form) return 0.5 * x * (1 + std::tanh(std::sqrt(2 / kPi) * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

double ref_gelu_grad(double x, bool tanh_form) {
  if (tanh_form) {
    const double u = std::sqrt(2 / kPi) * (x + 0.044715 * x * x * x);
    const double th = std::tanh(u);
    return 0.5 * (1 + th) +
           0.5 * x * (1 - th * th) * std::sqrt(2 / kPi) * (1 + 3 * 0.044715 * x * x);
  }
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * kPi);
}

}  // namespace

TEST_CASE("gelu float64 reference gradient matches finite differences", "[kernels][gelu]") {
  for (bool tf : {false, true})
    for (double x = -6; x <= 6; x += 0.37)
      CHECK(std::fabs((ref_gelu(x + 1e-6, tf) - ref_gelu(x - 1e-6, tf)) / 2e-6 -
                      ref_gelu_grad(x, tf)) < 1e-8);
}

TEMPLATE_TEST_CASE("gelu forward and backward match float64 reference", "[kernels][gelu]", float,
                   double, BFloat16, Float16) {
  using T = TestType;
  const int64_t n = GENERATE(0, 1, 17, 127, 129, 100003);
  const bool tanh_form = GENERATE(false, true);
  const auto approx = tanh_form ? GeluApproximation::kTanh : GeluApproximation::kNone;
  CAPTURE(n, tanh_form);
  std::mt19937_64 rng(n + 3);
  auto x = random_vec<T>(n, rng, -12, 12);
  auto gy = random_vec<T>(n, rng);
  if (n > 10) {
    x[0] = T(0.f);
    x[1] = T(-30.f);
    x[2] = T(30.f);
    x[3] = T(1e-3f);
  }
  const auto xd = to_double(x), gyd = to_double(gy);
  std::vector<double> ry(n), rg(n);
  for (int64_t i = 0; i < n; ++i) {
    ry[i] = ref_gelu(xd[i], tanh_form);
    rg[i] = gyd[i] * ref_gelu_grad(xd[i], tanh_form);
  }
  std::vector<T> y(n), gx(n);
  gelu_forward<T>(x.data(), y.data(), n, approx);
  gelu_backward<T>(gy.data(), x.data(), gx.data(), n, approx);
  // Absolute floor: y ~ x Phi(x) underflows towards 0 for x << 0.
  check_close("y", y, ry, Tol<T>::rtol, std::is_same_v<T, double> ? 1e-13 : Tol<T>::atol * 0.1);
  check_close("grad_x", gx, rg, Tol<T>::rtol,
              std::is_same_v<T, double> ? 1e-13 : Tol<T>::atol * 0.1);
}

TEST_CASE("gelu in place", "[kernels][gelu]") {
  std::vector<float> x = {-1.f, 0.5f, 2.f}, y(3);
  gelu_forward<float>(x.data(), y.data(), 3, GeluApproximation::kTanh);
  gelu_forward<float>(x.data(), x.data(), 3, GeluApproximation::kTanh);
  CHECK(same_bits(x, y));
  CHECK_THROWS_AS(gelu_forward<float>(x.data(), y.data(), -1, GeluApproximation::kNone),
                  tessera::Error);
}

TEST_CASE("gelu results do not depend on the thread count", "[kernels][gelu]") {
  std::mt19937_64 rng(6);
  const int64_t n = 200003;
  const auto x = random_vec<float>(n, rng, -8, 8), gy = random_vec<float>(n, rng);
  for (auto approx : {GeluApproximation::kNone, GeluApproximation::kTanh}) {
    auto run = [&](int threads) {
      std::vector<float> y(n), gx(n);
      with_threads(threads, [&] {
        gelu_forward<float>(x.data(), y.data(), n, approx);
        gelu_backward<float>(gy.data(), x.data(), gx.data(), n, approx);
      });
      return std::vector<std::vector<float>>{y, gx};
    };
    const auto a = run(1), b = run(2);
    for (size_t i = 0; i < a.size(); ++i) CHECK(same_bits(a[i], b[i]));
  }
}
