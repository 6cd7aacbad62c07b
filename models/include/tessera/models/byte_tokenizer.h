// SPDX-License-Identifier: Apache-2.0
/// @brief Byte-level tokenizer: id = byte value, 256 symbols, lossless for any byte string.
#pragma once

#include "tessera/models/tokenizer.h"

namespace tessera::models {

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr int64_t kVocabSize = 256;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int64_t vocab_size() const override { return kVocabSize; }
  std::string type() const override { return "byte"; }
  std::string token_text(int32_t id) const override;
  std::string serialize() const override;

  /// Parses serialize()'s JSON; throws tessera::Error on anything else.
  static ByteTokenizer deserialize(std::string_view json);
};

}  // namespace tessera::models
