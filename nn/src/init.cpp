// SPDX-License-Identifier: Apache-2.0
/// @brief Initializers: fan computation and the scaled uniform/normal fills.
#include <tessera/nn/init.h>

#include <cmath>

#include <tessera/autograd/grad_mode.h>
#include <tessera/native/elementwise.h>

namespace tessera::nn::init {

std::pair<int64_t, int64_t> fan_in_and_out(const Tensor& t) {
  TESSERA_CHECK(t.dim() >= 2, "init: fan in/out needs a tensor with at least 2 dims, got ",
                describe(t));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.shape()[d];
  return {t.shape()[1] * receptive, t.shape()[0] * receptive};
}

Tensor& zeros_(Tensor& t) {
  autograd::NoGradGuard g;
  return native::zero_(t);
}
Tensor& ones_(Tensor& t) {
  autograd::NoGradGuard g;
  return native::fill_(t, Scalar(1.0));
}
Tensor& constant_(Tensor& t, double v) {
  autograd::NoGradGuard g;
  return native::fill_(t, Scalar(v));
}
Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) {
  autograd::NoGradGuard g;
  return tessera::uniform_(t, low, high, gen);
}
Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  autograd::NoGradGuard g;
  return tessera::normal_(t, mean, std, gen);
}

Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  auto [fi, fo] = fan_in_and_out(t);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(fi + fo));
  return init::uniform_(t, -a, a, gen);
}
Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  auto [fi, fo] = fan_in_and_out(t);
  return init::normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fi + fo)), gen);
}

namespace {
double kaiming_std(const Tensor& t, double a, bool use_fan_in) {
  auto [fi, fo] = fan_in_and_out(t);
  const double fan = static_cast<double>(use_fan_in ? fi : fo);
  TESSERA_CHECK(fan > 0, "kaiming init: zero fan for ", describe(t));
  return std::sqrt(2.0 / (1.0 + a * a)) / std::sqrt(fan);
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, bool fan_in, Generator* gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, fan_in);
  return init::uniform_(t, -bound, bound, gen);
}
Tensor& kaiming_normal_(Tensor& t, double a, bool fan_in, Generator* gen) {
  return init::normal_(t, 0.0, kaiming_std(t, a, fan_in), gen);
}

}  // namespace tessera::nn::init
