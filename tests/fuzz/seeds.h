// SPDX-License-Identifier: Apache-2.0
/// @brief Valid safetensors files that seed the fuzzer's corpus (and the replay test).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <tessera/safetensors.h>

namespace tessera::fuzz {

/// A handful of small valid files covering every dtype, 0-d and empty tensors, and metadata.
inline std::vector<std::vector<std::byte>> safetensors_seeds() {
  namespace st = tessera::safetensors;
  std::vector<std::vector<std::byte>> seeds;
  auto bytes = [](size_t n, uint8_t fill) { return std::vector<std::byte>(n, std::byte{fill}); };

  seeds.push_back(st::serialize({}));
  seeds.push_back(st::serialize({}, {{"format", "pt"}}));

  const auto f32 = bytes(24, 0x3f);
  seeds.push_back(st::serialize({{{"weight", "F32", {2, 3}}, f32}}));

  const auto b1 = bytes(1, 1), e = bytes(0, 0), h6 = bytes(6, 0x3c), d16 = bytes(16, 0x40),
             i12 = bytes(12, 7), l8 = bytes(8, 0xff), bf4 = bytes(4, 0x80), u3 = bytes(3, 9);
  seeds.push_back(st::serialize({{{"flag", "BOOL", {}}, b1},
                                 {{"empty", "F32", {2, 0, 3}}, e},
                                 {{"h", "F16", {3}}, h6},
                                 {{"d", "F64", {2}}, d16},
                                 {{"i", "I32", {1, 3}}, i12},
                                 {{"l", "I64", {}}, l8},
                                 {{"bf", "BF16", {2, 1}}, bf4},
                                 {{"u", "U8", {3}}, u3}},
                                {{"format", "pt"}, {"note", "seed \"quoted\" \xc3\xa9"}}));

  // Only the dtypes tessera::load accepts (the seeds above include U8, which it refuses).
  const auto i4 = bytes(4, 3), mask = bytes(3, 1);
  seeds.push_back(st::serialize({{{"w", "F32", {2, 3}}, f32},
                                 {{"d", "F64", {2}}, d16},
                                 {{"bf", "BF16", {2}}, bf4},
                                 {{"h", "F16", {3}}, h6},
                                 {{"i", "I32", {}}, i4},
                                 {{"l", "I64", {1}}, l8},
                                 {{"m", "BOOL", {3}}, mask},
                                 {{"e", "F32", {0, 4}}, e}},
                                {{"step", "7"}}));

  // Many small tensors: exercises sorting and the overlap/gap checks.
  std::vector<std::vector<std::byte>> store;
  std::vector<st::TensorBytes> many;
  const char* dtypes[] = {"F32", "I64", "BF16", "BOOL", "I16", "C64", "F8_E4M3"};
  for (int k = 0; k < 12; ++k) {
    const char* dt = dtypes[k % 7];
    const int64_t n = k % 4;
    store.push_back(bytes(static_cast<size_t>(n * st::dtype_size(dt)), static_cast<uint8_t>(k)));
  }
  for (int k = 0; k < 12; ++k)
    many.push_back(
        {{"layer." + std::to_string(k), dtypes[k % 7], {k % 4}}, store[static_cast<size_t>(k)]});
  seeds.push_back(st::serialize(many));
  return seeds;
}

}  // namespace tessera::fuzz
