// SPDX-License-Identifier: Apache-2.0
/// @brief Links the installed tessera package: the README's example, plus a few training steps of a
/// small model through autograd, nn and the optimizer, with checks that can fail.
#include <tessera/tessera.h>

#include <cmath>
#include <cstdio>
#include <iostream>

int main() {
  using namespace tessera;
  manual_seed(0);
  // (2x3) @ (3x2) with known values: [[0,1,2],[3,4,5]] @ its transpose = [[5,14],[14,50]].
  const Tensor x = native::reshape(arange(0., 6., 1.), {2, 3});
  const std::vector<float> got = to_vector<float>(matmul(x, t(x)));
  const float want[] = {5, 14, 14, 50};
  for (int i = 0; i < 4; ++i) {
    if (std::abs(got[i] - want[i]) > 1e-5f) {
      std::fprintf(stderr, "consumer: matmul element %d is %f, expected %f\n", i, got[i], want[i]);
      return 1;
    }
  }
  // A linear regression y = 3x - 1 learned with SGD through the whole stack.
  auto layer = std::make_shared<nn::Linear>(1, 1);
  nn::SGD opt(layer->parameters(), nn::SGDOptions{.lr = 0.1});
  const Tensor xs = native::reshape(linspace(-1, 1, 32), {32, 1});
  const Tensor ys = native::sub(native::mul(xs, 3.0), 1.0);
  double loss_value = 0;
  for (int step = 0; step < 300; ++step) {
    const Tensor loss = nn::functional::mse_loss(layer->forward(xs), ys);
    backward(loss);
    opt.step();
    opt.zero_grad();
    loss_value = loss.item<double>();
  }
  const double w = layer->weight.item<double>(), b = layer->bias.item<double>();
  if (std::abs(w - 3) > 1e-3 || std::abs(b + 1) > 1e-3 || loss_value > 1e-6) {
    std::fprintf(stderr, "consumer: regression did not converge: w=%f b=%f loss=%g\n", w, b,
                 loss_value);
    return 1;
  }
  std::cout << "consumer: tessera package works; learned w=" << w << " b=" << b << "\n";
  return 0;
}
