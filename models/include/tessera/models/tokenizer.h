// SPDX-License-Identifier: Apache-2.0
/// @brief The tokenizer interface shared by the byte, character and BPE tokenizers, and JSON I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::models {

/// Text <-> token ids. Implementations are immutable after construction, so const methods are
/// safe to call from several threads.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  /// Token ids of `text` (no <bos>/<eos> added). Throws tessera::Error on input the tokenizer
  /// cannot represent (e.g. an unknown character for a character tokenizer without <unk>).
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  /// The text of `ids`. Throws tessera::Error for an id outside [0, vocab_size()).
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  /// Number of distinct ids, special tokens included.
  virtual int64_t vocab_size() const = 0;
  /// "byte", "char" or "bpe": the "type" field of serialize()'s JSON.
  virtual std::string type() const = 0;
  /// The bytes of one token (special tokens give their name, e.g. "<eos>"), for inspection.
  virtual std::string token_text(int32_t id) const = 0;
  /// A JSON document from which deserialize() rebuilds an identical tokenizer.
  virtual std::string serialize() const = 0;

  /// Rebuilds any tokenizer from serialize()'s JSON, dispatching on "type". Validates everything
  /// and throws tessera::Error naming the problem on malformed input.
  static std::unique_ptr<Tokenizer> deserialize(std::string_view json);
};

/// Writes serialize() to `path` atomically (temporary file in the same folder, then rename).
void save_tokenizer(const Tokenizer& tok, const std::string& path);

/// Reads a file written by save_tokenizer.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace tessera::models
