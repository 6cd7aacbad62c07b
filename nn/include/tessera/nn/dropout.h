// SPDX-License-Identifier: Apache-2.0
/// @brief Dropout: inverted dropout in training mode, identity in eval mode. Masks come from a
/// Philox Generator (nullptr = default generator), so runs are reproducible from (seed, offset).
#pragma once

#include <tessera/nn/module.h>
#include <tessera/random.h>

namespace tessera::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  std::string name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x) override;
  double p;
  Generator* gen;  ///< not owned
};

}  // namespace tessera::nn
