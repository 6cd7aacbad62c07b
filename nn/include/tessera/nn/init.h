// SPDX-License-Identifier: Apache-2.0
/// @brief Parameter initializers (in place, no gradient recording) drawing from a Generator
/// (nullptr = tessera::default_generator()), with PyTorch's fan conventions: for a weight of
/// shape (out, in, k...) fan_in = in * prod(k), fan_out = out * prod(k).
#pragma once

#include <utility>

#include <tessera/random.h>
#include <tessera/tensor.h>

namespace tessera::nn::init {

std::pair<int64_t, int64_t> fan_in_and_out(const Tensor& t);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
Tensor& constant_(Tensor& t, double value);
Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
/// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
/// N(0, gain * sqrt(2 / (fan_in + fan_out))).
Tensor& xavier_normal_(Tensor& t, double gain = 1.0, Generator* gen = nullptr);
/// U(-b, b), b = gain * sqrt(3 / fan), gain = sqrt(2 / (1 + a^2)) (leaky-relu slope a; a = 0:
/// ReLU).
Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, bool fan_in = true, Generator* gen = nullptr);
/// N(0, gain / sqrt(fan)).
Tensor& kaiming_normal_(Tensor& t, double a = 0.0, bool fan_in = true, Generator* gen = nullptr);

}  // namespace tessera::nn::init
