// SPDX-License-Identifier: Apache-2.0
/// @brief Links the installed tessera package and checks a small computation end to end.
#include <tessera/tessera.h>

#include <cmath>
#include <cstdio>

int main() {
  using namespace tessera;
  // (2x3) @ (3x2) with known values: [[0,1,2],[3,4,5]] @ its transpose = [[5,14],[14,50]].
  const Tensor x = native::reshape(arange(0., 6., 1.), {2, 3});
  const Tensor y = native::matmul(x, native::t(x));
  const std::vector<float> got = to_vector<float>(y);
  const float want[] = {5, 14, 14, 50};
  for (int i = 0; i < 4; ++i) {
    if (std::abs(got[i] - want[i]) > 1e-5f) {
      std::fprintf(stderr, "consumer: element %d is %f, expected %f\n", i, got[i], want[i]);
      return 1;
    }
  }
  std::printf("consumer: tessera package works\n%s\n", y.to_string().c_str());
  return 0;
}
