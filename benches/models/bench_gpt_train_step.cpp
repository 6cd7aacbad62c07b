// SPDX-License-Identifier: Apache-2.0
/// @brief GPT training-step throughput (forward + backward + AdamW, float32) and its matmul bound.
///
/// For each shape (V, T, L, H, C, B) it prints tokens/s of tessera's full step, the "matmul bound"
/// (every GEMM of one step at the model's own shapes timed alone with OpenBLAS's cblas_sgemm and
/// summed: no implementation built on such GEMMs can be faster), achieved/bound, and the peak
/// tensor memory of a step. FLOPs per token for GFLOP/s: 6N + 12 L T C with
/// N = V C + L (12 C^2 + 13 C) + 2 C (docs/perf.md; the same accounting as ../shared/notes).
/// cpu_ms and cpu_over_bound_cpu repeat step time and ratio in process CPU time (all threads),
/// which a loaded machine disturbs much less than wall time (at 1 thread; at 2, spin-waiting
/// counts). Usage: bench_gpt_train_step [--steps N] [--shape V,T,L,H,C,B]   (JSON line per shape on
/// stdout)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <time.h>

#include <tessera/allocator.h>
#include <tessera/tessera.h>

namespace {

using namespace tessera;
using Clock = std::chrono::steady_clock;

struct ShapeV {
  int64_t v, t, l, h, c, b;
};

struct Gemm {
  int64_t m, n, k, batch;
};

/// The GEMMs of one training step of the GPT in models/gpt.h (row-major M x K @ K x N).
std::vector<Gemm> step_gemms(const ShapeV& s) {
  const int64_t n = s.b * s.t, c = s.c, d = s.c / s.h, bh = s.b * s.h, t = s.t;
  std::vector<Gemm> g;
  auto linear = [&](int64_t in, int64_t out) {
    g.push_back({n, out, in, 1});  // y = x W^T
    g.push_back({n, in, out, 1});  // dx = dy W
    g.push_back({out, in, n, 1});  // dW = dy^T x
  };
  for (int64_t i = 0; i < s.l; ++i) {
    linear(c, 3 * c);
    g.push_back({t, t, d, bh});  // S = Q K^T
    g.push_back({t, d, t, bh});  // O = P V
    g.push_back({t, t, d, bh});  // dP = dO V^T
    g.push_back({t, d, t, bh});  // dV = P^T dO
    g.push_back({t, d, t, bh});  // dQ = dS K
    g.push_back({t, d, t, bh});  // dK = dS^T Q
    linear(c, c);
    linear(c, 4 * c);
    linear(4 * c, c);
  }
  linear(c, s.v);  // tied LM head
  return g;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// CPU time of the whole process (all threads): on a loaded machine it excludes the time the
/// step waited for a core, so before/after comparisons at 1 thread stay meaningful.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

/// Sum over the step's GEMMs of the median of 5 timings of cblas_sgemm at that shape (wall clock,
/// or process CPU time when `cpu_clock`).
double matmul_bound_seconds(const ShapeV& s, bool cpu_clock = false) {
  double total = 0;
  for (const Gemm& g : step_gemms(s)) {
    std::vector<float> a(g.m * g.k, 0.5f), b(g.k * g.n, 0.25f), c(g.m * g.n);
    std::vector<double> times;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = Clock::now();
      const double c0 = process_cpu_seconds();
      for (int64_t i = 0; i < g.batch; ++i)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.m, g.n, g.k, 1.f, a.data(), g.k,
                    b.data(), g.n, 0.f, c.data(), g.n);
      times.push_back(cpu_clock ? process_cpu_seconds() - c0 : seconds_since(t0));
    }
    std::sort(times.begin(), times.end());
    total += times[2];
  }
  return total;
}

double flops_per_token(const ShapeV& s) {
  const double n = double(s.v) * s.c + double(s.l) * (12.0 * s.c * s.c + 13.0 * s.c) + 2.0 * s.c;
  return 6 * n + 12.0 * s.l * s.t * s.c;
}

void run(const ShapeV& s, int steps) {
  models::GPTConfig cfg;
  cfg.vocab_size = s.v;
  cfg.context = s.t;
  cfg.n_layer = s.l;
  cfg.n_head = s.h;
  cfg.n_embd = s.c;
  Generator gen(1);
  models::GPT model(cfg, &gen);
  nn::AdamOptions ao;
  ao.lr = 1e-4;
  nn::AdamW opt(model.param_groups(1e-4, 0.1), ao);
  const Tensor x = randint(0, s.v, {s.b, s.t}, {.dtype = kInt64}, &gen);
  const Tensor y = randint(0, s.v, {s.b, s.t}, {.dtype = kInt64}, &gen);
  auto step = [&] {
    const Tensor loss = model.loss(x, y);
    backward(loss);
    opt.step();
    opt.zero_grad();
  };
  step();  // warm-up (allocations, OpenBLAS threads)
  reset_peak_memory();
  std::vector<double> times, cpu_times;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = Clock::now();
    const double c0 = process_cpu_seconds();
    step();
    cpu_times.push_back(process_cpu_seconds() - c0);
    times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu_times.begin(), cpu_times.end());
  const double t_step = times[times.size() / 2], cpu_step = cpu_times[cpu_times.size() / 2];
  const double bound = matmul_bound_seconds(s), bound_cpu = matmul_bound_seconds(s, true);
  const double tokens = double(s.b) * s.t;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "{\"shape\": [%lld, %lld, %lld, %lld, %lld, %lld], \"step_ms\": %.1f, \"cpu_ms\": %.1f, "
      "\"tokens_per_s\": "
      "%.0f, "
      "\"gflops\": %.1f, \"matmul_bound_tokens_per_s\": %.0f, \"achieved_over_bound\": %.3f, "
      "\"cpu_over_bound_cpu\": %.3f, "
      "\"peak_tensor_mb\": %.1f, \"max_rss_mb\": %.1f}\n",
      (long long)s.v, (long long)s.t, (long long)s.l, (long long)s.h, (long long)s.c,
      (long long)s.b, t_step * 1e3, cpu_step * 1e3, tokens / t_step,
      tokens * flops_per_token(s) / t_step / 1e9, tokens / bound, bound / t_step,
      bound_cpu / cpu_step, memory_stats().peak_allocated / 1048576.0, ru.ru_maxrss / 1024.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 5;
  std::vector<ShapeV> shapes = {
      {65, 64, 4, 4, 128, 12}, {8192, 256, 6, 8, 512, 8}, {50257, 256, 12, 12, 768, 4}};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--steps") && i + 1 < argc)
      steps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--shape") && i + 1 < argc) {
      ShapeV s{};
      long long v, t, l, h, c, b;
      if (std::sscanf(argv[++i], "%lld,%lld,%lld,%lld,%lld,%lld", &v, &t, &l, &h, &c, &b) != 6)
        return 2;
      s = {v, t, l, h, c, b};
      shapes = {s};
    }
  }
  for (const ShapeV& s : shapes) run(s, steps);
}
