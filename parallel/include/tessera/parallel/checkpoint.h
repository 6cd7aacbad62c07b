// SPDX-License-Identifier: Apache-2.0
/// @brief Checkpoints of a parallel run, consolidated: the files nn::save_checkpoint writes for the
/// unsharded models::GPT and nn::AdamW, whatever the layout, so any layout (or a single process,
/// or examples/generate) loads them.
///
/// save_checkpoint (collective over the mesh): parameters are all-gathered over tp and unsharded;
/// optimizer state is all-gathered over dp (ZeroAdamW) and tp; world rank 0 loads the result into a
/// full models::GPT + nn::AdamW, writes it with nn::save_checkpoint to `dir.partial` and swaps it
/// in with two renames (`dir` -> `dir.previous`, `dir.partial` -> `dir`), so a job killed mid-save
/// keeps its previous checkpoint complete. Rank 0 then broadcasts success or failure, so every rank
/// returns or throws together.
/// load_checkpoint: every rank validates and reads the full checkpoint with nn::load_checkpoint
/// (into a full model, so a bad checkpoint fails identically everywhere before anything changes),
/// then keeps its shard of parameters and optimizer state. If `dir` has no state.json but
/// `dir.previous` has (a save killed between its renames), that one is loaded.
#pragma once

#include <map>
#include <string>

#include <tessera/nn/checkpoint.h>
#include <tessera/nn/optim.h>
#include <tessera/parallel/mesh.h>
#include <tessera/parallel/parallel_gpt.h>

namespace tessera::parallel {

/// `opt`: an nn::Adam/AdamW over model.param_groups(...) or a ZeroAdamW over the same groups.
void save_checkpoint(const std::string& dir, const Mesh& mesh, const ParallelGPT& model,
                     const nn::Optimizer& opt,
                     const std::map<std::string, const Generator*>& generators,
                     const nn::CheckpointInfo& info);

nn::CheckpointInfo load_checkpoint(const std::string& dir, const Mesh& mesh, ParallelGPT& model,
                                   nn::Optimizer& opt,
                                   const std::map<std::string, Generator*>& generators);

}  // namespace tessera::parallel
