// SPDX-License-Identifier: Apache-2.0
/// @brief Parallel-corpus pipeline for TransformerMT: validated reading of line-aligned files,
/// BPE encoding, length filtering, token-budget batches with length bucketing, and collation.
///
/// An example is (src = BPE(source) + <eos>, tgt = BPE(target)); the decoder reads
/// tgt_in = <bos> tgt and predicts tgt_out = tgt <eos> (fairseq's layout).
/// Batches: examples are sorted by (source length, target length, a seeded random key), cut into
/// consecutive runs whose padded size rows * max(max src len, max tgt len + 1) stays within the
/// token budget (a longer single example forms its own batch), and the batch order is shuffled
/// with a seed derived from (seed, epoch). Same (seed, epoch) -> same batches, so a resumed run
/// replays an epoch exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tessera/models/bpe.h>
#include <tessera/tensor.h>

namespace tessera::models {

struct ParallelText {
  std::vector<std::string> src, tgt;
};

/// Reads one sentence per line (LF or CRLF; a missing final newline is fine). Throws tessera::Error
/// with a one-line message naming `what` and the file when it cannot be opened, is empty, holds
/// invalid UTF-8 (line number and byte offset) or when the two files' line counts differ.
ParallelText read_parallel(const std::string& src_path, const std::string& tgt_path,
                           const std::string& what);

/// Lines of one file, validated like read_parallel.
std::vector<std::string> read_lines(const std::string& path, const std::string& what);

struct Example {
  std::vector<int32_t> src;  ///< tokens + <eos>
  std::vector<int32_t> tgt;  ///< tokens (no <bos>/<eos>)
};

/// Source tokens + <eos>, as the encoder expects.
std::vector<int32_t> encode_source(const BpeTokenizer& tok, const std::string& text);
std::vector<Example> encode_parallel(const BpeTokenizer& tok, const ParallelText& text);

/// Drops examples whose encoder or decoder sequence (src, tgt + 1) is longer than max_len (0 = keep
/// all); returns the kept examples.
std::vector<Example> filter_by_length(std::vector<Example> examples, int64_t max_len);

/// Index lists, one per batch (see the file comment).
std::vector<std::vector<int64_t>> make_batches(const std::vector<Example>& examples,
                                               int64_t batch_tokens, uint64_t seed, int64_t epoch);

struct TranslationBatch {
  Tensor src;                 ///< int64 (B, S), <pad> = 0
  Tensor tgt_in;              ///< int64 (B, T): <bos> y
  Tensor tgt_out;             ///< int64 (B, T): y <eos>
  int64_t target_tokens = 0;  ///< non-pad entries of tgt_out
  int64_t source_tokens = 0;
};

TranslationBatch collate(const std::vector<Example>& examples, const std::vector<int64_t>& indices);

}  // namespace tessera::models
