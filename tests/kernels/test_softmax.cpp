// SPDX-License-Identifier: Apache-2.0
/// @brief Softmax / log-softmax CPU kernels against float64 references: scale, additive and causal
/// masks, fully masked rows, long rows (online max), backward, thread-count invariance.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/softmax.h>

#include "../../kernels/cpu/vec_math.h"  // private: the vectorisable exp under test
#include "kernels/kernel_test_util.h"

using namespace tessera::kernels::cpu;
using tessera::BFloat16;
using tessera::Float16;
using namespace tessera::test;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Unfused float64 reference: z, max, exp, sum, divide (or subtract the log-sum-exp).
std::vector<double> ref_forward(const std::vector<double>& x, int64_t rows, int64_t cols,
                                const SoftmaxOptions& o, bool log) {
  std::vector<double> y(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> z(cols);
    double m = -kInf;
    for (int64_t j = 0; j < cols; ++j) {
      z[j] = o.scale * x[r * cols + j];
      if (o.additive) z[j] += o.additive[(r % o.mask_rows) * cols + j];
      if (o.causal && j > r % o.causal_rows + o.causal_offset) z[j] = -kInf;
      m = std::max(m, z[j]);
    }
    double s = 0;
    for (int64_t j = 0; j < cols; ++j) s += m == -kInf ? 0.0 : std::exp(z[j] - m);
    for (int64_t j = 0; j < cols; ++j) {
      if (m == -kInf)
        y[r * cols + j] = log ? -kInf : 0.0;
      else
        y[r * cols + j] = log ? z[j] - m - std::log(s) : std::exp(z[j] - m) / s;
    }
  }
  return y;
}

// Analytic float64 backward from the reference output.
std::vector<double> ref_backward(const std::vector<double>& y, const std::vector<double>& gy,
                                 int64_t rows, int64_t cols, double scale, bool log) {
  std::vector<double> gx(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0;
    for (int64_t j = 0; j < cols; ++j)
      dot += log ? gy[r * cols + j] : gy[r * cols + j] * y[r * cols + j];
    for (int64_t j = 0; j < cols; ++j) {
      const double yj = y[r * cols + j], g = gy[r * cols + j];
      gx[r * cols + j] =
          log ? (yj == -kInf ? 0.0 : scale * (g - std::exp(yj) * dot)) : scale * yj * (g - dot);
    }
  }
  return gx;
}

}  // namespace

TEST_CASE("exp_fast is within 2 ulp of exp and handles -inf, +inf, NaN", "[kernels][softmax]") {
  using tessera::kernels::cpu::detail::exp_fast;
  double worst = 0;
  for (float x = -87.3f; x < 88.3f; x += 0.0007f) {
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(exp_fast(x) - ref) / ref);
  }
  INFO("max relative error " << worst);
  CHECK(worst < 2 * 5.97e-8);
  CHECK(exp_fast(-INFINITY) == 0.f);
  CHECK(exp_fast(-100.f) == 0.f);
  CHECK(exp_fast(0.f) == 1.f);
  CHECK(exp_fast(INFINITY) == INFINITY);
  CHECK(std::isnan(exp_fast(NAN)));
}

#if defined(__AVX512F__)
// NOTE [AVX-512 exp] (kernels/cpu/vec_math.h): the 16-lane exp behind softmax's AVX-512 path.
TEST_CASE("exp512 is within 2 ulp of exp and handles -inf, +inf, NaN, out-of-range",
          "[kernels][softmax]") {
  using tessera::kernels::cpu::detail::exp512;
  auto at = [](float x) {
    float out[16];
    _mm512_storeu_ps(out, exp512(_mm512_set1_ps(x)));
    return out[0];
  };
  double worst = 0;
  float xs[16], out[16];
  for (float x0 = -87.3f; x0 < 88.7f; x0 += 16 * 0.0007f) {
    for (int i = 0; i < 16; ++i) xs[i] = std::min(88.7f, x0 + 0.0007f * i);
    _mm512_storeu_ps(out, exp512(_mm512_loadu_ps(xs)));
    for (int i = 0; i < 16; ++i) {
      const double ref = std::exp(static_cast<double>(xs[i]));
      worst = std::max(worst, std::fabs(out[i] - ref) / ref);
    }
  }
  INFO("max relative error " << worst);
  CHECK(worst < 2 * 5.97e-8);
  CHECK(at(-INFINITY) == 0.f);
  CHECK(at(-87.5f) == 0.f);
  CHECK(at(-100.f) == 0.f);
  CHECK(at(-1e30f) == 0.f);
  CHECK(at(0.f) == 1.f);
  CHECK(at(88.8f) == INFINITY);
  CHECK(at(1e30f) == INFINITY);
  CHECK(at(INFINITY) == INFINITY);
  CHECK(std::isnan(at(NAN)));
  CHECK(std::isnan(at(-NAN)));
}
#endif

TEST_CASE("softmax float64 reference backward matches finite differences", "[kernels][softmax]") {
  std::mt19937_64 rng(5);
  const int64_t rows = 2, cols = 6;
  SoftmaxOptions o;
  o.scale = 0.7f;
  auto x = random_vec<double>(rows * cols, rng, -2, 2), gy = random_vec<double>(rows * cols, rng);
  for (bool log : {false, true}) {
    const auto gx = ref_backward(ref_forward(x, rows, cols, o, log), gy, rows, cols, o.scale, log);
    const double h = 1e-6;
    for (int64_t i = 0; i < rows * cols; ++i) {
      auto xp = x, xm = x;
      xp[i] += h;
      xm[i] -= h;
      const auto yp = ref_forward(xp, rows, cols, o, log), ym = ref_forward(xm, rows, cols, o, log);
      double fd = 0;
      for (int64_t k = 0; k < rows * cols; ++k) fd += gy[k] * (yp[k] - ym[k]) / (2 * h);
      CHECK(std::fabs(fd - gx[i]) < 1e-7);
    }
  }
}

TEMPLATE_TEST_CASE("softmax and log_softmax match float64 reference", "[kernels][softmax]", float,
                   double, BFloat16, Float16) {
  using T = TestType;
  const int64_t cols = GENERATE(1, 17, 127, 129, 1000, 5000);
  const int64_t rows = cols >= 1000 ? 9 : GENERATE(1, 17, 130);
  const int mode = GENERATE(0, 1, 2, 3);  // plain, additive mask, causal square, causal offset
  const bool log = GENERATE(false, true);
  CAPTURE(rows, cols, mode, log);
  std::mt19937_64 rng(cols * 31 + rows + mode);
  auto x = random_vec<T>(rows * cols, rng, -4, 4);
  auto gy = random_vec<T>(rows * cols, rng);
  SoftmaxOptions o;
  o.scale = 0.5f;
  std::vector<float> mask;
  if (mode == 1) {
    const int64_t mrows = std::min<int64_t>(rows, 5);
    mask.resize(mrows * cols);
    std::uniform_real_distribution<float> d(-2, 2);
    for (auto& v : mask) v = d(rng) < -1.f ? -INFINITY : d(rng);
    for (int64_t j = 0; j < cols; ++j) mask[j] = -INFINITY;  // mask row 0 is fully masked
    o.additive = mask.data();
    o.mask_rows = mrows;
  } else if (mode == 2) {
    o.causal = true;
    o.causal_rows = std::max<int64_t>(1, rows / 2);
  } else if (mode == 3) {
    o.causal = true;
    o.causal_rows = rows;
    o.causal_offset = -3;  // the first three queries see nothing: fully masked rows
  }
  const auto xd = to_double(x);
  const auto ref = ref_forward(xd, rows, cols, o, log);
  std::vector<T> y(rows * cols);
  if (log)
    log_softmax_forward<T>(x.data(), y.data(), rows, cols, o);
  else
    softmax_forward<T>(x.data(), y.data(), rows, cols, o);
  check_close("y", y, ref);

  // Backward from the kernel's own output (what autograd saves); reference from the same y.
  const auto yd = to_double(y);
  const auto rgx = ref_backward(yd, to_double(gy), rows, cols, o.scale, log);
  std::vector<T> gx(rows * cols);
  if (log)
    log_softmax_backward<T>(y.data(), gy.data(), gx.data(), rows, cols, o.scale);
  else
    softmax_backward<T>(y.data(), gy.data(), gx.data(), rows, cols, o.scale);
  // log_softmax's backward sums grad_y over the row: error grows like sqrt(C) in float32.
  const double k = std::is_same_v<T, float> ? (log ? 10.0 : 1.0) : 1.0;
  check_close("grad_x", gx, rgx, Tol<T>::rtol * k, Tol<T>::atol * k);
  int64_t nans = 0;
  for (size_t i = 0; i < y.size(); ++i) nans += std::isnan(static_cast<float>(gx[i]));
  CHECK(nans == 0);
}

TEST_CASE("softmax of fully masked rows is zero, log_softmax is -inf, no NaN",
          "[kernels][softmax]") {
  const int64_t rows = 4, cols = 9;
  std::vector<float> x(rows * cols, 1.f), y(rows * cols, 7.f), gx(rows * cols, 7.f),
      gy(rows * cols, 1.f);
  std::vector<float> mask(cols, -INFINITY);
  SoftmaxOptions o;
  o.additive = mask.data();
  o.mask_rows = 1;
  softmax_forward<float>(x.data(), y.data(), rows, cols, o);
  for (float v : y) CHECK(v == 0.f);
  softmax_backward<float>(y.data(), gy.data(), gx.data(), rows, cols);
  for (float v : gx) CHECK(v == 0.f);
  log_softmax_forward<float>(x.data(), y.data(), rows, cols, o);
  for (float v : y) CHECK(v == -INFINITY);
  log_softmax_backward<float>(y.data(), gy.data(), gx.data(), rows, cols);
  for (float v : gx) CHECK(v == 0.f);
}

TEST_CASE("softmax and log_softmax in place (y aliases x)", "[kernels][softmax]") {
  const int64_t rows = 7, cols = 1500;  // several online blocks per row
  std::mt19937_64 rng(23);
  auto x = random_vec<float>(rows * cols, rng, -8, 8);
  SoftmaxOptions o;
  o.scale = 1.5f;
  o.causal = true;
  o.causal_rows = rows;
  o.causal_offset = 1000;
  for (bool log : {false, true}) {
    std::vector<float> y(rows * cols), inplace = x;
    if (log) {
      log_softmax_forward<float>(x.data(), y.data(), rows, cols, o);
      log_softmax_forward<float>(inplace.data(), inplace.data(), rows, cols, o);
    } else {
      softmax_forward<float>(x.data(), y.data(), rows, cols, o);
      softmax_forward<float>(inplace.data(), inplace.data(), rows, cols, o);
    }
    CHECK(same_bits(inplace, y));
  }
}

TEST_CASE("softmax handles extreme logits", "[kernels][softmax]") {
  std::vector<float> x = {1e30f, -1e30f, 0.f, 88.f, -88.f, 1e30f};
  std::vector<float> y(6);
  softmax_forward<float>(x.data(), y.data(), 1, 6);
  CHECK(y[0] == 0.5f);
  CHECK(y[5] == 0.5f);
  CHECK(y[1] == 0.f);
  std::vector<double> xd = {1e300, -1e300, 0.0}, yd(3);
  softmax_forward<double>(xd.data(), yd.data(), 1, 3);
  CHECK(yd[0] == 1.0);
}

TEST_CASE("softmax results do not depend on the thread count", "[kernels][softmax]") {
  const int64_t rows = 97, cols = 3001;
  std::mt19937_64 rng(9);
  auto x = random_vec<float>(rows * cols, rng, -5, 5), gy = random_vec<float>(rows * cols, rng);
  SoftmaxOptions o;
  o.causal = true;
  o.causal_rows = rows;
  o.causal_offset = cols - rows;
  auto run = [&](int threads) {
    std::vector<float> y(rows * cols), gx(rows * cols), ly(rows * cols), lgx(rows * cols);
    with_threads(threads, [&] {
      softmax_forward<float>(x.data(), y.data(), rows, cols, o);
      softmax_backward<float>(y.data(), gy.data(), gx.data(), rows, cols);
      log_softmax_forward<float>(x.data(), ly.data(), rows, cols, o);
      log_softmax_backward<float>(ly.data(), gy.data(), lgx.data(), rows, cols);
    });
    return std::vector<std::vector<float>>{y, gx, ly, lgx};
  };
  // 3 threads on 2 cores too: chunking depends on the sizes only, never on the team.
  const auto a = run(1), b = run(2), d = run(3);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(same_bits(a[i], b[i]));
    CHECK(same_bits(a[i], d[i]));
  }
}

TEST_CASE("softmax rejects inconsistent options", "[kernels][softmax]") {
  float x = 0, y = 0;
  SoftmaxOptions o;
  o.causal = true;  // causal_rows missing
  CHECK_THROWS_AS(softmax_forward<float>(&x, &y, 1, 1, o), tessera::Error);
  CHECK_THROWS_AS(softmax_forward<float>(&x, &y, -1, 1), tessera::Error);
}
