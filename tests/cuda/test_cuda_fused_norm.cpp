// SPDX-License-Identifier: Apache-2.0
/// @brief The CUDA LayerNorm and softmax kernels (kernels/cuda/layer_norm.cu, softmax.cu) against
/// float64 reference loops, through the native ops and the raw launchers; determinism, cudasim
/// schedules with the race checker, and nn::functional::layer_norm's autograd on CUDA vs CPU.
///
/// Tolerances (|got - ref| <= atol + rtol * |ref|, with atol scaled by max(1, max |ref|) of the
/// tensor, since gradients are sums whose cancellation is relative to their largest terms):
///   float64 {1e-12, 1e-10}; float32 {1e-5, 1e-5} (float32 accumulation over <= 9000 terms);
///   float16 {2e-3, 2e-3} and bfloat16 {1e-2, 1.6e-2} (one rounding of the output: 2^-11, 2^-8).
/// The reference sees the same rounded inputs as the kernel (values read back from the tensors).
#include <catch2/catch.hpp>

#if defined(TESSERA_TEST_CUDASIM)
#include <tessera/cudasim/core.h>  // first: it defines the CUDA keywords the CUDA headers test
#endif

#include <cmath>
#include <limits>
#include <vector>

#include <tessera/kernels/cuda/layer_norm.h>
#include <tessera/kernels/cuda/softmax.h>
#include <tessera/nn/functional.h>
#include <tessera/ops.h>

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;
namespace kc = tessera::kernels::cuda;

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

Tol base_tol(DType t) {
  switch (t) {
    case kFloat64:
      return {1e-12, 1e-10};
    case kFloat32:
      return {1e-5, 1e-5};
    case kFloat16:
      return {2e-3, 2e-3};
    default:
      return {1e-2, 1.6e-2};
  }
}

/// base_tol with atol scaled by the reference's largest magnitude.
Tol scaled_tol(DType t, const std::vector<double>& ref) {
  double mx = 1;
  for (double v : ref)
    if (std::isfinite(v)) mx = std::max(mx, std::abs(v));
  Tol tol = base_tol(t);
  tol.atol *= mx;
  return tol;
}

bool check_ref(const std::string& what, const Tensor& got, const std::vector<double>& ref,
               DType t) {
  return check_close(what, to_cpu(got), Ref(got.shape(), ref), scaled_tol(t, ref));
}

kc::ScalarType st(DType t) { return static_cast<kc::ScalarType>(static_cast<int>(t)); }

// ---- float64 references
struct LnRef {
  std::vector<double> y, mean, rstd;
};
LnRef ln_ref(const std::vector<double>& x, const std::vector<double>& w,
             const std::vector<double>& b, int64_t rows, int64_t cols, double eps) {
  LnRef r;
  r.y.resize(x.size());
  for (int64_t i = 0; i < rows; ++i) {
    double m = 0, v = 0;
    for (int64_t j = 0; j < cols; ++j) m += x[i * cols + j];
    m /= cols;
    for (int64_t j = 0; j < cols; ++j) v += (x[i * cols + j] - m) * (x[i * cols + j] - m);
    const double rs = 1 / std::sqrt(v / cols + eps);
    for (int64_t j = 0; j < cols; ++j)
      r.y[i * cols + j] =
          (x[i * cols + j] - m) * rs * (w.empty() ? 1 : w[j]) + (b.empty() ? 0 : b[j]);
    r.mean.push_back(m);
    r.rstd.push_back(rs);
  }
  return r;
}

struct LnGradRef {
  std::vector<double> gx, gw, gb;
};
LnGradRef ln_grad_ref(const std::vector<double>& g, const std::vector<double>& x,
                      const std::vector<double>& w, int64_t rows, int64_t cols, double eps) {
  const LnRef f = ln_ref(x, {}, {}, rows, cols, eps);  // f.y = x_hat
  LnGradRef r{std::vector<double>(x.size()), std::vector<double>(cols, 0.0),
              std::vector<double>(cols, 0.0)};
  for (int64_t i = 0; i < rows; ++i) {
    double mg = 0, mgx = 0;
    for (int64_t j = 0; j < cols; ++j) {
      const double gw = g[i * cols + j] * (w.empty() ? 1 : w[j]);
      mg += gw / cols;
      mgx += gw * f.y[i * cols + j] / cols;
      r.gw[j] += g[i * cols + j] * f.y[i * cols + j];
      r.gb[j] += g[i * cols + j];
    }
    for (int64_t j = 0; j < cols; ++j) {
      const double gw = g[i * cols + j] * (w.empty() ? 1 : w[j]);
      r.gx[i * cols + j] = f.rstd[i] * (gw - mg - f.y[i * cols + j] * mgx);
    }
  }
  return r;
}

struct SmOpts {
  double scale = 1;
  const std::vector<double>* mask = nullptr;  // (mask_rows, cols), nonzero = visible
  int64_t mask_rows = 0, causal_rows = 0, causal_offset = 0;
};
std::vector<double> softmax_ref(const std::vector<double>& x, int64_t rows, int64_t cols, bool log,
                                const SmOpts& o) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < rows; ++i) {
    std::vector<double> z(cols);
    double m = kNegInf;
    for (int64_t j = 0; j < cols; ++j) {
      bool keep = true;
      if (o.mask) keep = (*o.mask)[(i % o.mask_rows) * cols + j] != 0;
      if (o.causal_rows > 0) keep = keep && j <= i % o.causal_rows + o.causal_offset;
      z[j] = keep ? o.scale * x[i * cols + j] : kNegInf;
      m = std::max(m, z[j]);
    }
    double s = 0;
    for (int64_t j = 0; j < cols; ++j) s += m == kNegInf ? 0 : std::exp(z[j] - m);
    for (int64_t j = 0; j < cols; ++j) {
      if (m == kNegInf)
        y[i * cols + j] = log ? kNegInf : 0;
      else
        y[i * cols + j] = log ? z[j] - m - std::log(s) : std::exp(z[j] - m) / s;
    }
  }
  return y;
}

std::vector<double> softmax_grad_ref(const std::vector<double>& y, const std::vector<double>& g,
                                     int64_t rows, int64_t cols, bool log, double scale) {
  std::vector<double> gx(y.size());
  for (int64_t i = 0; i < rows; ++i) {
    double dot = 0;
    for (int64_t j = 0; j < cols; ++j)
      dot += log ? g[i * cols + j] : g[i * cols + j] * y[i * cols + j];
    for (int64_t j = 0; j < cols; ++j) {
      const double yy = y[i * cols + j], gg = g[i * cols + j];
      gx[i * cols + j] =
          log ? (yy == kNegInf ? 0 : scale * (gg - std::exp(yy) * dot)) : scale * yy * (gg - dot);
    }
  }
  return gx;
}

const std::vector<DType> kDtypes = {kFloat32, kFloat64, kBFloat16, kFloat16};
// warp per row (<= 1024) and block per row; vector (C % 8 == 0) and scalar; 9000 overflows the
// block's registers (8192 values), 1000 the warp's backward cache (512 values).
const std::vector<int64_t> kCols = {1, 7, 127, 129, 1000, 1031, 1536, 9000};

}  // namespace

TEST_CASE("cuda layer_norm forward and backward match float64 references", "[cuda][layer_norm]") {
  std::mt19937 rng(7);
  const double eps = 1e-5;
  for (DType dt : kDtypes) {
    for (int64_t cols : kCols) {
      for (int64_t rows : {int64_t{1}, int64_t{5}}) {
        if (cols == 9000 && rows > 1) continue;  // keep cudasim fast
        for (bool affine : {true, false}) {
          INFO(dt << " rows " << rows << " cols " << cols << (affine ? " affine" : " plain"));
          // offset mean so the statistics are tested for cancellation
          const Tensor x = random_tensor({rows, cols}, dt, rng, Layout::Contiguous, 1.0, 5.0);
          const Tensor w = affine ? random_tensor({cols}, dt, rng) : Tensor();
          const Tensor b = affine ? random_tensor({cols}, dt, rng) : Tensor();
          const Tensor g = random_tensor({rows, cols}, dt, rng);
          const std::vector<double> xv = values(x), gv = values(g);
          const std::vector<double> wv = affine ? values(w) : std::vector<double>{};
          const std::vector<double> bv = affine ? values(b) : std::vector<double>{};
          const Tensor xc = native::to(x, kCuda);
          const Tensor wc = affine ? native::to(w, kCuda) : Tensor();
          const Tensor bc = affine ? native::to(b, kCuda) : Tensor();
          const native::LayerNormResult f = native::layer_norm(xc, wc, bc, eps);
          const LnRef ref = ln_ref(xv, wv, bv, rows, cols, eps);
          CHECK(check_ref("y", f.y, ref.y, dt));
          const DType stat = dt == kFloat64 ? kFloat64 : kFloat32;
          CHECK(f.mean.dtype() == stat);
          CHECK(check_ref("mean", f.mean, ref.mean, stat));
          CHECK(check_ref("rstd", f.rstd, ref.rstd, stat));
          const native::LayerNormGrads gr = native::layer_norm_backward(
              native::to(g, kCuda), xc, wc, f.mean, f.rstd, true, affine, affine);
          const LnGradRef gref = ln_grad_ref(gv, xv, wv, rows, cols, eps);
          CHECK(check_ref("grad_x", gr.grad_x, gref.gx, dt));
          if (affine) {
            CHECK(check_ref("grad_weight", gr.grad_weight, gref.gw, dt));
            CHECK(check_ref("grad_bias", gr.grad_bias, gref.gb, dt));
          }
        }
      }
    }
  }
}

TEST_CASE("cuda layer_norm: non-contiguous and misaligned inputs, bad input",
          "[cuda][layer_norm]") {
  std::mt19937 rng(8);
  SECTION("transposed view is made contiguous") {
    const Tensor x = random_tensor({6, 129}, kFloat32, rng, Layout::Transposed);
    const Tensor w = random_tensor({129}, kFloat32, rng, Layout::Strided);
    const native::LayerNormResult f =
        native::layer_norm(to_cuda_view(x), to_cuda_view(w), Tensor(), 1e-5);
    const native::LayerNormResult c = native::layer_norm(x, w, Tensor(), 1e-5);
    CHECK(check_cuda("y", f.y, c.y, base_tol(kFloat32)));
    CHECK(check_cuda("rstd", f.rstd, c.rstd, base_tol(kFloat32)));
  }
  SECTION("a pointer off the 16-byte grid takes the scalar path") {
    const int64_t rows = 3, cols = 64;  // cols % 4 == 0: only the alignment forbids vectors
    const Tensor flat = random_tensor({rows * cols + 1}, kFloat32, rng);
    const Tensor x = native::reshape(native::slice(flat, 0, 1, rows * cols + 1), {rows, cols});
    const native::LayerNormResult f = native::layer_norm(to_cuda_view(x), Tensor(), Tensor(), 1e-5);
    const LnRef ref = ln_ref(values(x), {}, {}, rows, cols, 1e-5);
    CHECK(check_ref("y", f.y, ref.y, kFloat32));
  }
  SECTION("errors name the op") {
    const Tensor x = native::to(random_tensor({2, 5}, kFloat32, rng), kCuda);
    const Tensor w = native::to(random_tensor({4}, kFloat32, rng), kCuda);
    CHECK_THROWS_WITH(native::layer_norm(x, w, Tensor(), 1e-5),
                      Catch::Matchers::Contains("layer_norm"));
    const Tensor wcpu = random_tensor({5}, kFloat32, rng);
    CHECK_THROWS_WITH(native::layer_norm(x, wcpu, Tensor(), 1e-5),
                      Catch::Matchers::Contains("device"));
  }
}

TEST_CASE("cuda add_layer_norm_forward: residual_out = x + r, y = LN(residual_out)",
          "[cuda][layer_norm]") {
  std::mt19937 rng(9);
  for (DType dt : {kFloat32, kBFloat16}) {
    for (int64_t cols : {int64_t{129}, int64_t{1536}}) {
      INFO(dt << " cols " << cols);
      const int64_t rows = 3;
      const Tensor x = random_tensor({rows, cols}, dt, rng),
                   r = random_tensor({rows, cols}, dt, rng);
      const Tensor w = random_tensor({cols}, dt, rng), b = random_tensor({cols}, dt, rng);
      const Tensor xc = native::to(x, kCuda), rc = native::to(r, kCuda);
      const Tensor wc = native::to(w, kCuda), bc = native::to(b, kCuda);
      Tensor ro = empty({rows, cols}, {.dtype = dt, .device = kCuda});
      Tensor y = empty({rows, cols}, {.dtype = dt, .device = kCuda});
      Tensor mean = empty({rows}, {.dtype = kFloat32, .device = kCuda});
      Tensor rstd = empty({rows}, {.dtype = kFloat32, .device = kCuda});
      kc::add_layer_norm_forward(st(dt), xc.data_ptr(), rc.data_ptr(), ro.data_ptr(), wc.data_ptr(),
                                 bc.data_ptr(), y.data_ptr(), mean.data_ptr(), rstd.data_ptr(),
                                 rows, cols, 1e-5, nullptr);
      const std::vector<double> xv = values(x), rv = values(r);
      std::vector<double> sum(xv.size());
      for (size_t i = 0; i < sum.size(); ++i) sum[i] = round_to(dt, xv[i] + rv[i]);
      CHECK(check_close("residual_out", to_cpu(ro), Ref({rows, cols}, sum), Tol{0, 0}));
      const LnRef ref = ln_ref(sum, values(w), values(b), rows, cols, 1e-5);
      CHECK(check_ref("y", y, ref.y, dt));
      CHECK(check_ref("rstd", rstd, ref.rstd, kFloat32));
    }
  }
}

TEST_CASE("cuda softmax / log_softmax (native ops) match float64 references", "[cuda][softmax]") {
  std::mt19937 rng(10);
  for (DType dt : kDtypes) {
    for (int64_t cols : kCols) {
      const int64_t rows = cols == 9000 ? 1 : 3;
      INFO(dt << " rows " << rows << " cols " << cols);
      const Tensor x = random_tensor({rows, cols}, dt, rng, Layout::Contiguous, -8, 8);
      const Tensor g = random_tensor({rows, cols}, dt, rng);
      const Tensor xc = native::to(x, kCuda), gc = native::to(g, kCuda);
      for (bool log : {false, true}) {
        INFO((log ? "log_softmax" : "softmax"));
        const Tensor y = log ? native::log_softmax(xc, 1) : native::softmax(xc, 1);
        const std::vector<double> ref = softmax_ref(values(x), rows, cols, log, {});
        CHECK(check_ref("y", y, ref, dt));
        const Tensor gx =
            log ? native::log_softmax_backward(y, gc, 1) : native::softmax_backward(y, gc, 1);
        const std::vector<double> yv = values(to_cpu(y));
        CHECK(check_ref("grad_x", gx, softmax_grad_ref(yv, values(g), rows, cols, log, 1), dt));
      }
    }
  }
  SECTION("over a leading dim of a transposed view, and integer input") {
    const Tensor x = random_tensor({7, 33}, kFloat32, rng, Layout::Transposed);
    CHECK(check_cuda("softmax dim 0", native::softmax(to_cuda_view(x), 0), native::softmax(x, 0),
                     base_tol(kFloat32)));
    const Tensor xi = random_tensor({4, 9}, kInt64, rng, Layout::Contiguous, -5, 5);
    CHECK(check_cuda("log_softmax int", native::log_softmax(native::to(xi, kCuda), 1),
                     native::log_softmax(xi, 1), base_tol(kFloat32)));
  }
}

TEST_CASE("cuda softmax kernel: scale, boolean mask, causal, fully masked rows",
          "[cuda][softmax]") {
  std::mt19937 rng(11);
  const int64_t T = 37, blocks = 2, rows = blocks * T;  // two stacked (T, T) score blocks
  for (DType dt : {kFloat32, kBFloat16}) {
    for (bool log : {false, true}) {
      INFO(dt << (log ? " log_softmax" : " softmax"));
      const Tensor x = random_tensor({rows, T}, dt, rng, Layout::Contiguous, -4, 4);
      const Tensor xc = native::to(x, kCuda);
      // mask (T, T): random, with row 5 fully masked
      std::vector<double> mv = random_values(T * T, kBool, rng);
      for (int64_t j = 0; j < T; ++j) mv[5 * T + j] = 0;
      const Tensor mask = native::to(make_tensor(mv, {T, T}, kBool), kCuda);
      struct Case {
        const char* name;
        bool use_mask;
        bool causal;
        int64_t offset;
      };
      for (const Case& c : {Case{"scaled", false, false, 0}, Case{"masked", true, false, 0},
                            Case{"causal", false, true, 0}, Case{"causal+mask", true, true, 0},
                            Case{"causal offset -3", false, true, -3}}) {
        INFO(c.name);
        kc::SoftmaxParams p;
        p.scale = 0.37;
        p.log = log;
        if (c.use_mask) {
          p.mask = static_cast<const bool*>(mask.data_ptr());
          p.mask_rows = T;
        }
        if (c.causal) {
          p.causal_rows = T;
          p.causal_offset = c.offset;
        }
        Tensor y = empty({rows, T}, {.dtype = dt, .device = kCuda});
        kc::softmax_forward(st(dt), xc.data_ptr(), y.data_ptr(), rows, T, p, nullptr);
        SmOpts o;
        o.scale = p.scale;
        o.mask = c.use_mask ? &mv : nullptr;
        o.mask_rows = T;
        o.causal_rows = p.causal_rows;
        o.causal_offset = c.offset;
        const std::vector<double> ref = softmax_ref(values(x), rows, T, log, o);
        CHECK(check_ref("y", y, ref, dt));  // fully masked rows: exactly 0 / -inf, no NaN
        const Tensor g = random_tensor({rows, T}, dt, rng);
        Tensor gx = empty({rows, T}, {.dtype = dt, .device = kCuda});
        const Tensor gc = native::to(g, kCuda);
        kc::softmax_backward(st(dt), y.data_ptr(), gc.data_ptr(), gx.data_ptr(), rows, T, log,
                             p.scale, nullptr);
        CHECK(check_ref("grad_x", gx,
                        softmax_grad_ref(values(to_cpu(y)), values(g), rows, T, log, p.scale), dt));
      }
    }
  }
}

namespace {
/// Every kernel of this file on fixed inputs, results as CPU tensors.
std::vector<Tensor> run_all_norm() {
  std::mt19937 rng(12);
  std::vector<Tensor> out;
  for (int64_t cols : {int64_t{200}, int64_t{1031}, int64_t{2048}}) {
    const int64_t rows = 70;  // three chunks of the parameter-gradient pass
    const Tensor x = native::to(random_tensor({rows, cols}, kFloat32, rng), kCuda);
    const Tensor w = native::to(random_tensor({cols}, kFloat32, rng), kCuda);
    const Tensor b = native::to(random_tensor({cols}, kFloat32, rng), kCuda);
    const Tensor g = native::to(random_tensor({rows, cols}, kFloat32, rng), kCuda);
    const native::LayerNormResult f = native::layer_norm(x, w, b, 1e-5);
    const native::LayerNormGrads gr =
        native::layer_norm_backward(g, x, w, f.mean, f.rstd, true, true, true);
    const Tensor y = native::softmax(x, 1);
    for (const Tensor& t : {f.y, f.mean, f.rstd, gr.grad_x, gr.grad_weight, gr.grad_bias, y,
                            native::softmax_backward(y, g, 1), native::log_softmax(x, 1)})
      out.push_back(to_cpu(t));
  }
  return out;
}
}  // namespace

TEST_CASE("cuda layer_norm / softmax are deterministic: same bits every run",
          "[cuda][layer_norm][softmax]") {
  const std::vector<Tensor> a = run_all_norm(), b = run_all_norm();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("result " << i);
    CHECK(bitwise_equal(a[i], b[i]));
  }
}

#if defined(TESSERA_TEST_CUDASIM)
TEST_CASE("cuda layer_norm / softmax: same bits under every cudasim schedule, no data races",
          "[cuda][cudasim][layer_norm][softmax]") {
  using tessera::cudasim::Options;
  using tessera::cudasim::Schedule;
  Options base;
  base.race_check = true;
  std::vector<Tensor> ref;
  {
    tessera::cudasim::ScopedOptions scope(base);
    ref = run_all_norm();
  }
  for (Schedule s : {Schedule::kReverse, Schedule::kRandom}) {
    Options o = base;
    o.schedule = s;
    o.seed = 7;
    o.threads = s == Schedule::kRandom ? 2 : 1;
    tessera::cudasim::ScopedOptions scope(o);
    const std::vector<Tensor> got = run_all_norm();
    REQUIRE(got.size() == ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      INFO("result " << i << " schedule " << tessera::cudasim::schedule_name(s));
      CHECK(bitwise_equal(got[i], ref[i]));
    }
  }
}
#endif

TEST_CASE("nn::functional::layer_norm on CUDA matches the CPU: values and gradients",
          "[cuda][layer_norm][autograd]") {
  std::mt19937 rng(13);
  const Tensor x0 = random_tensor({2, 3, 129}, kFloat32, rng, Layout::Contiguous, -3, 3);
  const Tensor w0 = random_tensor({129}, kFloat32, rng);
  const Tensor b0 = random_tensor({129}, kFloat32, rng);
  const Tensor c0 = random_tensor({2, 3, 129}, kFloat32, rng);
  struct Out {
    Tensor y, gx, gw, gb;
  };
  auto run = [&](Device dev) {
    Tensor x = native::to(x0, dev, true), w = native::to(w0, dev, true),
           b = native::to(b0, dev, true);
    x.requires_grad_(true);
    w.requires_grad_(true);
    b.requires_grad_(true);
    const Tensor y = nn::functional::layer_norm(x, 1, w, b, 1e-5);
    tessera::backward(tessera::sum(tessera::mul(y, native::to(c0, dev))));
    return Out{y, x.grad(), w.grad(), b.grad()};
  };
  const Out cpu = run(kCPU), gpu = run(kCuda);
  const Tol tol{1e-5, 1e-5};
  CHECK(check_cuda("y", gpu.y, cpu.y, tol));
  CHECK(check_cuda("grad x", gpu.gx, cpu.gx, tol));
  CHECK(check_cuda("grad w", gpu.gw, cpu.gw, tol));
  CHECK(check_cuda("grad b", gpu.gb, cpu.gb, tol));
}
