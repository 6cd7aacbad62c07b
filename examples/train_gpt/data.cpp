// SPDX-License-Identifier: Apache-2.0
/// @brief Text loading, the train/validation split and deterministic batch sampling.
#include "data.h"

#include <fstream>
#include <sstream>

#include <tessera/creation.h>
#include <tessera/error.h>
#include <tessera/philox.h>

namespace tessera::examples {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "cannot open data file '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  TESSERA_CHECK(!text.empty(), "data file '", path, "' is empty");
  return text;
}

TokenSplit split_tokens(std::vector<int32_t> tokens, double train_fraction) {
  const size_t n_train = static_cast<size_t>(static_cast<double>(tokens.size()) * train_fraction);
  TokenSplit s;
  s.val.assign(tokens.begin() + static_cast<std::ptrdiff_t>(n_train), tokens.end());
  tokens.resize(n_train);
  s.train = std::move(tokens);
  return s;
}

Batch sample_batch(const std::vector<int32_t>& tokens, int64_t batch, int64_t context,
                   uint64_t seed, uint64_t stream, uint64_t step) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  TESSERA_CHECK(n >= context + 1, "the text has ", n,
                " tokens, fewer than context + 1 = ", context + 1,
                ": use a smaller --context or more data");
  const uint64_t starts = static_cast<uint64_t>(n - context);  // valid window starts: [0, n-T-1]
  std::vector<int64_t> x(static_cast<size_t>(batch * context)), y(x.size());
  for (int64_t b = 0; b < batch; ++b) {
    const uint64_t counter =
        (stream << 40) + step * static_cast<uint64_t>(batch) + static_cast<uint64_t>(b);
    const U32x4 w = Philox4x32::generate(seed, counter);
    const uint64_t bits = (static_cast<uint64_t>(w[1]) << 32) | w[0];
    const int64_t start = static_cast<int64_t>(bits % starts);
    for (int64_t t = 0; t < context; ++t) {
      x[b * context + t] = tokens[start + t];
      y[b * context + t] = tokens[start + t + 1];
    }
  }
  return {from_vector(x, {batch, context}), from_vector(y, {batch, context})};
}

}  // namespace tessera::examples
