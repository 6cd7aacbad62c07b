// SPDX-License-Identifier: Apache-2.0
/// @brief generate: loads a train_gpt run and samples a continuation of a prompt.
///
///   generate --run runs/shakespeare --prompt "ROMEO:" --tokens 300 --temperature 0.8 --top-k 40
///            [--device cuda]
/// Uses the run's best/ checkpoint (lowest validation loss) unless --checkpoint latest is given.
#include <cstdio>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include <tessera/models/gpt.h>
#include <tessera/models/sampling.h>
#include <tessera/models/tokenizer.h>
#include <tessera/nn/checkpoint.h>

#include "cli.h"
#include "device.h"

using namespace tessera;
using tessera::examples::Cli;
using tessera::examples::CliError;

int main(int argc, char** argv) {
  Cli cli("generate", "Samples text from a model trained by train_gpt.");
  cli.add("run", "", "train_gpt output folder (required)");
  cli.add("checkpoint", "best", "best or latest");
  cli.add("prompt", "\n", "text to continue");
  cli.add("tokens", "200", "tokens to generate");
  cli.add("temperature", "0.8", "0 = greedy");
  cli.add("top-k", "40", "keep the k most likely tokens (0 = all)");
  cli.add("top-p", "1.0", "nucleus sampling mass (1 = off)");
  cli.add("seed", "1", "sampling seed");
  cli.add("device", "cpu", "cpu, cuda or cuda:N (where the model runs)");
  try {
    if (!cli.parse(argc, argv)) {
      std::cout << cli.usage();
      return 0;
    }
    const std::string run = cli.str("run");
    if (run.empty()) throw CliError("--run DIR is required");
    const std::string which = cli.str("checkpoint");
    if (which != "best" && which != "latest") throw CliError("--checkpoint must be best or latest");
    const Device device = tessera::examples::parse_device_flag(cli.str("device"));
    std::ifstream in(run + "/config.json");
    if (!in.good()) throw CliError("no train_gpt run in " + run + " (missing config.json)");
    const nlohmann::json cfg = nlohmann::json::parse(in, nullptr, false);
    if (cfg.is_discarded() || !cfg.contains("model"))
      throw CliError(run + "/config.json is malformed");
    const auto tok = models::load_tokenizer(run + "/tokenizer.json");
    models::GPTConfig mc = models::GPTConfig::from_json(cfg["model"].dump());
    mc.vocab_size = tok->vocab_size();
    models::GPT model(mc);
    Generator dropout_state;  // saved by train_gpt; not needed for sampling
    nn::load_checkpoint(run + "/" + which, model, nullptr, {{"dropout", &dropout_state}});
    model.to(device);  // checkpoints hold CPU tensors
    const std::vector<int32_t> prompt = tok->encode(cli.str("prompt"));
    if (prompt.empty()) throw CliError("the prompt encodes to no tokens");
    models::SamplingOptions so;
    so.max_new_tokens = cli.int64("tokens");
    so.temperature = cli.real("temperature");
    so.top_k = cli.int64("top-k");
    so.top_p = cli.real("top-p");
    Generator gen(static_cast<uint64_t>(cli.int64("seed")));
    so.gen = &gen;
    const std::vector<int32_t> out = models::generate(model, prompt, so);
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), out.begin(), out.end());
    std::printf("%s\n", tok->decode(all).c_str());
    return 0;
  } catch (const CliError& e) {
    std::fprintf(stderr, "generate: error: %s\n", e.what());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "generate: error: %s\n", e.message().c_str());
    return 2;
  }
}
