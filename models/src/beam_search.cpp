// SPDX-License-Identifier: Apache-2.0
/// @brief Greedy and beam search for TransformerMT (see beam_search.h).
///
/// Cost per step: one decoder step over the live rows (B_live * K queries against their caches and
/// the cached cross-attention keys), an O(K V) log-softmax per row on the host and a partial sort
/// of K*V candidates per sentence. Rows of finished sentences are dropped with index_select, so a
/// batch's cost follows its longest live sentence only while that sentence is live.
#include <tessera/models/beam_search.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <tessera/creation.h>
#include <tessera/models/bpe.h>
#include <tessera/ops.h>

namespace tessera::models {
namespace {

constexpr int32_t kPad = BpeTokenizer::kPad;
constexpr int32_t kBos = BpeTokenizer::kBos;
constexpr int32_t kEos = BpeTokenizer::kEos;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// Row-wise log-softmax of (R, 1, V) logits in double; <pad> and <bos> get -inf (never generated).
std::vector<double> log_probs(const Tensor& logits, int64_t vocab) {
  const std::vector<float> raw = to_vector<float>(native::contiguous(logits));
  const size_t rows = raw.size() / static_cast<size_t>(vocab);
  std::vector<double> out(raw.size());
  for (size_t r = 0; r < rows; ++r) {
    const float* x = raw.data() + r * static_cast<size_t>(vocab);
    double* y = out.data() + r * static_cast<size_t>(vocab);
    double mx = kNegInf;
    for (int64_t v = 0; v < vocab; ++v) mx = std::max(mx, static_cast<double>(x[v]));
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(x[v]) - mx);
    const double lse = mx + std::log(sum);
    for (int64_t v = 0; v < vocab; ++v) y[v] = static_cast<double>(x[v]) - lse;
    y[kPad] = kNegInf;
    y[kBos] = kNegInf;
  }
  return out;
}

/// The model's device: token ids and row indices are built on the host and moved there; only the
/// logits of each step come back (log_probs).
Device model_device(const TransformerMT& model) { return model.embed->weight.device(); }

Tensor on(const Tensor& t, Device device) { return device.is_cpu() ? t : native::to(t, device); }

Tensor index_tensor(const std::vector<int64_t>& rows, Device device) {
  return on(from_vector(rows, {static_cast<int64_t>(rows.size())}), device);
}

Tensor token_column(const std::vector<int64_t>& tokens, Device device) {
  return on(from_vector(tokens, {static_cast<int64_t>(tokens.size()), 1}), device);
}

double length_penalty(int64_t len, const DecodeOptions& o) {
  const double l = static_cast<double>(len);
  return o.penalty == LengthPenalty::kGnmt ? std::pow((5.0 + l) / 6.0, o.length_penalty)
                                           : std::pow(l, o.length_penalty);
}

void check_sources(const TransformerMT& model, const std::vector<std::vector<int32_t>>& sources) {
  const int64_t vocab = model.config().vocab_size;
  for (size_t i = 0; i < sources.size(); ++i) {
    TESSERA_CHECK(!sources[i].empty(), "decode: source ", i, " is empty (expected tokens + <eos>)");
    TESSERA_CHECK(static_cast<int64_t>(sources[i].size()) <= model.config().max_positions,
                  "decode: source ", i, " has ", sources[i].size(),
                  " tokens, more than max_positions ", model.config().max_positions);
    for (int32_t t : sources[i])
      TESSERA_CHECK(t > kPad && t < vocab, "decode: source ", i, " has token id ", t,
                    " outside [1, ", vocab, ")");
  }
}

void check_options(const DecodeOptions& o) {
  TESSERA_CHECK(o.beam_size >= 1, "decode: beam size must be >= 1, got ", o.beam_size);
  TESSERA_CHECK(o.max_len_a >= 0 && o.max_len_b >= 0,
                "decode: max_len_a and max_len_b must be >= 0, got ", o.max_len_a, " and ",
                o.max_len_b);
  TESSERA_CHECK(std::isfinite(o.length_penalty), "decode: length penalty must be finite");
  TESSERA_CHECK(o.max_batch_tokens > 0, "decode: max_batch_tokens must be positive");
}

}  // namespace

int64_t max_target_length(int64_t src_len, const DecodeOptions& o, int64_t max_positions) {
  const auto len =
      static_cast<int64_t>(std::floor(o.max_len_a * static_cast<double>(src_len))) + o.max_len_b;
  return std::clamp<int64_t>(len, 0, max_positions - 1);
}

Tensor pad_sequences(const std::vector<std::vector<int32_t>>& seqs) {
  size_t width = 0;
  for (const auto& s : seqs) width = std::max(width, s.size());
  std::vector<int64_t> flat(seqs.size() * width, kPad);
  for (size_t i = 0; i < seqs.size(); ++i)
    std::copy(seqs[i].begin(), seqs[i].end(),
              flat.begin() + static_cast<std::ptrdiff_t>(i * width));
  return from_vector(flat, {static_cast<int64_t>(seqs.size()), static_cast<int64_t>(width)});
}

std::vector<std::vector<int32_t>> greedy_decode(TransformerMT& model,
                                                const std::vector<std::vector<int32_t>>& sources,
                                                const DecodeOptions& opts) {
  check_options(opts);
  check_sources(model, sources);
  const int64_t n = static_cast<int64_t>(sources.size());
  std::vector<std::vector<int32_t>> out(sources.size());
  if (n == 0) return out;
  autograd::NoGradGuard no_grad;
  const int64_t vocab = model.config().vocab_size;
  const Device device = model_device(model);
  const Tensor src = on(pad_sequences(sources), device);
  DecoderState state = model.begin_decoding(model.encode(src), TransformerMT::padding_mask(src));
  std::vector<int64_t> max_len(sources.size());
  for (int64_t i = 0; i < n; ++i)
    max_len[i] = max_target_length(static_cast<int64_t>(sources[i].size()), opts,
                                   model.config().max_positions);

  std::vector<int64_t> live(static_cast<size_t>(n));  // sentence of each state row
  std::iota(live.begin(), live.end(), 0);
  std::vector<int64_t> input(static_cast<size_t>(n), kBos);
  for (int64_t step = 0; !live.empty(); ++step) {
    // Sentences at their maximum length stop without <eos>.
    std::vector<int64_t> keep_rows, keep_live, keep_input;
    for (size_t r = 0; r < live.size(); ++r) {
      if (step >= max_len[live[r]]) continue;
      keep_rows.push_back(static_cast<int64_t>(r));
      keep_live.push_back(live[r]);
      keep_input.push_back(input[r]);
    }
    if (keep_live.empty()) break;
    if (keep_live.size() != live.size())
      TransformerMT::select_rows(state, index_tensor(keep_rows, device));
    live = std::move(keep_live);
    input = std::move(keep_input);

    const std::vector<double> lp =
        log_probs(model.decode_step(token_column(input, device), state), vocab);
    std::vector<int64_t> rows, next_live, next_input;
    for (size_t r = 0; r < live.size(); ++r) {
      const double* row = lp.data() + r * static_cast<size_t>(vocab);
      const auto best =
          static_cast<int32_t>(std::max_element(row, row + vocab) - row);  // first max
      if (best == kEos) continue;
      out[live[r]].push_back(best);
      rows.push_back(static_cast<int64_t>(r));
      next_live.push_back(live[r]);
      next_input.push_back(best);
    }
    if (next_live.empty()) break;
    if (next_live.size() != live.size())
      TransformerMT::select_rows(state, index_tensor(rows, device));
    live = std::move(next_live);
    input = std::move(next_input);
  }
  return out;
}

std::vector<Hypothesis> beam_search(TransformerMT& model,
                                    const std::vector<std::vector<int32_t>>& sources,
                                    const DecodeOptions& opts) {
  check_options(opts);
  check_sources(model, sources);
  const int64_t n = static_cast<int64_t>(sources.size());
  const int64_t k = opts.beam_size;
  std::vector<Hypothesis> result(sources.size());
  if (n == 0) return result;
  autograd::NoGradGuard no_grad;
  const int64_t vocab = model.config().vocab_size;
  const Device device = model_device(model);
  const Tensor src = on(pad_sequences(sources), device);
  const Tensor src_pad = TransformerMT::padding_mask(src);
  const Tensor memory = model.encode(src);
  std::vector<int64_t> expand;  // each sentence's row repeated K times
  for (int64_t i = 0; i < n; ++i)
    for (int64_t b = 0; b < k; ++b) expand.push_back(i);
  const Tensor idx = index_tensor(expand, device);
  DecoderState state = model.begin_decoding(native::index_select(memory, 0, idx),
                                            native::index_select(src_pad, 0, idx));

  struct Beam {
    std::vector<int32_t> tokens;
    double log_prob;
  };
  std::vector<int64_t> live(static_cast<size_t>(n));  // live sentences; state rows a*K .. a*K+K-1
  std::iota(live.begin(), live.end(), 0);
  std::vector<std::vector<Beam>> beams(sources.size());
  std::vector<std::vector<Hypothesis>> finished(sources.size());
  for (int64_t i = 0; i < n; ++i) {
    beams[i].assign(static_cast<size_t>(k), Beam{{}, kNegInf});
    beams[i][0].log_prob = 0;  // all beams start identical: only the first may expand
  }
  std::vector<int64_t> max_len(sources.size());
  for (int64_t i = 0; i < n; ++i)
    max_len[i] = max_target_length(static_cast<int64_t>(sources[i].size()), opts,
                                   model.config().max_positions);
  std::vector<int64_t> input(static_cast<size_t>(n * k), kBos);

  auto finish = [&](int64_t sent, const Beam& b, double eos_lp) {
    Hypothesis h;
    h.tokens = b.tokens;
    h.log_prob = b.log_prob + eos_lp;
    h.score = h.log_prob / length_penalty(static_cast<int64_t>(b.tokens.size()) + 1, opts);
    finished[sent].push_back(std::move(h));
  };

  struct Candidate {
    double score;
    int64_t flat;  // beam * vocab + token
  };
  std::vector<Candidate> cands;
  for (int64_t step = 0; !live.empty(); ++step) {
    const std::vector<double> lp =
        log_probs(model.decode_step(token_column(input, device), state), vocab);
    std::vector<int64_t> rows, next_live, next_input;
    for (size_t a = 0; a < live.size(); ++a) {
      const int64_t sent = live[a];
      const double* base = lp.data() + a * static_cast<size_t>(k * vocab);
      if (step >= max_len[sent]) {  // forced end: every live hypothesis takes <eos>
        for (int64_t b = 0; b < k; ++b)
          if (beams[sent][b].log_prob > kNegInf)
            finish(sent, beams[sent][b], base[b * vocab + kEos]);
        continue;
      }
      cands.clear();
      for (int64_t b = 0; b < k; ++b) {
        const double s = beams[sent][b].log_prob;
        if (s == kNegInf) continue;
        for (int64_t v = 0; v < vocab; ++v) {
          const double c = s + base[b * vocab + v];
          if (c > kNegInf) cands.push_back({c, b * vocab + v});
        }
      }
      const auto better = [](const Candidate& x, const Candidate& y) {
        return x.score > y.score || (x.score == y.score && x.flat < y.flat);
      };
      const size_t top = std::min(cands.size(), static_cast<size_t>(2 * k));
      std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(top),
                        cands.end(), better);
      std::vector<Beam> next;
      std::vector<int64_t> next_rows, next_tokens;
      for (size_t c = 0; c < top && static_cast<int64_t>(next.size()) < k; ++c) {
        const int64_t b = cands[c].flat / vocab;
        const auto tok = static_cast<int32_t>(cands[c].flat % vocab);
        const Beam& parent = beams[sent][b];
        if (tok == kEos) {
          if (static_cast<int64_t>(c) < k) finish(sent, parent, base[b * vocab + kEos]);
          continue;
        }
        Beam child{parent.tokens, cands[c].score};
        child.tokens.push_back(tok);
        next.push_back(std::move(child));
        next_rows.push_back(static_cast<int64_t>(a) * k + b);
        next_tokens.push_back(tok);
      }
      if (static_cast<int64_t>(finished[sent].size()) >= k || next.empty()) continue;
      while (static_cast<int64_t>(next.size()) < k) {  // fewer candidates than beams (tiny vocab)
        next.push_back(Beam{{}, kNegInf});
        next_rows.push_back(next_rows.front());
        next_tokens.push_back(next_tokens.front());
      }
      beams[sent] = std::move(next);
      next_live.push_back(sent);
      rows.insert(rows.end(), next_rows.begin(), next_rows.end());
      next_input.insert(next_input.end(), next_tokens.begin(), next_tokens.end());
    }
    if (next_live.empty()) break;
    TransformerMT::select_rows(state, index_tensor(rows, device));
    live = std::move(next_live);
    input = std::move(next_input);
  }
  for (int64_t i = 0; i < n; ++i) {
    TESSERA_ASSERT(!finished[i].empty());
    const auto best = std::max_element(
        finished[i].begin(), finished[i].end(),
        [](const Hypothesis& x, const Hypothesis& y) { return x.score < y.score; });
    result[i] = *best;
  }
  return result;
}

std::vector<std::vector<int32_t>> translate(TransformerMT& model,
                                            const std::vector<std::vector<int32_t>>& sources,
                                            const DecodeOptions& opts) {
  check_options(opts);
  std::vector<std::vector<int32_t>> out(sources.size());
  std::vector<size_t> order(sources.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sources[a].size() < sources[b].size(); });
  const bool was_training = model.is_training();
  model.eval();
  autograd::NoGradGuard no_grad;
  for (size_t start = 0; start < order.size();) {
    // Length-sorted, so the last source of a batch is its longest.
    size_t end = start + 1;
    while (end < order.size() &&
           static_cast<int64_t>((end - start + 1) * sources[order[end]].size()) <=
               opts.max_batch_tokens)
      ++end;
    std::vector<std::vector<int32_t>> batch;
    for (size_t i = start; i < end; ++i) batch.push_back(sources[order[i]]);
    if (opts.beam_size == 1) {
      auto hyps = greedy_decode(model, batch, opts);
      for (size_t i = start; i < end; ++i) out[order[i]] = std::move(hyps[i - start]);
    } else {
      auto hyps = beam_search(model, batch, opts);
      for (size_t i = start; i < end; ++i) out[order[i]] = std::move(hyps[i - start].tokens);
    }
    start = end;
  }
  model.train(was_training);
  return out;
}

}  // namespace tessera::models
