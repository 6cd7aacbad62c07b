// SPDX-License-Identifier: Apache-2.0
/// @brief Corpus and sentence BLEU, a line-by-line port of sacreBLEU 2.6.0's defaults (13a, exp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::models {

/// sacreBLEU's smoothing methods (Chen & Cherry 2014); kExp is sacreBLEU's default.
enum class BleuSmooth { kNone, kFloor, kAddK, kExp };

/// sacreBLEU's tokenizers that this port implements.
enum class BleuTokenize { k13a, kNone };

struct BleuOptions {
  BleuSmooth smooth = BleuSmooth::kExp;
  double smooth_value = -1.0;  ///< < 0: sacreBLEU's default (floor 0.1, add-k 1)
  BleuTokenize tokenize = BleuTokenize::k13a;
  bool effective_order =
      false;  ///< false for corpus BLEU (sacreBLEU default), true for sentence BLEU
};

/// What sacreBLEU's BLEUScore carries. `score`, `precisions` in percent (0..100).
struct BleuScore {
  double score = 0.0;
  std::array<double, 4> precisions{};
  std::array<int64_t, 4> counts{};  ///< matched n-grams (clipped), n = 1..4
  std::array<int64_t, 4> totals{};  ///< hypothesis n-grams, n = 1..4
  double bp = 1.0;
  int64_t sys_len = 0;
  int64_t ref_len = 0;
  std::string
      signature;  ///< e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0-tessera"
  /// sacreBLEU's verbose line: "BLEU = 32.15 62.1/38.0/25.3/17.0 (BP = 1.000 ratio = ... ref_len =
  /// N)".
  std::string format() const;
};

/// sacreBLEU's Tokenizer13a (mteval-v13a): drops "<skipped>", joins "-\n", maps &quot; &amp; &lt;
/// &gt;, splits ASCII punctuation, splits . and , unless between digits, splits "-" after a digit,
/// and returns the tokens joined by single spaces. Input must be valid UTF-8.
std::string tokenize_13a(std::string_view line);

/// The sufficient statistics -> score step (sacreBLEU's BLEU.compute_bleu), exposed for tests.
BleuScore bleu_from_stats(const std::array<int64_t, 4>& correct,
                          const std::array<int64_t, 4>& total, int64_t sys_len, int64_t ref_len,
                          const BleuOptions& opts = {});

/// Corpus BLEU with one or more reference streams: refs[k][i] is the k-th reference of hyps[i].
/// Throws tessera::Error on an empty corpus, mismatched stream lengths or invalid UTF-8.
BleuScore corpus_bleu_multi(const std::vector<std::string>& hyps,
                            const std::vector<std::vector<std::string>>& refs,
                            const BleuOptions& opts = {});

/// Corpus BLEU with a single reference stream.
BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs,
                      const BleuOptions& opts = {});

/// The defaults of sacreBLEU's sentence_bleu (effective_order = true).
BleuOptions sentence_bleu_defaults();

/// sacreBLEU's sentence_bleu: exp smoothing with effective order on (unless opts says otherwise).
BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs,
                        BleuOptions opts = sentence_bleu_defaults());

}  // namespace tessera::models
