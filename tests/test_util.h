// SPDX-License-Identifier: Apache-2.0
/// @brief Test helpers: float64 strided element access, seeded random inputs in any layout, and
/// reference comparison with per-dtype tolerance (llm.c's check_tensor: max abs/rel error and the
/// worst index on failure).
///
/// Everything here reads tensors through their raw storage, shape, strides and offset, never
/// through tessera's own copy/convert kernels, so a reference computed from these values is
/// independent of the code under test.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <tessera/creation.h>
#include <tessera/dtype.h>
#include <tessera/tensor.h>

namespace tessera::test {

/// Tolerance `atol + rtol * |ref|` per dtype, for results rounded once to the dtype (elementwise
/// ops, one rounding of a float32/float64 accumulation). Ops with longer float32 chains widen it.
struct Tol {
  double atol;
  double rtol;
};
inline Tol tol_for(DType t) {
  switch (t) {
    case kFloat64:
      return {1e-12, 1e-10};
    case kFloat32:
      return {1e-6, 2e-6};  // 2^-23 = 1.2e-7 per rounding, a few roundings
    case kFloat16:
      return {1e-3, 2e-3};  // 2^-11 = 4.9e-4 per rounding
    case kBFloat16:
      return {1e-2, 1.6e-2};  // 2^-8 = 3.9e-3 per rounding
    default:
      return {0, 0};  // integers and bool: exact
  }
}

/// All multi-indices of `shape` in row-major order.
inline void for_each_index(const Shape& shape, const std::function<void(const Shape&)>& f) {
  for (int64_t s : shape)
    if (s == 0) return;
  Shape idx(shape.size(), 0);
  while (true) {
    f(idx);
    int64_t d = static_cast<int64_t>(shape.size()) - 1;
    for (; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

/// Row-major flat position of a multi-index.
inline int64_t flat_index(const Shape& shape, const Shape& idx) {
  int64_t f = 0;
  for (size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + idx[d];
  return f;
}

/// Element `idx` of t as double, read from storage through shape/strides/offset.
inline double get(const Tensor& t, const Shape& idx) {
  int64_t off = t.offset();
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
  const char* base = static_cast<const char*>(t.storage()->data());
  const char* p = base + off * static_cast<int64_t>(t.element_size());
  switch (t.dtype()) {
    case kBool:
      return *reinterpret_cast<const bool*>(p) ? 1.0 : 0.0;
    case kInt32:
      return *reinterpret_cast<const int32_t*>(p);
    case kInt64:
      return static_cast<double>(*reinterpret_cast<const int64_t*>(p));
    case kBFloat16:
      return static_cast<float>(*reinterpret_cast<const BFloat16*>(p));
    case kFloat16:
      return static_cast<float>(*reinterpret_cast<const Float16*>(p));
    case kFloat32:
      return *reinterpret_cast<const float*>(p);
    case kFloat64:
      return *reinterpret_cast<const double*>(p);
  }
  return 0;
}

/// Raw int64 element (exact, for int64 tensors).
inline int64_t get_i64(const Tensor& t, const Shape& idx) {
  int64_t off = t.offset();
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
  return static_cast<const int64_t*>(t.storage()->data())[off];
}

/// All elements of t in row-major logical order, as double.
inline std::vector<double> values(const Tensor& t) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(t.numel()));
  for_each_index(t.shape(), [&](const Shape& i) { out.push_back(get(t, i)); });
  return out;
}

/// A float64 reference tensor: row-major values and a shape.
struct Ref {
  Shape shape;
  std::vector<double> v;
  Ref() = default;
  explicit Ref(Shape s) : shape(std::move(s)), v(static_cast<size_t>(numel_of(shape)), 0.0) {}
  Ref(Shape s, std::vector<double> vals) : shape(std::move(s)), v(std::move(vals)) {}
  static Ref of(const Tensor& t) { return Ref(t.shape(), values(t)); }
  double& at(const Shape& idx) { return v[static_cast<size_t>(flat_index(shape, idx))]; }
  double at(const Shape& idx) const { return v[static_cast<size_t>(flat_index(shape, idx))]; }
};

/// The value a double takes once stored in `t` (rounding for 16-bit and float32, exact otherwise).
inline double round_to(DType t, double v) {
  switch (t) {
    case kFloat32:
      return static_cast<float>(v);
    case kBFloat16:
      return static_cast<float>(BFloat16(static_cast<float>(v)));
    case kFloat16:
      return static_cast<float>(Float16(static_cast<float>(v)));
    default:
      return v;
  }
}

/// Compares `actual` with the reference elementwise: |a - r| <= atol + rtol * |r|; NaN must match
/// NaN, infinities must match exactly. Reports the max abs/rel error and the worst index on
/// failure.
inline bool check_close(const std::string& what, const Tensor& actual, const Ref& ref, Tol tol) {
  std::ostringstream msg;
  if (actual.shape() != ref.shape) {
    msg << what << ": shape " << shape_str(actual.shape()) << " != reference "
        << shape_str(ref.shape);
    FAIL_CHECK(msg.str());
    return false;
  }
  double max_abs = 0, max_rel = 0, worst_excess = -1;
  Shape worst;
  double worst_a = 0, worst_r = 0;
  int64_t bad = 0;
  for_each_index(ref.shape, [&](const Shape& i) {
    const double a = get(actual, i), r = ref.at(i);
    bool ok;
    double err = 0;
    if (std::isnan(r) || std::isnan(a)) {
      ok = std::isnan(r) && std::isnan(a);
      err = ok ? 0 : INFINITY;
    } else if (std::isinf(r) || std::isinf(a)) {
      ok = a == r;
      err = ok ? 0 : INFINITY;
    } else {
      err = std::abs(a - r);
      ok = err <= tol.atol + tol.rtol * std::abs(r);
      max_abs = std::max(max_abs, err);
      if (r != 0) max_rel = std::max(max_rel, err / std::abs(r));
    }
    const double excess = ok ? -1 : err - (tol.atol + tol.rtol * std::abs(r));
    if (!ok) ++bad;
    if (!ok && excess > worst_excess) {
      worst_excess = excess;
      worst = i;
      worst_a = a;
      worst_r = r;
    }
  });
  if (bad == 0) return true;
  msg << what << ": " << bad << " of " << numel_of(ref.shape) << " elements out of tolerance (atol "
      << tol.atol << ", rtol " << tol.rtol << "); max abs err " << max_abs << ", max rel err "
      << max_rel << "; worst at index " << shape_str(worst) << ": got " << worst_a << ", expected "
      << worst_r << " (" << describe(actual) << ")";
  FAIL_CHECK(msg.str());
  return false;
}
inline bool check_close(const std::string& what, const Tensor& actual, const Ref& ref) {
  return check_close(what, actual, ref, tol_for(actual.dtype()));
}

/// Exact comparison (integers, bools, views): every element bit-equal as double (NaN == NaN).
inline bool check_equal(const std::string& what, const Tensor& actual, const Ref& ref) {
  return check_close(what, actual, ref, Tol{0, 0});
}

/// True when two tensors hold bit-identical bytes in logical order (determinism checks).
inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  bool same = true;
  const size_t es = a.element_size();
  for_each_index(a.shape(), [&](const Shape& i) {
    int64_t oa = a.offset(), ob = b.offset();
    for (size_t d = 0; d < i.size(); ++d) {
      oa += i[d] * a.strides()[d];
      ob += i[d] * b.strides()[d];
    }
    const char* pa = static_cast<const char*>(a.storage()->data()) + oa * es;
    const char* pb = static_cast<const char*>(b.storage()->data()) + ob * es;
    same = same && std::equal(pa, pa + es, pb);
  });
  return same;
}

/// Layouts under which an input is presented to an op.
enum class Layout { Contiguous, Transposed, Strided, Broadcast };
inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous:
      return "contiguous";
    case Layout::Transposed:
      return "transposed";
    case Layout::Strided:
      return "strided";
    case Layout::Broadcast:
      return "broadcast";
  }
  return "?";
}

/// Random values for a dtype: floats uniform in [lo, hi), integers in [lo, hi], bool fair coins.
inline std::vector<double> random_values(int64_t n, DType dtype, std::mt19937& rng,
                                         double lo = -2.0, double hi = 2.0) {
  std::vector<double> v(static_cast<size_t>(n));
  if (dtype == kBool) {
    std::bernoulli_distribution b(0.5);
    for (auto& x : v) x = b(rng) ? 1.0 : 0.0;
  } else if (is_integral(dtype)) {
    std::uniform_int_distribution<int64_t> d(static_cast<int64_t>(lo), static_cast<int64_t>(hi));
    for (auto& x : v) x = static_cast<double>(d(rng));
  } else {
    std::uniform_real_distribution<double> d(lo, hi);
    for (auto& x : v) x = d(rng);
  }
  return v;
}

/// A contiguous tensor of `dtype` built from double values (through from_vector of the native type,
/// so 16-bit values are rounded by half.h's RNE conversion, not by the code under test).
inline Tensor make_tensor(const std::vector<double>& v, const Shape& shape, DType dtype) {
  switch (dtype) {
    case kBool: {
      std::vector<bool> b(v.size());
      for (size_t i = 0; i < v.size(); ++i) b[i] = v[i] != 0;
      return from_vector(b, shape);
    }
    case kInt32:
      return from_vector(std::vector<int32_t>(v.begin(), v.end()), shape);
    case kInt64:
      return from_vector(std::vector<int64_t>(v.begin(), v.end()), shape);
    case kBFloat16: {
      std::vector<BFloat16> h;
      for (double x : v) h.emplace_back(static_cast<float>(x));
      return from_vector(h, shape);
    }
    case kFloat16: {
      std::vector<Float16> h;
      for (double x : v) h.emplace_back(static_cast<float>(x));
      return from_vector(h, shape);
    }
    case kFloat32:
      return from_vector(std::vector<float>(v.begin(), v.end()), shape);
    case kFloat64:
      return from_vector(v, shape);
  }
  return {};
}

/// A random tensor of `shape` presented in `layout`:
///   Contiguous: plain row-major;
///   Transposed: storage in reversed dim order, viewed back (strides decreasing is broken);
///   Strided:    every dim taken with step 2 from a larger buffer, at a non-zero offset;
///   Broadcast:  dims of size > 1 are kept, but the leading dim (if > 1) is an expanded stride-0
///   dim.
inline Tensor random_tensor(const Shape& shape, DType dtype, std::mt19937& rng,
                            Layout layout = Layout::Contiguous, double lo = -2.0, double hi = 2.0) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  switch (layout) {
    case Layout::Contiguous:
      return make_tensor(random_values(numel_of(shape), dtype, rng, lo, hi), shape, dtype);
    case Layout::Transposed: {
      Shape rev(shape.rbegin(), shape.rend()), perm(shape.size());
      for (int64_t d = 0; d < nd; ++d) perm[d] = nd - 1 - d;
      Tensor base = make_tensor(random_values(numel_of(rev), dtype, rng, lo, hi), rev, dtype);
      Shape strides(shape.size());
      for (int64_t d = 0; d < nd; ++d) strides[d] = base.strides()[nd - 1 - d];
      return Tensor(std::make_shared<TensorImpl>(base.storage(), shape, strides, 0, dtype));
    }
    case Layout::Strided: {
      Shape big(shape.size());
      for (int64_t d = 0; d < nd; ++d) big[d] = 2 * shape[d] + 1;
      Tensor base = make_tensor(random_values(numel_of(big) + 3, dtype, rng, lo, hi),
                                {numel_of(big) + 3}, dtype);
      Shape strides(shape.size());
      int64_t s = 1;
      for (int64_t d = nd - 1; d >= 0; --d) {
        strides[d] = 2 * s;
        s *= big[d];
      }
      return Tensor(std::make_shared<TensorImpl>(base.storage(), shape, strides, 3, dtype));
    }
    case Layout::Broadcast: {
      if (nd == 0 || shape[0] <= 1)
        return random_tensor(shape, dtype, rng, Layout::Contiguous, lo, hi);
      Shape inner(shape.begin() + 1, shape.end());
      Tensor base = make_tensor(random_values(numel_of(inner), dtype, rng, lo, hi), inner, dtype);
      Shape strides = base.strides();
      strides.insert(strides.begin(), 0);
      return Tensor(std::make_shared<TensorImpl>(base.storage(), shape, strides, 0, dtype));
    }
  }
  return {};
}

/// Thread counts for determinism checks (restores the previous maximum afterwards).
struct ThreadCount {
  explicit ThreadCount(int n);
  ~ThreadCount();
  int saved;
};

}  // namespace tessera::test

#include <omp.h>

inline tessera::test::ThreadCount::ThreadCount(int n) : saved(omp_get_max_threads()) {
  omp_set_num_threads(n);
}
inline tessera::test::ThreadCount::~ThreadCount() { omp_set_num_threads(saved); }

/// Large sizes are cut in sanitizer/debug builds to keep each executable within seconds.
#ifdef NDEBUG
#define TESSERA_TEST_BIG(release, debug) (release)
#else
#define TESSERA_TEST_BIG(release, debug) (debug)
#endif
