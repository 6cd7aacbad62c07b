// SPDX-License-Identifier: Apache-2.0
/// @brief The example programs' --device flag: "cpu", "cuda" or "cuda:N", checked against what
/// this build and machine offer, with one-line errors (CliError) the programs print and exit 2 on.
#pragma once

#include <string>

#include <tessera/device.h>

namespace tessera::examples {

/// Parses `spec` (the value of --device) and checks that it can run here: a build without a CUDA
/// backend says "cuda: not available in this build (TESSERA_CUDA=OFF)", a machine without a
/// device or with fewer devices than N says so. Throws CliError.
Device parse_device_flag(const std::string& spec);

/// "cpu", "cuda:0", or "cuda:0 (cudasim)" in a TESSERA_CUDA_SIM build: for banners and logs.
std::string describe_device(Device device);

}  // namespace tessera::examples
