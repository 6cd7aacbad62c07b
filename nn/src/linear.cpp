// SPDX-License-Identifier: Apache-2.0
/// @brief Linear layer (see linear.h).
#include <tessera/nn/linear.h>

#include <cmath>

#include <tessera/creation.h>
#include <tessera/nn/functional.h>
#include <tessera/nn/init.h>

namespace tessera::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias, DType dtype, Generator* gen)
    : in_features(in), out_features(out) {
  TESSERA_CHECK(in > 0 && out > 0, "Linear: features must be positive, got in=", in, " out=", out);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  Tensor w = empty({out, in}, {.dtype = dtype});
  init::uniform_(w, -bound, bound, gen);
  weight = register_parameter("weight", w);
  if (with_bias) {
    Tensor b = empty({out}, {.dtype = dtype});
    init::uniform_(b, -bound, bound, gen);
    bias = register_parameter("bias", b);
  }
}

Tensor Linear::forward(const Tensor& x) { return F::linear(x, weight, bias); }

}  // namespace tessera::nn
