// SPDX-License-Identifier: Apache-2.0
/// @brief LayerNorm CPU kernels against a float64 reference (forward, fused residual, backward),
/// the reference backward against finite differences, and thread-count invariance.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/layer_norm.h>

#include "kernels/kernel_test_util.h"

using namespace tessera::kernels::cpu;
using tessera::BFloat16;
using tessera::Float16;
using namespace tessera::test;

namespace {

struct RefOut {
  std::vector<double> y, mean, rstd;
};

// Unfused float64 composition: mean, then variance, then normalise, scale and shift.
RefOut ref_forward(const std::vector<double>& x, const std::vector<double>& w,
                   const std::vector<double>& b, int64_t rows, int64_t cols, double eps) {
  RefOut o{std::vector<double>(rows * cols), std::vector<double>(rows), std::vector<double>(rows)};
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0;
    for (int64_t j = 0; j < cols; ++j) m += x[r * cols + j];
    m /= cols;
    double v = 0;
    for (int64_t j = 0; j < cols; ++j) v += (x[r * cols + j] - m) * (x[r * cols + j] - m);
    v /= cols;
    const double s = 1.0 / std::sqrt(v + eps);
    for (int64_t j = 0; j < cols; ++j)
      o.y[r * cols + j] =
          (x[r * cols + j] - m) * s * (w.empty() ? 1.0 : w[j]) + (b.empty() ? 0.0 : b[j]);
    o.mean[r] = m;
    o.rstd[r] = s;
  }
  return o;
}

// Analytic float64 backward (checked against finite differences below).
void ref_backward(const std::vector<double>& gy, const std::vector<double>& x,
                  const std::vector<double>& w, int64_t rows, int64_t cols, double eps,
                  std::vector<double>& gx, std::vector<double>& gw, std::vector<double>& gb) {
  const RefOut f = ref_forward(x, w, {}, rows, cols, eps);
  gx.assign(rows * cols, 0);
  gw.assign(cols, 0);
  gb.assign(cols, 0);
  for (int64_t r = 0; r < rows; ++r) {
    double sg = 0, sgx = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const double xh = (x[r * cols + j] - f.mean[r]) * f.rstd[r];
      const double g = gy[r * cols + j] * (w.empty() ? 1.0 : w[j]);
      sg += g;
      sgx += g * xh;
      gw[j] += gy[r * cols + j] * xh;
      gb[j] += gy[r * cols + j];
    }
    for (int64_t j = 0; j < cols; ++j) {
      const double xh = (x[r * cols + j] - f.mean[r]) * f.rstd[r];
      const double g = gy[r * cols + j] * (w.empty() ? 1.0 : w[j]);
      gx[r * cols + j] = f.rstd[r] * (g - sg / cols - xh * sgx / cols);
    }
  }
}

template <typename T>
std::vector<double> as_double(const std::vector<T>& v) {
  return to_double(v);
}

}  // namespace

TEST_CASE("layer_norm float64 reference backward matches finite differences",
          "[kernels][layer_norm]") {
  std::mt19937_64 rng(1);
  const int64_t rows = 3, cols = 7;
  const double eps = 1e-5;
  auto x = as_double(random_vec<double>(rows * cols, rng));
  auto w = as_double(random_vec<double>(cols, rng));
  auto b = as_double(random_vec<double>(cols, rng));
  auto gy = as_double(random_vec<double>(rows * cols, rng));
  std::vector<double> gx, gw, gb;
  ref_backward(gy, x, w, rows, cols, eps, gx, gw, gb);
  auto loss = [&](const std::vector<double>& xx, const std::vector<double>& ww,
                  const std::vector<double>& bb) {
    const auto y = ref_forward(xx, ww, bb, rows, cols, eps).y;
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i) l += y[i] * gy[i];
    return l;
  };
  const double h = 1e-6;
  for (size_t i = 0; i < x.size(); ++i) {
    auto xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    CHECK(std::fabs((loss(xp, w, b) - loss(xm, w, b)) / (2 * h) - gx[i]) < 1e-7);
  }
  for (int64_t j = 0; j < cols; ++j) {
    auto wp = w, wm = w, bp = b, bm = b;
    wp[j] += h;
    wm[j] -= h;
    bp[j] += h;
    bm[j] -= h;
    CHECK(std::fabs((loss(x, wp, b) - loss(x, wm, b)) / (2 * h) - gw[j]) < 1e-7);
    CHECK(std::fabs((loss(x, w, bp) - loss(x, w, bm)) / (2 * h) - gb[j]) < 1e-7);
  }
}

TEMPLATE_TEST_CASE("layer_norm forward and backward match float64 reference",
                   "[kernels][layer_norm]", float, double, BFloat16, Float16) {
  using T = TestType;
  using A = compute_t<T>;
  const int64_t rows = GENERATE(1, 17, 130);
  const int64_t cols = GENERATE(1, 17, 127, 129, 1024);
  const bool affine = GENERATE(true, false);
  // A large common offset breaks a naive sum/sumsq variance; float64 and float32 must survive it.
  const double offset = (std::is_same_v<T, float> || std::is_same_v<T, double>) ? 300.0 : 0.0;
  CAPTURE(rows, cols, affine);
  std::mt19937_64 rng(rows * 1000 + cols);
  const float eps = 1e-5f;
  auto x = random_vec<T>(rows * cols, rng, offset - 1, offset + 1);
  auto w = affine ? random_vec<T>(cols, rng, 0.5, 1.5) : std::vector<T>{};
  auto b = affine ? random_vec<T>(cols, rng) : std::vector<T>{};
  auto gy = random_vec<T>(rows * cols, rng);
  const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), gyd = to_double(gy);
  const RefOut ref = ref_forward(xd, wd, bd, rows, cols, eps);

  std::vector<T> y(rows * cols);
  std::vector<A> mean(rows), rstd(rows);
  layer_norm_forward<T>(x.data(), affine ? w.data() : nullptr, affine ? b.data() : nullptr,
                        y.data(), mean.data(), rstd.data(), rows, cols, eps);
  // With offset 300 a float32 input's deviations carry ~1e-5 relative rounding: the relative
  // error of y is that of (x - mean), amplified by offset/std ~ 500 in the worst element.
  const double amp = std::is_same_v<T, float> ? 50.0 : 1.0;
  check_close("y", y, ref.y, Tol<T>::rtol * amp, Tol<T>::atol * amp);
  check_close("mean", mean, ref.mean, Tol<T>::rtol, Tol<T>::atol);
  check_close("rstd", rstd, ref.rstd, Tol<T>::rtol * amp, Tol<T>::atol * amp);

  // Backward: grad_weight/grad_bias accumulate onto existing values.
  std::vector<double> rgx, rgw, rgb;
  ref_backward(gyd, xd, wd, rows, cols, eps, rgx, rgw, rgb);
  std::vector<T> gx(rows * cols), gw(cols, T(0.25f)), gb(cols, T(-0.5f));
  layer_norm_backward<T>(gy.data(), x.data(), affine ? w.data() : nullptr, mean.data(), rstd.data(),
                         nullptr, gx.data(), gw.data(), gb.data(), rows, cols);
  for (auto& v : rgw) v += 0.25;
  for (auto& v : rgb) v -= 0.5;
  // Gradients sum over rows (grad_w, grad_b) or have cancellations of order C (grad_x).
  const double gtol = std::is_same_v<T, double> ? 1e-9 : (std::is_same_v<T, float> ? 2e-4 : 1.0);
  const double g16 = std::is_same_v<T, BFloat16> ? 6e-2 : 2e-2;
  if constexpr (std::is_same_v<T, BFloat16> || std::is_same_v<T, Float16>) {
    check_close("grad_x", gx, rgx, g16, g16);
    check_close("grad_weight", gw, rgw, g16, g16 * std::sqrt(double(rows)));
    check_close("grad_bias", gb, rgb, g16, g16);
  } else {
    check_close("grad_x", gx, rgx, gtol * amp, gtol * amp);
    check_close("grad_weight", gw, rgw, gtol * amp, gtol * amp);
    check_close("grad_bias", gb, rgb, gtol, gtol);
  }
}

TEMPLATE_TEST_CASE("add_layer_norm fuses the residual add and backward adds grad_extra",
                   "[kernels][layer_norm]", float, double, BFloat16) {
  using T = TestType;
  using A = compute_t<T>;
  const int64_t rows = GENERATE(1, 17), cols = GENERATE(17, 129);
  std::mt19937_64 rng(7 + cols);
  const float eps = 1e-5f;
  auto x = random_vec<T>(rows * cols, rng), r = random_vec<T>(rows * cols, rng);
  auto w = random_vec<T>(cols, rng, 0.5, 1.5), b = random_vec<T>(cols, rng);
  auto gy = random_vec<T>(rows * cols, rng), ge = random_vec<T>(rows * cols, rng);
  std::vector<T> ro(rows * cols), y(rows * cols);
  std::vector<A> mean(rows), rstd(rows);
  add_layer_norm_forward<T>(x.data(), r.data(), ro.data(), w.data(), b.data(), y.data(),
                            mean.data(), rstd.data(), rows, cols, eps);
  std::vector<double> sum(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    sum[i] = static_cast<float>(x[i]) + static_cast<float>(r[i]);
  if constexpr (std::is_same_v<T, double>)
    for (int64_t i = 0; i < rows * cols; ++i) sum[i] = x[i] + r[i];
  check_close("residual_out", ro, sum);
  const auto rod = to_double(ro);  // LayerNorm normalises the stored sum
  check_close("y", y, ref_forward(rod, to_double(w), to_double(b), rows, cols, eps).y);

  std::vector<double> rgx, rgw, rgb;
  ref_backward(to_double(gy), rod, to_double(w), rows, cols, eps, rgx, rgw, rgb);
  const auto ged = to_double(ge);
  for (size_t i = 0; i < rgx.size(); ++i) rgx[i] += ged[i];
  // grad_extra aliasing grad_x: the residual stream's gradient buffer is updated in place.
  std::vector<T> gx = ge;
  layer_norm_backward<T>(gy.data(), ro.data(), w.data(), mean.data(), rstd.data(), gx.data(),
                         gx.data(), nullptr, nullptr, rows, cols);
  const double tol = std::is_same_v<T, BFloat16> ? 6e-2 : Tol<T>::rtol * 20;
  check_close("grad_x", gx, rgx, tol, tol);
}

TEST_CASE("add_layer_norm in place over the residual stream", "[kernels][layer_norm]") {
  const int64_t rows = 5, cols = 33;
  std::mt19937_64 rng(17);
  auto x = random_vec<float>(rows * cols, rng), r = random_vec<float>(rows * cols, rng);
  auto w = random_vec<float>(cols, rng), b = random_vec<float>(cols, rng);
  std::vector<float> ro(rows * cols), y(rows * cols), y2(rows * cols), m(rows), s(rows);
  add_layer_norm_forward<float>(x.data(), r.data(), ro.data(), w.data(), b.data(), y.data(),
                                m.data(), s.data(), rows, cols, 1e-5f);
  std::vector<float> stream = r;  // residual_out aliases residual
  add_layer_norm_forward<float>(x.data(), stream.data(), stream.data(), w.data(), b.data(),
                                y2.data(), m.data(), s.data(), rows, cols, 1e-5f);
  CHECK(same_bits(stream, ro));
  CHECK(same_bits(y2, y));
}

TEST_CASE("layer_norm results do not depend on the thread count", "[kernels][layer_norm]") {
  const int64_t rows = 301, cols = 257;
  std::mt19937_64 rng(3);
  auto x = random_vec<float>(rows * cols, rng), w = random_vec<float>(cols, rng);
  auto b = random_vec<float>(cols, rng), gy = random_vec<float>(rows * cols, rng);
  auto run = [&](int threads) {
    std::vector<float> y(rows * cols), mean(rows), rstd(rows), gx(rows * cols), gw(cols), gb(cols);
    with_threads(threads, [&] {
      layer_norm_forward<float>(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(),
                                rows, cols, 1e-5f);
      layer_norm_backward<float>(gy.data(), x.data(), w.data(), mean.data(), rstd.data(), nullptr,
                                 gx.data(), gw.data(), gb.data(), rows, cols);
    });
    return std::vector<std::vector<float>>{y, mean, rstd, gx, gw, gb};
  };
  // 3 threads on 2 cores too: chunking depends on the sizes only, never on the team.
  const auto a = run(1), c = run(2), d = run(3);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(same_bits(a[i], c[i]));
    CHECK(same_bits(a[i], d[i]));
  }
}

TEST_CASE("layer_norm rejects bad sizes", "[kernels][layer_norm]") {
  float x = 0, y = 0;
  CHECK_THROWS_AS(
      layer_norm_forward<float>(&x, nullptr, nullptr, &y, nullptr, nullptr, -1, 4, 1e-5f),
      tessera::Error);
  CHECK_THROWS_AS(layer_norm_forward<float>(&x, nullptr, nullptr, &y, nullptr, nullptr, 1, 1, -1.f),
                  tessera::Error);
  // Zero rows is a no-op, even with null pointers.
  CHECK_NOTHROW(
      layer_norm_forward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 4, 1e-5f));
}

// NOTE [layer_norm AVX-512 path] (kernels/cpu/layer_norm.cpp): float32 rows with C >= 64 take
// their statistics from one Welford pass over d = x - x[0] (64 lanes, merged by Chan's formula)
// instead of the corrected two-pass sums. This pins its error against float64 statistics of the
// same stored float32 inputs, on rows built to hurt: |mean|/std up to 3e4, a first element 50
// std from the mean (the shift), monotone ramps, and C from 64 to 4103 (a tail after the 64-lane
// steps). Bound checked (u = 2^-24, k = C/64 elements per lane, 6 + 1 merge levels):
//   |var - var64| / var64  <= 4 (k + 8) u (1 + |x[0] - mean| / std)
//   |mean - mean64|        <= 2 u |mean| + 4 (k + 8) u |x[0] - mean|  + u std
// (var tested through rstd with eps = 0: rstd's relative error is half of var's). Generic-path
// rows (C < 64, 16-bit types, non-AVX-512 builds) keep the two-pass statistics and pass too.
TEST_CASE("layer_norm float32 statistics stay within the stated bound for hard rows",
          "[kernels][layer_norm]") {
  const double u = std::ldexp(1.0, -24);
  const int64_t cols = GENERATE(64, 100, 768, 1024, 4103);
  const int kind =
      GENERATE(0, 1, 2, 3, 4);  // plain, offset 300 std 0.01, offset 1e4, outlier, ramp
  CAPTURE(cols, kind);
  const int64_t rows = 8;
  std::mt19937_64 rng(cols * 10 + kind);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<float> x(rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) {
      double v = nd(rng);
      if (kind == 1) v = 300.0 + 0.01 * v;
      if (kind == 2) v = 1e4 + v;
      if (kind == 3) v = 5.0 + v + (j == 0 ? 50.0 : 0.0);
      if (kind == 4) v = -7.0 + 3.0 * static_cast<double>(j) / cols;
      x[r * cols + j] = static_cast<float>(v);
    }
  }
  std::vector<float> y(rows * cols), mean(rows), rstd(rows);
  layer_norm_forward<float>(x.data(), nullptr, nullptr, y.data(), mean.data(), rstd.data(), rows,
                            cols, 0.f);
  const auto xd = to_double(x);
  const RefOut ref = ref_forward(xd, {}, {}, rows, cols, 0.0);
  const double k = static_cast<double>(cols) / 64;
  double worst = 0;  // largest error / bound over rows and both statistics
  for (int64_t r = 0; r < rows; ++r) {
    const double m = ref.mean[r], sd = 1.0 / ref.rstd[r], shift = std::fabs(xd[r * cols] - m) / sd;
    const double var_bound = 4 * (k + 8) * u * (1 + shift);
    const double var_err = 2 * std::fabs(rstd[r] - ref.rstd[r]) / ref.rstd[r];
    const double mean_bound = 2 * u * std::fabs(m) + 4 * (k + 8) * u * shift * sd + u * sd;
    const double mean_err = std::fabs(mean[r] - m);
    worst = std::max({worst, var_err / var_bound, mean_err / mean_bound});
  }
  INFO("largest error / bound " << worst);
  CHECK(worst <= 1.0);
}

// Outputs of >= 16 MiB are written with non-temporal stores (NOTE [streaming stores] in
// kernels/cpu/vec_math.h), after a peel to a 64-byte boundary: odd C makes every row start at a
// different alignment. Forward and backward against the float64 reference.
TEST_CASE("layer_norm large outputs (streaming stores) match float64 reference",
          "[kernels][layer_norm]") {
  const int64_t rows = 4099, cols = 1031;  // 16.9 MB of float32 output
  std::mt19937_64 rng(11);
  auto x = random_vec<float>(rows * cols, rng), gy = random_vec<float>(rows * cols, rng);
  auto w = random_vec<float>(cols, rng, 0.5, 1.5), b = random_vec<float>(cols, rng);
  std::vector<float> y(rows * cols), mean(rows), rstd(rows), gx(rows * cols), gw(cols), gb(cols);
  layer_norm_forward<float>(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), rows,
                            cols, 1e-5f);
  const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), gyd = to_double(gy);
  const RefOut ref = ref_forward(xd, wd, bd, rows, cols, 1e-5);
  check_close("y", y, ref.y);
  layer_norm_backward<float>(gy.data(), x.data(), w.data(), mean.data(), rstd.data(), nullptr,
                             gx.data(), gw.data(), gb.data(), rows, cols);
  std::vector<double> rgx, rgw, rgb;
  ref_backward(gyd, xd, wd, rows, cols, 1e-5, rgx, rgw, rgb);
  check_close("grad_x", gx, rgx, 2e-4, 2e-4);
  check_close("grad_weight", gw, rgw, 2e-4, 2e-4 * std::sqrt(static_cast<double>(rows)));
  check_close("grad_bias", gb, rgb, 2e-4, 2e-4 * std::sqrt(static_cast<double>(rows)));
}
