// SPDX-License-Identifier: Apache-2.0
/// @brief Correct kernels give bit-identical results under every schedule; a racy one does not.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include <tessera/cudasim/core.h>

#include "cudasim/cudasim_test_kernels.h"

namespace ct = tessera::cudasim_test;
using tessera::cudasim::Options;
using tessera::cudasim::Schedule;
using tessera::cudasim::ScopedOptions;

namespace {

/// Every output of the deterministic test kernels, concatenated as bytes.
std::vector<unsigned char> run_all(const Options& o) {
  ScopedOptions scope(o);
  std::vector<unsigned char> bytes;
  auto append = [&](const auto& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    bytes.insert(bytes.end(), p, p + v.size() * sizeof(v[0]));
  };
  std::mt19937 rng(11);
  {
    const int n = 3000, blocks = (n + 255) / 256;
    std::vector<float> x(n), sums(blocks);
    for (float& v : x) v = static_cast<float>(rng() % 1000) / 7.0f;
    ct::block_sum(x.data(), n, sums.data(), blocks);
    append(sums);
  }
  {
    const int n = 96 * 4;
    std::vector<int> x(n);
    for (int& v : x) v = static_cast<int>(rng() % 100);
    std::vector<std::vector<int>> outs(9, std::vector<int>(n));
    ct::warp_shuffles(
        x.data(), n, 8, 5, 3,
        {outs[0].data(), outs[1].data(), outs[2].data(), outs[3].data(), outs[4].data(),
         outs[5].data(), outs[6].data(), outs[7].data(), outs[8].data()});
    for (const auto& v : outs) append(v);
  }
  {
    const int n = 777;
    std::vector<float> x(n), y(n);
    for (float& v : x) v = static_cast<float>(rng() % 1000);
    ct::reverse_chunks(x.data(), y.data(), n, 100);
    append(y);
  }
  {
    const int n = 5000, nbins = 64;
    std::vector<int> x(n);
    for (int& v : x) v = static_cast<int>(rng() % nbins);
    std::vector<unsigned> bins(nbins);
    int mx = 0, mn = 1 << 30;
    double sum = 0;
    float scaled = 0;
    std::vector<int> first(nbins, -1), last(nbins, -1);
    ct::histogram(x.data(), n, nbins, 9,
                  {bins.data(), &mx, &mn, &sum, &scaled, first.data(), last.data()});
    append(bins);
    append(std::vector<double>{sum});
  }
  {
    const int n = 400;
    std::vector<int> x(n);
    for (int& v : x) v = static_cast<int>(rng() % 100);
    std::vector<unsigned> ballots(15);
    std::vector<int> anys(15), alls(15), counts(5), ands(5), ors(5);
    ct::votes(x.data(), n, 50,
              {ballots.data(), anys.data(), alls.data(), counts.data(), ands.data(), ors.data()});
    append(ballots);
    append(counts);
  }
  {
    std::vector<float> a(256), b(256), d(256);
    for (float& v : a) v = static_cast<float>(static_cast<int>(rng() % 17) - 8);
    for (float& v : b) v = static_cast<float>(static_cast<int>(rng() % 17) - 8);
    ct::mma_ldmatrix(a.data(), b.data(), d.data(), 1);
    append(d);
  }
  {
    const int n = 1024;
    std::vector<float> x(n), y(n);
    for (float& v : x) v = static_cast<float>(rng() % 1000);
    ct::cp_async_copy(x.data(), y.data(), n, true);
    append(y);
  }
  return bytes;
}

}  // namespace

TEST_CASE("cudasim: results are identical under index, reverse and random schedules",
          "[cudasim][schedule]") {
  Options base;
  base.threads = 1;
  const auto reference = run_all(base);
  struct Case {
    Schedule schedule;
    uint64_t seed;
    int threads;
  };
  const Case cases[] = {{Schedule::kReverse, 1, 1},    {Schedule::kRandom, 1, 1},
                        {Schedule::kRandom, 12345, 1}, {Schedule::kRandom, 7, 2},
                        {Schedule::kIndex, 1, 2},      {Schedule::kReverse, 1, 0}};
  for (const Case& c : cases) {
    Options o;
    o.schedule = c.schedule;
    o.seed = c.seed;
    o.threads = c.threads;
    INFO("schedule " << tessera::cudasim::schedule_name(c.schedule) << " seed " << c.seed
                     << " threads " << c.threads);
    REQUIRE(run_all(o) == reference);
  }
  // The race checker finds nothing in these correct kernels (and does not change their results).
  Options checked;
  checked.schedule = Schedule::kRandom;
  checked.seed = 5;
  checked.race_check = true;
  REQUIRE(run_all(checked) == reference);
}

TEST_CASE("cudasim: schedules expose a missing barrier", "[cudasim][schedule]") {
  const int n = 128;
  std::vector<int> x(n), y_index(n), y_reverse(n), y_random(n);
  for (int i = 0; i < n; ++i) x[i] = i + 1;
  {
    ScopedOptions s({Schedule::kIndex, 1, 1, 0});
    ct::racy_neighbour(x.data(), y_index.data(), n);
  }
  {
    ScopedOptions s({Schedule::kReverse, 1, 1, 0});
    ct::racy_neighbour(x.data(), y_reverse.data(), n);
  }
  {
    ScopedOptions s({Schedule::kRandom, 3, 1, 0});
    ct::racy_neighbour(x.data(), y_random.data(), n);
  }
  // Index order: even threads read their odd neighbour before it wrote (-1); reverse: the opposite.
  REQUIRE(y_index[0] == -1);
  REQUIRE(y_index[1] == x[0]);
  REQUIRE(y_reverse[0] == x[1]);
  REQUIRE(y_reverse[1] == -1);
  REQUIRE(y_index != y_reverse);
}
