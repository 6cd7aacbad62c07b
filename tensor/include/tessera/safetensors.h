// SPDX-License-Identifier: Apache-2.0
/// @brief The safetensors file format on raw bytes: a defensive header parser and a header writer.
///
/// Format (Hugging Face safetensors): 8 bytes little-endian u64 N; N bytes of UTF-8 JSON, an object
/// mapping tensor name -> {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} plus an
/// optional "__metadata__": {string: string}; then the data section, offsets relative to its first
/// byte. This layer knows nothing of tessera::Tensor (tessera/io.h builds on it), so the fuzzer
/// (tests/fuzz) links only this file, error.h and nlohmann_json.
///
/// Validation follows the reference implementation (safetensors' Rust `validate`) and is strict:
/// every tensor's byte range must hold exactly numel * element size bytes, and the ranges sorted by
/// offset must tile the data section exactly (no overlap, no gap, no trailing bytes). Any violation
/// throws tessera::Error naming the source and the problem; nothing is trusted before it is
/// checked.
///
/// Writer: entries are laid out as the reference does (element type descending, then name), so
/// every tensor is aligned to its element size, and the JSON header is padded with spaces to a
/// multiple of 8 bytes. With at most one metadata entry the bytes equal Python safetensors' output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::safetensors {

/// Largest JSON header accepted (the reference's limit is 100,000,000 bytes).
inline constexpr uint64_t kMaxHeaderSize = 100ull << 20;

/// Bytes per element of a safetensors dtype name ("F32" -> 4), or 0 if the name is not a
/// byte-sized safetensors dtype. Known: BOOL U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 I16 U16 F16 BF16 I32 U32
/// F32 C64 F64 I64 U64 (sub-byte F4/F6 types are not supported).
int64_t dtype_size(std::string_view dtype);

/// One tensor's header entry.
struct TensorInfo {
  std::string name;
  std::string dtype;           // safetensors spelling: "F32", "BF16", ...
  std::vector<int64_t> shape;  // empty for a 0-d tensor
  uint64_t begin = 0;          // [begin, end): byte range relative to the data section
  uint64_t end = 0;

  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct Header {
  std::vector<TensorInfo> tensors;  // in data order (ascending offsets)
  std::map<std::string, std::string> metadata;
  uint64_t header_size = 0;  // N, the JSON length
  uint64_t data_start = 0;   // 8 + N: the data section's offset in the file
  uint64_t data_size = 0;    // file size - data_start

  /// The entry called `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const;
};

/// Reads N from the first 8 bytes and checks it against `file_size` and kMaxHeaderSize.
/// `first` may be shorter than 8 bytes (then the file is too short: throws).
uint64_t read_header_size(std::span<const std::byte> first, uint64_t file_size,
                          std::string_view source);

/// Parses and validates the header of a file of `file_size` bytes. `prefix` holds the file's
/// first bytes: at least 8 + N of them (more is fine). The data itself is not needed.
Header parse_header(std::span<const std::byte> prefix, uint64_t file_size, std::string_view source);

/// parse_header on a whole file held in memory.
Header parse(std::span<const std::byte> file, std::string_view source = "<memory>");

/// What the writer needs to know about one tensor.
struct TensorDesc {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
};

/// A planned file: the bytes before the data (8-byte size + padded JSON) and the data layout.
struct Layout {
  std::string prefix;         // write this first
  std::vector<size_t> order;  // then the tensors' bytes, in this order (indices into the input)
  std::vector<TensorInfo> tensors;  // per input tensor (same indexing as the input): its offsets
  uint64_t data_size = 0;
};

/// Validates names (non-empty, unique, not "__metadata__", valid UTF-8), dtypes and shapes, and
/// lays the file out. Throws tessera::Error on bad input.
Layout plan(const std::vector<TensorDesc>& tensors,
            const std::map<std::string, std::string>& metadata = {});

/// A tensor with its bytes, for serialize().
struct TensorBytes {
  TensorDesc desc;
  std::span<const std::byte> data;  // exactly numel * dtype_size bytes, little-endian
};

/// The whole file in memory (for small files and tests; save() streams through plan()).
std::vector<std::byte> serialize(const std::vector<TensorBytes>& tensors,
                                 const std::map<std::string, std::string>& metadata = {});

}  // namespace tessera::safetensors
