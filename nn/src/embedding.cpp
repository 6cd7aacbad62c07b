// SPDX-License-Identifier: Apache-2.0
/// @brief Embedding layer (see embedding.h).
#include <tessera/nn/embedding.h>

#include <tessera/autograd/index.h>
#include <tessera/creation.h>
#include <tessera/nn/init.h>

namespace tessera::nn {

Embedding::Embedding(int64_t num, int64_t dim, DType dtype, Generator* gen)
    : num_embeddings(num), embedding_dim(dim) {
  TESSERA_CHECK(num > 0 && dim > 0, "Embedding: sizes must be positive, got ", num, " x ", dim);
  Tensor w = empty({num, dim}, {.dtype = dtype});
  init::normal_(w, 0.0, 1.0, gen);
  weight = register_parameter("weight", w);
}

Tensor Embedding::forward(const Tensor& indices) { return tessera::embedding(weight, indices); }

}  // namespace tessera::nn
