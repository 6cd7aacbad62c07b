// SPDX-License-Identifier: Apache-2.0
/// @brief Embedding: a (num_embeddings, dim) table indexed by int64/int32 tokens; init N(0, 1).
#pragma once

#include <tessera/nn/module.h>
#include <tessera/random.h>

namespace tessera::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, DType dtype = kFloat32,
            Generator* gen = nullptr);
  std::string name() const override { return "Embedding"; }
  /// indices (...) -> (..., dim). Out-of-range indices throw.
  Tensor forward(const Tensor& indices) override;
  int64_t num_embeddings, embedding_dim;
  Tensor weight;
};

}  // namespace tessera::nn
