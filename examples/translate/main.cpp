// SPDX-License-Identifier: Apache-2.0
/// @brief translate: translates sentences with a checkpoint written by train_translation.
///
///   translate --model runs/m30k [--checkpoint best] [--beam 4] [--length-penalty 1.0]
///             [--input FILE] [--output FILE] [--max-len-a 1.2 --max-len-b 10] [--device cuda]
///
/// Reads one sentence per line (stdin or --input; strict UTF-8) and writes one translation per
/// line, in input order (stdout or --output, written atomically). Exit codes: 0 done, 2 bad input.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include <tessera/atomic_file.h>
#include <tessera/models/beam_search.h>
#include <tessera/models/bpe.h>
#include <tessera/models/transformer_mt.h>
#include <tessera/models/translation_data.h>
#include <tessera/models/utf8.h>
#include <tessera/nn/checkpoint.h>

#include "cli.h"
#include "device.h"

using namespace tessera;
using namespace tessera::examples;
using json = nlohmann::json;

namespace {

Cli make_cli() {
  Cli cli("translate", "Translates sentences (one per line) with a train_translation checkpoint.");
  cli.add("model", "",
          "train_translation output folder (config.json, tokenizer.json, best/) (required)");
  cli.add("checkpoint", "best", "checkpoint subfolder: best or latest");
  cli.add("input", "", "input file (default stdin)");
  cli.add("output", "", "output file (default stdout)");
  cli.add("beam", "4", "beam size (1 = greedy)");
  cli.add("length-penalty", "1.0", "alpha: hypotheses are ranked by log-prob / len^alpha");
  cli.add_switch("gnmt-penalty", "use GNMT's ((5 + len) / 6)^alpha instead of len^alpha");
  cli.add("max-len-a", "1.2", "max output length = a * source length + b (tokens)");
  cli.add("max-len-b", "10", "see --max-len-a");
  cli.add("batch-tokens", "4096", "source tokens per decoding batch");
  cli.add("device", "cpu", "cpu, cuda or cuda:N (where the model decodes)");
  return cli;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TESSERA_CHECK(in.good(), "cannot open '", path, "'");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int run(int argc, char** argv) {
  Cli cli = make_cli();
  try {
    if (!cli.parse(argc, argv)) {
      std::cout << cli.usage();
      return 0;
    }
    const std::string dir = cli.str("model");
    if (dir.empty()) throw CliError("--model DIR is required");
    models::DecodeOptions opts;
    opts.beam_size = cli.int64("beam");
    opts.length_penalty = cli.real("length-penalty");
    opts.penalty =
        cli.on("gnmt-penalty") ? models::LengthPenalty::kGnmt : models::LengthPenalty::kPower;
    opts.max_len_a = cli.real("max-len-a");
    opts.max_len_b = cli.int64("max-len-b");
    opts.max_batch_tokens = cli.int64("batch-tokens");
    if (opts.beam_size < 1) throw CliError("--beam must be >= 1");
    if (opts.max_len_a < 0 || opts.max_len_b < 0)
      throw CliError("--max-len-a and --max-len-b must be >= 0");
    if (opts.max_batch_tokens < 1) throw CliError("--batch-tokens must be positive");
    const Device device = parse_device_flag(cli.str("device"));

    const json cfg = json::parse(slurp(dir + "/config.json"), nullptr, false);
    TESSERA_CHECK(!cfg.is_discarded() && cfg.is_object() && cfg.contains("model"), dir,
                  "/config.json is not a train_translation config");
    const auto mcfg = models::TransformerMTConfig::from_json(cfg["model"].dump());
    const auto tok = models::BpeTokenizer::deserialize(slurp(dir + "/tokenizer.json"));
    TESSERA_CHECK(tok.vocab_size() == mcfg.vocab_size, "tokenizer has ", tok.vocab_size(),
                  " tokens but the model expects ", mcfg.vocab_size);
    models::TransformerMT model(mcfg);
    const std::string ckpt = dir + "/" + cli.str("checkpoint");
    if (std::filesystem::exists(ckpt + "/optimizer.safetensors")) {
      // A training checkpoint (latest/): its optimizer state and dropout generator are read and
      // discarded, so that the checkpoint's integrity checks still apply.
      nn::Adam opt(model.param_groups(1e-3, 0.0), {}, true);
      Generator scratch(0);
      nn::load_checkpoint(ckpt, model, &opt, {{"dropout", &scratch}});
    } else {
      nn::load_checkpoint(ckpt, model, nullptr, {});
    }
    model.to(device);

    std::vector<std::string> lines;
    if (cli.str("input").empty()) {
      std::stringstream ss;
      ss << std::cin.rdbuf();
      std::string text = ss.str();
      std::string line;
      std::istringstream in(text);
      while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        models::require_utf8(line, "stdin line " + std::to_string(lines.size() + 1));
        lines.push_back(line);
      }
    } else {
      lines = models::read_lines(cli.str("input"), "--input");
    }
    std::vector<std::vector<int32_t>> sources;
    for (const auto& l : lines) {
      auto ids = models::encode_source(tok, l);
      TESSERA_CHECK(static_cast<int64_t>(ids.size()) <= mcfg.max_positions, "input line ",
                    sources.size() + 1, " has ", ids.size(), " tokens; the model takes at most ",
                    mcfg.max_positions);
      sources.push_back(std::move(ids));
    }
    const auto out = models::translate(model, sources, opts);
    std::string text;
    for (const auto& ids : out) text += models::sanitize_utf8(tok.decode(ids)) + "\n";
    if (cli.str("output").empty()) {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
      write_file_atomic(cli.str("output"), text);
    }
    return 0;
  } catch (const CliError& e) {
    std::fprintf(stderr, "translate: error: %s\n", e.what());
  } catch (const Error& e) {
    std::fprintf(stderr, "translate: error: %s\n", e.message().c_str());
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
