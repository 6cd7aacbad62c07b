// SPDX-License-Identifier: Apache-2.0
/// @brief A tiny TransformerMT learns the synthetic EN-DE task: held-out greedy and beam BLEU > 80
/// after a few seconds of CPU training (short sentences, small BPE vocabulary).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <sstream>

#include <tessera/models/beam_search.h>
#include <tessera/models/bleu.h>
#include <tessera/models/bpe.h>
#include <tessera/models/synthetic_translation.h>
#include <tessera/models/transformer_mt.h>
#include <tessera/models/translation_data.h>
#include <tessera/models/utf8.h>
#include <tessera/nn/optim.h>
#include <tessera/nn/schedule.h>
#include <tessera/ops.h>

using namespace tessera;
using namespace tessera::models;

namespace {
int64_t words(const std::string& s) {
  std::istringstream in(s);
  std::string w;
  int64_t n = 0;
  while (in >> w) ++n;
  return n;
}
}  // namespace

TEST_CASE("a tiny TransformerMT learns the synthetic translation task (held-out BLEU > 80)",
          "[models][translation][learn]") {
  // Unique pairs, so held-out sentences never occur in training; short sentences keep it fast.
  const auto pairs = generate_unique_pairs(12000, 2024);
  ParallelText train, held;
  for (const auto& [en, de] : pairs) {
    if (words(en) > 6) continue;
    ParallelText& dst = held.src.size() < 300 ? held : train;
    dst.src.push_back(en);
    dst.tgt.push_back(de);
  }
  REQUIRE(held.src.size() == 300);
  REQUIRE(train.src.size() >= 4000);
  train.src.resize(4000);
  train.tgt.resize(4000);
  std::vector<std::string> corpus = train.src;
  corpus.insert(corpus.end(), train.tgt.begin(), train.tgt.end());
  const BpeTokenizer tok = BpeTokenizer::train(corpus, {.vocab_size = 1000, .min_pair_count = 2});
  const auto examples = encode_parallel(tok, train);

  TransformerMTConfig cfg;
  cfg.vocab_size = tok.vocab_size();
  cfg.d_model = 64;
  cfg.encoder_layers = 2;
  cfg.decoder_layers = 2;
  cfg.num_heads = 4;
  cfg.dim_feedforward = 128;
  cfg.dropout = 0.0;
  cfg.max_positions = 64;
  Generator gen(7);
  TransformerMT model(cfg, &gen);
  nn::AdamOptions ao;
  ao.lr = 3e-3;
  ao.beta2 = 0.98;
  nn::AdamW opt(model.param_groups(3e-3, 0.0), ao);
  const nn::InverseSqrt sched{100};
  const auto t0 = std::chrono::steady_clock::now();
  int64_t step = 0;
  double last_loss = 0;
  for (int64_t epoch = 0; epoch < 8; ++epoch) {
    for (const auto& b : make_batches(examples, 800, 3, epoch)) {
      sched.apply(opt, step++);
      const TranslationBatch tb = collate(examples, b);
      const Tensor loss = model.loss(tb.src, tb.tgt_in, tb.tgt_out, 0.1);
      backward(loss);
      nn::clip_grad_norm_(model.parameters(), 1.0);
      opt.step();
      opt.zero_grad();
      last_loss = loss.item<double>();
    }
  }
  const double train_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<std::vector<int32_t>> sources;
  for (const auto& s : held.src) sources.push_back(encode_source(tok, s));
  auto score = [&](int64_t beam) {
    DecodeOptions o;
    o.beam_size = beam;
    std::vector<std::string> hyps;
    for (const auto& ids : translate(model, sources, o))
      hyps.push_back(sanitize_utf8(tok.decode(ids)));
    return corpus_bleu(hyps, held.tgt);
  };
  const BleuScore greedy = score(1), beam = score(4);
  WARN("synthetic task: " << train.src.size() << " training pairs, " << step << " steps in "
                          << train_s << " s, final train loss " << last_loss << "; held-out greedy "
                          << greedy.format() << "; beam 4 " << beam.format());
  CHECK(greedy.score > 80.0);
  CHECK(beam.score > 80.0);
}
