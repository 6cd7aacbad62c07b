// SPDX-License-Identifier: Apache-2.0
/// @brief cudasim runs CUDA kernels with CUDA semantics: smem, shuffles, atomics, votes, math.
///
/// References are naive host loops (float64 where floats are summed); shuffle references follow the
/// CUDA programming guide's per-width semantics.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <tessera/error.h>
#include <tessera/half.h>

#include "cudasim/cudasim_test_kernels.h"

namespace ct = tessera::cudasim_test;

TEST_CASE("cudasim: block reduction through static shared memory matches float64", "[cudasim]") {
  const int n = GENERATE(1, 255, 256, 1000, 4097);
  std::mt19937 rng(n);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  const int blocks = (n + ct::kReduceThreads - 1) / ct::kReduceThreads;
  std::vector<float> sums(static_cast<size_t>(blocks), -7.0f);
  ct::block_sum(x.data(), n, sums.data(), blocks);
  for (int b = 0; b < blocks; ++b) {
    double ref = 0.0;
    for (int i = b * ct::kReduceThreads; i < std::min(n, (b + 1) * ct::kReduceThreads); ++i)
      ref += x[static_cast<size_t>(i)];
    INFO("n=" << n << " block " << b);
    REQUIRE(std::abs(sums[static_cast<size_t>(b)] - ref) <= 1e-5 * 256);
  }
}

namespace {

struct ShuffleResult {
  std::vector<int> scan_up, suffix_down, total_xor, bcast_idx, raw_up, raw_down, raw_xor, radd,
      rmax;
  explicit ShuffleResult(size_t n)
      : scan_up(n),
        suffix_down(n),
        total_xor(n),
        bcast_idx(n),
        raw_up(n),
        raw_down(n),
        raw_xor(n),
        radd(n),
        rmax(n) {}
  ct::ShuffleOut out() {
    return {scan_up.data(),  suffix_down.data(), total_xor.data(), bcast_idx.data(), raw_up.data(),
            raw_down.data(), raw_xor.data(),     radd.data(),      rmax.data()};
  }
};

}  // namespace

TEST_CASE("cudasim: warp shuffles follow CUDA's width/segment semantics", "[cudasim][shuffle]") {
  const int width = GENERATE(1, 2, 4, 8, 16, 32);
  const int src = GENERATE(0, 3, 37);
  const int xor_mask = GENERATE(1, 8);
  const int n = 96 * 3;
  std::mt19937 rng(static_cast<unsigned>(width * 131 + src));
  std::uniform_int_distribution<int> dist(-1000, 1000);
  std::vector<int> x(n);
  for (int& v : x) v = dist(rng);
  ShuffleResult r(n);
  ct::warp_shuffles(x.data(), n, width, src, xor_mask, r.out());
  for (int i = 0; i < n; ++i) {
    const int lane = i % 32;
    const int seg_base = i - lane % width;  // element index of the segment's first lane
    const int s = lane % width;
    long up = 0, down = 0, total = 0;
    for (int k = 0; k <= s; ++k) up += x[seg_base + k];
    for (int k = s; k < width; ++k) down += x[seg_base + k];
    for (int k = 0; k < width; ++k) total += x[seg_base + k];
    INFO("width=" << width << " src=" << src << " xor=" << xor_mask << " i=" << i);
    REQUIRE(r.scan_up[i] == up);
    REQUIRE(r.suffix_down[i] == down);
    REQUIRE(r.total_xor[i] == total);
    REQUIRE(r.bcast_idx[i] == x[seg_base + src % width]);
    REQUIRE(r.raw_up[i] == (s >= 3 ? x[i - 3] : x[i]));
    REQUIRE(r.raw_down[i] == (s + 5 < width ? x[i + 5] : x[i]));
    // PTX shfl.bfly: j = lane ^ b is valid when j <= the segment's last lane (it may lie in an
    // earlier segment); otherwise the lane keeps its own value.
    const int j = lane ^ xor_mask;
    const int seg_last = (lane - s) + width - 1;
    REQUIRE(r.raw_xor[i] == (j <= seg_last ? x[i - lane + j] : x[i]));
    long wsum = 0;
    int wmax = x[i - lane];
    for (int k = 0; k < 32; ++k) {
      wsum += x[i - lane + k];
      wmax = std::max(wmax, x[i - lane + k]);
    }
    REQUIRE(r.radd[i] == wsum);
    REQUIRE(r.rmax[i] == wmax);
  }
  if (width == 8 && xor_mask == 8) REQUIRE(r.raw_xor[8] == x[0]);  // lane 8 reads lane 0
}

TEST_CASE("cudasim: dynamic shared memory holds two arrays per block", "[cudasim][smem]") {
  const int chunk = GENERATE(1, 33, 128, 1024);
  const int n = 1000;
  std::vector<float> x(n), y(n, -1.0f);
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>(i) * 0.5f;
  ct::reverse_chunks(x.data(), y.data(), n, chunk);
  for (int i = 0; i < n; ++i) {
    const int base = i / chunk * chunk;
    const int r = base + (chunk - 1 - (i - base));
    INFO("chunk=" << chunk << " i=" << i);
    if (r < n) {
      REQUIRE(y[i] == x[r]);
    } else {
      REQUIRE(y[i] == 0.0f);  // mirrored from the zero padding past n
    }
  }
}

TEST_CASE("cudasim: more than 48 KiB of dynamic smem needs cudaFuncSetAttribute",
          "[cudasim][smem]") {
  const int bytes = 64 * 1024, blocks = 3;
  std::vector<uint32_t> out(blocks, 0);
  REQUIRE_THROWS_WITH(
      ct::large_dynamic_smem(out.data(), blocks, bytes, false),
      Catch::Contains("cudaFuncSetAttribute") && Catch::Contains("large_smem_kernel"));
  ct::large_dynamic_smem(out.data(), blocks, bytes, true);
  for (int b = 0; b < blocks; ++b) {
    uint32_t sum = 0;
    for (int i = 0; i < bytes; ++i)
      sum = sum * 31u + static_cast<unsigned char>((i * 7 + b) & 0xFF);
    REQUIRE(out[b] == sum);
  }
}

TEST_CASE("cudasim: atomics across many blocks build an exact histogram", "[cudasim][atomics]") {
  const int n = 100003, nbins = 200;
  const int blocks = GENERATE(1, 37);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> dist(3, nbins - 1);
  std::vector<int> x(n);
  for (int& v : x) v = dist(rng);
  std::vector<unsigned> bins(nbins, 0);
  int max_v = -1, min_v = 1 << 30;
  double sum = 0.0;
  float sum_scaled = 0.0f;
  std::vector<int> first(nbins, -1), last(nbins, -1);
  ct::histogram(x.data(), n, nbins, blocks,
                {bins.data(), &max_v, &min_v, &sum, &sum_scaled, first.data(), last.data()});
  std::vector<unsigned> ref(nbins, 0);
  double ref_sum = 0.0;
  for (int v : x) {
    ++ref[v];
    ref_sum += v;
  }
  REQUIRE(bins == ref);
  REQUIRE(max_v == *std::max_element(x.begin(), x.end()));
  REQUIRE(min_v == *std::min_element(x.begin(), x.end()));
  REQUIRE(sum == ref_sum);
  REQUIRE(std::abs(sum_scaled - ref_sum / 64.0) <= 1e-5 * ref_sum / 64.0 * 20);
  for (int b = 0; b < nbins; ++b) {
    INFO("bin " << b);
    if (ref[b] == 0) {
      REQUIRE(first[b] == -1);
      REQUIRE(last[b] == -1);
    } else {
      REQUIRE(x[first[b]] == b);  // the atomicCAS winner holds this value
      REQUIRE(x[last[b]] == b);   // and so does the last atomicExch
    }
  }
}

TEST_CASE("cudasim: ballot/any/all and __syncthreads_count/and/or, partial warps",
          "[cudasim][vote]") {
  const int threshold = GENERATE(-1, 50, 99);
  const int n = 80 * 5 - 7;  // the last block has 73 live elements
  std::vector<int> x(n);
  std::mt19937 rng(threshold + 2);
  for (int& v : x) v = static_cast<int>(rng() % 100);
  const int blocks = 5, warps = blocks * 3;
  std::vector<unsigned> ballots(warps);
  std::vector<int> anys(warps), alls(warps), counts(blocks), ands(blocks), ors(blocks);
  ct::votes(x.data(), n, threshold,
            {ballots.data(), anys.data(), alls.data(), counts.data(), ands.data(), ors.data()});
  for (int b = 0; b < blocks; ++b) {
    int count = 0;
    for (int w = 0; w < 3; ++w) {
      const int lanes = w < 2 ? 32 : 16;
      unsigned ballot = 0;
      for (int l = 0; l < lanes; ++l) {
        const int i = b * 80 + w * 32 + l;
        if (i < n && x[i] > threshold) ballot |= 1u << l;
      }
      const unsigned existing = lanes == 32 ? 0xffffffffu : 0xffffu;
      INFO("block " << b << " warp " << w);
      REQUIRE(ballots[b * 3 + w] == ballot);
      REQUIRE(anys[b * 3 + w] == (ballot != 0));
      REQUIRE(alls[b * 3 + w] == (ballot == existing));
      count += std::popcount(ballot);
    }
    REQUIRE(counts[b] == count);
    REQUIRE(ands[b] == (count == 80));
    REQUIRE(ors[b] == (count > 0));
  }
}

TEST_CASE("cudasim: device math intrinsics and 16-bit conversions", "[cudasim][math]") {
  std::vector<float> x = {0.0f,  -0.0f,     1.0f,        -1.0f,    0.3f,     -2.7f, 9.5f, -9.5f,
                          1e-3f, 3.4028e3f, 1.0f / 3.0f, 65504.0f, 65520.0f, 1e-8f, 2.5f};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-10.0f, 10.0f);
  for (int i = 0; i < 200; ++i) x.push_back(dist(rng));
  const int n = static_cast<int>(x.size());
  std::vector<float> out(static_cast<size_t>(n) * ct::kMathOutputs), bf(n), hf(n);
  ct::math_intrinsics(x.data(), n, out.data(), bf.data(), hf.data());
  auto close = [](double got, double ref, double rtol) {
    if (std::isinf(ref)) return got == ref;
    return std::abs(got - ref) <= rtol * std::abs(ref) + 1e-30;
  };
  for (int i = 0; i < n; ++i) {
    const double v = x[i];
    const float* o = &out[static_cast<size_t>(i) * ct::kMathOutputs];
    INFO("x = " << x[i]);
    if (std::abs(v) < 80) {
      REQUIRE(close(o[0], std::exp(v), 2e-6 * (1 + std::abs(v))));  // ex2.approx(x*log2e)
      REQUIRE(close(o[1], std::exp(v), 1e-6));
      REQUIRE(close(o[4], std::exp2(v), 1e-6));
    }
    REQUIRE(close(o[2], 1.0 / std::sqrt(std::abs(v) + 0.25), 1e-6));
    REQUIRE(close(o[3], v / 3.0, 1e-6));
    REQUIRE(o[5] == std::fma(x[i], x[i], 1.0f));
    // __logf: CUDA documents an absolute error of 2^-21.41 for x in [0.5, 2], relative beyond.
    REQUIRE(std::abs(o[6] - std::log(std::abs(v) + 1.0)) <=
            0x1p-21 + 2e-6 * std::log(std::abs(v) + 1.0));
    REQUIRE(close(o[7], std::tanh(v), 1e-6));
    REQUIRE(close(o[8], std::erf(v), 1e-6));
    REQUIRE(o[9] == 1.0f / x[i]);
    REQUIRE(o[10] == std::max(x[i], 0.5f));
    REQUIRE(o[11] == std::min(x[i], 0.5f));
    // CUDA's own host conversions agree bit for bit with tessera's RNE types.
    REQUIRE(bf[i] == static_cast<float>(tessera::BFloat16(x[i])));
    REQUIRE(std::bit_cast<uint32_t>(hf[i]) ==
            std::bit_cast<uint32_t>(static_cast<float>(tessera::Float16(x[i]))));
  }
}
