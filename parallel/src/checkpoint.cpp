// SPDX-License-Identifier: Apache-2.0
/// @brief Consolidated checkpoints of ParallelGPT + (Zero)AdamW (see checkpoint.h).
#include <tessera/parallel/checkpoint.h>

#include <filesystem>

#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/parallel/zero.h>

namespace tessera::parallel {
namespace {

namespace fs = std::filesystem;

/// Parameter names in optimizer-index order (opt's groups hold the model's tensors).
std::vector<std::string> names_by_index(const ParallelGPT& model, const nn::Optimizer& opt) {
  std::vector<std::string> out;
  const auto named = model.named_parameters();
  for (const auto& g : opt.param_groups()) {
    for (const Tensor& p : g.params) {
      std::string found;
      for (const auto& [n, t] : named)
        if (t.is_same(p)) found = n;
      TESSERA_CHECK(!found.empty(), "parallel checkpoint: an optimizer parameter ", describe(p),
                    " is not a parameter of the model");
      out.push_back(found);
    }
  }
  return out;
}

/// "state.<i>.<buffer>" -> i, or -1 for other keys.
int64_t state_index(const std::string& key) {
  if (!key.starts_with("state.")) return -1;
  const size_t dot = key.find('.', 6);
  if (dot == std::string::npos || key.substr(dot + 1) == "step") return -1;
  return std::stoll(key.substr(6, dot - 6));
}

std::unique_ptr<nn::AdamW> full_optimizer(models::GPT& full, const nn::Optimizer& like) {
  const auto& g = like.param_groups();
  TESSERA_CHECK(g.size() == 2,
                "parallel checkpoint: expected the two GPT parameter groups (decay, "
                "no decay), got ",
                g.size());
  return std::make_unique<nn::AdamW>(full.param_groups(g[0].lr, g[0].weight_decay),
                                     nn::AdamOptions{});
}

}  // namespace

void save_checkpoint(const std::string& dir, const Mesh& mesh, const ParallelGPT& model,
                     const nn::Optimizer& opt,
                     const std::map<std::string, const Generator*>& generators,
                     const nn::CheckpointInfo& info) {
  const std::vector<std::string> names = names_by_index(model, opt);
  const nn::StateDict full_model = model.full_state_dict();  // collective over tp
  const auto* zero = dynamic_cast<const ZeroAdamW*>(&opt);
  const TensorDict local_opt = zero ? zero->full_state_dict() : opt.state_dict();  // over dp
  TensorDict full_opt;
  for (const auto& [key, t] : local_opt) {  // sorted keys: the same order on every tp rank
    const int64_t i = state_index(key);
    const ShardSpec spec =
        i < 0 ? ShardSpec{} : ParallelGPT::spec_of(names.at(static_cast<size_t>(i)));
    full_opt[key] = spec.replicated() || mesh.tp().size() == 1
                        ? t
                        : unshard_parameter(mesh.tp().all_gather(t), spec);
  }
  Tensor status = zeros({1}, {.dtype = kInt32});
  std::string error;
  if (mesh.is_root()) {
    try {
      Generator scratch(0);
      models::GPT full(model.config(), &scratch);
      full.to(model.parameters().front().dtype());
      full.load_state_dict(full_model, /*strict=*/true);
      auto adamw = full_optimizer(full, opt);
      adamw->load_state_dict(full_opt);
      // NOTE [checkpoint swap]: the new checkpoint is written beside the old one and swapped in
      // by two renames, so a rank dying mid-save never damages the previous checkpoint: at every
      // moment `dir` or `dir.previous` holds a complete one (load_checkpoint falls back).
      const fs::path target(dir), partial(dir + ".partial"), previous(dir + ".previous");
      fs::remove_all(partial);
      nn::save_checkpoint(partial.string(), full, adamw.get(), generators, info);
      fs::remove_all(previous);
      if (fs::exists(target)) fs::rename(target, previous);
      fs::rename(partial, target);
      fs::remove_all(previous);
    } catch (const std::exception& e) {
      error = e.what();
      native::fill_(status, Scalar(1));
    }
  }
  mesh.world().broadcast(status, 0);
  TESSERA_CHECK(status.item<int32_t>() == 0, "parallel save_checkpoint ", dir, ": failed on rank 0",
                error.empty() ? std::string(" (see its error)") : ": " + error);
}

nn::CheckpointInfo load_checkpoint(const std::string& dir, const Mesh& mesh, ParallelGPT& model,
                                   nn::Optimizer& opt,
                                   const std::map<std::string, Generator*>& generators) {
  const std::vector<std::string> names = names_by_index(model, opt);
  Generator scratch(0);
  models::GPT full(model.config(), &scratch);
  full.to(model.parameters().front().dtype());  // checkpoints keep the run's dtype
  auto adamw = full_optimizer(full, opt);
  // A save interrupted between its two renames (NOTE [checkpoint swap]) left `dir.previous`.
  const bool swapped_out = !fs::exists(fs::path(dir) / "state.json") &&
                           fs::exists(fs::path(dir + ".previous") / "state.json");
  const nn::CheckpointInfo info =
      nn::load_checkpoint(swapped_out ? dir + ".previous" : dir, full, adamw.get(), generators);
  TensorDict local_opt;
  const int tp_rank = mesh.tp().rank(), tp = mesh.tp().size();
  for (const auto& [key, t] : adamw->state_dict()) {
    const int64_t i = state_index(key);
    local_opt[key] =
        i < 0 ? t
              : shard_parameter(t, ParallelGPT::spec_of(names.at(static_cast<size_t>(i))), tp_rank,
                                tp);
  }
  model.load_full_state_dict(full.state_dict());
  if (auto* zero = dynamic_cast<ZeroAdamW*>(&opt))
    zero->load_full_state_dict(local_opt);
  else
    opt.load_state_dict(local_opt);
  return info;
}

}  // namespace tessera::parallel
