// SPDX-License-Identifier: Apache-2.0
/// @brief The CPU's one N-ary strided loop: every elementwise op, copy and cast runs through it.
///
/// Computes: for every index of an N-d iteration space (sizes, innermost last), call
///   inner(n, ptrs, inner_strides)
/// on runs of `n` consecutive innermost elements, where ptrs[k] points at operand k's first element
/// of the run and inner_strides[k] is its innermost byte stride. Operand 0 is by convention the
/// output. Design: the caller coalesces dims first (coalesce_dims) so a contiguous op is a single
/// 1-d run that the compiler vectorises; the flat index space is cut into fixed chunks of kGrain
/// elements and the chunks are spread over OpenMP threads. Chunk boundaries do not depend on the
/// thread count, and each output element is written by exactly one run, so results are identical on
/// any thread count. Cost: bandwidth-bound; target >= 70% of memcpy bandwidth for large contiguous
/// operands.
#pragma once

#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace tessera::kernels::cpu {

inline constexpr int64_t kGrain = 32768;  ///< elements per parallel chunk

template <int N>
struct StridedLoop {
  std::vector<int64_t> sizes;                   ///< iteration space, innermost last
  std::array<std::vector<int64_t>, N> strides;  ///< byte strides per operand, same rank as sizes
  std::array<char*, N> data{};                  ///< base pointer per operand

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : sizes) n *= s;
    return n;
  }
};

/// Drops size-1 dims and merges neighbours that are contiguous for every operand.
template <int N>
void coalesce_dims(StridedLoop<N>& loop) {
  std::vector<int64_t> sizes;
  std::array<std::vector<int64_t>, N> strides;
  for (size_t d = 0; d < loop.sizes.size(); ++d) {
    if (loop.sizes[d] == 1) continue;
    bool merge = !sizes.empty();
    for (int k = 0; k < N && merge; ++k)
      merge = strides[k].back() == loop.strides[k][d] * loop.sizes[d];
    if (merge) {
      sizes.back() *= loop.sizes[d];
      for (int k = 0; k < N; ++k) strides[k].back() = loop.strides[k][d];
    } else {
      sizes.push_back(loop.sizes[d]);
      for (int k = 0; k < N; ++k) strides[k].push_back(loop.strides[k][d]);
    }
  }
  if (sizes.empty()) {  // a single element (or all dims of size 1)
    sizes.push_back(1);
    for (int k = 0; k < N; ++k) strides[k].push_back(0);
  }
  loop.sizes = std::move(sizes);
  loop.strides = std::move(strides);
}

/// Runs `inner` over the flat index range [begin, end) of the loop.
template <int N, typename F>
void run_range(const StridedLoop<N>& loop, int64_t begin, int64_t end, F& inner) {
  const int nd = static_cast<int>(loop.sizes.size());
  const int64_t inner_size = loop.sizes[nd - 1];
  std::array<int64_t, 16> idx{};  // multi-index of `begin`, innermost last
  int64_t rem = begin;
  for (int d = nd - 1; d >= 0; --d) {
    idx[d] = rem % loop.sizes[d];
    rem /= loop.sizes[d];
  }
  std::array<char*, N> ptr;
  std::array<int64_t, N> inner_stride;
  for (int k = 0; k < N; ++k) {
    ptr[k] = loop.data[k];
    for (int d = 0; d < nd; ++d) ptr[k] += idx[d] * loop.strides[k][d];
    inner_stride[k] = loop.strides[k][nd - 1];
  }
  int64_t pos = begin;
  while (pos < end) {
    const int64_t n = std::min(inner_size - idx[nd - 1], end - pos);
    inner(n, ptr.data(), inner_stride.data());
    pos += n;
    // Advance the multi-index by n (the innermost dim may wrap into outer dims).
    idx[nd - 1] += n;
    for (int k = 0; k < N; ++k) ptr[k] += n * inner_stride[k];
    for (int d = nd - 1; d > 0 && idx[d] == loop.sizes[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
      for (int k = 0; k < N; ++k)
        ptr[k] += loop.strides[k][d - 1] - loop.sizes[d] * loop.strides[k][d];
    }
  }
}

/// Runs the whole loop, in parallel when it is large. `inner` must be thread-safe.
template <int N, typename F>
void for_each(StridedLoop<N> loop, F inner) {
  coalesce_dims(loop);
  const int64_t total = loop.numel();
  if (total == 0) return;
  const int64_t chunks = (total + kGrain - 1) / kGrain;
  if (chunks == 1 || omp_in_parallel()) {
    run_range(loop, 0, total, inner);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    run_range(loop, c * kGrain, std::min(total, (c + 1) * kGrain), inner);
  }
}

/// Calls body(begin, end) over [0, n) in fixed chunks of `grain`, in parallel when worthwhile.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  if (chunks == 1 || omp_in_parallel()) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(n, (c + 1) * grain));
}

}  // namespace tessera::kernels::cpu
