// SPDX-License-Identifier: Apache-2.0
/// @brief Fused softmax cross-entropy (label smoothing, ignore_index) forward + backward on CPU.
//
// cross_entropy.cpp: the classifier head's loss and its logits gradient.
// Shapes:  logits, grad_logits (N, V) row-major; targets (N); row_loss, lse (N) compute_t<T>.
// Mapping: rows in fixed chunks over OpenMP threads; inside a row `omp simd` loops with the
//          vectorisable exp (vec_math.h). A row of V = 50257 floats is 200 KB: it stays in L2
//          between the statistics pass and the gradient pass.
// Algorithm: pass 1 over the row in blocks: running (max m, sum s = sum exp(x - m)) rescaled as m
//          grows (online softmax), and sum_j x_j for the smoothing term; lse = m + log s.
//          pass 2 (when the gradient is wanted) writes (exp(x - lse) - eps/V - (1-eps)[j==t]) *
//          scale over the same row -- so probabilities never exist as a separate (N, V) tensor and
//          the gradient may overwrite the logits (llm.c's fused classifier).
// Reduction: per-row losses are summed in row order in double after the parallel part, so the
//          result does not depend on the thread count.
// Cost:    forward ~(3 + exp) NV FLOP, reads NV*sizeof(T); fused backward adds one write of NV
//          (+ a re-read that hits L2): floor = 2NV*sizeof(T) / copy bandwidth for loss + gradient.
// Tests: tests/kernels/test_cross_entropy.cpp   Bench: benches/kernels/bench_cross_entropy.cpp
#include <tessera/kernels/cpu/cross_entropy.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <tessera/error.h>
#include <tessera/kernels/cpu/strided_loop.h>

#include "vec_math.h"

namespace tessera::kernels::cpu {
namespace {

using detail::exp_fast;

constexpr int64_t kRowGrainElems = 32768;
constexpr int64_t kBlock = 1024;

// Checks the targets and returns the number of rows that are not ignored.
template <typename Index>
int64_t count_targets(const char* op, const Index* targets, int64_t rows, int64_t vocab,
                      int64_t ignore_index) {
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = static_cast<int64_t>(targets[r]);
    if (t == ignore_index) continue;
    TESSERA_CHECK(t >= 0 && t < vocab, op, ": target ", t, " at row ", r,
                  " is outside [0, vocab=", vocab, ") and is not ignore_index=", ignore_index);
    ++count;
  }
  return count;
}

void check_common(const char* op, int64_t rows, int64_t vocab, const CrossEntropyOptions& o) {
  TESSERA_CHECK(rows >= 0 && vocab > 0, op, ": expected rows >= 0 and vocab > 0, got rows=", rows,
                " vocab=", vocab);
  TESSERA_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0, op,
                ": expected label_smoothing in [0, 1], got ", o.label_smoothing);
}

// (m, s, sum x) of one row: max, sum exp(x - m), sum x.
template <typename T, typename A>
void row_stats(const T* xr, int64_t n, A& m_out, A& s_out, A& sum_out) {
  constexpr A kNegInf = -std::numeric_limits<A>::infinity();
  A m = kNegInf, s = 0, sx = 0;
  A buf[kBlock];
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t len = std::min(n - j0, kBlock);
    A bm = kNegInf, bx = 0;
#pragma omp simd reduction(max : bm) reduction(+ : bx)
    for (int64_t j = 0; j < len; ++j) {
      buf[j] = static_cast<A>(xr[j0 + j]);
      bm = buf[j] > bm ? buf[j] : bm;  // not std::max: see NOTE [vectorisable exp]
      bx += buf[j];
    }
    sx += bx;
    if (bm == kNegInf) continue;
    if (bm > m) {
      s *= exp_fast(m - bm);
      m = bm;
    }
    A bs = 0;
#pragma omp simd reduction(+ : bs)
    for (int64_t j = 0; j < len; ++j) bs += exp_fast(buf[j] - m);
    s += bs;
  }
  m_out = m;
  s_out = s;
  sum_out = sx;
}

// grad row = (exp(x - lse) - eps/V - (1 - eps)[j == t]) * scale; gr may alias xr.
template <typename T, typename A>
void write_grad_row(const T* xr, T* gr, int64_t n, int64_t t, A lse, A eps, A scale) {
  const A off = eps / static_cast<A>(n);
  const A xt = static_cast<A>(xr[t]);  // read before the row loop may overwrite it (aliasing)
  if (lse == -std::numeric_limits<A>::infinity()) lse = 0;  // all -inf logits: p = 0 (NaN stays)
#pragma omp simd
  for (int64_t j = 0; j < n; ++j)
    gr[j] = static_cast<T>((exp_fast(static_cast<A>(xr[j]) - lse) - off) * scale);
  gr[t] = static_cast<T>((exp_fast(xt - lse) - off - (A(1) - eps)) * scale);
}

}  // namespace

template <typename T, typename Index>
double cross_entropy_forward(const T* logits, const Index* targets, int64_t rows, int64_t vocab,
                             const CrossEntropyOptions& o, compute_t<T>* row_loss,
                             compute_t<T>* lse, T* grad_logits, float grad_loss) {
  using A = compute_t<T>;
  constexpr const char* kOp = "cross_entropy_forward";
  // Preconditions
  check_common(kOp, rows, vocab, o);
  TESSERA_CHECK(!(grad_logits && o.reduction == LossReduction::kNone), kOp,
                ": the fused gradient needs a scalar loss (reduction mean or sum), got none");
  if (rows == 0) return 0.0;
  TESSERA_CHECK(logits && targets, kOp, ": logits and targets must be non-null");
  const int64_t count = count_targets(kOp, targets, rows, vocab, o.ignore_index);
  const A eps = static_cast<A>(o.label_smoothing);
  A scale = static_cast<A>(grad_loss);
  if (o.reduction == LossReduction::kMean) scale = count > 0 ? scale / static_cast<A>(count) : A(0);
  std::vector<A> losses(rows);
  const int64_t grain = std::max<int64_t>(1, kRowGrainElems / vocab);
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = logits + r * vocab;  // (V)
      A m, s, sx;
      row_stats(xr, vocab, m, s, sx);
      const A l = m + std::log(s);  // -inf when every logit is -inf
      if (lse) lse[r] = l;
      const int64_t t = static_cast<int64_t>(targets[r]);
      if (t == o.ignore_index) {
        losses[r] = 0;
        if (grad_logits) std::fill(grad_logits + r * vocab, grad_logits + (r + 1) * vocab, T(0.f));
        continue;
      }
      const A xt = static_cast<A>(xr[t]);
      // eps * mean_j x_j is skipped when eps = 0 so a -inf logit elsewhere cannot make 0 * inf.
      losses[r] = l - (A(1) - eps) * xt - (eps > 0 ? eps * sx / static_cast<A>(vocab) : A(0));
      if (grad_logits) write_grad_row(xr, grad_logits + r * vocab, vocab, t, l, eps, scale);
    }
  });
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) total += static_cast<double>(losses[r]);
  if (row_loss) std::copy(losses.begin(), losses.end(), row_loss);
  if (o.reduction == LossReduction::kMean)
    return count > 0 ? total / static_cast<double>(count) : 0.0;
  return total;
}

template <typename T, typename Index>
void cross_entropy_backward(const T* logits, const Index* targets, const compute_t<T>* lse,
                            int64_t rows, int64_t vocab, const CrossEntropyOptions& o,
                            const float* grad_loss, T* grad_logits) {
  using A = compute_t<T>;
  constexpr const char* kOp = "cross_entropy_backward";
  // Preconditions
  check_common(kOp, rows, vocab, o);
  if (rows == 0) return;
  TESSERA_CHECK(logits && targets && lse && grad_loss && grad_logits, kOp,
                ": logits, targets, lse, grad_loss and grad_logits must be non-null");
  const int64_t count = count_targets(kOp, targets, rows, vocab, o.ignore_index);
  const A eps = static_cast<A>(o.label_smoothing);
  const int64_t grain = std::max<int64_t>(1, kRowGrainElems / vocab);
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t t = static_cast<int64_t>(targets[r]);
      T* gr = grad_logits + r * vocab;  // (V)
      if (t == o.ignore_index) {
        std::fill(gr, gr + vocab, T(0.f));
        continue;
      }
      A scale;
      if (o.reduction == LossReduction::kNone)
        scale = static_cast<A>(grad_loss[r]);
      else if (o.reduction == LossReduction::kSum)
        scale = static_cast<A>(grad_loss[0]);
      else
        scale = static_cast<A>(grad_loss[0]) / static_cast<A>(count);
      write_grad_row(logits + r * vocab, gr, vocab, t, lse[r], eps, scale);
    }
  });
}

#define TESSERA_INSTANTIATE_CE(T, I)                                                            \
  template double cross_entropy_forward<T, I>(const T*, const I*, int64_t, int64_t,             \
                                              const CrossEntropyOptions&, compute_t<T>*,        \
                                              compute_t<T>*, T*, float);                        \
  template void cross_entropy_backward<T, I>(const T*, const I*, const compute_t<T>*, int64_t,  \
                                             int64_t, const CrossEntropyOptions&, const float*, \
                                             T*);
#define TESSERA_INSTANTIATE_CE_T(T)  \
  TESSERA_INSTANTIATE_CE(T, int64_t) \
  TESSERA_INSTANTIATE_CE(T, int32_t)
TESSERA_INSTANTIATE_CE_T(float)
TESSERA_INSTANTIATE_CE_T(double)
TESSERA_INSTANTIATE_CE_T(BFloat16)
TESSERA_INSTANTIATE_CE_T(Float16)
#undef TESSERA_INSTANTIATE_CE_T
#undef TESSERA_INSTANTIATE_CE

}  // namespace tessera::kernels::cpu
