// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA fused cross-entropy (kernels/cuda/cross_entropy.cu) and multi-tensor AdamW
/// (kernels/cuda/adamw.cu) against float64 reference loops and the CPU fused ops; the nn layer
/// (functional::cross_entropy with autograd, the AdamW optimizer) on CUDA against the CPU.
///
/// Tolerances (|got - ref| <= atol + rtol |ref|), references computed in float64 from the stored
/// (already rounded) inputs:
///   cross-entropy, float32 logits: loss / lse rtol 1e-5; gradient atol 1e-7, rtol 1e-5
///                  float64: 1e-12 / 1e-10;  bfloat16, float16: rtol 1e-2 (the outputs are
///                  rounded once to the 16-bit type: 2^-8 resp. 2^-11 relative), atol 1e-5
///   AdamW float32: vs float64 PyTorch formula atol 1e-6 rtol 1e-5 (3 steps of float32 rounding);
///                  vs the CPU fused op atol 2e-6 rtol 1e-6 (a few ulp of the O(1) parameters:
///                  g++ and nvcc contract a * b + c into FMAs differently, even the CPU kernel's
///                  vectorised loop and cudasim's scalar code); float64: 1e-14 / 1e-12.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <tessera/native/fused.h>
#include <tessera/nn/loss.h>
#include <tessera/nn/optim.h>
#include <tessera/ops.h>

#include "cuda/cuda_test_util.h"

#if defined(TESSERA_TEST_CUDASIM)
#include <tessera/cudasim/core.h>
#endif

using namespace tessera;
using namespace tessera::test;

namespace {

// ---- cross-entropy reference
// ---------------------------------------------------------------------

struct CeRef {
  double loss = 0;
  Ref lse, grad;
  int64_t count = 0;
};

/// float64 loops: PyTorch's label-smoothed mean cross-entropy and its gradient times grad_loss.
CeRef ce_reference(const Tensor& logits, const std::vector<int64_t>& targets, int64_t ignore_index,
                   double eps, double grad_loss) {
  const int64_t n = logits.size(0), v = logits.size(1);
  const std::vector<double> x = values(logits);
  CeRef r;
  r.lse = Ref({n});
  r.grad = Ref({n, v});
  double total = 0;
  for (int64_t i = 0; i < n; ++i) r.count += targets[i] != ignore_index;
  for (int64_t i = 0; i < n; ++i) {
    const double* xr = x.data() + i * v;
    double m = -INFINITY, s = 0, sx = 0;
    for (int64_t j = 0; j < v; ++j) m = std::max(m, xr[j]);
    for (int64_t j = 0; j < v; ++j) {
      s += std::exp(xr[j] - m);
      sx += xr[j];
    }
    const double lse = m + std::log(s);
    r.lse.v[i] = lse;
    const int64_t t = targets[i];
    if (t == ignore_index) continue;
    total += lse - (1 - eps) * xr[t] - (eps > 0 ? eps * sx / v : 0.0);
    for (int64_t j = 0; j < v; ++j) {
      const double p = std::exp(xr[j] - lse) - eps / v - (j == t ? 1 - eps : 0.0);
      r.grad.v[i * v + j] = grad_loss / r.count * p;
    }
  }
  r.loss = r.count > 0 ? total / r.count : std::numeric_limits<double>::quiet_NaN();
  return r;
}

Tol ce_tol(DType t, bool grad) {
  switch (t) {
    case kFloat64:
      return {1e-12, 1e-10};
    case kFloat32:
      return grad ? Tol{1e-7, 1e-5} : Tol{1e-6, 1e-5};
    default:
      return {1e-5, 1e-2};
  }
}

/// Random targets in [0, v), every third row (from `first`) set to ignore_index.
std::vector<int64_t> random_targets(int64_t n, int64_t v, int64_t ignore_index, int first,
                                    std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> d(0, v - 1);
  std::vector<int64_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = (i % 3 == first) ? ignore_index : d(rng);
  return t;
}

struct CeOut {
  Tensor loss, lse, grad;
  int64_t count;
};

/// Forward + backward of the native fused ops on `dev`; results as CPU tensors.
CeOut run_ce(const Tensor& logits, const Tensor& targets, int64_t ignore_index, double eps,
             double grad_loss, Device dev) {
  const Tensor x = native::to(logits, dev), t = native::to(targets, dev);
  const native::CrossEntropyResult r = native::cross_entropy(x, t, ignore_index, eps);
  const Tensor g = native::to(scalar_tensor(grad_loss, {.dtype = logits.dtype()}), dev);
  const Tensor gx = native::cross_entropy_backward(g, x, t, r.lse, ignore_index, eps);
  if (dev.is_cuda()) {
    CHECK(r.loss.device() == dev);
    CHECK(r.lse.device() == dev);
    CHECK(gx.device() == dev);
  }
  return {to_cpu(r.loss), to_cpu(r.lse), to_cpu(gx), r.count};
}

void check_ce(const std::string& what, const CeOut& got, const CeRef& ref, DType dt) {
  CHECK(got.count == ref.count);
  CHECK(got.loss.dim() == 0);
  CHECK(got.loss.dtype() == dt);
  CHECK(got.lse.dtype() == (dt == kFloat64 ? kFloat64 : kFloat32));
  CHECK(got.grad.dtype() == dt);
  check_close(what + " loss", got.loss, Ref({}, {ref.loss}), ce_tol(dt, false));
  check_close(what + " lse", got.lse, ref.lse, ce_tol(dt == kFloat64 ? kFloat64 : kFloat32, false));
  check_close(what + " grad", got.grad, ref.grad, ce_tol(dt, true));
}

// ---- AdamW reference
// -----------------------------------------------------------------------------

struct AdamState {
  std::vector<double> p, g, m, v;
};

/// PyTorch's AdamW step in float64 (the same formula, no intermediate rounding).
void adamw_reference(AdamState& s, const native::AdamWParams& h) {
  const double bc1 = 1 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1 - std::pow(h.beta2, static_cast<double>(h.step));
  for (size_t i = 0; i < s.p.size(); ++i) {
    s.p[i] *= 1 - h.lr * h.weight_decay;
    s.m[i] += (1 - h.beta1) * (s.g[i] - s.m[i]);
    s.v[i] = s.v[i] * h.beta2 + (1 - h.beta2) * s.g[i] * s.g[i];
    s.p[i] -= h.lr / bc1 * s.m[i] / (std::sqrt(s.v[i]) / std::sqrt(bc2) + h.eps);
  }
}

}  // namespace

// ---- cross-entropy
// -------------------------------------------------------------------------------

TEST_CASE("cuda cross_entropy: forward and backward match float64 loops and the CPU op",
          "[cuda][fused][cross_entropy]") {
  const DType dt = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  const int64_t v = GENERATE(1, 7, 129, 1000, 5003);
  const double eps = GENERATE(0.0, 0.1);
  const int64_t n = v >= 1000 ? 3 : 5;
  std::mt19937 rng(static_cast<unsigned>(1000 * v + 10 * static_cast<int>(dt) + (eps > 0)));
  // ignore_index -100 (no row of the valid range) and 0 (a padding id inside [0, V)).
  const int64_t ignore_index = v > 1 && eps > 0 ? 0 : -100;
  const std::vector<int64_t> tv = random_targets(n, v, ignore_index, 1, rng);
  const Tensor targets = from_vector(tv, {n});
  const Tensor logits = random_tensor({n, v}, dt, rng, Layout::Contiguous, -4, 4);
  const double grad_loss = 0.75;
  const std::string what =
      std::string(dtype_name(dt)) + " V=" + std::to_string(v) + " eps=" + std::to_string(eps);
  INFO(what);
  const CeRef ref = ce_reference(logits, tv, ignore_index, eps, grad_loss);
  check_ce(what + " cuda vs float64", run_ce(logits, targets, ignore_index, eps, grad_loss, kCuda),
           ref, dt);
  // The CPU fused op is held to the same reference (a second, independent implementation).
  check_ce(what + " cpu vs float64", run_ce(logits, targets, ignore_index, eps, grad_loss, kCPU),
           ref, dt);
}

TEST_CASE("cuda cross_entropy: int32 targets, N = 1, strided logits, -inf logits, empty batch",
          "[cuda][fused][cross_entropy]") {
  std::mt19937 rng(5);
  SECTION("int32 targets give the int64 result") {
    const std::vector<int64_t> tv = random_targets(7, 129, -100, 2, rng);
    const Tensor logits = random_tensor({7, 129}, kFloat32, rng);
    const Tensor t64 = from_vector(tv, {7});
    const CeOut a = run_ce(logits, t64, -100, 0.1, 1.0, kCuda);
    const CeOut b = run_ce(logits, native::to(t64, kInt32), -100, 0.1, 1.0, kCuda);
    CHECK(bitwise_equal(a.loss, b.loss));
    CHECK(bitwise_equal(a.grad, b.grad));
  }
  SECTION("one row") {
    const std::vector<int64_t> tv{3};
    const Tensor logits = random_tensor({1, 1000}, kFloat32, rng);
    check_ce("N=1", run_ce(logits, from_vector(tv, {1}), -100, 0.1, 1.0, kCuda),
             ce_reference(logits, tv, -100, 0.1, 1.0), kFloat32);
  }
  SECTION("transposed (non-contiguous) logits") {
    const Tensor base = random_tensor({129, 5}, kFloat32, rng);
    const Tensor logits = native::transpose(base, 0, 1);  // (5, 129) view
    const std::vector<int64_t> tv = random_targets(5, 129, -100, 0, rng);
    const Tensor t = from_vector(tv, {5});
    const Tensor x = native::to(logits, kCuda);
    const native::CrossEntropyResult r = native::cross_entropy(x, native::to(t, kCuda), -100, 0.0);
    const CeRef ref = ce_reference(logits, tv, -100, 0.0, 1.0);
    check_close("transposed loss", to_cpu(r.loss), Ref({}, {ref.loss}), ce_tol(kFloat32, false));
  }
  SECTION("-inf logits (masked classes) away from the target") {
    Tensor logits = random_tensor({5, 129}, kFloat32, rng);
    float* p = static_cast<float*>(logits.data_ptr());
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 100; j < 129; ++j) p[i * 129 + j] = -INFINITY;
    const std::vector<int64_t> tv{1, 50, -100, 99, 0};
    check_ce("-inf", run_ce(logits, from_vector(tv, {5}), -100, 0.0, 1.0, kCuda),
             ce_reference(logits, tv, -100, 0.0, 1.0), kFloat32);
  }
  SECTION("no rows: NaN loss") {
    const CeOut r =
        run_ce(zeros({0, 7}), from_vector(std::vector<int64_t>{}, {0}), -100, 0.0, 1.0, kCuda);
    CHECK(std::isnan(r.loss.item<float>()));
    CHECK(r.grad.shape() == Shape{0, 7});
  }
}

TEST_CASE("cuda cross_entropy: every row ignored gives a NaN loss and a zero gradient",
          "[cuda][fused][cross_entropy]") {
  const DType dt = GENERATE(kFloat32, kBFloat16);
  std::mt19937 rng(9);
  const Tensor logits = random_tensor({5, 129}, dt, rng);
  const Tensor targets = from_vector(std::vector<int64_t>(5, -100), {5});
  for (Device dev : {kCuda, kCPU}) {
    const CeOut r = run_ce(logits, targets, -100, 0.1, 1.0, dev);
    INFO(dev);
    CHECK(r.count == 0);
    CHECK(std::isnan(r.loss.item<double>()));
    check_equal("grad", r.grad, Ref(Shape{5, 129}));
  }
}

TEST_CASE("cuda cross_entropy: a target outside [0, V) is a tessera::Error",
          "[cuda][fused][cross_entropy]") {
  std::mt19937 rng(3);
  const Tensor x = native::to(random_tensor({3, 7}, kFloat32, rng), kCuda);
  const Tensor good = native::to(from_vector(std::vector<int64_t>{0, 6, -100}, {3}), kCuda);
  const native::CrossEntropyResult ok = native::cross_entropy(x, good, -100, 0.0);
  const Tensor g = native::to(scalar_tensor(1.0f), kCuda);
  for (int64_t bad : {int64_t{7}, int64_t{-1}, int64_t{1} << 40}) {
    INFO("target " << bad);
    const Tensor t = native::to(from_vector(std::vector<int64_t>{0, bad, 1}, {3}), kCuda);
    CHECK_THROWS_AS(native::cross_entropy(x, t, -100, 0.0), Error);
    CHECK_THROWS_WITH(native::cross_entropy(x, t, -100, 0.0),
                      Catch::Contains("outside [0, vocab=7)") && Catch::Contains("row 1"));
    CHECK_THROWS_AS(native::cross_entropy_backward(g, x, t, ok.lse, -100, 0.0), Error);
    if (bad < 100)  // 2^40 does not survive the int32 conversion
      CHECK_THROWS_AS(native::cross_entropy(x, native::to(t, kInt32), -100, 0.0), Error);
  }
  // Mixed devices name both.
  CHECK_THROWS_WITH(native::cross_entropy(x, to_cpu(good), -100, 0.0),
                    Catch::Contains("cpu") && Catch::Contains("cuda"));
  // Still usable afterwards.
  CHECK(std::isfinite(to_cpu(native::cross_entropy(x, good, -100, 0.0).loss).item<float>()));
}

TEST_CASE("cuda cross_entropy: bit-identical reruns (and under every cudasim schedule)",
          "[cuda][fused][cross_entropy][determinism]") {
  std::mt19937 rng(17);
  const int64_t n = 9, v = 1000;
  const std::vector<int64_t> tv = random_targets(n, v, -100, 1, rng);
  const Tensor logits = random_tensor({n, v}, kFloat32, rng, Layout::Contiguous, -8, 8);
  const Tensor targets = from_vector(tv, {n});
  const CeOut a = run_ce(logits, targets, -100, 0.1, 1.0, kCuda);
  const CeOut b = run_ce(logits, targets, -100, 0.1, 1.0, kCuda);
  CHECK(bitwise_equal(a.loss, b.loss));
  CHECK(bitwise_equal(a.lse, b.lse));
  CHECK(bitwise_equal(a.grad, b.grad));
#if defined(TESSERA_TEST_CUDASIM)
  using tessera::cudasim::Options;
  using tessera::cudasim::Schedule;
  for (Schedule s : {Schedule::kIndex, Schedule::kReverse, Schedule::kRandom}) {
    Options o;
    o.race_check = true;  // cross_entropy.cu is built RACE_CHECK
    o.schedule = s;
    o.seed = 7;
    o.threads = s == Schedule::kRandom ? 2 : 1;
    tessera::cudasim::ScopedOptions scope(o);
    INFO("schedule " << tessera::cudasim::schedule_name(s));
    const CeOut c = run_ce(logits, targets, -100, 0.1, 1.0, kCuda);
    CHECK(bitwise_equal(a.loss, c.loss));
    CHECK(bitwise_equal(a.lse, c.lse));
    CHECK(bitwise_equal(a.grad, c.grad));
  }
#endif
}

// ---- AdamW
// ---------------------------------------------------------------------------------------

TEST_CASE("cuda adamw_step_: several tensors, several steps, vs float64 and the CPU op",
          "[cuda][fused][adamw]") {
  const DType dt = GENERATE(kFloat32, kFloat64);
  // Sizes 1, 3, 1000, 4099 (one launch, inline chunk table); with `many` 70 more small tensors
  // and one of 2 chunks + 5 elements push the table past kAdamWInlineChunks (device table path).
  const bool many = GENERATE(false, true);
  std::vector<int64_t> sizes{1, 3, 1000, 4099};
  if (many) {
    for (int i = 0; i < 70; ++i) sizes.push_back(1 + 37 * i % 301);
    sizes.push_back(2 * 65536 + 5);
  }
  INFO(dtype_name(dt) << (many ? " many tensors" : ""));
  std::mt19937 rng(21 + many);
  std::vector<Tensor> p_cpu, m_cpu, v_cpu, p_cuda, m_cuda, v_cuda;
  std::vector<AdamState> ref(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    const Tensor p = random_tensor({sizes[i]}, dt, rng);
    ref[i].p = values(p);
    ref[i].m.assign(sizes[i], 0.0);
    ref[i].v.assign(sizes[i], 0.0);
    p_cpu.push_back(native::clone(p));
    m_cpu.push_back(zeros({sizes[i]}, {.dtype = dt}));
    v_cpu.push_back(zeros({sizes[i]}, {.dtype = dt}));
    p_cuda.push_back(native::to(p, kCuda));
    m_cuda.push_back(zeros({sizes[i]}, {.dtype = dt, .device = kCuda}));
    v_cuda.push_back(zeros({sizes[i]}, {.dtype = dt, .device = kCuda}));
  }
  native::AdamWParams h;
  h.lr = 1e-2;
  h.weight_decay = 0.1;
  for (int64_t step = 1; step <= 3; ++step) {
    h.step = step;
    std::vector<Tensor> g_cpu, g_cuda;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const Tensor g = random_tensor({sizes[i]}, dt, rng);
      ref[i].g = values(g);
      g_cpu.push_back(g);
      g_cuda.push_back(native::to(g, kCuda));
      adamw_reference(ref[i], h);
    }
    native::adamw_step_(p_cpu, g_cpu, m_cpu, v_cpu, h);
    native::adamw_step_(p_cuda, g_cuda, m_cuda, v_cuda, h);
  }
  const Tol vs_ref = dt == kFloat32 ? Tol{1e-6, 1e-5} : Tol{1e-14, 1e-12};
  // Parameters are O(1) (|p| <= 2): an update that cancels to ~1e-4 keeps the ulps of the O(1)
  // terms, so the absolute part is relative to the parameters' scale.
  const Tol vs_cpu = dt == kFloat32 ? Tol{2e-6, 1e-6} : Tol{1e-14, 1e-12};
  for (size_t i = 0; i < sizes.size(); ++i) {
    INFO("tensor " << i << " numel " << sizes[i]);
    check_close("param vs float64", to_cpu(p_cuda[i]), Ref({sizes[i]}, ref[i].p), vs_ref);
    check_close("exp_avg vs float64", to_cpu(m_cuda[i]), Ref({sizes[i]}, ref[i].m), vs_ref);
    check_close("exp_avg_sq vs float64", to_cpu(v_cuda[i]), Ref({sizes[i]}, ref[i].v), vs_ref);
    check_close("param vs cpu", to_cpu(p_cuda[i]), Ref::of(p_cpu[i]), vs_cpu);
    check_close("exp_avg_sq vs cpu", to_cpu(v_cuda[i]), Ref::of(v_cpu[i]), vs_cpu);
  }
}

TEST_CASE("cuda adamw_step_: unaligned tensors take the scalar path; bad lists are Errors",
          "[cuda][fused][adamw]") {
  std::mt19937 rng(4);
  // Views at offset 1 (4 bytes past a 16-byte boundary): contiguous but not vector-aligned.
  auto unaligned = [&](const Tensor& base) { return native::slice(base, 0, 1, base.size(0)); };
  const Tensor p0 = random_tensor({1001}, kFloat32, rng), g0 = random_tensor({1001}, kFloat32, rng);
  Tensor p_cuda = native::to(p0, kCuda);
  const Tensor g_cuda = native::to(g0, kCuda);
  Tensor m_cuda = zeros({1001}, {.device = kCuda}), v_cuda = zeros({1001}, {.device = kCuda});
  Tensor p_cpu = native::clone(p0), m_cpu = zeros({1001}), v_cpu = zeros({1001});
  native::AdamWParams h;
  h.weight_decay = 0.01;
  native::adamw_step_({unaligned(p_cuda)}, {unaligned(g_cuda)}, {unaligned(m_cuda)},
                      {unaligned(v_cuda)}, h);
  native::adamw_step_({unaligned(p_cpu)}, {unaligned(g0)}, {unaligned(m_cpu)}, {unaligned(v_cpu)},
                      h);
  check_close("unaligned param", to_cpu(p_cuda), Ref::of(p_cpu), Tol{2e-6, 1e-6});
  CHECK(values(to_cpu(p_cuda))[0] == values(p0)[0]);  // element 0 is outside the views

  // Mixed devices, dtypes, sizes.
  const Tensor p_cpu2 = zeros({3});
  CHECK_THROWS_WITH(native::adamw_step_({p_cuda, p_cpu2}, {g_cuda, zeros({3})},
                                        {m_cuda, zeros({3})}, {v_cuda, zeros({3})}, h),
                    Catch::Contains("one device") && Catch::Contains("cpu"));
  CHECK_THROWS_AS(
      native::adamw_step_({p_cuda}, {native::to(g_cuda, kFloat64)}, {m_cuda}, {v_cuda}, h), Error);
  CHECK_THROWS_AS(
      native::adamw_step_({p_cuda}, {zeros({5}, {.device = kCuda})}, {m_cuda}, {v_cuda}, h), Error);
  CHECK_THROWS_AS(native::adamw_step_({p_cuda}, {g_cuda}, {m_cuda}, {v_cuda, v_cuda}, h), Error);
}

// ---- nn on CUDA
// ----------------------------------------------------------------------------------

TEST_CASE("nn cross_entropy on CUDA (fused, autograd) equals the CPU: value and gradient",
          "[cuda][fused][nn]") {
  const double eps = GENERATE(0.0, 0.1);
  std::mt19937 rng(13);
  const Tensor x0 = random_tensor({3, 5, 129}, kFloat32, rng);  // (B, T, C)
  std::vector<int64_t> tv = random_targets(15, 129, -100, 2, rng);
  const Tensor t0 = from_vector(tv, {3, 5});
  auto run = [&](Device dev) {
    Tensor x = native::to(x0, dev, true);
    x.requires_grad_(true);
    const Tensor loss = nn::functional::cross_entropy(x, native::to(t0, dev), -100, eps);
    tessera::backward(loss);
    return std::pair{loss, x.grad()};
  };
  const auto [loss_cuda, grad_cuda] = run(kCuda);
  const auto [loss_cpu, grad_cpu] = run(kCPU);
  CHECK(grad_cuda.device() == kCuda);
  check_cuda("loss", loss_cuda, loss_cpu, Tol{1e-6, 1e-5});
  check_cuda("grad", grad_cuda, grad_cpu, Tol{1e-8, 1e-5});
  // And the unfused composition on the CPU agrees (the fused node is the same function).
  const Tensor ref = nn::functional::cross_entropy_reference(x0, t0, -100, eps);
  check_cuda("loss vs composition", loss_cuda, ref, Tol{1e-6, 1e-5});
}

TEST_CASE("nn AdamW optimizer steps on CUDA parameters equal the CPU's", "[cuda][fused][nn]") {
  std::mt19937 rng(8);
  const std::vector<Shape> shapes{{7, 3}, {3}, {1}, {33, 31}};
  std::vector<Tensor> init;
  for (const Shape& s : shapes) init.push_back(random_tensor(s, kFloat32, rng));
  std::vector<std::vector<Tensor>> grads(3);
  for (auto& step : grads)
    for (const Shape& s : shapes) step.push_back(random_tensor(s, kFloat32, rng));
  auto run = [&](Device dev) {
    std::vector<Tensor> params;
    for (const Tensor& p : init) params.push_back(native::to(p, dev, true).requires_grad_(true));
    // Two groups (decay / no decay), as the GPT recipe builds them.
    std::vector<nn::ParamGroup> groups(2);
    groups[0].params = {params[0], params[3]};
    groups[0].weight_decay = 0.1;
    groups[0].lr = 3e-3;
    groups[1].params = {params[1], params[2]};
    groups[1].lr = 3e-3;
    nn::AdamW opt(groups, nn::AdamOptions{});
    for (const auto& step : grads) {
      for (size_t i = 0; i < params.size(); ++i) params[i].set_grad(native::to(step[i], dev));
      opt.step();
    }
    return params;
  };
  const std::vector<Tensor> cuda = run(kCuda), cpu = run(kCPU);
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO("param " << i);
    check_cuda("param", cuda[i], cpu[i], Tol{2e-6, 1e-6});
  }
}
