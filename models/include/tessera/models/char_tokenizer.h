// SPDX-License-Identifier: Apache-2.0
/// @brief Character-level tokenizer: the sorted distinct code points of a training text.
#pragma once

#include <optional>

#include "tessera/models/tokenizer.h"

namespace tessera::models {

/// Id i is the i-th smallest code point of the training text; with `with_unk`, one more id
/// (the last) stands for any character outside the vocabulary and decodes to U+FFFD.
class CharTokenizer final : public Tokenizer {
 public:
  /// Vocabulary from the distinct code points of `text` (must be valid UTF-8).
  static CharTokenizer train(std::string_view text, bool with_unk = false);

  /// `chars` must be strictly increasing Unicode scalar values.
  explicit CharTokenizer(std::vector<char32_t> chars, bool with_unk = false);

  /// Throws tessera::Error on invalid UTF-8 (with the byte offset) and, without <unk>, on a
  /// character outside the vocabulary (naming it, its code point and its byte offset).
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int64_t vocab_size() const override;
  std::string type() const override { return "char"; }
  std::string token_text(int32_t id) const override;
  std::string serialize() const override;

  /// Parses serialize()'s JSON; throws tessera::Error on anything malformed.
  static CharTokenizer deserialize(std::string_view json);

  const std::vector<char32_t>& chars() const { return chars_; }
  std::optional<int32_t> unk_id() const;
  /// Id of `cp`, or -1 if it is not in the vocabulary.
  int32_t id_of(char32_t cp) const;

 private:
  std::vector<char32_t> chars_;
  bool with_unk_ = false;
  std::vector<int32_t> ascii_;  // id of each ASCII code point or -1: the common case is one load
};

}  // namespace tessera::models
