// SPDX-License-Identifier: Apache-2.0
/// @brief save/load of named tensors in the safetensors format (Hugging Face's: an 8-byte
/// little-endian header size, a JSON header, then the raw little-endian data), readable by other
/// tools. Files are written atomically (temporary file, fsync, rename).
#pragma once

#include <map>
#include <string>

#include <tessera/tensor.h>

namespace tessera {

using TensorDict = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

/// Writes `tensors` (any device, any layout) to `path`; `metadata` goes to the "__metadata__"
/// entry.
void save(const std::string& path, const TensorDict& tensors, const Metadata& metadata = {});
/// Reads every tensor of `path` onto `device`. Malformed files throw tessera::Error naming the
/// file and the problem; `metadata`, if given, receives "__metadata__".
TensorDict load(const std::string& path, Device device = kCPU, Metadata* metadata = nullptr);

}  // namespace tessera
