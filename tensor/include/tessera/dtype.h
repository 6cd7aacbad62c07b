// SPDX-License-Identifier: Apache-2.0
/// @brief Element types, their names and sizes, and NumPy-style type promotion.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>

#include <tessera/error.h>
#include <tessera/half.h>

namespace tessera {

enum class DType : uint8_t { Bool, Int32, Int64, BFloat16, Float16, Float32, Float64 };
inline constexpr int kNumDTypes = 7;

inline constexpr DType kBool = DType::Bool;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBFloat16 = DType::BFloat16;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;

constexpr size_t element_size(DType t) {
  switch (t) {
    case DType::Bool:
      return 1;
    case DType::Int32:
      return 4;
    case DType::Int64:
      return 8;
    case DType::BFloat16:
      return 2;
    case DType::Float16:
      return 2;
    case DType::Float32:
      return 4;
    case DType::Float64:
      return 8;
  }
  return 0;
}

/// PyTorch's spelling: "float32", "bfloat16", "int64", "bool".
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Bool:
      return "bool";
    case DType::Int32:
      return "int32";
    case DType::Int64:
      return "int64";
    case DType::BFloat16:
      return "bfloat16";
    case DType::Float16:
      return "float16";
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
  }
  return "?";
}
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

constexpr bool is_floating(DType t) {
  return t == DType::BFloat16 || t == DType::Float16 || t == DType::Float32 || t == DType::Float64;
}
constexpr bool is_integral(DType t) { return t == DType::Int32 || t == DType::Int64; }

/// Type promotion of two tensor operands (docs/tensor.md has the table). Follows NumPy/PyTorch:
/// bool < int32 < int64 < floating; bf16 with f16 gives float32; otherwise the wider type wins.
DType promote_types(DType a, DType b);

/// The C++ type that stores an element of each dtype.
template <DType T>
struct dtype_traits;
template <>
struct dtype_traits<DType::Bool> {
  using type = bool;
};
template <>
struct dtype_traits<DType::Int32> {
  using type = int32_t;
};
template <>
struct dtype_traits<DType::Int64> {
  using type = int64_t;
};
template <>
struct dtype_traits<DType::BFloat16> {
  using type = BFloat16;
};
template <>
struct dtype_traits<DType::Float16> {
  using type = Float16;
};
template <>
struct dtype_traits<DType::Float32> {
  using type = float;
};
template <>
struct dtype_traits<DType::Float64> {
  using type = double;
};

/// The dtype of a C++ element type.
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<bool>() {
  return DType::Bool;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::Int32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::Int64;
}
template <>
constexpr DType dtype_of<BFloat16>() {
  return DType::BFloat16;
}
template <>
constexpr DType dtype_of<Float16>() {
  return DType::Float16;
}
template <>
constexpr DType dtype_of<float>() {
  return DType::Float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::Float64;
}

/// Calls f.template operator()<T>() with T the storage type of `t`:
///   visit_dtype(t, [&]<typename T>() { ... });
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Bool:
      return f.template operator()<bool>();
    case DType::Int32:
      return f.template operator()<int32_t>();
    case DType::Int64:
      return f.template operator()<int64_t>();
    case DType::BFloat16:
      return f.template operator()<BFloat16>();
    case DType::Float16:
      return f.template operator()<Float16>();
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
  }
  TESSERA_FAIL("visit_dtype: invalid dtype ", static_cast<int>(t));
}

/// Accumulation/compute type for element type T: float for 16-bit floats, else T itself.
template <typename T>
struct acc_type {
  using type = T;
};
template <>
struct acc_type<BFloat16> {
  using type = float;
};
template <>
struct acc_type<Float16> {
  using type = float;
};
template <typename T>
using acc_t = typename acc_type<T>::type;

}  // namespace tessera
