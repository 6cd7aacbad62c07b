// SPDX-License-Identifier: Apache-2.0
/// @brief Multi-tensor AdamW against a float64 transcription of torch.optim.AdamW, over several
/// steps and tensor sizes (0, 1, 17, 127, 129, multi-chunk), and argument checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/adamw.h>

#include "kernels/kernel_test_util.h"

using namespace tessera::kernels::cpu;
using namespace tessera::test;

namespace {

// torch/optim/adamw.py, _single_tensor_adamw (amsgrad=False, maximize=False), in float64.
void ref_adamw(std::vector<double>& p, const std::vector<double>& g, std::vector<double>& m,
               std::vector<double>& v, const AdamWHyper& h) {
  const double bc1 = 1 - std::pow(h.beta1, double(h.step));
  const double bc2 = 1 - std::pow(h.beta2, double(h.step));
  const double step_size = h.lr / bc1;
  const double bc2_sqrt = std::sqrt(bc2);
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] *= 1 - h.lr * h.weight_decay;
    m[i] += (1 - h.beta1) * (g[i] - m[i]);
    v[i] = v[i] * h.beta2 + (1 - h.beta2) * g[i] * g[i];
    const double denom = std::sqrt(v[i]) / bc2_sqrt + h.eps;
    p[i] += -step_size * m[i] / denom;
  }
}

}  // namespace

TEMPLATE_TEST_CASE("adamw_step matches the float64 PyTorch formula over several steps",
                   "[kernels][adamw]", float, double) {
  using T = TestType;
  std::mt19937_64 rng(21);
  const std::vector<int64_t> sizes = {0, 1, 17, 127, 129, 100003};
  std::vector<std::vector<T>> p, g, m, v;
  std::vector<std::vector<double>> rp, rm, rv;
  for (int64_t n : sizes) {
    p.push_back(random_vec<T>(n, rng));
    m.push_back(std::vector<T>(n, T(0)));
    v.push_back(std::vector<T>(n, T(0)));
    g.push_back({});
    rp.push_back(to_double(p.back()));
    rm.push_back(std::vector<double>(n, 0.0));
    rv.push_back(std::vector<double>(n, 0.0));
  }
  AdamWHyper h;
  h.lr = 3e-3;
  h.weight_decay = 0.1;
  h.eps = 1e-6;
  for (int64_t step = 1; step <= 4; ++step) {
    h.step = step;
    std::vector<AdamWTensor<T>> list;
    for (size_t t = 0; t < sizes.size(); ++t) {
      // A mix of scales, including tiny gradients where eps matters.
      g[t] = random_vec<T>(sizes[t], rng, -1, 1);
      for (size_t i = 0; i < g[t].size(); i += 7) g[t][i] = static_cast<T>(1e-7 * double(g[t][i]));
      list.push_back({p[t].data(), g[t].data(), m[t].data(), v[t].data(), sizes[t]});
      ref_adamw(rp[t], to_double(g[t]), rm[t], rv[t], h);
    }
    adamw_step<T>(list.data(), static_cast<int64_t>(list.size()), h);
  }
  // p moves by ~lr per step; its rounding is relative to |p| ~ 1.
  const double tol = std::is_same_v<T, double> ? 1e-12 : 1e-6;
  for (size_t t = 0; t < sizes.size(); ++t) {
    CAPTURE(sizes[t]);
    check_close("param", p[t], rp[t], tol, tol);
    check_close("exp_avg", m[t], rm[t], tol, tol);
    check_close("exp_avg_sq", v[t], rv[t], tol, tol * 1e-3);
  }
}

TEST_CASE("adamw_step rejects bad hyperparameters", "[kernels][adamw]") {
  float p = 1, g = 1, m = 0, v = 0;
  AdamWTensor<float> t{&p, &g, &m, &v, 1};
  AdamWHyper h;
  h.step = 0;
  CHECK_THROWS_AS(adamw_step<float>(&t, 1, h), tessera::Error);
  h.step = 1;
  h.beta2 = 1.0;
  CHECK_THROWS_AS(adamw_step<float>(&t, 1, h), tessera::Error);
  h.beta2 = 0.999;
  AdamWTensor<float> bad{nullptr, &g, &m, &v, 1};
  CHECK_THROWS_AS(adamw_step<float>(&bad, 1, h), tessera::Error);
  CHECK_NOTHROW(adamw_step<float>(nullptr, 0, h));
}

TEST_CASE("adamw_step results do not depend on the thread count", "[kernels][adamw]") {
  std::mt19937_64 rng(5);
  const int64_t n = 300001;  // several chunks
  const auto p0 = random_vec<float>(n, rng), g = random_vec<float>(n, rng);
  auto run = [&](int threads) {
    std::vector<float> p = p0, m(n, 0.1f), v(n, 0.01f);
    AdamWTensor<float> t{p.data(), g.data(), m.data(), v.data(), n};
    AdamWHyper h;
    h.step = 3;
    with_threads(threads, [&] { adamw_step<float>(&t, 1, h); });
    return std::vector<std::vector<float>>{p, m, v};
  };
  const auto a = run(1), b = run(2), c = run(3);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(same_bits(a[i], b[i]));
    CHECK(same_bits(a[i], c[i]));
  }
}
