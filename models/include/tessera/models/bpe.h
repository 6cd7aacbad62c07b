// SPDX-License-Identifier: Apache-2.0
/// @brief Byte-level BPE (GPT-2 style) with <pad>/<bos>/<eos>/<unk>: training and encoding.
#pragma once

#include <unordered_map>
#include <utility>

#include "tessera/models/tokenizer.h"

namespace tessera::models {

struct BpeTrainOptions {
  int64_t vocab_size = 8000;   ///< target size, special and byte tokens included (>= 260)
  int64_t min_pair_count = 2;  ///< stop early when the most frequent pair occurs fewer times
};

/// What train() measured (for logs and docs/text.md).
struct BpeTrainStats {
  int64_t sentences = 0;
  int64_t unique_chunks = 0;  ///< distinct pre-tokenizer chunks ("words") in the corpus
  int64_t merges = 0;
  int64_t corpus_tokens = 0;  ///< tokens of the training corpus after the last merge
  double seconds = 0.0;       ///< wall time of train()
};

/// Ids: 0 <pad>, 1 <bos>, 2 <eos>, 3 <unk>, 4..259 the bytes 0x00..0xFF, 260.. one per merge in
/// rank order. Text is split by bpe_pretokenize() and merges never cross chunks; each chunk's bytes
/// are merged by applying the lowest-ranked adjacent pair first (all its occurrences, left to
/// right), which reproduces training's segmentation exactly. decode(encode(s)) == s for every byte
/// string.
class BpeTokenizer final : public Tokenizer {
 public:
  static constexpr int32_t kPad = 0;
  static constexpr int32_t kBos = 1;
  static constexpr int32_t kEos = 2;
  static constexpr int32_t kUnk = 3;
  static constexpr int32_t kByteBase = 4;  ///< id of byte 0x00
  static constexpr int32_t kFirstMerge = kByteBase + 256;

  /// Learns merges from `corpus` (one sentence per element; bytes, usually UTF-8). Deterministic:
  /// each step merges the most frequent adjacent pair, ties going to the smaller left id, then the
  /// smaller right id. Pair counts are updated incrementally (only chunks containing the merged
  /// pair are touched), with a lazily invalidated max-heap of candidate pairs.
  static BpeTokenizer train(const std::vector<std::string>& corpus,
                            const BpeTrainOptions& opts = {}, BpeTrainStats* stats = nullptr);

  /// From a merge list (left id, right id) in rank order; validates that every id exists before its
  /// use, that no special token is merged and that no pair repeats.
  explicit BpeTokenizer(std::vector<std::pair<int32_t, int32_t>> merges);

  std::vector<int32_t> encode(std::string_view text) const override;
  /// encode() with <bos> prepended and/or <eos> appended.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool add_eos) const;
  /// Concatenates token bytes; <pad>, <bos> and <eos> produce nothing, <unk> produces U+FFFD. The
  /// result is the exact input of encode(); for arbitrary model output it may be invalid UTF-8
  /// (see sanitize_utf8 in utf8.h).
  std::string decode(std::span<const int32_t> ids) const override;
  int64_t vocab_size() const override { return kFirstMerge + static_cast<int64_t>(merges_.size()); }
  std::string type() const override { return "bpe"; }
  std::string token_text(int32_t id) const override;
  std::string serialize() const override;

  /// Parses serialize()'s JSON; throws tessera::Error on anything malformed.
  static BpeTokenizer deserialize(std::string_view json);

  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }

 private:
  void encode_chunk(std::string_view chunk, std::vector<int32_t>& out) const;
  int32_t rank_of(int32_t left, int32_t right) const;

  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::vector<std::string> token_bytes_;         // bytes of every non-special id
  std::unordered_map<uint64_t, int32_t> ranks_;  // (left << 32 | right) -> merge rank
};

/// The pre-tokenizer: splits `text` into chunks that partition it (their concatenation is `text`).
/// Byte classes: letters = ASCII letters and every byte >= 0x80 (so no UTF-8 character is ever
/// split), digits, whitespace (space, \t \n \v \f \r) and other. A chunk is an optional single
/// leading space followed by a run of letters, of digits or of other bytes; a whitespace run is its
/// own chunk, except that a final ' ' directly before a non-space byte is left to prefix the next
/// chunk.
std::vector<std::string_view> bpe_pretokenize(std::string_view text);

}  // namespace tessera::models
