// SPDX-License-Identifier: Apache-2.0
/// @brief The accumulation type of the CPU kernels: double for double, float for everything else.
///
/// Saved statistics (LayerNorm mean/rstd, softmax and attention logsumexp) have this type, so a
/// float64 run is float64 end to end while float, bf16 and f16 runs keep float32 statistics.
/// For every floating type it equals tensor's tessera::acc_t (dtype.h); it has its own name because
/// kernels sits below tensor and a using-directive must not make the two ambiguous.
#pragma once

#include <type_traits>

namespace tessera::kernels::cpu {

template <typename T>
using compute_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

}  // namespace tessera::kernels::cpu
