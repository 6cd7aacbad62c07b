// SPDX-License-Identifier: Apache-2.0
/// @brief BLEU exactly as sacreBLEU 2.6.0 computes it by default (corpus_bleu, sentence_bleu).
//
// Port of sacrebleu/tokenizers/tokenizer_13a.py + tokenizer_re.py and sacrebleu/metrics/bleu.py:
//  * each segment is rstrip()ed (Python whitespace), then Tokenizer13a: replace "<skipped>" -> "",
//    "-\n" -> "", "\n" -> " ", and if '&' occurs: &quot; &amp; &lt; &gt; (in that order); pad with
//    one space each side; four regex substitutions applied in order, each a left-to-right scan over
//    non-overlapping matches (exactly re.sub's semantics for these fixed-width patterns):
//      1. ([\{-\~\[-\` -\&\(-\+\:-\@\/])  -> " \1 "
//      2. ([^0-9])([\.,])                  -> "\1 \2 "
//      3. ([\.,])([^0-9])                  -> " \1 \2"
//      4. ([0-9])(-)                       -> "\1 \2 "
//    then ' '.join(line.split()). Working on UTF-8 bytes is equivalent to Python's code points
//    here: every class above is ASCII, and [^0-9] next to an ASCII char can only match the adjacent
//    byte of a multi-byte character, which is kept intact by the replacement.
//  * n-grams 1..4 per segment; matches clipped by the max count over references; the reference
//    length is the closest to the hypothesis length (ties -> the shorter), summed over the corpus.
//  * compute_bleu: BP = exp(1 - r/c) when c < r (0 when c = 0); early score 0 when no n-gram
//  matches
//    at all; exp smoothing: the k-th zero-match order gets precision 100 / (2^k * total); an order
//    with total 0 ends the loop; log(0) is floored to -9999999999 (sacreBLEU's my_log).
// Cost: O(total tokens * 4) hash-map operations.

#include "tessera/models/bleu.h"

#include <cmath>
#include <cstdio>
#include <string_view>
#include <unordered_map>

#include "tessera/error.h"
#include "tessera/models/utf8.h"

namespace tessera::models {
namespace {

constexpr int kMaxOrder = 4;
constexpr const char* kSacreBleuVersion = "2.6.0";

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_13a_punct(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) ||
         (u >= 0x28 && u <= 0x2B) || (u >= 0x3A && u <= 0x40) || u == 0x2F;
}

// re.sub for a two-character pattern (c1)(c2) -> pre + c1 + mid + c2 + post, scanning left to right
// over non-overlapping matches.
template <typename First, typename Second>
std::string sub_pair(const std::string& s, First first, Second second, std::string_view pre,
                     std::string_view mid, std::string_view post) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && first(s[i]) && second(s[i + 1])) {
      out.append(pre);
      out.push_back(s[i]);
      out.append(mid);
      out.push_back(s[i + 1]);
      out.append(post);
      i += 2;
    } else {
      out.push_back(s[i]);
      ++i;
    }
  }
  return out;
}

// Python's str.split() with no arguments: runs of Unicode whitespace separate tokens.
std::vector<std::string_view> python_split(std::string_view s) {
  std::vector<std::string_view> tokens;
  int64_t pos = 0;
  int64_t start = -1;
  const auto n = static_cast<int64_t>(s.size());
  char32_t cp = 0;
  while (pos < n) {
    const int64_t here = pos;
    const bool ok = decode_utf8_at(s, pos, cp);
    TESSERA_ASSERT(ok);  // callers validated
    if (is_python_space(cp)) {
      if (start >= 0) tokens.push_back(s.substr(static_cast<size_t>(start), here - start));
      start = -1;
    } else if (start < 0) {
      start = here;
    }
  }
  if (start >= 0) tokens.push_back(s.substr(static_cast<size_t>(start)));
  return tokens;
}

// Python's str.rstrip() with no arguments.
std::string_view python_rstrip(std::string_view s) {
  int64_t pos = 0, end = 0;
  const auto n = static_cast<int64_t>(s.size());
  char32_t cp = 0;
  while (pos < n) {
    const bool ok = decode_utf8_at(s, pos, cp);
    TESSERA_ASSERT(ok);
    if (!is_python_space(cp)) end = pos;
  }
  return s.substr(0, static_cast<size_t>(end));
}

std::string join_tokens(const std::vector<std::string_view>& tokens) {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) out.push_back(' ');
    out.append(tokens[i]);
  }
  return out;
}

std::string tokenize_13a_valid(std::string_view input) {
  std::string line(input);
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  std::string s;
  s.reserve(line.size() * 2 + 2);
  s.push_back(' ');
  for (char c : line) {
    if (is_13a_punct(c)) {
      s.push_back(' ');
      s.push_back(c);
      s.push_back(' ');
    } else {
      s.push_back(c);
    }
  }
  s.push_back(' ');
  auto not_digit = [](char c) { return !is_digit(c); };
  auto period_comma = [](char c) { return c == '.' || c == ','; };
  s = sub_pair(s, not_digit, period_comma, "", " ", " ");
  s = sub_pair(s, period_comma, not_digit, " ", " ", "");
  s = sub_pair(
      s, is_digit, [](char c) { return c == '-'; }, "", " ", " ");
  return join_tokens(python_split(s));
}

// What BLEU needs from one segment once tokenized.
using NgramCounts = std::unordered_map<std::string, int64_t>;

int64_t extract_ngrams(const std::string& tokenized, NgramCounts& counts) {
  const std::vector<std::string_view> tokens = python_split(tokenized);
  const auto len = static_cast<int64_t>(tokens.size());
  for (int n = 1; n <= kMaxOrder; ++n) {
    for (int64_t i = 0; i + n <= len; ++i) {
      std::string key(tokens[static_cast<size_t>(i)]);
      for (int k = 1; k < n; ++k) {
        key.push_back(' ');  // tokens contain no ' ', so joining by ' ' is injective
        key.append(tokens[static_cast<size_t>(i + k)]);
      }
      // The order is recoverable from the number of spaces; prefix it to keep orders apart cheaply.
      key.insert(key.begin(), static_cast<char>('0' + n));
      ++counts[key];
    }
  }
  return len;
}

std::string preprocess(const std::string& seg, const BleuOptions& opts, const char* what) {
  require_utf8(seg, what);
  const std::string_view stripped = python_rstrip(seg);
  if (opts.tokenize == BleuTokenize::k13a) return tokenize_13a_valid(stripped);
  return std::string(stripped);
}

const char* smooth_name(BleuSmooth s) {
  switch (s) {
    case BleuSmooth::kNone:
      return "none";
    case BleuSmooth::kFloor:
      return "floor";
    case BleuSmooth::kAddK:
      return "add-k";
    case BleuSmooth::kExp:
      return "exp";
  }
  return "?";
}

double default_smooth_value(BleuSmooth s) {
  if (s == BleuSmooth::kFloor) return 0.1;
  if (s == BleuSmooth::kAddK) return 1.0;
  return 0.0;
}

double my_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

std::string make_signature(int64_t nrefs, const BleuOptions& opts) {
  std::string smooth = smooth_name(opts.smooth);
  if (opts.smooth == BleuSmooth::kFloor || opts.smooth == BleuSmooth::kAddK) {
    const double v = opts.smooth_value < 0 ? default_smooth_value(opts.smooth) : opts.smooth_value;
    char buf[32];
    std::snprintf(buf, sizeof buf, "[%.2f]", v);
    smooth += buf;
  }
  return "nrefs:" + std::to_string(nrefs) +
         "|case:mixed|eff:" + (opts.effective_order ? "yes" : "no") +
         "|tok:" + (opts.tokenize == BleuTokenize::k13a ? "13a" : "none") + "|smooth:" + smooth +
         "|version:" + kSacreBleuVersion + "-tessera";
}

}  // namespace

std::string tokenize_13a(std::string_view line) {
  require_utf8(line, "tokenize_13a");
  return tokenize_13a_valid(line);
}

BleuOptions sentence_bleu_defaults() {
  BleuOptions o;
  o.effective_order = true;
  return o;
}

std::string BleuScore::format() const {
  char buf[256];
  const double ratio = ref_len ? static_cast<double>(sys_len) / static_cast<double>(ref_len) : 0.0;
  std::snprintf(buf, sizeof buf,
                "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = "
                "%lld)",
                score, precisions[0], precisions[1], precisions[2], precisions[3], bp, ratio,
                static_cast<long long>(sys_len), static_cast<long long>(ref_len));
  return buf;
}

BleuScore bleu_from_stats(const std::array<int64_t, 4>& correct,
                          const std::array<int64_t, 4>& total, int64_t sys_len, int64_t ref_len,
                          const BleuOptions& opts) {
  BleuScore r;
  r.counts = correct;
  r.totals = total;
  r.sys_len = sys_len;
  r.ref_len = ref_len;
  r.bp = 1.0;
  if (sys_len < ref_len) {
    r.bp = sys_len > 0 ? std::exp(1.0 - static_cast<double>(ref_len) / static_cast<double>(sys_len))
                       : 0.0;
  }
  bool any_match = false;
  for (int64_t c : correct) any_match = any_match || c != 0;
  if (!any_match) return r;  // sacreBLEU #141: score 0, precisions 0

  const double smooth_value =
      opts.smooth_value < 0 ? default_smooth_value(opts.smooth) : opts.smooth_value;
  // add-k mutates the counts as floats in sacreBLEU; mirror that in doubles.
  std::array<double, 4> cor{}, tot{};
  for (int i = 0; i < kMaxOrder; ++i) {
    cor[i] = static_cast<double>(correct[i]);
    tot[i] = static_cast<double>(total[i]);
  }
  double smooth_mteval = 1.0;
  int eff_order = kMaxOrder;
  for (int n = 1; n <= kMaxOrder; ++n) {
    if (opts.smooth == BleuSmooth::kAddK && n > 1) {
      cor[n - 1] += smooth_value;
      tot[n - 1] += smooth_value;
    }
    if (tot[n - 1] == 0) break;
    if (opts.effective_order) eff_order = n;
    if (cor[n - 1] == 0) {
      if (opts.smooth == BleuSmooth::kExp) {
        smooth_mteval *= 2;
        r.precisions[n - 1] = 100.0 / (smooth_mteval * tot[n - 1]);
      } else if (opts.smooth == BleuSmooth::kFloor) {
        r.precisions[n - 1] = 100.0 * smooth_value / tot[n - 1];
      }
    } else {
      r.precisions[n - 1] = 100.0 * cor[n - 1] / tot[n - 1];
    }
  }
  double log_sum = 0.0;
  for (int i = 0; i < eff_order; ++i) log_sum += my_log(r.precisions[i]);
  r.score = r.bp * std::exp(log_sum / eff_order);
  return r;
}

BleuScore corpus_bleu_multi(const std::vector<std::string>& hyps,
                            const std::vector<std::vector<std::string>>& refs,
                            const BleuOptions& opts) {
  TESSERA_CHECK(!hyps.empty(),
                "corpus_bleu: expected at least one hypothesis, got an empty corpus");
  TESSERA_CHECK(!refs.empty(), "corpus_bleu: expected at least one reference stream, got none");
  for (size_t k = 0; k < refs.size(); ++k) {
    TESSERA_CHECK(refs[k].size() == hyps.size(), "corpus_bleu: reference stream ", k, " has ",
                  refs[k].size(), " segments but there are ", hyps.size(), " hypotheses");
  }
  std::array<int64_t, 4> correct{}, total{};
  int64_t sys_len = 0, ref_len = 0;
  NgramCounts ref_ngrams, this_ref, hyp_ngrams;
  std::vector<int64_t> ref_lens;
  for (size_t i = 0; i < hyps.size(); ++i) {
    ref_ngrams.clear();
    ref_lens.clear();
    for (size_t k = 0; k < refs.size(); ++k) {
      this_ref.clear();
      ref_lens.push_back(
          extract_ngrams(preprocess(refs[k][i], opts, "corpus_bleu: reference"), this_ref));
      for (const auto& [g, c] : this_ref) {
        int64_t& slot = ref_ngrams[g];
        slot = std::max(slot, c);
      }
    }
    hyp_ngrams.clear();
    const int64_t hyp_len =
        extract_ngrams(preprocess(hyps[i], opts, "corpus_bleu: hypothesis"), hyp_ngrams);
    // Closest reference length; ties go to the shorter reference.
    int64_t best_diff = -1, best_len = -1;
    for (int64_t rl : ref_lens) {
      const int64_t diff = hyp_len > rl ? hyp_len - rl : rl - hyp_len;
      if (best_diff == -1 || diff < best_diff) {
        best_diff = diff;
        best_len = rl;
      } else if (diff == best_diff && rl < best_len) {
        best_len = rl;
      }
    }
    sys_len += hyp_len;
    ref_len += best_len;
    for (const auto& [g, c] : hyp_ngrams) {
      const int n = g[0] - '0';
      total[n - 1] += c;
      auto it = ref_ngrams.find(g);
      if (it != ref_ngrams.end()) correct[n - 1] += std::min(c, it->second);
    }
  }
  BleuScore r = bleu_from_stats(correct, total, sys_len, ref_len, opts);
  r.signature = make_signature(static_cast<int64_t>(refs.size()), opts);
  return r;
}

BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs,
                      const BleuOptions& opts) {
  return corpus_bleu_multi(hyps, std::vector<std::vector<std::string>>{refs}, opts);
}

BleuScore sentence_bleu(const std::string& hyp, const std::vector<std::string>& refs,
                        BleuOptions opts) {
  TESSERA_CHECK(!refs.empty(), "sentence_bleu: expected at least one reference, got none");
  std::vector<std::vector<std::string>> streams;
  for (const auto& r : refs) streams.push_back({r});
  return corpus_bleu_multi({hyp}, streams, opts);
}

}  // namespace tessera::models
