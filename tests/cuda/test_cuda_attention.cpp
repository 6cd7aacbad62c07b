// SPDX-License-Identifier: Apache-2.0
/// @brief Fused attention on CUDA (kernels/cuda/attention.cu) against float64 references:
/// forward (out, lse) and gradients, every head dim, causal or not, odd lengths, Tq != Tk,
/// B*H > 1, the tensor-core (bf16/f16) and SIMT paths; determinism; dropout equal to the CPU
/// kernel's; under cudasim also every schedule and the race checker.
///
/// Tolerances (atol + rtol |ref|, inputs uniform in [-2, 2) so outputs are O(1)):
///   float64 1e-12 / 1e-10; float32 2e-5 / 2e-5 (float32 accumulation over <= 129 keys, __expf);
///   float16 4e-3 / 4e-3 forward, 1e-2 / 1e-2 gradients (P rounded to f16 for P V, outputs
///   rounded to f16); bfloat16 2e-2 / 2e-2 forward, 4e-2 / 4e-2 gradients (2^-8 per rounding).
/// A wrong mma fragment layout gives O(1) errors (cudasim emulates the exact layouts), far above
/// these tolerances.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <tessera/native/fused.h>
#include <tessera/nn/functional.h>
#include <tessera/ops.h>

#if defined(TESSERA_CUDASIM)
#include <tessera/cudasim/core.h>
#endif

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;

namespace {

struct Case {
  int64_t b, h, tq, tk, d;
  bool causal;
  double scale = 0;  // 0 = 1/sqrt(d)
};

std::string name_of(const Case& c, DType t) {
  std::ostringstream s;
  s << dtype_name(t) << " B=" << c.b << " H=" << c.h << " Tq=" << c.tq << " Tk=" << c.tk
    << " D=" << c.d << (c.causal ? " causal" : "") << " scale=" << c.scale;
  return s.str();
}

struct Reference {
  std::vector<double> o, lse, dq, dk, dv;
};

/// softmax(scale q k^T + mask) v and its gradients, in float64 loops.
Reference reference(const Case& c, const std::vector<double>& q, const std::vector<double>& k,
                    const std::vector<double>& v, const std::vector<double>& go) {
  const int64_t tq = c.tq, tk = c.tk, d = c.d;
  // A custom scale travels as float (AttentionOptions/AttentionConfig, as on the CPU kernel).
  const double scale = c.scale != 0 ? static_cast<double>(static_cast<float>(c.scale))
                                    : 1.0 / std::sqrt(static_cast<double>(d));
  Reference r;
  r.o.assign(c.b * c.h * tq * d, 0.0);
  r.lse.assign(c.b * c.h * tq, -std::numeric_limits<double>::infinity());
  r.dq.assign(c.b * c.h * tq * d, 0.0);
  r.dk.assign(c.b * c.h * tk * d, 0.0);
  r.dv.assign(c.b * c.h * tk * d, 0.0);
  std::vector<double> p(tk), dp(tk);
  for (int64_t bh = 0; bh < c.b * c.h; ++bh) {
    const double* qb = q.data() + bh * tq * d;
    const double* kb = k.data() + bh * tk * d;
    const double* vb = v.data() + bh * tk * d;
    const double* gb = go.data() + bh * tq * d;
    for (int64_t i = 0; i < tq; ++i) {
      const int64_t n = c.causal ? std::min(tk, i + 1) : tk;  // visible keys [0, n)
      if (n == 0) continue;
      double m = -INFINITY;
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t e = 0; e < d; ++e) s += qb[i * d + e] * kb[j * d + e];
        p[j] = s * scale;
        m = std::max(m, p[j]);
      }
      double l = 0;
      for (int64_t j = 0; j < n; ++j) l += (p[j] = std::exp(p[j] - m));
      r.lse[bh * tq + i] = m + std::log(l);
      for (int64_t j = 0; j < n; ++j) p[j] /= l;
      double di = 0;
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t e = 0; e < d; ++e) {
          r.o[(bh * tq + i) * d + e] += p[j] * vb[j * d + e];
          acc += gb[i * d + e] * vb[j * d + e];
        }
        dp[j] = acc;
        di += p[j] * acc;
      }
      for (int64_t j = 0; j < n; ++j) {
        const double ds = p[j] * (dp[j] - di) * scale;
        for (int64_t e = 0; e < d; ++e) {
          r.dq[(bh * tq + i) * d + e] += ds * kb[j * d + e];
          r.dk[(bh * tk + j) * d + e] += ds * qb[i * d + e];
          r.dv[(bh * tk + j) * d + e] += p[j] * gb[i * d + e];
        }
      }
    }
  }
  return r;
}

struct Tols {
  Tol fwd, grad;
};
Tols tols_for(DType t) {
  switch (t) {
    case kFloat64:
      return {{1e-12, 1e-10}, {1e-12, 1e-10}};
    case kFloat32:
      return {{2e-5, 2e-5}, {2e-5, 2e-5}};
    case kFloat16:
      return {{4e-3, 4e-3}, {1e-2, 1e-2}};
    default:
      return {{2e-2, 2e-2}, {4e-2, 4e-2}};
  }
}

/// A contiguous CUDA tensor whose data pointer is 2 bytes past a 16-byte boundary (offset of one
/// 16-bit element): sends 16-bit inputs to the SIMT kernel instead of the tensor-core one.
Tensor misaligned_cuda(const Tensor& x) {
  std::vector<double> v = values(x);
  v.insert(v.begin(), 0.0);
  const Tensor dev = native::to(make_tensor(v, {static_cast<int64_t>(v.size())}, x.dtype()), kCuda);
  Shape strides(x.shape().size(), 1);
  for (int64_t i = static_cast<int64_t>(strides.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * x.shape()[i + 1];
  return Tensor(std::make_shared<TensorImpl>(dev.storage(), x.shape(), strides, 1, x.dtype()));
}

struct Run {
  native::AttentionResult fwd;
  native::AttentionGrads grads;
};

/// Random inputs (rounded to `t`), the CUDA forward and backward, and the float64 reference of the
/// same rounded values.
struct Problem {
  Case c;
  DType t;
  Tensor q, k, v, go;  // CPU, dtype t
  Reference ref;
  Problem(const Case& cs, DType dt, uint32_t seed) : c(cs), t(dt) {
    std::mt19937 rng(seed);
    q = random_tensor({c.b, c.h, c.tq, c.d}, t, rng);
    k = random_tensor({c.b, c.h, c.tk, c.d}, t, rng);
    v = random_tensor({c.b, c.h, c.tk, c.d}, t, rng);
    go = random_tensor({c.b, c.h, c.tq, c.d}, t, rng);
    ref = reference(c, values(q), values(k), values(v), values(go));
  }
  native::AttentionParams params() const {
    native::AttentionParams p;
    p.causal = c.causal;
    p.scale = c.scale;
    return p;
  }
  Run run(bool misaligned = false, const native::AttentionParams* override_p = nullptr) const {
    const native::AttentionParams p = override_p ? *override_p : params();
    auto dev = [&](const Tensor& x) {
      return misaligned ? misaligned_cuda(x) : native::to(x, kCuda);
    };
    const Tensor qc = dev(q), kc = dev(k), vc = dev(v), gc = dev(go);
    Run r;
    r.fwd = native::scaled_dot_product_attention(qc, kc, vc, p);
    r.grads =
        native::scaled_dot_product_attention_backward(gc, qc, kc, vc, r.fwd.out, r.fwd.lse, p);
    return r;
  }
  void check(const Run& r) const {
    const Tols tol = tols_for(t);
    const Shape qs{c.b, c.h, c.tq, c.d}, ks{c.b, c.h, c.tk, c.d};
    CHECK(r.fwd.out.device() == kCuda);
    CHECK(r.fwd.out.dtype() == t);
    CHECK(r.fwd.lse.dtype() == (t == kFloat64 ? kFloat64 : kFloat32));
    check_close("out", to_cpu(r.fwd.out), Ref(qs, ref.o), tol.fwd);
    check_close("lse", to_cpu(r.fwd.lse), Ref({c.b, c.h, c.tq}, ref.lse), tol.fwd);
    check_close("grad_q", to_cpu(r.grads.grad_q), Ref(qs, ref.dq), tol.grad);
    check_close("grad_k", to_cpu(r.grads.grad_k), Ref(ks, ref.dk), tol.grad);
    check_close("grad_v", to_cpu(r.grads.grad_v), Ref(ks, ref.dv), tol.grad);
  }
};

}  // namespace

TEST_CASE("cuda attention: float32 forward and gradients match float64 loops",
          "[cuda][attention]") {
  const int64_t d = GENERATE(32, 64, 128);
  const int64_t t = GENERATE(1, 17, 65, 129);
  const bool causal = GENERATE(false, true);
  const Case c{1, 2, t, t, d, causal};
  INFO(name_of(c, kFloat32));
  const Problem pr(c, kFloat32, static_cast<uint32_t>(d * 1000 + t * 2 + causal));
  pr.check(pr.run());
}

TEST_CASE("cuda attention: Tq != Tk, B*H > 1, custom scale, float64", "[cuda][attention]") {
  const DType t = GENERATE(kFloat32, kFloat64, kBFloat16, kFloat16);
  for (const Case& c : {Case{2, 3, 17, 65, 32, false}, Case{2, 1, 65, 3, 64, false, 0.3},
                        Case{1, 3, 40, 40, 128, true, 0.05}}) {
    INFO(name_of(c, t));
    const Problem pr(c, t, 7);
    pr.check(pr.run());
  }
}

TEST_CASE("cuda attention: bfloat16/float16 tensor-core forward and backward",
          "[cuda][attention]") {
  const DType t = GENERATE(kBFloat16, kFloat16);
  const int64_t d = GENERATE(32, 64, 128);
  const int64_t len = GENERATE(17, 129);
  const bool causal = GENERATE(false, true);
  const Case c{1, 2, len, len, d, causal};
  INFO(name_of(c, t));
  const Problem pr(c, t, static_cast<uint32_t>(d + len + causal));
  pr.check(pr.run());
}

TEST_CASE("cuda attention: 16-bit SIMT fallback (misaligned pointers)", "[cuda][attention]") {
  const DType t = GENERATE(kBFloat16, kFloat16);
  const Case c{1, 2, 33, 33, 64, true};
  INFO(name_of(c, t));
  const Problem pr(c, t, 3);
  pr.check(pr.run(/*misaligned=*/true));
}

TEST_CASE("cuda attention: no keys gives out 0, lse -inf, zero gradients", "[cuda][attention]") {
  const Case c{1, 2, 5, 0, 32, false};
  for (DType t : {kFloat32, kBFloat16}) {
    INFO(name_of(c, t));
    const Problem pr(c, t, 5);
    pr.check(pr.run());
  }
}

TEST_CASE("cuda attention: long sequence (T = 1000)", "[cuda][attention]") {
  // Tensor-core forward over 16 key tiles; SIMT backward (float32 runs the same code at 129).
  const Case c{1, 1, 1000, 1000, 64, true};
  const DType t = kBFloat16;
  INFO(name_of(c, t));
  const Problem pr(c, t, 11);
  const Run r = pr.run();
  pr.check(r);
}

TEST_CASE("cuda attention: bit-identical reruns", "[cuda][attention]") {
  const DType t = GENERATE(kFloat32, kBFloat16);
  const Problem pr(Case{2, 2, 70, 70, 64, true}, t, 9);
  const Run a = pr.run(), b = pr.run();
  CHECK(bitwise_equal(to_cpu(a.fwd.out), to_cpu(b.fwd.out)));
  CHECK(bitwise_equal(to_cpu(a.fwd.lse), to_cpu(b.fwd.lse)));
  CHECK(bitwise_equal(to_cpu(a.grads.grad_q), to_cpu(b.grads.grad_q)));
  CHECK(bitwise_equal(to_cpu(a.grads.grad_k), to_cpu(b.grads.grad_k)));
  CHECK(bitwise_equal(to_cpu(a.grads.grad_v), to_cpu(b.grads.grad_v)));
}

TEST_CASE("cuda attention: dropout keeps and drops the same elements as the CPU kernel",
          "[cuda][attention]") {
  // Same (seed, offset) on CPU and CUDA: equal up to rounding only if every keep decision agrees
  // (a single differing decision changes an output by ~|v| / (Tk (1 - p)) >> tolerance).
  const DType t = GENERATE(kFloat32, kBFloat16);
  const bool causal = GENERATE(false, true);
  const Case c{2, 2, 37, 37, 32, causal};
  INFO(name_of(c, t));
  const Problem pr(c, t, 13);
  native::AttentionParams p = pr.params();
  p.dropout_p = 0.3;
  p.seed = 1234;
  p.offset = 77;
  const Run r = pr.run(false, &p);
  const auto cpu = native::scaled_dot_product_attention(pr.q, pr.k, pr.v, p);
  const auto cg =
      native::scaled_dot_product_attention_backward(pr.go, pr.q, pr.k, pr.v, cpu.out, cpu.lse, p);
  const Tols tol = tols_for(t);
  check_close("out", to_cpu(r.fwd.out), Ref::of(cpu.out), tol.fwd);
  check_close("lse", to_cpu(r.fwd.lse), Ref::of(cpu.lse), tol.fwd);
  check_close("grad_q", to_cpu(r.grads.grad_q), Ref::of(cg.grad_q), tol.grad);
  check_close("grad_k", to_cpu(r.grads.grad_k), Ref::of(cg.grad_k), tol.grad);
  check_close("grad_v", to_cpu(r.grads.grad_v), Ref::of(cg.grad_v), tol.grad);
  // And dropout did something: the output differs from the undropped one.
  const Run plain = pr.run();
  CHECK_FALSE(bitwise_equal(to_cpu(plain.fwd.out), to_cpu(r.fwd.out)));
}

TEST_CASE("cuda attention: bad input is a tessera::Error", "[cuda][attention]") {
  std::mt19937 rng(1);
  const Tensor q = native::to(random_tensor({1, 1, 8, 48}, kFloat32, rng), kCuda);
  CHECK_THROWS_AS(native::scaled_dot_product_attention(q, q, q, {}), Error);  // head_dim 48
  const Tensor a = native::to(random_tensor({1, 1, 8, 32}, kFloat32, rng), kCuda);
  const Tensor b = native::to(random_tensor({1, 1, 9, 32}, kFloat32, rng), kCuda);
  native::AttentionParams p;
  p.causal = true;
  CHECK_THROWS_AS(native::scaled_dot_product_attention(a, b, b, p), Error);  // causal, Tq != Tk
  CHECK_THROWS_AS(native::scaled_dot_product_attention(a, native::to(a, kCPU), a, {}), Error);
  CHECK(native::scaled_dot_product_attention_fusable(kCuda, kBFloat16, 128));
  CHECK_FALSE(native::scaled_dot_product_attention_fusable(kCuda, kBFloat16, 96));
}

TEST_CASE("cuda attention: nn::functional takes the fused path on CUDA, autograd gradients",
          "[cuda][attention]") {
  // loss = sum(sdpa(q, k, v) * w) on CUDA and on CPU (the CPU fused kernel): same gradients.
  REQUIRE(native::scaled_dot_product_attention_fusable(kCuda, kFloat32, 64));
  std::mt19937 rng(21);
  const bool causal = GENERATE(false, true);
  const Shape qs{2, 2, 24, 64};
  const Tensor q = random_tensor(qs, kFloat32, rng), k = random_tensor(qs, kFloat32, rng);
  const Tensor v = random_tensor(qs, kFloat32, rng), w = random_tensor(qs, kFloat32, rng);
  auto grads = [&](Device dev) {
    Tensor qd = native::to(q, dev), kd = native::to(k, dev), vd = native::to(v, dev);
    qd.requires_grad_(true);
    kd.requires_grad_(true);
    vd.requires_grad_(true);
    nn::functional::AttentionOptions o;
    o.causal = causal;
    const Tensor y = nn::functional::scaled_dot_product_attention(qd, kd, vd, o);
    CHECK(y.device() == dev);
    tessera::backward(sum(mul(y, native::to(w, dev))));
    return std::vector<Tensor>{to_cpu(y), to_cpu(qd.grad()), to_cpu(kd.grad()), to_cpu(vd.grad())};
  };
  const auto cpu = grads(kCPU), gpu = grads(kCuda);
  const char* names[] = {"out", "grad_q", "grad_k", "grad_v"};
  for (size_t i = 0; i < cpu.size(); ++i)
    check_close(names[i], gpu[i], Ref::of(cpu[i]), tols_for(kFloat32).grad);
}

#if defined(TESSERA_CUDASIM)
TEST_CASE("cuda attention: same bits under every cudasim schedule, no data races",
          "[cuda][attention][cudasim]") {
  using tessera::cudasim::Options;
  using tessera::cudasim::Schedule;
  using tessera::cudasim::ScopedOptions;
  const DType t = GENERATE(kFloat32, kBFloat16);
  const Problem pr(Case{1, 2, 40, 40, 32, true}, t, 17);
  auto run_with = [&](const Options& o) {
    ScopedOptions scope(o);
    return pr.run();
  };
  Options base;
  base.race_check = true;
  const Run ref = run_with(base);
  pr.check(ref);
  for (Schedule s : {Schedule::kReverse, Schedule::kRandom}) {
    Options o = base;
    o.schedule = s;
    o.seed = 3;
    o.threads = 2;
    const Run got = run_with(o);
    INFO("schedule " << tessera::cudasim::schedule_name(s));
    CHECK(bitwise_equal(to_cpu(got.fwd.out), to_cpu(ref.fwd.out)));
    CHECK(bitwise_equal(to_cpu(got.fwd.lse), to_cpu(ref.fwd.lse)));
    CHECK(bitwise_equal(to_cpu(got.grads.grad_q), to_cpu(ref.grads.grad_q)));
    CHECK(bitwise_equal(to_cpu(got.grads.grad_k), to_cpu(ref.grads.grad_k)));
    CHECK(bitwise_equal(to_cpu(got.grads.grad_v), to_cpu(ref.grads.grad_v)));
  }
}
#endif
