// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA random draws are element for element the CPU's Philox stream.
#include <catch2/catch.hpp>

#include <tessera/random.h>

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;

namespace {
void same_normals(const Tensor& cuda_draw, const Tensor& cpu_draw) {
  if (cuda::is_simulated()) {
    CHECK(bitwise_equal(to_cpu(cuda_draw), cpu_draw));
  } else {
    const DType t = cpu_draw.dtype();
    CHECK(check_close(
        "normal draw", to_cpu(cuda_draw), Ref::of(cpu_draw),
        t == kFloat64 ? Tol{1e-13, 1e-13} : (t == kFloat32 ? Tol{2e-6, 2e-6} : cuda_tol(t))));
  }
}
}  // namespace

TEST_CASE("cuda rand/randn/randint/normal equal the CPU stream bit for bit", "[cuda][random]") {
  for (int64_t n : {1, 3, 4, 5, 1001}) {
    for (DType t : {kFloat32, kFloat64, kBFloat16}) {
      Generator g1(1234), g2(1234);
      g1.set_state(1234, 7);
      g2.set_state(1234, 7);
      INFO("n " << n << " " << dtype_name(t));
      CHECK(bitwise_equal(to_cpu(rand({n}, {.dtype = t, .device = kCuda}, &g1)),
                          rand({n}, {.dtype = t}, &g2)));
      // Normals go through logf/sinf/cosf: glibc on both sides under cudasim (bit-identical), the
      // GPU's libm (a few ulp) on a real device.
      same_normals(randn({n}, {.dtype = t, .device = kCuda}, &g1), randn({n}, {.dtype = t}, &g2));
      same_normals(normal(2.0, 0.5, {n}, {.dtype = t, .device = kCuda}, &g1),
                   normal(2.0, 0.5, {n}, {.dtype = t}, &g2));
      CHECK(
          bitwise_equal(to_cpu(randint(-5, 1000003, {n}, {.dtype = kInt64, .device = kCuda}, &g1)),
                        randint(-5, 1000003, {n}, {.dtype = kInt64}, &g2)));
      CHECK(g1.offset() == g2.offset());  // the same number of counters consumed
    }
  }
  // The default generator: interleaved CPU and CUDA draws continue one stream.
  manual_seed(99);
  const Tensor a = rand({6});
  const Tensor b = to_cpu(rand({6}, {.device = kCuda}));
  manual_seed(99);
  CHECK(bitwise_equal(a, rand({6})));
  manual_seed(99);
  (void)rand({8});
  CHECK(bitwise_equal(b, rand({6})));
}
