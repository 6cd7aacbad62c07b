// SPDX-License-Identifier: Apache-2.0
/// @brief Scalar: a number given by value to an op (fill values, x + 2.5), bool, integer or
/// floating.
#pragma once

#include <cstdint>
#include <ostream>
#include <type_traits>

#include <tessera/dtype.h>

namespace tessera {

class Scalar {
 public:
  enum class Kind : uint8_t { Bool, Int, Float };

  Scalar() : Scalar(int64_t{0}) {}
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  Scalar(T v) {  // NOLINT: implicit like c10::Scalar
    if constexpr (std::is_same_v<T, bool>) {
      kind_ = Kind::Bool;
      i_ = v;
    } else if constexpr (std::is_integral_v<T>) {
      kind_ = Kind::Int;
      i_ = static_cast<int64_t>(v);
    } else {
      kind_ = Kind::Float;
      d_ = static_cast<double>(v);
    }
  }
  Scalar(BFloat16 v) : kind_(Kind::Float), d_(static_cast<float>(v)) {}
  Scalar(Float16 v) : kind_(Kind::Float), d_(static_cast<float>(v)) {}

  Kind kind() const { return kind_; }
  bool is_floating() const { return kind_ == Kind::Float; }
  double to_double() const { return kind_ == Kind::Float ? d_ : static_cast<double>(i_); }
  int64_t to_int() const { return kind_ == Kind::Float ? static_cast<int64_t>(d_) : i_; }
  bool to_bool() const { return kind_ == Kind::Float ? d_ != 0.0 : i_ != 0; }

  /// The value converted to element type T (with the usual C++ conversion for integers, RNE for
  /// 16-bit floats).
  template <typename T>
  T to() const {
    if constexpr (std::is_same_v<T, bool>)
      return to_bool();
    else if constexpr (std::is_integral_v<T>)
      return static_cast<T>(to_int());
    else if constexpr (std::is_same_v<T, double>)
      return to_double();
    else
      return T(static_cast<float>(to_double()));
  }
  /// The dtype a lone scalar gets: bool, int64 or float32 (the default float dtype).
  DType default_dtype() const {
    return kind_ == Kind::Bool ? kBool : kind_ == Kind::Int ? kInt64 : kFloat32;
  }

 private:
  Kind kind_;
  union {
    int64_t i_;
    double d_;
  };
};

inline std::ostream& operator<<(std::ostream& os, const Scalar& s) {
  if (s.kind() == Scalar::Kind::Float) return os << s.to_double();
  if (s.kind() == Scalar::Kind::Bool) return os << (s.to_bool() ? "true" : "false");
  return os << s.to_int();
}

}  // namespace tessera
