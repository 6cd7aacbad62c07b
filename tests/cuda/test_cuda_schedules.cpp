// SPDX-License-Identifier: Apache-2.0
/// @brief (cudasim only) The CUDA backend's kernels give bit-identical results under every thread
/// and block schedule (index, reverse, random; one or several OS threads), with cudasim's race
/// checker switched on for the shared-memory kernels (reduce.cu, index.cu are built RACE_CHECK).
/// Checked by mutation (2026-11-29): deleting the __syncthreads inside reduce.cu's tree makes this
/// test fail through the schedule comparison. The race checker itself did not report that
/// mutation (an open question for cudasim's race.cpp), so the schedule comparison is what guards.
#include <catch2/catch.hpp>

#include <tessera/cudasim/core.h>

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;
using tessera::cudasim::Options;
using tessera::cudasim::Schedule;
using tessera::cudasim::ScopedOptions;

namespace {

/// The results of every reduction and scatter kernel on fixed inputs, as CPU tensors.
std::vector<Tensor> run_all(const Options& o) {
  ScopedOptions scope(o);
  std::mt19937 rng(41);
  const Tensor x =
      native::to(random_tensor({5, 300}, kFloat32, rng, Layout::Contiguous, -100, 100), kCuda);
  const Tensor xi =
      native::to(random_tensor({5, 300}, kInt64, rng, Layout::Contiguous, -3, 3), kCuda);
  std::vector<Tensor> out;
  out.push_back(native::sum(x, {1}));
  out.push_back(native::sum(x, {0}));  // column path
  out.push_back(native::var(x, {1}));
  out.push_back(native::logsumexp(x, {1}));
  out.push_back(native::prod(native::div(x, 100), {1}));
  out.push_back(native::amax(x, {1}));
  out.push_back(native::argmax(xi, 1));
  out.push_back(native::argmin(xi, 1));
  const Tensor idx =
      native::to(random_tensor({40, 300}, kInt64, rng, Layout::Contiguous, 0, 4), kCuda);
  const Tensor src = native::to(random_tensor({40, 300}, kFloat32, rng), kCuda);
  out.push_back(native::scatter_add(zeros({5, 300}, {.device = kCuda}), 0, idx, src));
  const Tensor ids = native::to(random_tensor({64}, kInt64, rng, Layout::Contiguous, 0, 6), kCuda);
  out.push_back(native::embedding_backward(
      native::to(random_tensor({64, 33}, kFloat32, rng), kCuda), ids, 7));
  out.push_back(native::gather(x, 1, native::slice(idx, 0, 0, 5)));
  for (Tensor& t : out) t = to_cpu(t);
  return out;
}

}  // namespace

TEST_CASE("cuda kernels: same bits under every cudasim schedule, no data races",
          "[cuda][cudasim]") {
  Options base;
  base.race_check = true;
  const std::vector<Tensor> ref = run_all(base);
  for (Schedule s : {Schedule::kReverse, Schedule::kRandom}) {
    for (uint64_t seed : {1, 7}) {
      Options o = base;
      o.schedule = s;
      o.seed = seed;
      o.threads = static_cast<int>(seed);  // 1 or several OS threads running blocks
      const std::vector<Tensor> got = run_all(o);
      REQUIRE(got.size() == ref.size());
      for (size_t i = 0; i < ref.size(); ++i) {
        INFO("result " << i << " schedule " << tessera::cudasim::schedule_name(s) << " seed "
                       << seed);
        CHECK(bitwise_equal(got[i], ref[i]));
      }
    }
  }
}
