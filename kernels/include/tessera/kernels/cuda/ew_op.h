// SPDX-License-Identifier: Apache-2.0
/// @brief The elementwise op table of the CUDA backend (no CUDA headers: the CPU op files name
/// these values in their one-line dispatch to CUDA).
#pragma once

#include <cstdint>

namespace tessera::kernels::cuda {

/// The elementwise op table. Unary ops read in1; binary in1, in2; kWhere reads (in1 = bool cond,
/// in2, in3). Parameters: p0/p1 (clamp bounds, alpha, scalar operand), see EwParams.
enum class EwOp : uint8_t {
  // binary arithmetic
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kMaximum,
  kMinimum,
  // comparisons (bool out)
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  // logic (bool in, bool out)
  kLogicalAnd,
  kLogicalOr,
  kLogicalXor,
  kLogicalNot,
  // unary
  kNeg,
  kAbs,
  kSign,
  kSquare,
  kSqrt,
  kRsqrt,
  kReciprocal,
  kExp,
  kLog,
  kLog1p,
  kExpm1,
  kSin,
  kCos,
  kTanh,
  kErf,
  kSigmoid,
  kFloor,
  kCeil,
  kRound,
  kTrunc,
  kRelu,
  kGelu,
  kGeluTanh,
  kIsNan,
  kIsFinite,  // bool out
  // binary with parameters
  kGeluBackward,
  kGeluTanhBackward,
  kAddScaled,  // in1 + A(p0) * in2
  kClamp,      // clamp(in1, p0, p1) with torch.clamp's rules, compared in double
  kWhere,      // in1 ? in2 : in3
  kCount
};
inline constexpr int kEwOpCount = static_cast<int>(EwOp::kCount);

static_assert(kEwOpCount == 47,
              "EwOp changed: update apply() in kernels/cuda/elementwise.cu, "
              "ew_arity/ew_bool_out and the name table in tensor/src/cuda/elementwise.cpp");

}  // namespace tessera::kernels::cuda
