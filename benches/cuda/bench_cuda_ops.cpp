// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA op throughput: elementwise and reduction GB/s, GEMM TFLOP/s, against the measured
/// device-to-device copy bandwidth (the ceiling of a memory-bound op).
///
/// Method (llm.c dev/cuda/common.h): validate first (each op's result checked against the CPU on
/// a small input), then per case 3 warm-up runs and 20 timed runs, each timed with a pair of CUDA
/// events on the current stream; the median is reported. Working sets are 256 MiB per operand,
/// several times an H100/H200's 50-60 MiB L2, so no explicit L2 flush is needed for the
/// bandwidth cases. Cost model per case: bytes = every operand read or written once; GEMM
/// FLOP = 2 m n k.
/// Usage: bench_cuda_ops [--quick] [--json FILE]   (--quick: tiny sizes, for a smoke run on
/// cudasim)
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <tessera/creation.h>
#include <tessera/cuda.h>
#include <tessera/native.h>
#include <tessera/native/fused.h>
#include <tessera/random.h>

using namespace tessera;

namespace {

const Device kCuda{DeviceType::CUDA, 0};

struct Row {
  std::string op, variant, shape;
  double ms = 0, gbps = 0, tflops = 0, pct = 0;
};

double median_ms(const std::function<void()>& f, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    cuda::Event start, stop;
    start.record();
    f();
    stop.record();
    stop.synchronize();
    t.push_back(stop.elapsed_ms(start));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void validate(const char* what, const Tensor& cuda_result, const Tensor& cpu_result, double tol) {
  const bool ok = native::allclose(native::to(native::to(cuda_result, kCPU), kFloat32),
                                   native::to(cpu_result, kFloat32), tol, tol);
  if (!ok) {
    std::fprintf(stderr, "bench_cuda_ops: validation of %s FAILED\n", what);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick"))
      quick = true;
    else if (!std::strcmp(argv[i], "--json") && i + 1 < argc)
      json = argv[++i];
  }
  if (!cuda::is_available()) {
    std::fprintf(stderr, "bench_cuda_ops: no CUDA device\n");
    return 1;
  }
  const int warmup = quick ? 1 : 3, reps = quick ? 3 : 20;
  const int64_t n = quick ? (1 << 14) : (int64_t{1} << 26);  // 64 Mi elements = 256 MiB of f32
  const int64_t gemm = quick ? 64 : 8192;
  std::vector<Row> rows;

  // Validation on small inputs (every op timed below).
  {
    const Tensor a = randn({257, 33}), b = randn({257, 33});
    const Tensor da = native::to(a, kCuda), db = native::to(b, kCuda);
    validate("add", native::add(da, db), native::add(a, b), 1e-6);
    validate("gelu", native::gelu(native::to(da, kBFloat16)),
             native::gelu(native::to(a, kBFloat16)), 2e-2);
    validate("sum", native::sum(da, {1}), native::sum(a, {1}), 1e-5);
    validate("matmul",
             native::matmul(native::to(da, kBFloat16), native::t(native::to(db, kBFloat16))),
             native::matmul(native::to(a, kBFloat16), native::t(native::to(b, kBFloat16))), 5e-2);
    const Tensor q = randn({2, 3, 77, 64}, {.dtype = kBFloat16});
    native::AttentionParams ap;
    ap.causal = true;
    validate("attention",
             native::scaled_dot_product_attention(native::to(q, kCuda), native::to(q, kCuda),
                                                  native::to(q, kCuda), ap)
                 .out,
             native::scaled_dot_product_attention(q, q, q, ap).out, 3e-2);
  }

  const std::string nstr = "(" + std::to_string(n) + ")";
  // Ceiling: device-to-device copy (cudaMemcpyAsync through copy_).
  Tensor x = rand({n}, {.device = kCuda}), y = rand({n}, {.device = kCuda}),
         z = empty({n}, {.device = kCuda});
  const double copy_ms = median_ms([&] { native::copy_(z, x); }, warmup, reps);
  const double ceiling = 2.0 * n * 4 / (copy_ms * 1e-3) / 1e9;
  rows.push_back({"memcpy D2D", "f32", nstr, copy_ms, ceiling, 0, 100});

  auto bw = [&](const std::string& op, const std::string& var, const std::string& shape,
                double bytes, const std::function<void()>& f) {
    const double ms = median_ms(f, warmup, reps);
    const double gbps = bytes / (ms * 1e-3) / 1e9;
    rows.push_back({op, var, shape, ms, gbps, 0, 100.0 * gbps / ceiling});
  };
  bw("add", "f32 contiguous", nstr, 3.0 * n * 4, [&] { (void)native::add(x, y); });
  const Tensor xb = native::to(x, kBFloat16), yb = native::to(y, kBFloat16);
  bw("add", "bf16 contiguous", nstr, 3.0 * n * 2, [&] { (void)native::add(xb, yb); });
  bw("gelu", "bf16", nstr, 2.0 * n * 2, [&] { (void)native::gelu(xb); });
  const Tensor x2 = native::reshape(x, {n / 1024, 1024});
  const Tensor row = native::slice(y, 0, 0, 1024);
  bw("add", "f32 broadcast row", "(" + std::to_string(n / 1024) + ",1024)", 2.0 * n * 4,
     [&] { (void)native::add(x2, row); });
  bw("mul", "f32 transposed", "(" + std::to_string(n / 1024) + ",1024)^T", 2.0 * n * 4,
     [&] { (void)native::mul(native::t(x2), 2.0); });
  bw("sum", "f32 rows (x, 1024)", "(" + std::to_string(n / 1024) + ",1024)", 1.0 * n * 4,
     [&] { (void)native::sum(x2, {1}); });
  bw("sum", "f32 all", nstr, 1.0 * n * 4, [&] { (void)native::sum(x); });
  bw("sum", "f32 columns", "(" + std::to_string(n / 1024) + ",1024)", 1.0 * n * 4,
     [&] { (void)native::sum(x2, {0}); });
  bw("amax", "bf16 rows", "(" + std::to_string(n / 1024) + ",1024)", 1.0 * n * 2, [&] {
    (void)native::amax(native::reshape(xb, {n / 1024, 1024}), {1});
  });
  {  // fused LayerNorm / softmax (kernels/cuda/layer_norm.cu, softmax.cu) on bf16 rows of 1024
    const Tensor s = randn({67, 1024}, {.dtype = kBFloat16}),
                 ws = randn({1024}, {.dtype = kBFloat16});
    const Tensor ds = native::to(s, kCuda), dws = native::to(ws, kCuda);
    validate("layer_norm", native::layer_norm(ds, dws, dws, 1e-5).y,
             native::layer_norm(s, ws, ws, 1e-5).y, 3e-2);
    validate("softmax", native::softmax(ds, 1), native::softmax(s, 1), 1e-2);
    const Tensor v = native::reshape(xb, {n / 1024, 1024});
    const Tensor wv = native::slice(yb, 0, 0, 1024), bv = native::slice(yb, 0, 1024, 2048);
    const std::string vshape = "(" + std::to_string(n / 1024) + ",1024)";
    bw("layer_norm", "bf16 fwd", vshape, 2.0 * n * 2,
       [&] { (void)native::layer_norm(v, wv, bv, 1e-5); });
    const native::LayerNormResult f = native::layer_norm(v, wv, bv, 1e-5);
    bw("layer_norm", "bf16 bwd (x,w,b)", vshape, 5.0 * n * 2,
       [&] { (void)native::layer_norm_backward(v, v, wv, f.mean, f.rstd, true, true, true); });
    bw("softmax", "bf16 fwd", vshape, 2.0 * n * 2, [&] { (void)native::softmax(v, 1); });
    const Tensor p = native::softmax(v, 1);
    bw("softmax", "bf16 bwd", vshape, 3.0 * n * 2,
       [&] { (void)native::softmax_backward(p, v, 1); });
  }
  x = Tensor();
  y = Tensor();
  z = Tensor();

  // GEMM through cuBLAS: bf16 (f32 accumulation) and f32 (TF32 off, then on).
  const Tensor a = randn({gemm, gemm}, {.dtype = kBFloat16, .device = kCuda});
  const Tensor b = randn({gemm, gemm}, {.dtype = kBFloat16, .device = kCuda});
  const std::string gshape = "(" + std::to_string(gemm) + ")^3";
  auto flops = [&](const std::string& var, const std::function<void()>& f) {
    const double ms = median_ms(f, warmup, reps);
    rows.push_back(
        {"matmul", var, gshape, ms, 0, 2.0 * gemm * gemm * gemm / (ms * 1e-3) / 1e12, 0});
  };
  flops("bf16 cuBLAS", [&] { (void)native::matmul(a, b); });
  const Tensor af = native::to(a, kFloat32), bf = native::to(b, kFloat32);
  flops("f32 cuBLAS", [&] { (void)native::matmul(af, bf); });
  cuda::set_allow_tf32(true);
  flops("f32 TF32 cuBLAS", [&] { (void)native::matmul(af, bf); });
  cuda::set_allow_tf32(false);

  // Fused attention (kernels/cuda/attention.cu): FLOP = 4 B H T^2 D forward, 10 B H T^2 D
  // backward (useful work; the deterministic backward executes 14), halved when causal.
  {
    const int64_t B = quick ? 1 : 4, H = quick ? 2 : 16, T = quick ? 128 : 4096,
                  D = quick ? 64 : 128;
    const Tensor q = randn({B, H, T, D}, {.dtype = kBFloat16, .device = kCuda});
    const Tensor k = randn({B, H, T, D}, {.dtype = kBFloat16, .device = kCuda});
    const Tensor v = randn({B, H, T, D}, {.dtype = kBFloat16, .device = kCuda});
    const std::string shape = "(" + std::to_string(B) + "," + std::to_string(H) + "," +
                              std::to_string(T) + "," + std::to_string(D) + ")";
    for (bool causal : {false, true}) {
      native::AttentionParams ap;
      ap.causal = causal;
      const double f = (causal ? 0.5 : 1.0) * double(B) * H * T * T * D;
      const native::AttentionResult r = native::scaled_dot_product_attention(q, k, v, ap);
      const double fwd_ms =
          median_ms([&] { (void)native::scaled_dot_product_attention(q, k, v, ap); }, warmup, reps);
      rows.push_back({"attention", causal ? "bf16 fwd causal" : "bf16 fwd", shape, fwd_ms, 0,
                      4 * f / (fwd_ms * 1e-3) / 1e12, 0});
      const double bwd_ms = median_ms(
          [&] {
            (void)native::scaled_dot_product_attention_backward(q, q, k, v, r.out, r.lse, ap);
          },
          warmup, reps);
      rows.push_back({"attention", causal ? "bf16 bwd causal" : "bf16 bwd", shape, bwd_ms, 0,
                      10 * f / (bwd_ms * 1e-3) / 1e12, 0});
    }
  }

  std::printf("%-11s | %-20s | %-18s | %9s | %8s | %8s | %s\n", "op", "variant", "shape", "ms",
              "GB/s", "TFLOP/s", "% of D2D copy");
  for (const Row& r : rows) {
    std::printf("%-11s | %-20s | %-18s | %9.4f | %8.1f | %8.1f | %5.1f\n", r.op.c_str(),
                r.variant.c_str(), r.shape.c_str(), r.ms, r.gbps, r.tflops, r.pct);
  }
  if (!json.empty()) {
    std::ofstream f(json);
    f << "[\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      f << "  {\"op\": \"" << r.op << "\", \"variant\": \"" << r.variant << "\", \"shape\": \""
        << r.shape << "\", \"ms\": " << r.ms << ", \"gbps\": " << r.gbps
        << ", \"tflops\": " << r.tflops << ", \"pct_of_copy\": " << r.pct << "}"
        << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    f << "]\n";
  }
  return 0;
}
