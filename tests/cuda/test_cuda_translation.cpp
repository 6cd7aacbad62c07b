// SPDX-License-Identifier: Apache-2.0
/// @brief End to end on CUDA for the encoder-decoder: a tiny TransformerMT built with the same seed
/// on the CPU and moved to CUDA trains a few Adam steps (label smoothing, padded batches, gradient
/// clipping) with the CPU's losses, and greedy and beam decoding on CUDA (KV caches, cached
/// cross-attention keys, rows dropped with select_rows) give the CPU's tokens.
///
/// Tolerance (float32): as tests/cuda/test_cuda_gpt.cpp: losses relative 1e-4, parameters
/// |a - b| <= 1e-5 + 1e-3|b|, attention key biases (zero true gradient) within 2 lr per step
/// (NOTE [key bias] in cuda_model_test_util.h); the fused CPU kernels and the CUDA compositions
/// sum in other orders.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <tessera/models/beam_search.h>
#include <tessera/models/bpe.h>
#include <tessera/models/transformer_mt.h>
#include <tessera/models/translation_data.h>
#include <tessera/nn/optim.h>
#include <tessera/ops.h>

#include "cuda/cuda_model_test_util.h"

using namespace tessera;
using namespace tessera::test;

namespace {

models::TransformerMTConfig tiny(bool pre_ln, const std::string& positions, bool share) {
  models::TransformerMTConfig c;
  c.vocab_size = 19;
  c.d_model = 16;
  c.encoder_layers = 1;
  c.decoder_layers = 1;
  c.num_heads = 2;
  c.dim_feedforward = 24;
  c.dropout = 0.0;
  c.pre_ln = pre_ln;
  c.positions = positions;
  c.max_positions = 12;
  c.share_embeddings = share;
  return c;
}

std::vector<int32_t> random_seq(std::mt19937& rng, int64_t len, bool eos) {
  std::uniform_int_distribution<int32_t> d(3, 18);  // never <pad>/<bos>/<eos>
  std::vector<int32_t> s(static_cast<size_t>(len));
  for (auto& t : s) t = d(rng);
  if (eos) s.push_back(models::BpeTokenizer::kEos);
  return s;
}

models::TranslationBatch on(models::TranslationBatch b, Device d) {
  b.src = native::to(b.src, d);
  b.tgt_in = native::to(b.tgt_in, d);
  b.tgt_out = native::to(b.tgt_out, d);
  return b;
}

struct Run {
  std::unique_ptr<models::TransformerMT> model;
  std::vector<double> losses;
};

/// Builds the model on the CPU from seed 17, moves it to `dev` and trains on `batches`.
Run train(const models::TransformerMTConfig& cfg, Device dev,
          const std::vector<models::TranslationBatch>& batches) {
  Generator init(17), drop(18);
  Run r;
  r.model = std::make_unique<models::TransformerMT>(cfg, &init, &drop);
  r.model->to(dev);
  nn::AdamOptions ao;
  ao.lr = 1e-2;
  ao.weight_decay = 0.01;
  nn::Adam opt(r.model->param_groups(ao.lr, ao.weight_decay), ao, /*decoupled=*/true);
  for (const auto& b : batches) {
    const auto db = on(b, dev);
    const Tensor loss = r.model->loss(db.src, db.tgt_in, db.tgt_out, /*label_smoothing=*/0.1);
    backward(loss);
    nn::clip_grad_norm_(r.model->parameters(), 1.0);
    opt.step();
    opt.zero_grad();
    r.losses.push_back(loss.item<double>());
  }
  return r;
}

}  // namespace

TEST_CASE("TransformerMT trains and decodes on CUDA like on the CPU", "[cuda][translation]") {
  std::mt19937 rng(8);
  std::vector<models::Example> ex;
  for (int i = 0; i < 6; ++i)  // ragged lengths: padded batches, padding masks
    ex.push_back({random_seq(rng, 2 + i % 4, true), random_seq(rng, 1 + (i * 5) % 6, false)});
  std::vector<models::TranslationBatch> batches;
  for (const auto& idx : std::vector<std::vector<int64_t>>{{0, 1, 2}, {3, 4, 5}, {5, 0, 3}})
    batches.push_back(models::collate(ex, idx));

  for (const auto& cfg : {tiny(true, "sinusoidal", true), tiny(false, "learned", false)}) {
    INFO("pre_ln " << cfg.pre_ln << ", positions " << cfg.positions << ", shared "
                   << cfg.share_embeddings);
    Run cpu = train(cfg, kCPU, batches), gpu = train(cfg, kCuda, batches);
    for (size_t s = 0; s < batches.size(); ++s) {
      INFO("step " << s + 1 << ": loss cpu " << cpu.losses[s] << ", cuda " << gpu.losses[s]);
      CHECK(std::abs(gpu.losses[s] - cpu.losses[s]) <= 1e-4 * std::abs(cpu.losses[s]));
    }
    for (const Tensor& p : gpu.model->parameters()) CHECK(p.device() == kCuda);
    check_trained_params("after 3 Adam steps", gpu.model->named_parameters(),
                         cpu.model->named_parameters(), Tol{1e-5, 1e-3}, 2 * 1e-2 * 3);

    // Decoding from identical weights: the same tokens, greedy and beam.
    gpu.model->load_state_dict(cpu.model->state_dict());
    std::vector<std::vector<int32_t>> sources;
    for (int i = 0; i < 4; ++i) sources.push_back(random_seq(rng, 1 + i * 2, true));
    models::DecodeOptions greedy;
    greedy.max_len_a = 1.0;
    greedy.max_len_b = 4;
    greedy.max_batch_tokens = 12;  // several batches, rows dropped as sentences finish
    CHECK(models::translate(*gpu.model, sources, greedy) ==
          models::translate(*cpu.model, sources, greedy));
    models::DecodeOptions beam = greedy;
    beam.beam_size = 3;
    CHECK(models::translate(*gpu.model, sources, beam) ==
          models::translate(*cpu.model, sources, beam));
  }
}
