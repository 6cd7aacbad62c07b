// SPDX-License-Identifier: Apache-2.0
/// @brief Random tensors from Philox4x32-10 (stream layout in tessera/philox.h).
///
/// Every element is a pure function of (seed, offset, element index), computed in parallel chunks:
/// the same numbers on any thread count, and the same as the CUDA backend's (which uses the same
/// header). float32/16-bit draws consume ceil(n / 4) counters, float64 draws ceil(n / 2).
#include <tessera/random.h>

#include <cmath>

#include <tessera/creation.h>
#include <tessera/native/convert.h>
#include <tessera/native/elementwise.h>
#include <tessera/philox.h>

#include "cuda/dispatch.h"
#include "native/iter.h"

namespace tessera {
namespace {

using kernels::cpu::parallel_for;

Generator& pick(Generator* g) { return g ? *g : default_generator(); }

/// Fills a contiguous float32 or float64 CPU tensor with value(element index) from the stream.
/// `per_counter` elements share one Philox block.
template <typename T, typename F>
void fill_stream(Tensor& t, Generator& gen, int per_counter, F value) {
  const int64_t n = t.numel();
  const uint64_t seed = gen.seed();
  const uint64_t offset = gen.advance(static_cast<uint64_t>((n + per_counter - 1) / per_counter));
  T* p = static_cast<T*>(t.data_ptr());
  parallel_for(n, kernels::cpu::kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const U32x4 w = Philox4x32::generate(seed, offset + static_cast<uint64_t>(i / per_counter));
      p[i] = value(w, i);
    }
  });
}

/// Uniform [0,1) tensor in float32 or float64 (the dtype the draw is made in).
Tensor uniform_draw(const Shape& shape, DType draw, Generator& gen) {
  Tensor t = empty(shape, {.dtype = draw});
  if (draw == kFloat64) {
    fill_stream<double>(t, gen, 2, [](const U32x4& w, int64_t i) {
      const int k = static_cast<int>(i % 2) * 2;
      return uniform_double(w[k], w[k + 1]);
    });
  } else {
    fill_stream<float>(t, gen, 4, [](const U32x4& w, int64_t i) {
      return uniform_float(w[static_cast<int>(i % 4)]);
    });
  }
  return t;
}

Tensor normal_draw(const Shape& shape, DType draw, Generator& gen) {
  Tensor t = empty(shape, {.dtype = draw});
  if (draw == kFloat64) {
    // Elements (2j, 2j+1) come from block offset + j: counter i / 2 for element i.
    fill_stream<double>(t, gen, 2, [](const U32x4& w, int64_t i) {
      const DoublePair z = normal_pair_double(w);
      return i % 2 == 0 ? z.first : z.second;
    });
  } else {
    fill_stream<float>(t, gen, 4, [](const U32x4& w, int64_t i) {
      const int k = static_cast<int>(i % 4) & ~1;  // the pair (k, k+1) holding element i
      const FloatPair z = normal_pair(w[k], w[k + 1]);
      return i % 2 == 0 ? z.first : z.second;
    });
  }
  return t;
}

DType draw_dtype(DType t, const char* op) {
  TESSERA_CHECK(is_floating(t), op, ": needs a floating dtype, got ", t);
  return t == kFloat64 ? kFloat64 : kFloat32;
}

Tensor finish(Tensor t, const TensorOptions& opts) {
  t = native::to(native::to(t, opts.dtype), opts.device);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

}  // namespace

Generator& default_generator() {
  // Part of the device registry (docs/architecture.md): one default stream per process, like
  // torch.manual_seed. Not synchronised: seed and draw from one thread, or pass a Generator.
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

Tensor rand(const Shape& shape, TensorOptions opts, Generator* gen) {
  TESSERA_CUDA_DISPATCH(
      finish(native::cuda_impl::random_draw(false, shape, draw_dtype(opts.dtype, "rand"), pick(gen),
                                            opts.device),
             opts),
      opts.device);
  return finish(uniform_draw(shape, draw_dtype(opts.dtype, "rand"), pick(gen)), opts);
}

Tensor randn(const Shape& shape, TensorOptions opts, Generator* gen) {
  TESSERA_CUDA_DISPATCH(
      finish(native::cuda_impl::random_draw(true, shape, draw_dtype(opts.dtype, "randn"), pick(gen),
                                            opts.device),
             opts),
      opts.device);
  return finish(normal_draw(shape, draw_dtype(opts.dtype, "randn"), pick(gen)), opts);
}

Tensor normal(double mean, double std, const Shape& shape, TensorOptions opts, Generator* gen) {
  TESSERA_CHECK(std >= 0, "normal: std must be non-negative, got ", std);
  const DType d = draw_dtype(opts.dtype, "normal");
  TESSERA_CUDA_DISPATCH(finish(native::add(native::mul(native::cuda_impl::random_draw(
                                                           true, shape, d, pick(gen), opts.device),
                                                       std),
                                           mean),
                               opts),
                        opts.device);
  Tensor z = normal_draw(shape, d, pick(gen));
  z = native::add(native::mul(z, std), mean);
  return finish(z, opts);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts, Generator* gen) {
  TESSERA_CHECK(low < high, "randint: expected low < high, got low=", low, " high=", high);
  TESSERA_CHECK(opts.dtype != kBool, "randint: bool is not an integer dtype");
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  TESSERA_CUDA_DISPATCH(
      finish(native::cuda_impl::randint_draw(low, range, shape, pick(gen), opts.device), opts),
      opts.device);
  Tensor t = empty(shape, {.dtype = kInt64});
  // 64 random bits per element (two words) reduced modulo the range: the bias is below
  // range / 2^64, negligible for any range a tensor can index.
  fill_stream<int64_t>(t, pick(gen), 2, [=](const U32x4& w, int64_t i) {
    const int k = static_cast<int>(i % 2) * 2;
    const uint64_t bits = (static_cast<uint64_t>(w[k + 1]) << 32) | w[k];
    return static_cast<int64_t>(static_cast<uint64_t>(low) + bits % range);
  });
  return finish(t, opts);
}

Tensor bernoulli(const Tensor& p, Generator* gen) {
  TESSERA_CHECK(is_floating(p.dtype()), "bernoulli: p must be floating, got ", describe(p));
  const Tensor pf = native::to(native::to(p, kCPU), kFloat32);
  // NaN fails both comparisons, so it is rejected too.
  TESSERA_CHECK(
      p.numel() == 0 || native::equal(native::logical_and(native::ge(pf, 0), native::le(pf, 1)),
                                      ones(pf.shape(), {.dtype = kBool})),
      "bernoulli: every probability must be in [0, 1], got ", describe(p));
  const Tensor u = uniform_draw(p.shape(), kFloat32, pick(gen));
  return native::to(native::to(native::lt(u, pf), p.dtype()), p.device());
}

Tensor bernoulli(double p, const Shape& shape, TensorOptions opts, Generator* gen) {
  TESSERA_CHECK(p >= 0 && p <= 1, "bernoulli: p must be in [0, 1], got ", p);
  const Tensor u = uniform_draw(shape, kFloat32, pick(gen));
  return finish(native::lt(u, static_cast<float>(p)), opts);
}

Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) {
  TESSERA_CHECK(low <= high, "uniform_: expected low <= high, got ", low, " > ", high);
  Tensor u = uniform_draw(t.shape(), draw_dtype(t.dtype(), "uniform_"), pick(gen));
  u = native::add(native::mul(u, high - low), low);
  return native::copy_(t, u);
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  TESSERA_CHECK(std >= 0, "normal_: std must be non-negative, got ", std);
  Tensor z = normal_draw(t.shape(), draw_dtype(t.dtype(), "normal_"), pick(gen));
  z = native::add(native::mul(z, std), mean);
  return native::copy_(t, z);
}

}  // namespace tessera
