// SPDX-License-Identifier: Apache-2.0
/// @brief Type promotion table.
#include <tessera/dtype.h>

namespace tessera {

// Rank in the promotion lattice: bool < int32 < int64 < (bf16 | f16) < float32 < float64.
DType promote_types(DType a, DType b) {
  if (a == b) return a;
  // bf16 with f16 has no 16-bit common type that holds both: float32 (as PyTorch).
  if ((a == kBFloat16 && b == kFloat16) || (a == kFloat16 && b == kBFloat16)) return kFloat32;
  auto rank = [](DType t) {
    switch (t) {
      case DType::Bool:
        return 0;
      case DType::Int32:
        return 1;
      case DType::Int64:
        return 2;
      case DType::BFloat16:
        return 3;
      case DType::Float16:
        return 3;
      case DType::Float32:
        return 4;
      case DType::Float64:
        return 5;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace tessera
