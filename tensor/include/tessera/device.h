// SPDX-License-Identifier: Apache-2.0
/// @brief Device = (type, index): "cpu", "cuda:0".
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace tessera {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  constexpr Device() = default;
  constexpr Device(DeviceType t, int i = 0) : type(t), index(i) {}
  /// Parses "cpu", "cuda", "cuda:1"; throws tessera::Error otherwise.
  Device(std::string_view spec);  // NOLINT: implicit on purpose, like torch::Device("cuda:0")
  Device(const char* spec) : Device(std::string_view(spec)) {}

  constexpr bool is_cpu() const { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;
  friend constexpr bool operator==(const Device&, const Device&) = default;
};

inline constexpr Device kCPU{DeviceType::CPU, 0};
inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace tessera
