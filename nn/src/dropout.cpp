// SPDX-License-Identifier: Apache-2.0
/// @brief Dropout layer (see dropout.h).
#include <tessera/nn/dropout.h>

#include <tessera/nn/functional.h>

namespace tessera::nn {

Dropout::Dropout(double p_, Generator* gen_) : p(p_), gen(gen_) {
  TESSERA_CHECK(p >= 0.0 && p <= 1.0, "Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return F::dropout(x, p, is_training(), gen); }

}  // namespace tessera::nn
