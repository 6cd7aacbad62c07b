// SPDX-License-Identifier: Apache-2.0
/// @brief train_gpt: trains a GPT language model on a text file, with evals, checkpoints,
/// bit-exact resume, Ctrl-C handling, JSONL metrics and a sample at the end.
///
///   train_gpt --data input.txt --tokenizer char --layers 4 --heads 4 --width 128 --context 64
///             --batch 12 --steps 2000 --lr 1e-3 --min-lr 1e-4 --out runs/shakespeare
///
/// Output folder: config.json (model + training settings), tokenizer.json, metrics.jsonl,
/// latest/ (checkpoint after the last step or on Ctrl-C) and best/ (lowest validation loss).
/// Exit codes: 0 done, 2 bad input (one-line message), 130 interrupted (after saving).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include <tessera/atomic_file.h>
#include <tessera/models/byte_tokenizer.h>
#include <tessera/models/char_tokenizer.h>
#include <tessera/models/gpt.h>
#include <tessera/models/sampling.h>
#include <tessera/models/tokenizer.h>
#include <tessera/native.h>
#include <tessera/nn/checkpoint.h>
#include <tessera/nn/optim.h>
#include <tessera/nn/schedule.h>
#include <tessera/ops.h>
#include <tessera/parallel/environment.h>

#include "cli.h"
#include "data.h"
#include "device.h"
#include "interrupt.h"
#include "progress.h"
#include "run_setup.h"
#include "train_parallel.h"

namespace fs = std::filesystem;
using namespace tessera;
using namespace tessera::examples;
using json = nlohmann::json;

namespace {

struct Settings {
  std::string data, tokenizer, device, out, resume, gelu;
  Device dev;  // --device, checked by validate()
  models::GPTConfig model;
  int64_t batch, steps, warmup, eval_every, eval_batches, sample_tokens, log_every, stop_after;
  double lr, min_lr, weight_decay, grad_clip, beta1, beta2;
  uint64_t seed;
  int dp = 1, tp = 1, zero = 0;  // parallel layout (train_parallel.h)
};

Cli make_cli() {
  Cli cli("train_gpt",
          "Trains a GPT-2-style language model on a UTF-8 text file "
          "(first 90% train, last 10% validation).");
  cli.add("data", "", "UTF-8 text file to train on (required)");
  cli.add("tokenizer", "char", "char (vocabulary from the text) or byte");
  cli.add("layers", "4", "Transformer blocks");
  cli.add("heads", "4", "attention heads (must divide --width)");
  cli.add("width", "128", "embedding width C");
  cli.add("context", "64", "context length T");
  cli.add("batch", "12", "sequences per step B");
  cli.add("steps", "2000", "training steps");
  cli.add("lr", "1e-3", "peak learning rate");
  cli.add("min-lr", "1e-4", "final learning rate of the cosine decay");
  cli.add("warmup", "100", "linear warmup steps");
  cli.add("weight-decay", "0.1", "AdamW weight decay (matrices only; not biases, norms)");
  cli.add("beta1", "0.9", "AdamW beta1");
  cli.add("beta2", "0.99", "AdamW beta2");
  cli.add("dropout", "0", "dropout probability");
  cli.add_switch("no-bias", "no biases in Linear and LayerNorm layers (nanoGPT's bias=False)");
  cli.add("gelu", "tanh", "GELU form: tanh (GPT-2's approximation) or exact (erf)");
  cli.add("grad-clip", "1.0", "clip the global gradient norm (0 = off)");
  cli.add("eval-every", "250", "steps between validation evals");
  cli.add("eval-batches", "20", "batches per eval");
  cli.add("log-every", "10", "steps between metrics lines");
  cli.add("seed", "1337", "random seed (init, batches, dropout)");
  cli.add("device", "cpu",
          "cpu, cuda or cuda:N (the model, batches and optimizer state live there)");
  cli.add("out", "runs/gpt", "output folder (checkpoints, metrics.jsonl)");
  cli.add("resume", "",
          "continue the run saved in this folder (bit-exact on the same device; checkpoints hold "
          "CPU tensors, so a run may resume on another device)");
  cli.add("sample-tokens", "200", "tokens to sample at the end");
  cli.add("stop-after", "0", "stop as if interrupted (save, exit 130) after this step (0 = off)");
  cli.add("dp", "",
          "data-parallel replicas (absent or 0: world size / tp; run under mpirun -np dp*tp)");
  cli.add("tp", "1", "tensor-parallel ranks per replica (must divide --heads and the vocabulary)");
  cli.add("zero", "0", "1 = shard the AdamW state over the data-parallel ranks (ZeRO-1)");
  return cli;
}

Settings read_settings(const Cli& cli) {  // validated by validate()
  Settings s;
  s.data = cli.str("data");
  s.tokenizer = cli.str("tokenizer");
  s.device = cli.str("device");
  s.out = cli.str("out");
  s.resume = cli.str("resume");
  s.model.n_layer = cli.int64("layers");
  s.model.n_head = cli.int64("heads");
  s.model.n_embd = cli.int64("width");
  s.model.context = cli.int64("context");
  s.model.dropout = cli.real("dropout");
  s.model.bias = !cli.on("no-bias");
  s.gelu = cli.str("gelu");
  s.model.gelu_tanh = s.gelu == "tanh";
  s.batch = cli.int64("batch");
  s.steps = cli.int64("steps");
  s.warmup = cli.int64("warmup");
  s.eval_every = cli.int64("eval-every");
  s.eval_batches = cli.int64("eval-batches");
  s.log_every = cli.int64("log-every");
  s.sample_tokens = cli.int64("sample-tokens");
  s.stop_after = cli.int64("stop-after");
  s.lr = cli.real("lr");
  s.min_lr = cli.real("min-lr");
  s.weight_decay = cli.real("weight-decay");
  s.grad_clip = cli.real("grad-clip");
  s.beta1 = cli.real("beta1");
  s.beta2 = cli.real("beta2");
  s.seed = static_cast<uint64_t>(cli.int64("seed"));
  s.dp = cli.given("dp") ? static_cast<int>(cli.int64("dp")) : 0;  // 0: world size / tp
  s.tp = static_cast<int>(cli.int64("tp"));
  s.zero = static_cast<int>(cli.int64("zero"));
  return s;
}

void validate(Settings& s) {
  require(!s.data.empty(), "--data FILE is required");
  require(s.tokenizer == "char" || s.tokenizer == "byte",
          "--tokenizer must be char or byte, got " + s.tokenizer);
  require(s.model.n_layer > 0 && s.model.n_head > 0 && s.model.n_embd > 0 && s.model.context > 0,
          "--layers, --heads, --width and --context must be positive");
  require(s.model.n_embd % s.model.n_head == 0, "--heads (" + std::to_string(s.model.n_head) +
                                                    ") must divide --width (" +
                                                    std::to_string(s.model.n_embd) + ")");
  require(s.batch > 0 && s.steps > 0 && s.eval_every > 0 && s.eval_batches > 0 && s.log_every > 0,
          "--batch, --steps, --eval-every, --eval-batches and --log-every must be positive");
  require(s.warmup >= 0 && s.sample_tokens >= 0, "--warmup and --sample-tokens must be >= 0");
  require(s.warmup < s.steps, "--warmup (" + std::to_string(s.warmup) +
                                  ") must be smaller than --steps (" + std::to_string(s.steps) +
                                  ")");
  require(s.lr > 0 && s.min_lr >= 0 && s.min_lr <= s.lr, "need 0 <= --min-lr <= --lr and --lr > 0");
  require(s.model.dropout >= 0 && s.model.dropout < 1, "--dropout must be in [0, 1)");
  require(s.gelu == "tanh" || s.gelu == "exact",
          "--gelu must be tanh or exact, got '" + s.gelu + "'");
  require(s.weight_decay >= 0 && s.grad_clip >= 0, "--weight-decay and --grad-clip must be >= 0");
  require(s.beta1 >= 0 && s.beta1 < 1 && s.beta2 >= 0 && s.beta2 < 1,
          "--beta1/--beta2 must be in [0, 1)");
  require(s.dp >= 0 && s.tp >= 1 && (s.zero == 0 || s.zero == 1),
          "--dp and --tp must be >= 1, --zero 0 or 1");
  s.dev = parse_device_flag(s.device);  // last: the other flags' errors come first
}

json settings_json(const Settings& s) {
  return {{"model", json::parse(s.model.to_json())},
          {"tokenizer", s.tokenizer},
          {"batch", s.batch},
          {"steps", s.steps},
          {"warmup", s.warmup},
          {"lr", s.lr},
          {"min_lr", s.min_lr},
          {"weight_decay", s.weight_decay},
          {"grad_clip", s.grad_clip},
          {"beta1", s.beta1},
          {"beta2", s.beta2},
          {"eval_every", s.eval_every},
          {"eval_batches", s.eval_batches},
          {"log_every", s.log_every},
          {"sample_tokens", s.sample_tokens},
          {"seed", s.seed},
          {"data", s.data}};
}

/// On --resume, the saved settings win; flags the user gave must agree with them.
void merge_resumed(Settings& s, const Cli& cli, const json& saved) {
  const models::GPTConfig m = models::GPTConfig::from_json(saved.at("model").dump());
  auto same = [&](const char* flag, bool equal) {
    require(!cli.given(flag) || equal, std::string("--") + flag +
                                           " differs from the checkpoint's setting in " + s.resume +
                                           "/config.json (a checkpoint from another config)");
  };
  same("layers", m.n_layer == s.model.n_layer);
  same("heads", m.n_head == s.model.n_head);
  same("width", m.n_embd == s.model.n_embd);
  same("context", m.context == s.model.context);
  same("no-bias", m.bias == s.model.bias);
  same("gelu", m.gelu_tanh == s.model.gelu_tanh);
  same("tokenizer", saved.at("tokenizer") == s.tokenizer);
  same("batch", saved.at("batch") == s.batch);
  same("seed", saved.at("seed") == s.seed);
  s.model = m;
  s.tokenizer = saved.at("tokenizer");
  s.batch = saved.at("batch");
  s.seed = saved.at("seed");
  s.warmup = saved.at("warmup");
  s.lr = saved.at("lr");
  s.min_lr = saved.at("min_lr");
  s.weight_decay = saved.at("weight_decay");
  s.grad_clip = saved.at("grad_clip");
  s.beta1 = saved.at("beta1");
  s.beta2 = saved.at("beta2");
  s.eval_every = saved.at("eval_every");
  s.eval_batches = saved.at("eval_batches");
  if (!cli.given("log-every")) s.log_every = saved.at("log_every");
  if (!cli.given("sample-tokens")) s.sample_tokens = saved.at("sample_tokens");
  if (!cli.given("steps")) s.steps = saved.at("steps");
  if (!cli.given("data")) s.data = saved.at("data");
  if (!cli.given("out")) s.out = s.resume;
}

/// Mean loss over `batches` fixed windows of `tokens` (stream `stream`), without gradients.
double evaluate(models::GPT& model, const std::vector<int32_t>& tokens, const Settings& s,
                uint64_t stream) {
  autograd::NoGradGuard no_grad;
  model.eval();
  double total = 0;
  for (int64_t i = 0; i < s.eval_batches; ++i) {
    const Batch b =
        sample_batch(tokens, s.batch, s.model.context, s.seed, stream, static_cast<uint64_t>(i));
    total += model.loss(native::to(b.inputs, s.dev), native::to(b.targets, s.dev)).item<double>();
  }
  model.train();
  return total / static_cast<double>(s.eval_batches);
}

std::unique_ptr<models::Tokenizer> make_tokenizer(const std::string& kind,
                                                  const std::string& text) {
  if (kind == "byte") return std::make_unique<models::ByteTokenizer>();
  return std::make_unique<models::CharTokenizer>(models::CharTokenizer::train(text));
}

std::vector<int32_t> as_prompt(const std::vector<int32_t>& val) {
  return {val.empty() ? 0 : val.front()};
}

ParallelTrainSettings parallel_settings(const Settings& s) {
  ParallelTrainSettings p;
  p.layout = {s.dp, s.tp};
  p.zero = s.zero;
  p.model = s.model;
  p.batch = s.batch, p.steps = s.steps, p.warmup = s.warmup, p.eval_every = s.eval_every;
  p.eval_batches = s.eval_batches, p.log_every = s.log_every, p.sample_tokens = s.sample_tokens;
  p.stop_after = s.stop_after, p.lr = s.lr, p.min_lr = s.min_lr, p.weight_decay = s.weight_decay;
  p.grad_clip = s.grad_clip, p.beta1 = s.beta1, p.beta2 = s.beta2, p.seed = s.seed;
  p.out = s.out, p.resume = s.resume, p.settings_json = settings_json(s).dump(2);
  return p;
}

int train(const Cli& cli, Settings s, parallel::Environment* env) {
  const bool resuming = !s.resume.empty();
  const std::string text = read_text_file(s.data);
  std::unique_ptr<models::Tokenizer> tok =
      resuming ? models::load_tokenizer(s.resume + "/tokenizer.json")
               : make_tokenizer(s.tokenizer, text);
  s.model.vocab_size = tok->vocab_size();
  TokenSplit split = split_tokens(tok->encode(text));
  TESSERA_CHECK(static_cast<int64_t>(split.train.size()) > s.model.context &&
                    static_cast<int64_t>(split.val.size()) > s.model.context,
                "--context ", s.model.context, " is too large for the data: ", split.train.size(),
                " training and ", split.val.size(),
                " validation tokens (each needs more than the context)");
  if (env != nullptr) {
    require(s.dev.is_cpu(), "--device " + s.device +
                                ": the parallel trainer (--dp/--tp, mpirun) runs on the CPU only");
    return train_parallel(*env, parallel_settings(s), *tok, split);
  }

  fs::create_directories(s.out);
  manual_seed(s.seed);
  Generator init_gen(s.seed), dropout_gen(s.seed ^ 0x9E3779B97F4A7C15ull);
  models::GPT model(s.model, &init_gen, &dropout_gen);  // initialised on the CPU (same values)
  model.to(s.dev);  // before the optimizer: its state is made next to each parameter
  nn::AdamOptions ao;
  ao.lr = s.lr;
  ao.beta1 = s.beta1;
  ao.beta2 = s.beta2;
  ao.weight_decay = s.weight_decay;
  nn::AdamW opt(model.param_groups(s.lr, s.weight_decay), ao);
  const nn::WarmupCosine schedule{s.warmup, s.steps, s.min_lr / s.lr};

  int64_t start = 0;
  double best_val = INFINITY;
  if (resuming) {
    const nn::CheckpointInfo info =
        nn::load_checkpoint(s.resume + "/latest", model, &opt, {{"dropout", &dropout_gen}});
    start = info.step;
    const json extra = json::parse(info.config_json);
    best_val = extra.value("best_val_loss", INFINITY);
    TESSERA_CHECK(start <= s.steps, "--resume: the run is at step ", start, ", past --steps ",
                  s.steps);
  } else {
    write_file_atomic(s.out + "/config.json", settings_json(s).dump(2));
    models::save_tokenizer(*tok, s.out + "/tokenizer.json");
  }
  if (resuming && s.out != s.resume) {
    fs::copy_file(s.resume + "/config.json", s.out + "/config.json",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(s.resume + "/tokenizer.json", s.out + "/tokenizer.json",
                  fs::copy_options::overwrite_existing);
  }

  std::printf("train_gpt: %lld parameters | vocab %lld | %zu train / %zu val tokens | %s | %s\n",
              (long long)model.num_parameters(), (long long)s.model.vocab_size, split.train.size(),
              split.val.size(), describe_device(s.dev).c_str(),
              resuming ? ("resuming at step " + std::to_string(start)).c_str() : "new run");
  MetricsWriter metrics(s.out + "/metrics.jsonl", resuming ? start : -1);
  auto save = [&](const std::string& sub, int64_t step) {
    nn::CheckpointInfo info;
    info.step = step;
    info.config_json = json{{"best_val_loss", std::isfinite(best_val) ? best_val : 1e300}}.dump();
    nn::save_checkpoint(s.out + "/" + sub, model, &opt, {{"dropout", &dropout_gen}}, info);
  };

  InterruptGuard interrupt;
  Progress progress(s.steps, start);
  const int64_t tokens_per_step = s.batch * s.model.context;
  model.train();
  for (int64_t step = start; step < s.steps; ++step) {
    schedule.apply(opt, step);
    const double lr = opt.param_groups()[0].lr;
    const Batch b =
        sample_batch(split.train, s.batch, s.model.context, s.seed, 0, static_cast<uint64_t>(step));
    const Tensor loss = model.loss(native::to(b.inputs, s.dev), native::to(b.targets, s.dev));
    backward(loss);
    if (s.grad_clip > 0) nn::clip_grad_norm_(model.parameters(), s.grad_clip);
    opt.step();
    opt.zero_grad();
    const double loss_value = loss.item<double>();
    TESSERA_CHECK(std::isfinite(loss_value), "training diverged: loss is ", loss_value, " at step ",
                  step + 1);
    const int64_t done = step + 1;
    progress.step(done, loss_value, lr, tokens_per_step);
    json record;
    const bool eval_now = done % s.eval_every == 0 || done == s.steps;
    if (done % s.log_every == 0 || eval_now || done == start + 1) {
      record = {{"step", done},
                {"train_loss", loss_value},
                {"lr", lr},
                {"tokens_per_s", progress.tokens_per_second()}};
    }
    if (eval_now) {
      const double val = evaluate(model, split.val, s, 1);
      const double train_eval = evaluate(model, split.train, s, 2);
      record["val_loss"] = val;
      record["val_ppl"] = std::exp(val);
      record["train_loss_eval"] = train_eval;
      char line[160];
      std::snprintf(line, sizeof line, "eval step %lld | train %.4f | val %.4f | val ppl %.2f%s",
                    (long long)done, train_eval, val, std::exp(val),
                    val < best_val ? " (best)" : "");
      progress.note(line);
      if (val < best_val) {
        best_val = val;
        save("best", done);
      }
    }
    if (!record.is_null()) metrics.write(record);
    if (InterruptGuard::requested() || done == s.stop_after) {
      save("latest", done);
      progress.note("interrupted: saved " + s.out + "/latest at step " + std::to_string(done) +
                    "; continue with --resume " + s.out);
      return 130;
    }
  }
  progress.finish();
  save("latest", s.steps);

  if (s.sample_tokens > 0) {
    models::SamplingOptions so;
    so.max_new_tokens = s.sample_tokens;
    so.temperature = 0.8;
    so.top_k = 40;
    Generator sample_gen(s.seed + 1);
    so.gen = &sample_gen;
    const std::vector<int32_t> prompt = as_prompt(split.val);
    const std::vector<int32_t> out = models::generate(model, prompt, so);
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), out.begin(), out.end());
    std::printf("---- sample (%lld tokens) ----\n%s\n-----------------------------\n",
                (long long)s.sample_tokens, tok->decode(all).c_str());
  }
  return 0;
}

int run(int argc, char** argv) {
  // MPI starts only for parallel runs (flags, or started by mpirun); it must outlive everything.
  std::unique_ptr<parallel::Environment> env;
  if (wants_parallel(argc, argv)) env = std::make_unique<parallel::Environment>(&argc, &argv);
  Cli cli = make_cli();
  Settings s;
  const int rc = parse_command_line("train_gpt", cli, argc, argv, [&] {
    s = read_settings(cli);
    if (cli.given("resume")) merge_resumed(s, cli, load_run_config(s.resume));
    validate(s);
  });
  if (rc >= 0) return rc;
  try {
    return train(cli, s, env.get());
  } catch (const Error& e) {
    if (env && env->world()->size() > 1) {  // other ranks may wait in a collective: end the job
      std::fprintf(stderr, "train_gpt: error (rank %d): %s\n", env->world()->rank(),
                   e.message().c_str());
      env->abort_job(2);
    }
    std::fprintf(stderr, "train_gpt: error: %s\n", e.message().c_str());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
