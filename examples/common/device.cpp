// SPDX-License-Identifier: Apache-2.0
/// @brief --device parsing and availability checks (see device.h).
#include "device.h"

#include <tessera/cuda.h>
#include <tessera/error.h>

#include "cli.h"

#ifndef TESSERA_EXAMPLES_CUDA_BACKEND
#define TESSERA_EXAMPLES_CUDA_BACKEND "none"
#endif

namespace tessera::examples {

Device parse_device_flag(const std::string& spec) {
  Device d;
  try {
    d = Device(spec);
  } catch (const Error&) {
    throw CliError("--device must be cpu, cuda or cuda:N, got '" + spec + "'");
  }
  if (d.is_cpu()) return d;
  if (std::string(TESSERA_EXAMPLES_CUDA_BACKEND) == "none")
    throw CliError("--device " + spec +
                   ": cuda: not available in this build (TESSERA_CUDA=OFF); configure with "
                   "-DTESSERA_CUDA=ON (or -DTESSERA_CUDA_SIM=ON for cudasim)");
  const int n = cuda::device_count();
  if (n == 0)
    throw CliError("--device " + spec +
                   ": no CUDA device found (no driver, or CUDA_VISIBLE_DEVICES hides them)");
  if (d.index >= n)
    throw CliError("--device " + spec + ": this machine has " + std::to_string(n) +
                   " CUDA device(s), cuda:0 to cuda:" + std::to_string(n - 1));
  return d;
}

std::string describe_device(Device device) {
  return device.str() + (!device.is_cpu() && cuda::is_simulated() ? " (cudasim)" : "");
}

}  // namespace tessera::examples
