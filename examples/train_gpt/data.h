// SPDX-License-Identifier: Apache-2.0
/// @brief train_gpt's data: a tokenized text split 90/10 into train and validation, and batches of
/// random windows drawn from a Philox stream keyed by (seed, step), so a resumed run draws exactly
/// the batches the uninterrupted run would have.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <tessera/tensor.h>

namespace tessera::examples {

struct TokenSplit {
  std::vector<int32_t> train;
  std::vector<int32_t> val;
};

/// Reads a whole text file; a missing, unreadable or empty file is a tessera::Error naming it.
std::string read_text_file(const std::string& path);

/// First 90% of the tokens for training, the rest for validation.
TokenSplit split_tokens(std::vector<int32_t> tokens, double train_fraction = 0.9);

/// A batch of `batch` windows of `context` + 1 tokens: inputs (B, T) and targets (B, T), int64.
struct Batch {
  Tensor inputs;
  Tensor targets;
};

/// Window starts come from Philox(seed, counter = stream * 2^40 + step * batch + b), uniform over
/// [0, tokens.size() - context - 1]. `stream` separates train (0) and eval (1) draws.
Batch sample_batch(const std::vector<int32_t>& tokens, int64_t batch, int64_t context,
                   uint64_t seed, uint64_t stream, uint64_t step);

}  // namespace tessera::examples
