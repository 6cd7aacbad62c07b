// SPDX-License-Identifier: Apache-2.0
/// @brief train_gpt's parallel loop (see train_parallel.h).
#include "train_parallel.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include <tessera/atomic_file.h>
#include <tessera/models/sampling.h>
#include <tessera/nn/schedule.h>
#include <tessera/ops.h>
#include <tessera/parallel/checkpoint.h>
#include <tessera/parallel/data_parallel.h>
#include <tessera/parallel/parallel_gpt.h>
#include <tessera/parallel/zero.h>

#include "interrupt.h"
#include "progress.h"

namespace tessera::examples {
namespace {
using json = nlohmann::json;
namespace fs = std::filesystem;
}  // namespace

bool wants_parallel(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    for (const char* flag : {"--dp", "--tp", "--zero"})
      if (a == flag || a.rfind(std::string(flag) + "=", 0) == 0) return true;
  }
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
}

int train_parallel(parallel::Environment& env, const ParallelTrainSettings& s,
                   const models::Tokenizer& tok, const TokenSplit& split) {
  using namespace parallel;
  const auto& world = env.world();
  const bool root = world->rank() == 0;
  Layout layout = s.layout;
  if (layout.dp == 0)
    layout.dp = std::max(1, world->size() / std::max(1, layout.tp));  // --dp not given
  std::string why = check_layout(world->size(), layout, &s.model);
  if (why.empty() && s.batch % layout.dp != 0)
    why = "--batch " + std::to_string(s.batch) + " is not divisible by --dp " +
          std::to_string(layout.dp);
  if (why.empty() && s.zero != 0 && s.zero != 1)
    why = "--zero must be 0 or 1, got " + std::to_string(s.zero);
  if (!why.empty() && world->size() == 1 && !Environment::has_mpi())
    why += " (this build of tessera has no MPI: reconfigure with libopenmpi-dev installed)";
  if (!why.empty()) {  // every rank computed the same answer: all refuse before any communication
    std::fprintf(stderr, "train_gpt: error (rank %d): %s\n", world->rank(), why.c_str());
    return 2;
  }
  const bool resuming = !s.resume.empty();
  Mesh mesh(world, layout, &s.model);
  if (root) fs::create_directories(s.out);
  manual_seed(s.seed);
  Generator init_gen(s.seed), dropout_gen(s.seed ^ 0x9E3779B97F4A7C15ull);
  models::GPT full(s.model, &init_gen, &dropout_gen);  // the initial values; the sampler at the end
  // Dropout masks differ per data-parallel replica and per tp shard (parallel/dropout_rng.h);
  // dropout_gen keeps the counter that checkpoints save.
  ParallelGPT model(s.model, mesh.tp_ptr(), &dropout_gen, mesh.dp_rank(), layout.dp);
  model.load_full_state_dict(full.state_dict());
  nn::AdamOptions ao;
  ao.lr = s.lr;
  ao.beta1 = s.beta1;
  ao.beta2 = s.beta2;
  ao.weight_decay = s.weight_decay;
  const auto groups = model.param_groups(s.lr, s.weight_decay);
  std::vector<bool> replicated;
  const auto named = model.named_parameters();
  for (const auto& g : groups)
    for (const Tensor& p : g.params)
      for (const auto& [n, t] : named)
        if (t.is_same(p)) replicated.push_back(ParallelGPT::spec_of(n).replicated());
  std::unique_ptr<nn::Optimizer> opt;
  std::unique_ptr<DataParallel> dp;
  std::vector<Tensor> opt_params;
  for (const auto& g : groups)
    opt_params.insert(opt_params.end(), g.params.begin(), g.params.end());
  if (s.zero == 1) {
    auto z = std::make_unique<ZeroAdamW>(groups, ao, mesh.dp_ptr());
    z->set_grad_clip(s.grad_clip, replicated, mesh.tp_ptr());
    opt = std::move(z);
  } else {
    opt = std::make_unique<nn::AdamW>(groups, ao);
    DataParallelOptions dpo;
    // TESSERA_DP_OVERLAP=0 defers every bucket to after backward (to measure the overlap's gain).
    const char* overlap = std::getenv("TESSERA_DP_OVERLAP");
    dpo.overlap = overlap == nullptr || std::strcmp(overlap, "0") != 0;
    // TESSERA_DP_PROGRESS_THREAD=1 (read by parallel::Environment too, which then starts MPI at
    // MPI_THREAD_MULTIPLE) adds DataParallel's progress thread.
    const char* progress = std::getenv("TESSERA_DP_PROGRESS_THREAD");
    dpo.progress_thread = progress != nullptr && std::strcmp(progress, "1") == 0;
    dp = std::make_unique<DataParallel>(model.parameters(), mesh.dp_ptr(), dpo);
  }
  const nn::WarmupCosine schedule{s.warmup, s.steps, s.min_lr / s.lr};

  int64_t start = 0;
  double best_val = INFINITY;
  if (resuming) {
    const nn::CheckpointInfo info =
        load_checkpoint(s.resume + "/latest", mesh, model, *opt, {{"dropout", &dropout_gen}});
    start = info.step;
    best_val = json::parse(info.config_json).value("best_val_loss", INFINITY);
    TESSERA_CHECK(start <= s.steps, "--resume: the run is at step ", start, ", past --steps ",
                  s.steps);
  } else if (root) {
    write_file_atomic(s.out + "/config.json", s.settings_json);
    models::save_tokenizer(tok, s.out + "/tokenizer.json");
  }
  if (root && resuming && s.out != s.resume) {
    fs::copy_file(s.resume + "/config.json", s.out + "/config.json",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(s.resume + "/tokenizer.json", s.out + "/tokenizer.json",
                  fs::copy_options::overwrite_existing);
  }
  if (root)
    std::printf(
        "train_gpt: %lld parameters | vocab %lld | %zu train / %zu val tokens | dp %d x tp %d%s | "
        "%s\n",
        (long long)full.num_parameters(), (long long)s.model.vocab_size, split.train.size(),
        split.val.size(), layout.dp, layout.tp, s.zero ? " | ZeRO-1" : "",
        resuming ? ("resuming at step " + std::to_string(start)).c_str() : "new run");
  MetricsWriter metrics;
  if (root) metrics = MetricsWriter(s.out + "/metrics.jsonl", resuming ? start : -1);
  auto save = [&](const std::string& sub, int64_t step) {
    nn::CheckpointInfo info;
    info.step = step;
    info.config_json = json{{"best_val_loss", std::isfinite(best_val) ? best_val : 1e300}}.dump();
    save_checkpoint(s.out + "/" + sub, mesh, model, *opt, {{"dropout", &dropout_gen}}, info);
  };
  // Eval batches are split over dp ranks (batch i on rank i % dp), then averaged.
  auto evaluate = [&](const std::vector<int32_t>& tokens, uint64_t stream) {
    autograd::NoGradGuard no_grad;
    model.eval();
    double total = 0;
    for (int64_t i = mesh.dp_rank(); i < s.eval_batches; i += layout.dp) {
      const Batch b =
          sample_batch(tokens, s.batch, s.model.context, s.seed, stream, static_cast<uint64_t>(i));
      total += model.loss(b.inputs, b.targets).item<double>();
    }
    Tensor t = scalar_tensor(total, {.dtype = kFloat64});
    mesh.dp().all_reduce(t, ReduceOp::Sum);
    model.train();
    return t.item<double>() / static_cast<double>(s.eval_batches);
  };

  InterruptGuard interrupt;
  std::unique_ptr<Progress> progress;
  if (root) progress = std::make_unique<Progress>(s.steps, start);
  const int64_t tokens_per_step = s.batch * s.model.context;
  const int64_t rows = s.batch / layout.dp;
  double comm_wait = 0;
  model.train();
  for (int64_t step = start; step < s.steps; ++step) {
    schedule.apply(*opt, step);
    const double lr = opt->param_groups()[0].lr;
    const Batch g =
        sample_batch(split.train, s.batch, s.model.context, s.seed, 0, static_cast<uint64_t>(step));
    const Tensor loss = model.loss(native::narrow(g.inputs, 0, rows * mesh.dp_rank(), rows),
                                   native::narrow(g.targets, 0, rows * mesh.dp_rank(), rows));
    if (dp) {
      dp->backward(loss);
      comm_wait += dp->last_stats().wait_seconds;
      if (s.grad_clip > 0) clip_grad_norm_tp(opt_params, replicated, s.grad_clip, mesh.tp());
    } else {
      backward(loss);
    }
    opt->step();
    opt->zero_grad();
    // One small all-reduce carries the mean loss over dp and whether any rank was interrupted.
    Tensor shared = from_vector(std::vector<double>{loss.item<double>() / layout.dp,
                                                    InterruptGuard::requested() ? 1.0 : 0.0},
                                {2});
    world->all_reduce(shared, ReduceOp::Sum);
    const double loss_value = shared.data<double>()[0] / layout.tp;  // tp ranks hold the same loss
    const bool interrupted = shared.data<double>()[1] > 0;
    TESSERA_CHECK(std::isfinite(loss_value), "training diverged: loss is ", loss_value, " at step ",
                  step + 1);
    const int64_t done = step + 1;
    if (root) progress->step(done, loss_value, lr, tokens_per_step);
    json record;
    const bool eval_now = done % s.eval_every == 0 || done == s.steps;
    if (done % s.log_every == 0 || eval_now || done == start + 1) {
      record = {{"step", done},
                {"train_loss", loss_value},
                {"lr", lr},
                {"tokens_per_s", root ? progress->tokens_per_second() : 0.0},
                {"comm_wait_s", comm_wait}};
    }
    if (eval_now) {
      const double val = evaluate(split.val, 1);
      const double train_eval = evaluate(split.train, 2);
      record["val_loss"] = val;
      record["val_ppl"] = std::exp(val);
      record["train_loss_eval"] = train_eval;
      if (root) {
        char line[160];
        std::snprintf(line, sizeof line, "eval step %lld | train %.4f | val %.4f | val ppl %.2f%s",
                      (long long)done, train_eval, val, std::exp(val),
                      val < best_val ? " (best)" : "");
        progress->note(line);
      }
      if (val < best_val) {
        best_val = val;
        save("best", done);
      }
    }
    if (root && !record.is_null()) metrics.write(record);
    if (interrupted || done == s.stop_after) {
      save("latest", done);
      if (root)
        progress->note("interrupted: saved " + s.out + "/latest at step " + std::to_string(done) +
                       "; continue with --resume " + s.out);
      return 130;
    }
  }
  if (root) progress->finish();
  save("latest", s.steps);
  const nn::StateDict trained = model.full_state_dict();  // collective over tp
  if (root && s.sample_tokens > 0) {
    full.load_state_dict(trained);
    models::SamplingOptions so;
    so.max_new_tokens = s.sample_tokens;
    so.temperature = 0.8;
    so.top_k = 40;
    Generator sample_gen(s.seed + 1);
    so.gen = &sample_gen;
    const std::vector<int32_t> prompt = {split.val.empty() ? 0 : split.val.front()};
    const std::vector<int32_t> out = models::generate(full, prompt, so);
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), out.begin(), out.end());
    std::printf("---- sample (%lld tokens) ----\n%s\n-----------------------------\n",
                (long long)s.sample_tokens, tok.decode(all).c_str());
  }
  return 0;
}

}  // namespace tessera::examples
