// SPDX-License-Identifier: Apache-2.0
/// @brief Autoregressive generation for GPT: greedy, temperature, top-k and top-p (nucleus)
/// sampling, with a KV cache so that each new token costs one position.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <tessera/models/gpt.h>
#include <tessera/random.h>

namespace tessera::models {

struct SamplingOptions {
  int64_t max_new_tokens = 100;
  double temperature = 1.0;           ///< 0 = greedy (argmax)
  int64_t top_k = 0;                  ///< 0 = off
  double top_p = 1.0;                 ///< 1 = off
  std::optional<int32_t> stop_token;  ///< stop after emitting it
  Generator* gen = nullptr;           ///< nullptr = the default generator
};

/// Picks the next token from one row of logits (V floats). Deterministic for a given generator
/// state.
int32_t sample_token(const std::vector<float>& logits, const SamplingOptions& opts, Generator& gen);

/// Continues `prompt` (non-empty). The model runs in eval mode without gradients; when the total
/// length would exceed the context, the KV cache is rebuilt on the most recent context/2 tokens.
/// Returns the new tokens only.
std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt,
                              const SamplingOptions& opts);

}  // namespace tessera::models
