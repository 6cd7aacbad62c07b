// SPDX-License-Identifier: Apache-2.0
/// @brief Tensor::to_string against PyTorch's printed form (torch 2.x defaults: precision 4,
/// threshold 1000, edgeitems 3, linewidth 80). The value part must match `repr(torch_tensor)`
/// character for character; tessera then appends ", shape=[...], dtype=...".
#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include <tessera/creation.h>
#include <tessera/native.h>

#include "test_util.h"

using namespace tessera;
namespace nt = tessera::native;

namespace {

/// The PyTorch repr without its closing parenthesis, plus tessera's suffix.
std::string expect(const std::string& torch_repr_body, const std::string& shape,
                   const std::string& dtype) {
  return torch_repr_body + ", shape=" + shape + ", dtype=" + dtype + ")";
}

}  // namespace

TEST_CASE("to_string matches PyTorch for small tensors", "[tensor][print]") {
  // torch.tensor([1., 2., 3.])
  CHECK(tensor({1.f, 2.f, 3.f}).to_string() == expect("tensor([1., 2., 3.]", "[3]", "float32"));
  // torch.tensor([1.5, -2.25])
  CHECK(tensor({1.5f, -2.25f}).to_string() ==
        expect("tensor([ 1.5000, -2.2500]", "[2]", "float32"));
  // torch.tensor([0., 1.5])  (zeros do not set the width; they are padded to it)
  CHECK(tensor({0.f, 1.5f}).to_string() == expect("tensor([0.0000, 1.5000]", "[2]", "float32"));
  // torch.tensor([[1, 2], [3, 4]])
  CHECK(nt::reshape(arange(1, 5), {2, 2}).to_string() ==
        expect("tensor([[1, 2],\n        [3, 4]]", "[2, 2]", "int64"));
  // torch.tensor([True, False])
  CHECK(tensor({true, false}).to_string() == expect("tensor([ True, False]", "[2]", "bool"));
  CHECK(tensor({true, true}).to_string() == expect("tensor([True, True]", "[2]", "bool"));
  // torch.tensor(3.5) and torch.tensor(7)
  CHECK(scalar_tensor(3.5).to_string() == expect("tensor(3.5000", "[]", "float32"));
  CHECK(scalar_tensor(7, {.dtype = kInt64}).to_string() == expect("tensor(7", "[]", "int64"));
  CHECK(scalar_tensor(false, {.dtype = kBool}).to_string() == expect("tensor(False", "[]", "bool"));
  // torch.tensor([1e-5, 1.])
  CHECK(tensor({1e-5, 1.0}).to_string() ==
        expect("tensor([1.0000e-05, 1.0000e+00]", "[2]", "float64"));
  // torch.tensor([1., 2000.]): integer-valued but a ratio above 1000 -> scientific
  CHECK(tensor({1.f, 2000.f}).to_string() ==
        expect("tensor([1.0000e+00, 2.0000e+03]", "[2]", "float32"));
  // torch.tensor([0.001, 2.]): ratio 2000 -> scientific
  CHECK(tensor({0.001f, 2.f}).to_string() ==
        expect("tensor([1.0000e-03, 2.0000e+00]", "[2]", "float32"));
  // torch.tensor([float('nan'), 1.]) and torch.tensor([float('-inf'), 1.5])
  CHECK(tensor({NAN, 1.f}).to_string() == expect("tensor([nan, 1.]", "[2]", "float32"));
  CHECK(tensor({-INFINITY, 1.5f}).to_string() ==
        expect("tensor([  -inf, 1.5000]", "[2]", "float32"));
  // torch.tensor([-0.5, 100.25])
  CHECK(tensor({-0.5f, 100.25f}).to_string() ==
        expect("tensor([ -0.5000, 100.2500]", "[2]", "float32"));
  // torch.zeros(0)
  CHECK(zeros({0}).to_string() == expect("tensor([]", "[0]", "float32"));
  // bfloat16 values print through float.
  CHECK(tensor({0.5f, 1.f}, {.dtype = kBFloat16}).to_string() ==
        expect("tensor([0.5000, 1.0000]", "[2]", "bfloat16"));
  // torch.arange(8).reshape(2, 2, 2): blank line between 2-d blocks
  CHECK(nt::reshape(arange(0, 8), {2, 2, 2}).to_string() ==
        expect("tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]]",
               "[2, 2, 2]", "int64"));
  // Non-contiguous input prints in logical order: torch.arange(6).reshape(2, 3).t()
  CHECK(nt::t(nt::reshape(arange(0, 6), {2, 3})).to_string() ==
        expect("tensor([[0, 3],\n        [1, 4],\n        [2, 5]]", "[3, 2]", "int64"));
  std::ostringstream os;
  os << tensor({1, 2});
  CHECK(os.str() == expect("tensor([1, 2]", "[2]", "int64"));
  CHECK(Tensor().to_string() == "tensor(undefined)");
  // int64 beyond 2^53 prints exactly: torch.tensor([2**62 + 1, -1])
  CHECK(from_vector(std::vector<int64_t>{(int64_t{1} << 62) + 1, -1}).to_string() ==
        expect("tensor([4611686018427387905,                  -1]", "[2]", "int64"));
}

TEST_CASE("to_string wraps long rows at 80 columns like PyTorch", "[tensor][print]") {
  // torch.arange(30)
  CHECK(arange(0, 30).to_string() ==
        expect("tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
               "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]",
               "[30]", "int64"));
}

TEST_CASE("to_string summarizes above 1000 elements", "[tensor][print]") {
  // torch.arange(1001)
  CHECK(arange(0, 1001).to_string() ==
        expect("tensor([   0,    1,    2,  ...,  998,  999, 1000]", "[1001]", "int64"));
  // torch.arange(1000) is not summarized (threshold is strict) but wraps.
  const std::string full = arange(0, 1000).to_string();
  CHECK(full.find("...") == std::string::npos);
  CHECK(full.find(" 999]") != std::string::npos);
  // torch.zeros(100, 100)
  const std::string row = "[0., 0., 0.,  ..., 0., 0., 0.]";
  const std::string sep = ",\n        ";
  CHECK(zeros({100, 100}).to_string() == expect("tensor([" + row + sep + row + sep + row + sep +
                                                    "..." + sep + row + sep + row + sep + row + "]",
                                                "[100, 100]", "float32"));
  // The width comes from the shown elements only: torch.cat([torch.zeros(1000),
  // torch.tensor([5.])]) prints "5." and "0." with width 2 even though the hidden part is larger.
  const Tensor t = nt::cat({zeros({1000}), tensor({5.f})});
  CHECK(t.to_string() == expect("tensor([0., 0., 0.,  ..., 0., 0., 5.]", "[1001]", "float32"));
}
