// SPDX-License-Identifier: Apache-2.0
/// @brief Parsing and printing devices.
#include <tessera/device.h>

#include <charconv>

#include <tessera/error.h>

namespace tessera {

Device::Device(std::string_view spec) {
  auto bad = [&] {
    TESSERA_FAIL("invalid device string '", spec, "': expected 'cpu', 'cuda' or 'cuda:N'");
  };
  if (spec == "cpu") {
    type = DeviceType::CPU;
    index = 0;
    return;
  }
  if (spec.substr(0, 4) != "cuda") bad();
  type = DeviceType::CUDA;
  index = 0;
  if (spec.size() == 4) return;
  if (spec[4] != ':' || spec.size() == 5) bad();
  const char* first = spec.data() + 5;
  const char* last = spec.data() + spec.size();
  auto [ptr, ec] = std::from_chars(first, last, index);
  if (ec != std::errc() || ptr != last || index < 0) bad();
}

std::string Device::str() const {
  return type == DeviceType::CPU ? std::string("cpu") : "cuda:" + std::to_string(index);
}

}  // namespace tessera
