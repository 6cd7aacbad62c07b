// SPDX-License-Identifier: Apache-2.0
/// @brief LayerNorm / softmax bandwidth as a fraction of memcpy, measured relatively: each kernel
/// and a memcpy moving the same number of bytes (read + written) run alternately in the same
/// process, many times; the ratio is memcpy time / kernel time for the best and the median run.
///
/// Why not two separate benchmark runs: on a shared, loaded machine the absolute GB/s of two runs
/// minutes apart differ by 2-3x; alternating within one process exposes both to the same load.
/// Times are the process's CPU time (time spent descheduled does not count) and wall time; run it
/// with OMP_NUM_THREADS=1 for the one-core figures of docs/kernels.md.
///
/// Usage: bench_norm_ratio [reps=25] [filter-substring]
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <tessera/kernels/cpu/layer_norm.h>
#include <tessera/kernels/cpu/softmax.h>

namespace {

using namespace tessera::kernels::cpu;

double now(clockid_t clk) {
  timespec ts;
  clock_gettime(clk, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

struct Stat {
  std::vector<double> cpu, wall;
  double best(const std::vector<double>& v) const { return *std::min_element(v.begin(), v.end()); }
  double median(std::vector<double> v) const {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
};

// Runs fn once (timed) and records CPU and wall seconds.
void timed(Stat& s, const std::function<void()>& fn) {
  const double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
  fn();
  s.wall.push_back(now(CLOCK_MONOTONIC) - w0);
  s.cpu.push_back(now(CLOCK_PROCESS_CPUTIME_ID) - c0);
}

std::vector<float> filled(int64_t n, float a, float f) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = a * std::sin(f * static_cast<float>(i % 1000003));
  return v;
}

// Alternates kernel and a memcpy of bytes/2 (so both move `bytes`), prints the ratios.
void compare(const char* name, double bytes, int reps, const std::function<void()>& kernel) {
  const size_t half = static_cast<size_t>(bytes / 2);
  std::vector<char> src(half, 1), dst(half, 0);
  Stat k, m;
  kernel();  // warm-up: touch the pages
  std::memcpy(dst.data(), src.data(), half);
  for (int r = 0; r < reps; ++r) {
    timed(m, [&] { std::memcpy(dst.data(), src.data(), half); });
    timed(k, kernel);
  }
  const double gb = bytes * 1e-9;
  std::printf(
      "%-34s  cpu median: kernel %6.1f GB/s memcpy %6.1f GB/s ratio %5.1f%%   best: %6.1f / "
      "%6.1f = %5.1f%%   wall best: %5.1f%%\n",
      name, gb / k.median(k.cpu), gb / m.median(m.cpu), 100 * m.median(m.cpu) / k.median(k.cpu),
      gb / k.best(k.cpu), gb / m.best(m.cpu), 100 * m.best(m.cpu) / k.best(k.cpu),
      100 * m.best(m.wall) / k.best(k.wall));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 25;
  const std::string filter = argc > 2 ? argv[2] : "";
  auto want = [&](const std::string& s) { return s.find(filter) != std::string::npos; };
  std::printf("threads %d, reps %d\n", omp_get_max_threads(), reps);

  for (auto [n, c] : {std::pair<int64_t, int64_t>{16384, 768}, {16384, 1024}, {4096, 4096}}) {
    const std::string shape = std::to_string(n) + "x" + std::to_string(c);
    auto x = filled(n * c, 1.f, 0.001f), gy = filled(n * c, 1.f, 0.003f);
    std::vector<float> y(n * c), gx(n * c), w(c, 1.1f), b(c, 0.1f), mean(n), rstd(n), gw(c), gb(c),
        ro(n * c);
    if (want("ln_fwd " + shape))
      compare(("ln_fwd " + shape).c_str(), 2.0 * n * c * 4, reps, [&] {
        layer_norm_forward<float>(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(),
                                  n, c, 1e-5f);
      });
    if (want("add_ln_fwd " + shape))
      compare(("add_ln_fwd " + shape).c_str(), 4.0 * n * c * 4, reps, [&] {
        add_layer_norm_forward<float>(x.data(), gy.data(), ro.data(), w.data(), b.data(), y.data(),
                                      mean.data(), rstd.data(), n, c, 1e-5f);
      });
    layer_norm_forward<float>(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), n,
                              c, 1e-5f);
    if (want("ln_bwd " + shape))
      compare(("ln_bwd " + shape).c_str(), 3.0 * n * c * 4, reps, [&] {
        layer_norm_backward<float>(gy.data(), x.data(), w.data(), mean.data(), rstd.data(), nullptr,
                                   gx.data(), gw.data(), gb.data(), n, c);
      });
  }
  for (auto [n, c] :
       {std::pair<int64_t, int64_t>{4096, 4096}, {16384, 1024}, {65536, 256}, {64, 262144}}) {
    const std::string shape = std::to_string(n) + "x" + std::to_string(c);
    auto x = filled(n * c, 4.f, 0.01f), gy = filled(n * c, 1.f, 0.003f);
    std::vector<float> y(n * c), gx(n * c);
    SoftmaxOptions o;
    o.scale = 0.125f;
    if (want("softmax_fwd " + shape))
      compare(("softmax_fwd " + shape).c_str(), 2.0 * n * c * 4, reps,
              [&] { softmax_forward<float>(x.data(), y.data(), n, c, o); });
    if (want("log_softmax_fwd " + shape))
      compare(("log_softmax_fwd " + shape).c_str(), 2.0 * n * c * 4, reps,
              [&] { log_softmax_forward<float>(x.data(), y.data(), n, c, o); });
    softmax_forward<float>(x.data(), y.data(), n, c, o);
    if (want("softmax_bwd " + shape))
      compare(("softmax_bwd " + shape).c_str(), 3.0 * n * c * 4, reps,
              [&] { softmax_backward<float>(y.data(), gy.data(), gx.data(), n, c, 0.125f); });
  }
  return 0;
}
