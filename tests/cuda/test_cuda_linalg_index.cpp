// SPDX-License-Identifier: Apache-2.0
/// @brief CUDA matmul (through the blas wrapper) and indexing ops vs the CPU.
#include <catch2/catch.hpp>

#include "cuda/cuda_test_util.h"

using namespace tessera;
using namespace tessera::test;

namespace {
/// Float32 accumulation over k in a different order than OpenBLAS: a few ulps times sqrt(k);
/// 16-bit results round once more.
Tol gemm_tol(DType t) {
  switch (t) {
    case kFloat64:
      return {1e-12, 1e-10};
    case kFloat32:
      return {1e-5, 1e-5};
    case kFloat16:
      return {2e-3, 4e-3};
    default:
      return {2e-2, 2e-2};
  }
}
}  // namespace

TEST_CASE("cuda matmul matches the CPU for every layout, batch broadcast and dtype",
          "[cuda][linalg]") {
  std::mt19937 rng(20);
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {{{7, 13}, {13, 5}},
                                   {{1, 9}, {9, 1}},
                                   {{3, 6, 11}, {3, 11, 4}},
                                   {{2, 3, 6, 11}, {11, 4}},
                                   {{5}, {5, 3}},
                                   {{4, 5}, {5}},
                                   {{6}, {6}},
                                   {{2, 1, 3, 4}, {5, 4, 2}},
                                   {{3, 0}, {0, 4}}};
  for (DType t : {kFloat32, kBFloat16, kFloat16, kFloat64}) {
    for (const Case& c : cases) {
      for (Layout la : {Layout::Contiguous, Layout::Transposed, Layout::Strided}) {
        for (Layout lb : {Layout::Contiguous, Layout::Transposed, Layout::Broadcast}) {
          const Tensor a = random_tensor(c.a, t, rng, la);
          const Tensor b = random_tensor(c.b, t, rng, lb);
          INFO(dtype_name(t) << " " << shape_str(c.a) << " @ " << shape_str(c.b) << " "
                             << layout_name(la) << "/" << layout_name(lb));
          CHECK(check_cuda("matmul", native::matmul(to_cuda_view(a), to_cuda_view(b)),
                           native::matmul(a, b), gemm_tol(t)));
        }
      }
    }
  }
  const Tensor a = random_tensor({4, 3, 5}, kFloat32, rng),
               b = random_tensor({4, 5, 2}, kFloat32, rng);
  CHECK(check_cuda("bmm", native::bmm(native::to(a, kCuda), native::to(b, kCuda)),
                   native::bmm(a, b), gemm_tol(kFloat32)));
  CHECK_THROWS_WITH(native::matmul(native::to(a, kCuda), native::to(a, kCuda)),
                    Catch::Contains("inner dimensions"));
}

TEST_CASE("cuda index_select, gather, embedding match the CPU", "[cuda][index]") {
  std::mt19937 rng(21);
  for (DType t : {kFloat32, kBFloat16, kInt64, kBool}) {
    const Tensor x = random_tensor({5, 7, 3}, t, rng, Layout::Transposed);
    const Tensor xd = to_cuda_view(x);
    const Tensor idx = tensor({4, 0, 0, 2, 6, 1});
    for (int64_t dim : {0, 1, 2}) {
      const Tensor i = native::clamp(idx, 0, x.size(dim) - 1);
      INFO(dtype_name(t) << " dim " << dim);
      CHECK(check_cuda("index_select", native::index_select(xd, dim, native::to(i, kCuda)),
                       native::index_select(x, dim, i)));
      const Tensor g = native::to(
          random_tensor({5, 7, 3}, kInt64, rng, Layout::Contiguous, 0, x.size(dim) - 1), kInt64);
      const Tensor gs = native::slice(g, 1, 0, 4);  // smaller than x in a kept dim, non-contiguous
      CHECK(check_cuda("gather", native::gather(xd, dim, native::to(gs, kCuda)),
                       native::gather(x, dim, gs)));
    }
    const Tensor w = random_tensor({10, 6}, t, rng, Layout::Strided);
    const Tensor ids =
        native::to(random_tensor({3, 4}, kInt64, rng, Layout::Contiguous, 0, 9), kInt32);
    CHECK(check_cuda("embedding", native::embedding(to_cuda_view(w), native::to(ids, kCuda)),
                     native::embedding(w, ids)));
  }
  CHECK_THROWS_WITH(
      native::index_select(native::to(ones({3}), kCuda), 0, native::to(tensor({3}), kCuda)),
      Catch::Contains("index 3") && Catch::Contains("out of range"));
  CHECK_THROWS_WITH(
      native::embedding(native::to(ones({3, 2}), kCuda), native::to(tensor({-1}), kCuda)),
      Catch::Contains("out of range"));
  CHECK(check_cuda("one_hot", native::one_hot(native::to(tensor({2, 0, 1}), kCuda), 4),
                   native::one_hot(tensor({2, 0, 1}), 4)));
}

TEST_CASE("cuda scatter_add and embedding_backward are deterministic and match the CPU",
          "[cuda][index]") {
  std::mt19937 rng(22);
  for (DType t : {kFloat32, kBFloat16, kFloat64, kInt32}) {
    const Tensor self = random_tensor({6, 5}, t, rng, Layout::Transposed);
    const Tensor src = random_tensor({8, 5}, t, rng, Layout::Strided);
    for (int64_t dim : {0, 1}) {
      // Many duplicate targets: additions must happen in index order.
      const Tensor idx =
          random_tensor({4, 5}, kInt64, rng, Layout::Contiguous, 0, dim == 0 ? 5 : 4);
      Tensor cpu = native::clone(self);
      native::scatter_add_(cpu, dim, idx, native::slice(src, 0, 0, 4));
      Tensor cuda = native::to(self, kCuda, true);
      native::scatter_add_(cuda, dim, native::to(idx, kCuda),
                           native::slice(to_cuda_view(src), 0, 0, 4));
      INFO(dtype_name(t) << " dim " << dim);
      CHECK(check_cuda("scatter_add_", cuda, cpu));
      CHECK(check_cuda("scatter_add",
                       native::scatter_add(native::to(self, kCuda), dim, native::to(idx, kCuda),
                                           native::to(native::slice(src, 0, 0, 4), kCuda)),
                       native::scatter_add(self, dim, idx, native::slice(src, 0, 0, 4))));
    }
    if (t == kInt32) continue;
    const Tensor grad = random_tensor({3, 7, 6}, t, rng, Layout::Strided);
    const Tensor ids =
        random_tensor({3, 7}, kInt64, rng, Layout::Contiguous, 0, 4);  // many repeats
    const Tensor cpu = native::embedding_backward(grad, ids, 5);
    const Tensor a = native::embedding_backward(to_cuda_view(grad), native::to(ids, kCuda), 5);
    const Tensor b = native::embedding_backward(to_cuda_view(grad), native::to(ids, kCuda), 5);
    CHECK(check_cuda("embedding_backward", a, cpu));
    CHECK(bitwise_equal(to_cpu(a), to_cpu(b)));
  }
}
