// SPDX-License-Identifier: Apache-2.0
/// @brief Micro-benchmarks of cudasim's machinery (numbers quoted in docs/cudasim.md).
#pragma once

#include <cstdint>

namespace tessera::cudasim {

/// Mean time of one fiber context switch (ping-pong between this thread and one fiber).
double measure_context_switch_ns(int64_t round_trips);

}  // namespace tessera::cudasim
