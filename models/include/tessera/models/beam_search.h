// SPDX-License-Identifier: Apache-2.0
/// @brief Decoding for TransformerMT: batched greedy search and beam search over incremental
/// decoder states (self-attention KV caches, cross-attention keys/values computed once).
///
/// Sources are the encoder inputs as the model was trained on them (tokens + <eos>); outputs are
/// target tokens without <bos>/<eos>. <pad> and <bos> are never generated.
///
/// Beam search (fairseq's SequenceGenerator, simplified):
///  - each sentence keeps K live hypotheses, ranked by their summed log-probability;
///  - each step takes the top 2K (hypothesis, token) extensions; an extension ending in <eos> that
///    ranks in the top K is moved to the sentence's finished list, the best K others stay live;
///  - a sentence stops when it has K finished hypotheses, or at its maximum length, where every
///  live
///    hypothesis is finished with <eos>; the search stops when every sentence has stopped;
///  - the answer is the finished hypothesis with the best length-normalised score
///    score / lp(len), len = generated tokens including <eos>, with
///      LengthPenalty::kPower (fairseq, default):  lp = len^alpha
///      LengthPenalty::kGnmt  (Wu et al. 2016):    lp = ((5 + len) / 6)^alpha
///  - finished sentences leave the batch (their rows are dropped from the decoder state).
/// Maximum length per sentence: floor(a * src_len + b) generated tokens before <eos> (src_len
/// counts the source's <eos>), capped at max_positions - 1. Ties between equal scores go to the
/// lower (beam, token) index, the same rule as greedy's argmax, so beam size 1 reproduces greedy
/// search exactly (tested).
#pragma once

#include <cstdint>
#include <vector>

#include <tessera/models/transformer_mt.h>

namespace tessera::models {

enum class LengthPenalty { kPower, kGnmt };

struct DecodeOptions {
  int64_t beam_size = 1;        ///< 1 = greedy (translate() calls greedy_decode)
  double length_penalty = 1.0;  ///< alpha
  LengthPenalty penalty = LengthPenalty::kPower;
  double max_len_a = 1.2;
  int64_t max_len_b = 10;
  int64_t max_batch_tokens = 4096;  ///< translate(): source tokens per batch (sorted by length)
};

struct Hypothesis {
  std::vector<int32_t> tokens;  ///< without <eos>
  double log_prob = 0;          ///< summed log-probability including <eos> (if finished by it)
  double score = 0;             ///< log_prob / lp(len)
};

/// Maximum generated tokens (before <eos>) for a source of `src_len` tokens.
int64_t max_target_length(int64_t src_len, const DecodeOptions& opts, int64_t max_positions);

/// Pads id sequences with <pad> (0) into an int64 (B, max len) tensor.
Tensor pad_sequences(const std::vector<std::vector<int32_t>>& seqs);

/// Greedy decoding of a batch of sources (the model should be in eval mode).
std::vector<std::vector<int32_t>> greedy_decode(TransformerMT& model,
                                                const std::vector<std::vector<int32_t>>& sources,
                                                const DecodeOptions& opts);

/// Beam search of a batch of sources; the best hypothesis per sentence.
std::vector<Hypothesis> beam_search(TransformerMT& model,
                                    const std::vector<std::vector<int32_t>>& sources,
                                    const DecodeOptions& opts);

/// Decodes any number of sources in length-sorted batches of at most opts.max_batch_tokens
/// source tokens (greedy when beam_size == 1), returned in input order. Sets eval mode and
/// disables gradients for the duration.
std::vector<std::vector<int32_t>> translate(TransformerMT& model,
                                            const std::vector<std::vector<int32_t>>& sources,
                                            const DecodeOptions& opts);

}  // namespace tessera::models
