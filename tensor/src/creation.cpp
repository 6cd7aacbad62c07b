// SPDX-License-Identifier: Apache-2.0
/// @brief Creation functions: empty, zeros, ones, full, arange, linspace, eye, from values.
#include <tessera/creation.h>

#include <cmath>
#include <cstring>

#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>

#include "native/iter.h"

namespace tessera {
namespace {

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    strides[d] = s;
    s *= std::max<int64_t>(shape[d], 1);
  }
  return strides;
}

void check_shape(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) {
    TESSERA_CHECK(s >= 0, "invalid shape ", shape_str(shape), ": sizes must be non-negative");
    TESSERA_CHECK(s == 0 || n <= INT64_MAX / s, "invalid shape ", shape_str(shape),
                  ": element count overflows int64");
    n *= s;
  }
}

Tensor with_grad(Tensor t, const TensorOptions& opts) {
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

template <typename T>
void fill_cpu(Tensor& t, T v) {
  T* p = static_cast<T*>(t.data_ptr());
  kernels::cpu::parallel_for(t.numel(), kernels::cpu::kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = v;
  });
}

}  // namespace

Tensor empty(const Shape& shape, TensorOptions opts) {
  check_shape(shape);
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  const size_t nbytes = static_cast<size_t>(n) * element_size(opts.dtype);
  auto storage = std::make_shared<StorageImpl>(nbytes, opts.device);
  Tensor t(std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0,
                                        opts.dtype));
  return with_grad(std::move(t), opts);
}

Tensor full(const Shape& shape, Scalar value, TensorOptions opts) {
  const bool rg = opts.requires_grad;
  opts.requires_grad = false;
  Tensor t = empty(shape, opts);
  if (t.device().is_cpu()) {
    visit_dtype(t.dtype(), [&]<typename T>() { fill_cpu<T>(t, value.to<T>()); });
  } else {
    native::fill_(t, value);
  }
  opts.requires_grad = rg;
  return with_grad(std::move(t), opts);
}

Tensor zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full(shape, 1, opts); }
Tensor scalar_tensor(Scalar value, TensorOptions opts) { return full({}, value, opts); }

Tensor empty_like(const Tensor& t) {
  return empty(t.shape(), {.dtype = t.dtype(), .device = t.device()});
}
Tensor zeros_like(const Tensor& t) {
  return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()});
}
Tensor ones_like(const Tensor& t) {
  return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()});
}
Tensor full_like(const Tensor& t, Scalar v) {
  return full(t.shape(), v, {.dtype = t.dtype(), .device = t.device()});
}

Tensor arange(Scalar end) { return arange(0, end, 1); }

Tensor arange(Scalar start, Scalar end, Scalar step) {
  const bool all_int = !start.is_floating() && !end.is_floating() && !step.is_floating();
  return arange(start, end, step, {.dtype = all_int ? kInt64 : kFloat32});
}

Tensor arange(Scalar start, Scalar end, Scalar step, TensorOptions opts) {
  const double s = start.to_double(), e = end.to_double(), st = step.to_double();
  TESSERA_CHECK(st != 0 && std::isfinite(s) && std::isfinite(e) && std::isfinite(st),
                "arange: step must be non-zero and bounds finite, got start=", start, " end=", end,
                " step=", step);
  TESSERA_CHECK((e - s) / st >= 0 || s == e, "arange: step ", step,
                " has the wrong sign for start=", start, " end=", end);
  const bool int_args = !start.is_floating() && !end.is_floating() && !step.is_floating();
  int64_t n;
  if (int_args) {
    // Exact in integers: (end - start) in double loses the low bits beyond 2^53.
    const int64_t si = start.to_int(), ei = end.to_int(), sti = step.to_int();
    TESSERA_CHECK((ei - si == 0) || ((ei - si > 0) == (sti > 0)), "arange: step ", step,
                  " has the wrong sign for start=", start, " end=", end);
    const int64_t span = ei - si;
    n = sti > 0 ? (span + sti - 1) / sti : (span + sti + 1) / sti;
  } else {
    n = static_cast<int64_t>(std::ceil((e - s) / st));
  }
  Tensor cpu = empty({std::max<int64_t>(n, 0)}, {.dtype = opts.dtype});
  visit_dtype(opts.dtype, [&]<typename T>() {
    T* p = static_cast<T*>(cpu.data_ptr());
    if (!start.is_floating() && !step.is_floating()) {
      const int64_t si = start.to_int(), sti = step.to_int();
      for (int64_t i = 0; i < n; ++i) p[i] = Scalar(si + i * sti).to<T>();
    } else {
      for (int64_t i = 0; i < n; ++i) p[i] = Scalar(s + static_cast<double>(i) * st).to<T>();
    }
  });
  Tensor t = native::to(cpu, opts.device);
  return with_grad(std::move(t), opts);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opts) {
  TESSERA_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  TESSERA_CHECK(is_floating(opts.dtype), "linspace: needs a floating dtype, got ", opts.dtype);
  Tensor cpu = empty({steps}, {.dtype = opts.dtype});
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  visit_dtype(opts.dtype, [&]<typename T>() {
    T* p = static_cast<T*>(cpu.data_ptr());
    // Symmetric evaluation (as PyTorch): the second half counts back from `end` so both ends are
    // exact.
    for (int64_t i = 0; i < steps; ++i) {
      // steps == 1 gives [start], as torch.linspace.
      const double v = steps == 1      ? start
                       : i < steps / 2 ? start + step * static_cast<double>(i)
                                       : end - step * static_cast<double>(steps - 1 - i);
      p[i] = Scalar(v).to<T>();
    }
  });
  Tensor t = native::to(cpu, opts.device);
  return with_grad(std::move(t), opts);
}

Tensor eye(int64_t n, TensorOptions opts) {
  TESSERA_CHECK(n >= 0, "eye: n must be non-negative, got ", n);
  const bool rg = opts.requires_grad;
  opts.requires_grad = false;
  Tensor cpu = zeros({n, n}, {.dtype = opts.dtype});
  visit_dtype(opts.dtype, [&]<typename T>() {
    T* p = static_cast<T*>(cpu.data_ptr());
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = Scalar(1).to<T>();
  });
  Tensor t = native::to(cpu, opts.device);
  opts.requires_grad = rg;
  return with_grad(std::move(t), opts);
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  TESSERA_CHECK(n == static_cast<int64_t>(values.size()), "from_vector: ", values.size(),
                " values do not fill shape ", shape_str(shape));
  const bool rg = opts.requires_grad;
  Tensor cpu = empty(shape, {.dtype = dtype_of<T>()});
  if constexpr (std::is_same_v<T, bool>) {
    bool* p = static_cast<bool*>(cpu.data_ptr());
    for (int64_t i = 0; i < n; ++i) p[i] = values[i];
  } else {
    if (n > 0) std::memcpy(cpu.data_ptr(), values.data(), n * sizeof(T));
  }
  Tensor t = native::to(native::to(cpu, opts.dtype), opts.device);
  opts.requires_grad = rg;
  return with_grad(std::move(t), opts);
}
template Tensor from_vector(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<int32_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<bool>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<BFloat16>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<Float16>&, const Shape&, TensorOptions);

Tensor tensor(std::initializer_list<float> v, TensorOptions o) {
  return from_vector(std::vector<float>(v), {static_cast<int64_t>(v.size())}, o);
}
Tensor tensor(std::initializer_list<double> v, TensorOptions o) {
  return from_vector(std::vector<double>(v), {static_cast<int64_t>(v.size())}, o);
}
Tensor tensor(std::initializer_list<int64_t> v, TensorOptions o) {
  return from_vector(std::vector<int64_t>(v), {static_cast<int64_t>(v.size())}, o);
}
Tensor tensor(std::initializer_list<int> v, TensorOptions o) {
  std::vector<int64_t> w(v.begin(), v.end());
  return from_vector(w, {static_cast<int64_t>(w.size())}, o);
}
Tensor tensor(std::initializer_list<bool> v, TensorOptions o) {
  return from_vector(std::vector<bool>(v), {static_cast<int64_t>(v.size())}, o);
}

template <typename T>
std::vector<T> to_vector(const Tensor& t) {
  Tensor c = native::contiguous(native::to(native::to(t, kCPU), dtype_of<T>()));
  std::vector<T> out(static_cast<size_t>(c.numel()));
  const T* p = static_cast<const T*>(c.data_ptr());
  for (int64_t i = 0; i < c.numel(); ++i) out[i] = p[i];
  return out;
}
template std::vector<float> to_vector(const Tensor&);
template std::vector<double> to_vector(const Tensor&);
template std::vector<int32_t> to_vector(const Tensor&);
template std::vector<int64_t> to_vector(const Tensor&);
template std::vector<bool> to_vector(const Tensor&);
template std::vector<BFloat16> to_vector(const Tensor&);
template std::vector<Float16> to_vector(const Tensor&);

}  // namespace tessera
