// SPDX-License-Identifier: Apache-2.0
/// @brief `tessera_bpe_train OUT.json VOCAB TRAIN... [--eval FILE...]`: trains the shared BPE and
/// reports.
//
// Prints training time, chunk/merge counts, average tokens per sentence for each file and checks
// that decode(encode(line)) == line for every line. Files after --eval are measured, not trained
// on. Used for the numbers in docs/text.md.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tessera/error.h"
#include "tessera/models/bpe.h"

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "tessera_bpe_train: cannot open '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.emplace_back(text, start, nl - start);
    start = nl + 1;
  }
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: tessera_bpe_train OUT.json VOCAB_SIZE TRAIN... [--eval FILE...]\n");
    return 2;
  }
  try {
    using tessera::models::BpeTokenizer;
    std::vector<std::vector<std::string>> files;
    std::vector<std::string> names;
    std::vector<std::string> corpus;
    bool eval_only = false;
    std::vector<bool> is_train;
    for (int i = 3; i < argc; ++i) {
      if (std::string(argv[i]) == "--eval") {
        eval_only = true;
        continue;
      }
      names.push_back(argv[i]);
      is_train.push_back(!eval_only);
      files.push_back(read_lines(argv[i]));
      if (!eval_only) corpus.insert(corpus.end(), files.back().begin(), files.back().end());
    }
    tessera::models::BpeTrainOptions opts;
    opts.vocab_size = std::stoll(argv[2]);
    tessera::models::BpeTrainStats stats;
    const BpeTokenizer tok = BpeTokenizer::train(corpus, opts, &stats);
    std::printf("trained: %lld sentences, %lld distinct chunks, %lld merges, vocab %lld, %.3f s\n",
                static_cast<long long>(stats.sentences),
                static_cast<long long>(stats.unique_chunks), static_cast<long long>(stats.merges),
                static_cast<long long>(tok.vocab_size()), stats.seconds);
    int64_t total_tokens = 0;  // over the training files: must equal training's own count
    for (size_t f = 0; f < files.size(); ++f) {
      const auto t0 = std::chrono::steady_clock::now();
      int64_t tokens = 0, bytes = 0, bad = 0;
      for (const std::string& line : files[f]) {
        const std::vector<int32_t> ids = tok.encode(line);
        tokens += static_cast<int64_t>(ids.size());
        bytes += static_cast<int64_t>(line.size());
        if (tok.decode(ids) != line) ++bad;
      }
      if (is_train[f]) total_tokens += tokens;
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf(
          "%s%s: %zu lines, %.2f tokens/sentence, %.2f bytes/token, encode+decode %.3f s, "
          "round-trip failures %lld\n",
          is_train[f] ? "" : "(eval) ", names[f].c_str(), files[f].size(),
          static_cast<double>(tokens) / static_cast<double>(files[f].size()),
          static_cast<double>(bytes) / static_cast<double>(tokens), secs,
          static_cast<long long>(bad));
      if (bad != 0) return 1;
    }
    TESSERA_CHECK(total_tokens == stats.corpus_tokens,
                  "encode disagrees with training: ", total_tokens, " tokens vs ",
                  stats.corpus_tokens);
    tessera::models::save_tokenizer(tok, argv[1]);
    std::printf("wrote %s\n", argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
