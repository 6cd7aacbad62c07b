// SPDX-License-Identifier: Apache-2.0
/// @brief Fused cross-entropy CPU kernel against a float64 reference: label smoothing,
/// ignore_index, reductions, fused and separate backward (in place too), thread invariance.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/cross_entropy.h>

#include "kernels/kernel_test_util.h"

using namespace tessera::kernels::cpu;
using tessera::BFloat16;
using tessera::Float16;
using namespace tessera::test;

namespace {

// One name without template commas, for Catch's macros.
double ce_f32(const float* x, const int64_t* t, int64_t rows, int64_t vocab,
              const CrossEntropyOptions& o, float* row_loss, float* lse, float* grad = nullptr,
              float grad_loss = 1.f) {
  return cross_entropy_forward<float, int64_t>(x, t, rows, vocab, o, row_loss, lse, grad,
                                               grad_loss);
}

struct Ref {
  std::vector<double> row_loss, lse, grad;  // grad of sum_r w_r * loss_r
  double reduced = 0;
};

// Unfused float64 composition: log_softmax, nll and smoothing terms, reduction, then the gradient
// of sum_r row_weight[r] * loss_r.
Ref reference(const std::vector<double>& x, const std::vector<int64_t>& t, int64_t rows,
              int64_t vocab, const CrossEntropyOptions& o, const std::vector<double>& row_weight) {
  Ref ref{std::vector<double>(rows), std::vector<double>(rows), std::vector<double>(rows * vocab)};
  const double eps = o.label_smoothing;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY;
    for (int64_t j = 0; j < vocab; ++j) m = std::max(m, x[r * vocab + j]);
    double s = 0;
    for (int64_t j = 0; j < vocab; ++j) s += std::exp(x[r * vocab + j] - m);
    const double lse = m + std::log(s);
    ref.lse[r] = lse;
    if (t[r] == o.ignore_index) continue;
    ++count;
    double nll = 0, smooth = 0;
    for (int64_t j = 0; j < vocab; ++j) {
      const double logp = x[r * vocab + j] - lse;
      if (j == t[r]) nll = -logp;
      smooth += -logp / vocab;
    }
    ref.row_loss[r] = (1 - eps) * nll + eps * smooth;
    for (int64_t j = 0; j < vocab; ++j) {
      const double p = std::exp(x[r * vocab + j] - lse);
      ref.grad[r * vocab + j] = row_weight[r] * (p - eps / vocab - (j == t[r] ? 1 - eps : 0.0));
    }
  }
  for (double l : ref.row_loss) ref.reduced += l;
  if (o.reduction == LossReduction::kMean) ref.reduced = count ? ref.reduced / count : 0.0;
  return ref;
}

}  // namespace

TEST_CASE("cross_entropy float64 reference gradient matches finite differences",
          "[kernels][cross_entropy]") {
  std::mt19937_64 rng(2);
  const int64_t rows = 3, vocab = 5;
  CrossEntropyOptions o;
  o.label_smoothing = 0.2f;
  o.ignore_index = 4;
  auto x = random_vec<double>(rows * vocab, rng, -2, 2);
  std::vector<int64_t> t = {1, 4, 0};
  const std::vector<double> w = {0.5, 0.5, 0.5};  // mean over the 2 counted rows
  const Ref ref = reference(x, t, rows, vocab, o, w);
  for (int64_t i = 0; i < rows * vocab; ++i) {
    auto xp = x, xm = x;
    xp[i] += 1e-6;
    xm[i] -= 1e-6;
    const double fd = (reference(xp, t, rows, vocab, o, w).reduced -
                       reference(xm, t, rows, vocab, o, w).reduced) /
                      2e-6;
    CHECK(std::fabs(fd - ref.grad[i]) < 1e-8);
  }
}

TEMPLATE_TEST_CASE("cross_entropy matches float64 reference", "[kernels][cross_entropy]", float,
                   double, BFloat16, Float16) {
  using T = TestType;
  using A = compute_t<T>;
  const int64_t vocab = GENERATE(1, 17, 127, 129, 5000);
  const int64_t rows = vocab == 5000 ? 7 : GENERATE(1, 17, 130);
  const float eps = GENERATE(0.f, 0.1f);
  const auto red = GENERATE(LossReduction::kMean, LossReduction::kSum);
  const int ignore_mode = GENERATE(0, 1, 2);  // none ignored, some ignored, all ignored
  CAPTURE(rows, vocab, eps, int(red), ignore_mode);
  std::mt19937_64 rng(vocab * 7 + rows);
  auto x = random_vec<T>(rows * vocab, rng, -6, 6);
  std::vector<int64_t> t(rows);
  std::uniform_int_distribution<int64_t> pick(0, vocab - 1);
  CrossEntropyOptions o;
  o.label_smoothing = eps;
  o.reduction = red;
  o.ignore_index = -1;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    t[r] = pick(rng);
    if (ignore_mode == 2 || (ignore_mode == 1 && r % 3 == 1)) t[r] = -1;
    count += t[r] != -1;
  }
  const float grad_loss = 0.75f;
  const double w =
      red == LossReduction::kMean ? (count ? grad_loss / double(count) : 0.0) : grad_loss;
  const Ref ref = reference(to_double(x), t, rows, vocab, o, std::vector<double>(rows, w));

  std::vector<A> row_loss(rows), lse(rows);
  std::vector<T> grad(rows * vocab);
  const double loss = cross_entropy_forward<T, int64_t>(
      x.data(), t.data(), rows, vocab, o, row_loss.data(), lse.data(), grad.data(), grad_loss);
  const double rt = std::is_same_v<T, double> ? 1e-12 : 1e-5;
  CHECK(std::fabs(loss - ref.reduced) <= rt * (1 + std::fabs(ref.reduced)));
  // Losses are computed in the accumulation type from the (exactly widened) stored logits.
  check_close("row_loss", row_loss, ref.row_loss, rt, rt * 10);
  check_close("lse", lse, ref.lse, rt, rt);
  check_close("grad (fused)", grad, ref.grad);

  // Separate backward from the saved lse, in place over a copy of the logits, int32 targets.
  std::vector<int32_t> t32(t.begin(), t.end());
  std::vector<T> inplace = x;
  cross_entropy_backward<T, int32_t>(inplace.data(), t32.data(), lse.data(), rows, vocab, o,
                                     &grad_loss, inplace.data());
  check_close("grad (backward, in place)", inplace, ref.grad);
  // Fused, in place.
  std::vector<T> fused = x;
  cross_entropy_forward<T, int32_t>(fused.data(), t32.data(), rows, vocab, o, nullptr, nullptr,
                                    fused.data(), grad_loss);
  CHECK(same_bits(fused, inplace));
}

TEST_CASE("cross_entropy reduction none takes per-row gradients", "[kernels][cross_entropy]") {
  std::mt19937_64 rng(4);
  const int64_t rows = 9, vocab = 33;
  auto x = random_vec<float>(rows * vocab, rng, -3, 3);
  std::vector<int64_t> t(rows);
  for (int64_t r = 0; r < rows; ++r) t[r] = (r * 5) % vocab;
  t[3] = -100;
  CrossEntropyOptions o;
  o.reduction = LossReduction::kNone;
  o.label_smoothing = 0.05f;
  auto gl = random_vec<float>(rows, rng);
  const Ref ref = reference(to_double(x), t, rows, vocab, o, to_double(gl));
  std::vector<float> row_loss(rows), lse(rows), grad(rows * vocab);
  ce_f32(x.data(), t.data(), rows, vocab, o, row_loss.data(), lse.data());
  check_close("row_loss", row_loss, ref.row_loss);
  cross_entropy_backward<float, int64_t>(x.data(), t.data(), lse.data(), rows, vocab, o, gl.data(),
                                         grad.data());
  check_close("grad", grad, ref.grad);
  CHECK_THROWS_AS(ce_f32(x.data(), t.data(), rows, vocab, o, nullptr, nullptr, grad.data()),
                  tessera::Error);
}

TEST_CASE("cross_entropy with -inf (masked) logits and NaN logits", "[kernels][cross_entropy]") {
  const int64_t vocab = 6;
  std::vector<float> x = {1.f, -INFINITY, 2.f, -INFINITY, 0.5f, 0.f,   // masked vocab entries
                          1.f, NAN,       2.f, 3.f,       0.5f, 0.f};  // a NaN logit
  std::vector<int64_t> t = {2, 0};
  std::vector<float> loss(2), lse(2), grad(2 * vocab);
  CrossEntropyOptions o;
  o.reduction = LossReduction::kSum;
  ce_f32(x.data(), t.data(), 2, vocab, o, loss.data(), lse.data(), grad.data());
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5) + 1.0);
  CHECK(loss[0] == Approx(l0 - 2.0).epsilon(1e-6));
  CHECK(grad[1] == 0.f);
  CHECK(grad[3] == 0.f);
  CHECK(grad[2] == Approx(std::exp(2.0 - l0) - 1.0).epsilon(1e-5));
  CHECK(std::isnan(loss[1]));  // NaN propagates to the loss and the gradient, not hidden
  CHECK(std::isnan(grad[vocab + 1]));
}

TEST_CASE("cross_entropy rejects out-of-range targets", "[kernels][cross_entropy]") {
  std::vector<float> x(2 * 4, 0.f);
  std::vector<int64_t> t = {1, 4};
  CrossEntropyOptions o;
  CHECK_THROWS_AS(ce_f32(x.data(), t.data(), 2, 4, o, nullptr, nullptr), tessera::Error);
  t[1] = -5;
  CHECK_THROWS_AS(ce_f32(x.data(), t.data(), 2, 4, o, nullptr, nullptr), tessera::Error);
  t[1] = -100;  // the default ignore_index
  CHECK(ce_f32(x.data(), t.data(), 2, 4, o, nullptr, nullptr) == Approx(std::log(4.0)));
  o.label_smoothing = 1.5f;
  CHECK_THROWS_AS(ce_f32(x.data(), t.data(), 2, 4, o, nullptr, nullptr), tessera::Error);
}

TEST_CASE("cross_entropy results do not depend on the thread count", "[kernels][cross_entropy]") {
  const int64_t rows = 64, vocab = 5003;
  std::mt19937_64 rng(8);
  auto x = random_vec<float>(rows * vocab, rng, -5, 5);
  std::vector<int64_t> t(rows);
  for (int64_t r = 0; r < rows; ++r) t[r] = (r * 977) % vocab;
  CrossEntropyOptions o;
  o.label_smoothing = 0.1f;
  auto run = [&](int threads) {
    std::vector<float> row_loss(rows), lse(rows), grad(rows * vocab);
    double loss = 0;
    with_threads(threads, [&] {
      loss = ce_f32(x.data(), t.data(), rows, vocab, o, row_loss.data(), lse.data(), grad.data());
    });
    return std::make_pair(loss, std::vector<std::vector<float>>{row_loss, lse, grad});
  };
  const auto a = run(1), b = run(2), d = run(3);
  CHECK(a.first == b.first);
  CHECK(a.first == d.first);
  for (size_t i = 0; i < a.second.size(); ++i) {
    CHECK(same_bits(a.second[i], b.second[i]));
    CHECK(same_bits(a.second[i], d.second[i]));
  }
}
