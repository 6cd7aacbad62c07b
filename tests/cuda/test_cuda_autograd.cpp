// SPDX-License-Identifier: Apache-2.0
/// @brief A small differentiable graph run on CUDA and on the CPU: the autograd layer calls only
/// native ops, so forward values and every gradient must agree.
#include <catch2/catch.hpp>

#include <tessera/ops.h>

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;

namespace {

struct Result {
  Tensor loss, grad_w, grad_emb, grad_bias;
};

/// loss = sum(log_softmax(gelu((emb[ids] + x) @ w + bias)) * c)
Result run(Device dev, const Tensor& x0, const Tensor& emb0, const Tensor& w0, const Tensor& b0,
           const Tensor& ids0, const Tensor& c0) {
  Tensor emb = native::to(emb0, dev, true), w = native::to(w0, dev, true),
         bias = native::to(b0, dev, true);
  emb.requires_grad_(true);
  w.requires_grad_(true);
  bias.requires_grad_(true);
  const Tensor x = native::to(x0, dev), ids = native::to(ids0, dev), c = native::to(c0, dev);
  const Tensor h = tessera::gelu(
      tessera::add(tessera::matmul(tessera::add(tessera::embedding(emb, ids), x), w), bias));
  const Tensor loss = tessera::sum(tessera::mul(tessera::log_softmax(h, 1), c));
  tessera::backward(loss);
  return {loss, w.grad(), emb.grad(), bias.grad()};
}

}  // namespace

TEST_CASE("autograd graph on CUDA matches the CPU: values and gradients", "[cuda][autograd]") {
  std::mt19937 rng(31);
  const Tensor x = random_tensor({9, 16}, kFloat32, rng);
  const Tensor emb = random_tensor({11, 16}, kFloat32, rng);
  const Tensor w = random_tensor({16, 7}, kFloat32, rng, Layout::Contiguous, -0.5, 0.5);
  const Tensor b = random_tensor({7}, kFloat32, rng);
  const Tensor ids = random_tensor({9}, kInt64, rng, Layout::Contiguous, 0, 10);
  const Tensor c = random_tensor({9, 7}, kFloat32, rng);
  const Result cpu = run(kCPU, x, emb, w, b, ids, c);
  const Result gpu = run(kCuda, x, emb, w, b, ids, c);
  const Tol tol{1e-5, 1e-5};
  CHECK(check_cuda("loss", gpu.loss, cpu.loss, tol));
  CHECK(check_cuda("grad w", gpu.grad_w, cpu.grad_w, tol));
  CHECK(check_cuda("grad emb", gpu.grad_emb, cpu.grad_emb, tol));
  CHECK(check_cuda("grad bias", gpu.grad_bias, cpu.grad_bias, tol));
}
