// SPDX-License-Identifier: Apache-2.0
/// @brief train_translation: trains an encoder-decoder Transformer (models::TransformerMT) on a
/// line-aligned parallel corpus, with a shared BPE vocabulary, token-budget batches, label
/// smoothing, warmup + inverse-sqrt schedule, per-epoch validation loss and greedy BLEU, early
/// stopping, best/latest checkpoints, bit-exact resume and a final test-set score.
///
///   train_translation --train-src train.en --train-tgt train.de --valid-src valid.en
///       --valid-tgt valid.de --test-src test2016.en --test-tgt test2016.de --out runs/m30k
///   train_translation --out runs/synth            # no files: the synthetic EN-DE corpus
///
/// Output folder: config.json (model + training settings), tokenizer.json, metrics.jsonl,
/// latest/ (after every epoch, at --max-steps or on Ctrl-C), best/ (highest validation BLEU),
/// valid.hyp (the best epoch's greedy validation output), test.hyp (final test translations).
/// Exit codes: 0 done, 2 bad input (one-line message), 130 interrupted (after saving).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <tessera/atomic_file.h>
#include <tessera/models/beam_search.h>
#include <tessera/models/bleu.h>
#include <tessera/models/bpe.h>
#include <tessera/models/synthetic_translation.h>
#include <tessera/models/tokenizer.h>
#include <tessera/models/transformer_mt.h>
#include <tessera/models/translation_data.h>
#include <tessera/models/utf8.h>
#include <tessera/native.h>
#include <tessera/nn/checkpoint.h>
#include <tessera/nn/optim.h>
#include <tessera/nn/schedule.h>
#include <tessera/ops.h>

#include "cli.h"
#include "device.h"
#include "interrupt.h"
#include "progress.h"
#include "run_setup.h"

namespace fs = std::filesystem;
using namespace tessera;
using namespace tessera::examples;
using json = nlohmann::json;

namespace {

struct Settings {
  std::string train_src, train_tgt, valid_src, valid_tgt, test_src, test_tgt, synthetic;
  std::string config, optimizer, device, out, resume;
  Device dev;  // --device, checked by validate()
  models::TransformerMTConfig model;
  int64_t vocab, max_len, batch_tokens, warmup, epochs, patience, max_steps, stop_after, threads;
  int64_t synth_train, synth_valid, synth_test, valid_bleu_sentences, test_beam, log_every;
  double lr, label_smoothing, grad_clip, weight_decay, beta1, beta2, length_penalty, max_len_a;
  int64_t max_len_b;
  uint64_t seed;
};

Cli make_cli() {
  Cli cli("train_translation",
          "Trains an encoder-decoder Transformer on a parallel corpus (one sentence per line). "
          "Without --train-src/--train-tgt it trains on the synthetic EN-DE corpus.");
  cli.add("train-src", "", "training source sentences (UTF-8)");
  cli.add("train-tgt", "", "training target sentences (UTF-8, line-aligned)");
  cli.add("valid-src", "", "validation source sentences");
  cli.add("valid-tgt", "", "validation target sentences");
  cli.add("test-src", "",
          "test source sentences (scored once at the end with the best checkpoint)");
  cli.add("test-tgt", "", "test target sentences");
  cli.add("synthetic", "",
          "folder for the synthetic corpus when no files are given (default OUT/synthetic)");
  cli.add("synthetic-train", "20000", "synthetic training pairs");
  cli.add("synthetic-valid", "500", "synthetic validation pairs");
  cli.add("synthetic-test", "500", "synthetic test pairs");
  cli.add("vocab", "8000", "BPE vocabulary size (shared by source and target)");
  cli.add("config", "small", "model preset: small (d 256, 3+3 layers) or base (d 512, 6+6 layers)");
  cli.add("layers", "0", "encoder and decoder layers (0 = preset)");
  cli.add("heads", "0", "attention heads (0 = preset; must divide --width)");
  cli.add("width", "0", "model width d (0 = preset)");
  cli.add("ff", "0", "feed-forward width (0 = preset)");
  cli.add("dropout", "-1", "dropout (-1 = preset, 0.1)");
  cli.add("positions", "sinusoidal", "sinusoidal or learned");
  cli.add_switch("post-ln", "post-LN layers (the paper's placement) instead of pre-LN");
  cli.add_switch("separate-embeddings", "separate source, target and output embeddings");
  cli.add("max-len", "128", "drop training pairs longer than this many tokens (0 = keep all)");
  cli.add("batch-tokens", "4096", "padded tokens per batch (length-bucketed)");
  cli.add("optimizer", "adamw", "adamw or adam");
  cli.add("lr", "7e-4", "peak learning rate");
  cli.add("warmup", "1000", "linear warmup steps, then inverse square root decay");
  cli.add("beta1", "0.9", "Adam beta1");
  cli.add("beta2", "0.98", "Adam beta2");
  cli.add("weight-decay", "0.0001", "weight decay (matrices and embeddings only)");
  cli.add("label-smoothing", "0.1", "label smoothing of the cross-entropy");
  cli.add("grad-clip", "1.0", "clip the global gradient norm (0 = off)");
  cli.add("epochs", "20", "training epochs");
  cli.add("patience", "5",
          "stop after this many epochs without a better validation BLEU (0 = off)");
  cli.add("max-steps", "0", "stop training after this many steps in total (0 = off)");
  cli.add("valid-bleu-sentences", "0",
          "validation sentences decoded for BLEU each epoch (0 = all)");
  cli.add("test-beam", "4", "beam size for the final test translation");
  cli.add("length-penalty", "1.0", "beam length penalty alpha (score / len^alpha)");
  cli.add("max-len-a", "1.2", "decoding: max output length = a * source length + b");
  cli.add("max-len-b", "10", "decoding: see --max-len-a");
  cli.add("log-every", "50", "steps between metrics lines");
  cli.add("threads", "0", "OpenMP threads (0 = OMP_NUM_THREADS / all cores)");
  cli.add("seed", "1", "random seed (init, batches, dropout, synthetic corpus)");
  cli.add("device", "cpu",
          "cpu, cuda or cuda:N (the model, batches and optimizer state live there)");
  cli.add("out", "runs/translation", "output folder");
  cli.add("resume", "", "continue the run saved in this folder (bit-exact on CPU)");
  cli.add("stop-after", "0", "stop as if interrupted (save, exit 130) after this step (0 = off)");
  return cli;
}

Settings read_settings(const Cli& cli) {
  Settings s;
  s.train_src = cli.str("train-src");
  s.train_tgt = cli.str("train-tgt");
  s.valid_src = cli.str("valid-src");
  s.valid_tgt = cli.str("valid-tgt");
  s.test_src = cli.str("test-src");
  s.test_tgt = cli.str("test-tgt");
  s.synthetic = cli.str("synthetic");
  s.synth_train = cli.int64("synthetic-train");
  s.synth_valid = cli.int64("synthetic-valid");
  s.synth_test = cli.int64("synthetic-test");
  s.vocab = cli.int64("vocab");
  s.config = cli.str("config");
  s.optimizer = cli.str("optimizer");
  s.device = cli.str("device");
  s.out = cli.str("out");
  s.resume = cli.str("resume");
  s.max_len = cli.int64("max-len");
  s.batch_tokens = cli.int64("batch-tokens");
  s.warmup = cli.int64("warmup");
  s.epochs = cli.int64("epochs");
  s.patience = cli.int64("patience");
  s.max_steps = cli.int64("max-steps");
  s.stop_after = cli.int64("stop-after");
  s.threads = cli.int64("threads");
  s.valid_bleu_sentences = cli.int64("valid-bleu-sentences");
  s.test_beam = cli.int64("test-beam");
  s.log_every = cli.int64("log-every");
  s.lr = cli.real("lr");
  s.label_smoothing = cli.real("label-smoothing");
  s.grad_clip = cli.real("grad-clip");
  s.weight_decay = cli.real("weight-decay");
  s.beta1 = cli.real("beta1");
  s.beta2 = cli.real("beta2");
  s.length_penalty = cli.real("length-penalty");
  s.max_len_a = cli.real("max-len-a");
  s.max_len_b = cli.int64("max-len-b");
  s.seed = static_cast<uint64_t>(cli.int64("seed"));

  require(s.config == "small" || s.config == "base",
          "--config must be small or base, got " + s.config);
  s.model = models::TransformerMTConfig::preset(s.config);
  if (cli.int64("layers") != 0)
    s.model.encoder_layers = s.model.decoder_layers = cli.int64("layers");
  if (cli.int64("heads") != 0) s.model.num_heads = cli.int64("heads");
  if (cli.int64("width") != 0) s.model.d_model = cli.int64("width");
  if (cli.int64("ff") != 0) s.model.dim_feedforward = cli.int64("ff");
  if (cli.real("dropout") >= 0 || cli.given("dropout")) s.model.dropout = cli.real("dropout");
  s.model.positions = cli.str("positions");
  s.model.pre_ln = !cli.on("post-ln");
  s.model.share_embeddings = !cli.on("separate-embeddings");
  return s;
}

void validate(Settings& s) {
  const bool any_file = !s.train_src.empty() || !s.train_tgt.empty();
  require(!any_file || (!s.train_src.empty() && !s.train_tgt.empty()),
          "--train-src and --train-tgt must be given together");
  require(!any_file || (!s.valid_src.empty() && !s.valid_tgt.empty()),
          "--valid-src and --valid-tgt are required with --train-src/--train-tgt");
  require(s.test_src.empty() == s.test_tgt.empty(),
          "--test-src and --test-tgt must be given together");
  require(s.model.encoder_layers > 0 && s.model.num_heads > 0 && s.model.d_model > 0 &&
              s.model.dim_feedforward > 0,
          "--layers, --heads, --width and --ff must be positive");
  require(s.model.d_model % s.model.num_heads == 0,
          "--heads (" + std::to_string(s.model.num_heads) + ") must divide --width (" +
              std::to_string(s.model.d_model) + ")");
  require(s.model.dropout >= 0 && s.model.dropout < 1, "--dropout must be in [0, 1)");
  require(s.model.positions == "sinusoidal" || s.model.positions == "learned",
          "--positions must be sinusoidal or learned, got " + s.model.positions);
  require(s.vocab >= 260,
          "--vocab must be >= 260 (4 special + 256 byte tokens), got " + std::to_string(s.vocab));
  require(s.optimizer == "adamw" || s.optimizer == "adam",
          "--optimizer must be adamw or adam, got " + s.optimizer);
  require(s.batch_tokens > 0 && s.epochs > 0 && s.log_every > 0,
          "--batch-tokens, --epochs and --log-every must be positive");
  require(s.max_len >= 0 && s.max_len < 100000, "--max-len must be in [0, 100000)");
  require(s.warmup >= 0 && s.patience >= 0 && s.max_steps >= 0 && s.stop_after >= 0 &&
              s.threads >= 0 && s.valid_bleu_sentences >= 0,
          "--warmup, --patience, --max-steps, --stop-after, --threads and --valid-bleu-sentences "
          "must be >= 0");
  require(s.synth_train > 0 && s.synth_valid > 0 && s.synth_test >= 0,
          "synthetic split sizes must be positive");
  require(s.lr > 0 && std::isfinite(s.lr), "--lr must be positive");
  require(s.label_smoothing >= 0 && s.label_smoothing < 1, "--label-smoothing must be in [0, 1)");
  require(s.grad_clip >= 0 && s.weight_decay >= 0, "--grad-clip and --weight-decay must be >= 0");
  require(s.beta1 >= 0 && s.beta1 < 1 && s.beta2 >= 0 && s.beta2 < 1,
          "--beta1/--beta2 must be in [0, 1)");
  require(s.test_beam >= 1, "--test-beam must be >= 1");
  require(s.max_len_a >= 0 && s.max_len_b >= 0, "--max-len-a and --max-len-b must be >= 0");
  s.dev = parse_device_flag(s.device);  // last: the other flags' errors come first
}

/// A batch collated on the host, moved to the model's device.
models::TranslationBatch on_device(models::TranslationBatch b, Device device) {
  if (device.is_cpu()) return b;
  b.src = native::to(b.src, device);
  b.tgt_in = native::to(b.tgt_in, device);
  b.tgt_out = native::to(b.tgt_out, device);
  return b;
}

json settings_json(const Settings& s) {
  return {{"model", json::parse(s.model.to_json())},
          {"train_src", s.train_src},
          {"train_tgt", s.train_tgt},
          {"valid_src", s.valid_src},
          {"valid_tgt", s.valid_tgt},
          {"test_src", s.test_src},
          {"test_tgt", s.test_tgt},
          {"synthetic", s.synthetic},
          {"synthetic_sizes", {s.synth_train, s.synth_valid, s.synth_test}},
          {"vocab", s.vocab},
          {"max_len", s.max_len},
          {"batch_tokens", s.batch_tokens},
          {"optimizer", s.optimizer},
          {"lr", s.lr},
          {"warmup", s.warmup},
          {"beta1", s.beta1},
          {"beta2", s.beta2},
          {"weight_decay", s.weight_decay},
          {"label_smoothing", s.label_smoothing},
          {"grad_clip", s.grad_clip},
          {"epochs", s.epochs},
          {"patience", s.patience},
          {"max_steps", s.max_steps},
          {"valid_bleu_sentences", s.valid_bleu_sentences},
          {"test_beam", s.test_beam},
          {"length_penalty", s.length_penalty},
          {"max_len_a", s.max_len_a},
          {"max_len_b", s.max_len_b},
          {"log_every", s.log_every},
          {"seed", s.seed}};
}

/// On --resume the saved settings win; model-shaping flags the user gave must agree with them.
void merge_resumed(Settings& s, const Cli& cli, const json& saved) {
  const auto m = models::TransformerMTConfig::from_json(saved.at("model").dump());
  for (const char* flag :
       {"layers", "heads", "width", "ff", "dropout", "positions", "post-ln", "separate-embeddings",
        "config", "vocab", "seed", "batch-tokens", "train-src", "train-tgt", "max-len"}) {
    require(!cli.given(flag),
            std::string("--") + flag + " differs from the checkpoint's setting in " + s.resume +
                "/config.json (settings of a resumed run come from the checkpoint)");
  }
  s.model = m;
  s.train_src = saved.at("train_src");
  s.train_tgt = saved.at("train_tgt");
  s.valid_src = saved.at("valid_src");
  s.valid_tgt = saved.at("valid_tgt");
  s.test_src = saved.at("test_src");
  s.test_tgt = saved.at("test_tgt");
  s.synthetic = saved.at("synthetic");
  s.synth_train = saved.at("synthetic_sizes")[0];
  s.synth_valid = saved.at("synthetic_sizes")[1];
  s.synth_test = saved.at("synthetic_sizes")[2];
  s.vocab = saved.at("vocab");
  s.max_len = saved.at("max_len");
  s.batch_tokens = saved.at("batch_tokens");
  s.optimizer = saved.at("optimizer");
  s.lr = saved.at("lr");
  s.warmup = saved.at("warmup");
  s.beta1 = saved.at("beta1");
  s.beta2 = saved.at("beta2");
  s.weight_decay = saved.at("weight_decay");
  s.label_smoothing = saved.at("label_smoothing");
  s.grad_clip = saved.at("grad_clip");
  s.seed = saved.at("seed");
  s.valid_bleu_sentences = saved.at("valid_bleu_sentences");
  if (!cli.given("epochs")) s.epochs = saved.at("epochs");
  if (!cli.given("patience")) s.patience = saved.at("patience");
  if (!cli.given("max-steps")) s.max_steps = saved.at("max_steps");
  if (!cli.given("test-beam")) s.test_beam = saved.at("test_beam");
  if (!cli.given("length-penalty")) s.length_penalty = saved.at("length_penalty");
  if (!cli.given("max-len-a")) s.max_len_a = saved.at("max_len_a");
  if (!cli.given("max-len-b")) s.max_len_b = saved.at("max_len_b");
  if (!cli.given("log-every")) s.log_every = saved.at("log_every");
  if (!cli.given("out")) s.out = s.resume;
}

/// The corpus files, generating the synthetic corpus when none were given.
void resolve_corpus(Settings& s) {
  if (!s.train_src.empty()) return;
  if (s.synthetic.empty()) s.synthetic = s.out + "/synthetic";
  const std::string d = s.synthetic;
  if (!fs::exists(d + "/train.en")) {
    models::write_synthetic_splits(d, {s.synth_train, s.synth_valid, s.synth_test}, s.seed);
  }
  s.train_src = d + "/train.en", s.train_tgt = d + "/train.de";
  s.valid_src = d + "/valid.en", s.valid_tgt = d + "/valid.de";
  if (s.synth_test > 0) s.test_src = d + "/test.en", s.test_tgt = d + "/test.de";
}

/// Mean token NLL (no smoothing) on the validation pairs, teacher-forced.
double validation_loss(models::TransformerMT& model, const std::vector<models::Example>& ex,
                       int64_t batch_tokens, Device device) {
  NoGradGuard no_grad;
  model.eval();
  double total = 0;
  int64_t tokens = 0;
  for (const auto& b : models::make_batches(ex, batch_tokens, 0, 0)) {
    const models::TranslationBatch tb = on_device(models::collate(ex, b), device);
    total += model.loss(tb.src, tb.tgt_in, tb.tgt_out, 0.0).item<double>() *
             static_cast<double>(tb.target_tokens);
    tokens += tb.target_tokens;
  }
  model.train();
  return total / static_cast<double>(std::max<int64_t>(tokens, 1));
}

struct BleuEval {
  models::BleuScore bleu;
  std::vector<std::string> hyps;
};

BleuEval bleu_eval(models::TransformerMT& model, const models::BpeTokenizer& tok,
                   const std::vector<std::string>& src, const std::vector<std::string>& ref,
                   const models::DecodeOptions& opts) {
  std::vector<std::vector<int32_t>> sources;
  for (const auto& line : src) {
    auto ids = models::encode_source(tok, line);
    if (static_cast<int64_t>(ids.size()) > model.config().max_positions) {  // decode the head only
      ids.resize(static_cast<size_t>(model.config().max_positions - 1));
      ids.push_back(models::BpeTokenizer::kEos);
    }
    sources.push_back(std::move(ids));
  }
  const auto out = models::translate(model, sources, opts);
  BleuEval e;
  for (const auto& ids : out) e.hyps.push_back(models::sanitize_utf8(tok.decode(ids)));
  e.bleu = models::corpus_bleu(e.hyps, ref);
  return e;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  write_file_atomic(path, text);
}

int train(Settings s) {
  const bool resuming = !s.resume.empty();
  resolve_corpus(s);
  const models::ParallelText train_text =
      models::read_parallel(s.train_src, s.train_tgt, "training data");
  const models::ParallelText valid_text =
      models::read_parallel(s.valid_src, s.valid_tgt, "validation data");
  models::ParallelText test_text;
  if (!s.test_src.empty()) test_text = models::read_parallel(s.test_src, s.test_tgt, "test data");

  fs::create_directories(s.out);
  std::unique_ptr<models::BpeTokenizer> tok;
  if (resuming) {
    std::ifstream in(s.resume + "/tokenizer.json");
    TESSERA_CHECK(in.good(), "--resume: missing ", s.resume, "/tokenizer.json");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    tok = std::make_unique<models::BpeTokenizer>(models::BpeTokenizer::deserialize(text));
  } else {
    std::vector<std::string> corpus = train_text.src;
    corpus.insert(corpus.end(), train_text.tgt.begin(), train_text.tgt.end());
    models::BpeTrainOptions bo;
    bo.vocab_size = s.vocab;
    tok = std::make_unique<models::BpeTokenizer>(models::BpeTokenizer::train(corpus, bo));
  }
  s.model.vocab_size = tok->vocab_size();
  const int64_t all_train = static_cast<int64_t>(train_text.src.size());
  const std::vector<models::Example> train_ex =
      models::filter_by_length(models::encode_parallel(*tok, train_text), s.max_len);
  // Validation loss uses every pair that fits the model's positions.
  const std::vector<models::Example> valid_ex =
      models::filter_by_length(models::encode_parallel(*tok, valid_text), s.model.max_positions);
  TESSERA_CHECK(!train_ex.empty(), "no training pair is within --max-len ", s.max_len, " tokens");
  int64_t longest = 0;
  for (const auto& e : train_ex)
    longest = std::max<int64_t>(
        {longest, static_cast<int64_t>(e.src.size()), static_cast<int64_t>(e.tgt.size()) + 1});
  TESSERA_CHECK(longest <= s.model.max_positions, "training pairs of up to ", longest,
                " tokens exceed the model's max_positions ", s.model.max_positions,
                "; lower --max-len");
  std::vector<std::string> bleu_src = valid_text.src, bleu_ref = valid_text.tgt;
  if (s.valid_bleu_sentences > 0 &&
      s.valid_bleu_sentences < static_cast<int64_t>(bleu_src.size())) {
    bleu_src.resize(static_cast<size_t>(s.valid_bleu_sentences));
    bleu_ref.resize(static_cast<size_t>(s.valid_bleu_sentences));
  }

  manual_seed(s.seed);
  Generator init_gen(s.seed), dropout_gen(s.seed ^ 0x9E3779B97F4A7C15ull);
  models::TransformerMT model(s.model, &init_gen, &dropout_gen);  // initialised on the CPU
  model.to(s.dev);  // before the optimizer: its state is made next to each parameter
  nn::AdamOptions ao;
  ao.lr = s.lr;
  ao.beta1 = s.beta1;
  ao.beta2 = s.beta2;
  ao.eps = 1e-9;
  ao.weight_decay = s.weight_decay;
  nn::Adam opt(model.param_groups(s.lr, s.weight_decay), ao, /*decoupled=*/s.optimizer == "adamw");
  const nn::InverseSqrt schedule{std::max<int64_t>(s.warmup, 1)};

  int64_t step = 0, epoch = 0, batch_in_epoch = 0, bad_epochs = 0;
  double best_bleu = -1;
  double epoch_loss = 0;  // token-weighted training loss of the current epoch so far
  int64_t epoch_tokens = 0;
  if (resuming) {
    const nn::CheckpointInfo info =
        nn::load_checkpoint(s.resume + "/latest", model, &opt, {{"dropout", &dropout_gen}});
    const json st = json::parse(info.config_json);
    step = info.step;
    epoch = st.at("epoch");
    batch_in_epoch = st.at("batch_in_epoch");
    best_bleu = st.at("best_bleu");
    bad_epochs = st.at("bad_epochs");
    epoch_loss = st.at("epoch_loss");
    epoch_tokens = st.at("epoch_tokens");
  } else {
    write_file_atomic(s.out + "/config.json", settings_json(s).dump(2));
    models::save_tokenizer(*tok, s.out + "/tokenizer.json");
  }
  if (resuming && s.out != s.resume) {
    for (const char* f : {"config.json", "tokenizer.json"})
      fs::copy_file(s.resume + "/" + f, s.out + "/" + f, fs::copy_options::overwrite_existing);
  }
  // (next_epoch, next_batch): where a resumed run continues.
  auto save = [&](const std::string& sub, int64_t next_epoch, int64_t next_batch) {
    nn::CheckpointInfo info;
    info.step = step;
    info.config_json = json{{"epoch", next_epoch},
                            {"batch_in_epoch", next_batch},
                            {"best_bleu", best_bleu},
                            {"bad_epochs", bad_epochs},
                            {"epoch_loss", next_batch ? epoch_loss : 0.0},
                            {"epoch_tokens", next_batch ? epoch_tokens : 0}}
                           .dump();
    if (sub == "best") {  // weights only: what translate needs
      nn::save_checkpoint(s.out + "/" + sub, model, nullptr, {}, info);
    } else {
      nn::save_checkpoint(s.out + "/" + sub, model, &opt, {{"dropout", &dropout_gen}}, info);
    }
  };

  std::printf(
      "train_translation: %lld parameters | vocab %lld | %lld/%lld train pairs (max-len %lld) | "
      "%zu valid | %zu test | %s | %s\n",
      (long long)model.num_parameters(), (long long)s.model.vocab_size, (long long)train_ex.size(),
      (long long)all_train, (long long)s.max_len, valid_text.src.size(), test_text.src.size(),
      describe_device(s.dev).c_str(),
      resuming ? ("resuming at step " + std::to_string(step)).c_str() : "new run");
  std::fflush(stdout);

  models::DecodeOptions greedy;
  greedy.max_len_a = s.max_len_a;
  greedy.max_len_b = s.max_len_b;
  MetricsWriter metrics(s.out + "/metrics.jsonl", resuming ? step : -1);
  InterruptGuard interrupt;
  const int64_t steps_per_epoch =
      static_cast<int64_t>(models::make_batches(train_ex, s.batch_tokens, s.seed, 0).size());
  const int64_t planned = s.max_steps > 0 ? std::min(s.max_steps, s.epochs * steps_per_epoch)
                                          : s.epochs * steps_per_epoch;
  Progress progress(planned, step);
  bool stop = false;
  model.train();
  for (; epoch < s.epochs && !stop; ++epoch, batch_in_epoch = 0) {
    const auto batches = models::make_batches(train_ex, s.batch_tokens, s.seed, epoch);
    if (batch_in_epoch == 0) epoch_loss = 0, epoch_tokens = 0;
    const auto epoch_start = std::chrono::steady_clock::now();
    for (; batch_in_epoch < static_cast<int64_t>(batches.size()); ++batch_in_epoch) {
      schedule.apply(opt, step);
      const double lr = opt.param_groups()[0].lr;
      const models::TranslationBatch b =
          on_device(models::collate(train_ex, batches[batch_in_epoch]), s.dev);
      const Tensor loss = model.loss(b.src, b.tgt_in, b.tgt_out, s.label_smoothing);
      backward(loss);
      double grad_norm = 0;
      if (s.grad_clip > 0) grad_norm = nn::clip_grad_norm_(model.parameters(), s.grad_clip);
      opt.step();
      opt.zero_grad();
      const double loss_value = loss.item<double>();
      TESSERA_CHECK(std::isfinite(loss_value), "training diverged: loss is ", loss_value,
                    " at step ", step + 1);
      ++step;
      epoch_loss += loss_value * static_cast<double>(b.target_tokens);
      epoch_tokens += b.target_tokens;
      progress.step(step, loss_value, lr, b.target_tokens + b.source_tokens);
      if (step % s.log_every == 0 || step == 1) {
        json rec = {{"step", step},
                    {"epoch", epoch + 1},
                    {"train_loss", loss_value},
                    {"lr", lr},
                    {"tokens_per_s", progress.tokens_per_second()}};
        if (s.grad_clip > 0) rec["grad_norm"] = grad_norm;
        metrics.write(rec);
      }
      const bool at_max = s.max_steps > 0 && step >= s.max_steps;
      if (InterruptGuard::requested() || step == s.stop_after) {
        save("latest", epoch, batch_in_epoch + 1);
        progress.note("interrupted: saved " + s.out + "/latest at step " + std::to_string(step) +
                      "; continue with --resume " + s.out);
        return 130;
      }
      if (at_max) {
        ++batch_in_epoch;
        stop = true;
        break;
      }
    }
    // Validation after every full epoch, and after a partial one that ends the run.
    const double epoch_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    const double vloss = validation_loss(model, valid_ex, s.batch_tokens, s.dev);
    const BleuEval ve = bleu_eval(model, *tok, bleu_src, bleu_ref, greedy);
    const bool better = ve.bleu.score > best_bleu;
    char line[256];
    std::snprintf(
        line, sizeof line,
        "epoch %lld%s | step %lld | train %.4f | valid loss %.4f ppl %.2f | valid BLEU %.2f%s",
        (long long)(epoch + 1), stop ? " (partial)" : "", (long long)step,
        epoch_tokens ? epoch_loss / static_cast<double>(epoch_tokens) : NAN, vloss, std::exp(vloss),
        ve.bleu.score, better ? " (best)" : "");
    progress.note(line);
    metrics.write(
        {{"step", step},
         {"epoch", epoch + 1},
         {"partial_epoch", stop},
         {"train_loss_epoch", epoch_tokens ? epoch_loss / static_cast<double>(epoch_tokens) : 0.0},
         {"valid_loss", vloss},
         {"valid_ppl", std::exp(vloss)},
         {"valid_bleu", ve.bleu.score},
         {"valid_bleu_detail", ve.bleu.format()},
         {"epoch_seconds", epoch_seconds}});
    if (better) {
      best_bleu = ve.bleu.score;
      bad_epochs = 0;
      write_lines(s.out + "/valid.hyp", ve.hyps);
    } else {
      ++bad_epochs;
    }
    if (better) save("best", epoch + 1, 0);
    if (s.patience > 0 && bad_epochs >= s.patience) {
      progress.note("early stop: no better validation BLEU for " + std::to_string(bad_epochs) +
                    " epochs");
      stop = true;
      save("latest", s.epochs, 0);  // a resumed run has nothing left to train
    } else if (stop && batch_in_epoch < static_cast<int64_t>(batches.size())) {
      save("latest", epoch, batch_in_epoch);  // --max-steps: a resume continues this epoch
    } else {
      save("latest", epoch + 1, 0);
    }
  }
  progress.finish();

  if (!test_text.src.empty() && fs::exists(s.out + "/best/state.json")) {
    nn::load_checkpoint(s.out + "/best", model, nullptr, {});
    models::DecodeOptions beam = greedy;
    beam.beam_size = s.test_beam;
    beam.length_penalty = s.length_penalty;
    const BleuEval tg = bleu_eval(model, *tok, test_text.src, test_text.tgt, greedy);
    const BleuEval tb = bleu_eval(model, *tok, test_text.src, test_text.tgt, beam);
    write_lines(s.out + "/test.hyp", tb.hyps);
    std::printf(
        "test (best checkpoint, valid BLEU %.2f): greedy %s\ntest beam %lld (alpha %.2f): %s\n",
        best_bleu, tg.bleu.format().c_str(), (long long)s.test_beam, s.length_penalty,
        tb.bleu.format().c_str());
    metrics.write({{"step", step},
                   {"test_bleu_greedy", tg.bleu.score},
                   {"test_bleu_beam", tb.bleu.score},
                   {"test_beam", s.test_beam},
                   {"length_penalty", s.length_penalty},
                   {"test_bleu_beam_detail", tb.bleu.format()}});
  }
  return 0;
}

int run(int argc, char** argv) {
  Cli cli = make_cli();
  Settings s;
  const int rc = parse_command_line("train_translation", cli, argc, argv, [&] {
    s = read_settings(cli);
    if (cli.given("resume")) merge_resumed(s, cli, load_run_config(s.resume));
    validate(s);
  });
  if (rc >= 0) return rc;
#if defined(_OPENMP)
  if (s.threads > 0) omp_set_num_threads(static_cast<int>(s.threads));
#endif
  try {
    return train(s);
  } catch (const Error& e) {
    std::fprintf(stderr, "train_translation: error: %s\n", e.message().c_str());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
