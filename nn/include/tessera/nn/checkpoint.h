// SPDX-License-Identifier: Apache-2.0
/// @brief Training checkpoints: model + optimizer (incl. schedule lrs) + RNG states + step + a
/// user config, saved to a directory and restored all-or-nothing.
///
/// Layout of `dir`:
///   model.safetensors      Module::state_dict()            (tessera::save, atomic)
///   optimizer.safetensors  Optimizer::state_dict(), if any  (tessera::save, atomic)
///   state.json             {"format": "tessera-checkpoint", "version": 1, "step", "config",
///                           "generators": {name: {"seed", "offset"}},
///                           "files": {name: {"size", "fnv1a64"}}}   written last, atomically
/// state.json is the commit record: it names the size and FNV-1a-64 hash of each tensor file, so a
/// checkpoint interrupted between files, truncated or corrupted is rejected at load instead of
/// being half-applied. Schedules are pure functions of the step, so the step restores them.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <tessera/nn/module.h>
#include <tessera/nn/optim.h>
#include <tessera/random.h>

namespace tessera::nn {

struct CheckpointInfo {
  int64_t step = 0;
  std::string config_json = "{}";  ///< any JSON value, stored and returned verbatim (re-serialised)
};

/// Writes the checkpoint (creating `dir` if needed). `opt` may be null. Generators are saved by
/// name as (seed, offset).
void save_checkpoint(const std::string& dir, const Module& model, const Optimizer* opt,
                     const std::map<std::string, const Generator*>& generators,
                     const CheckpointInfo& info);

/// Validates everything (manifest, hashes, safetensors structure, every key/shape/dtype of the
/// model and optimizer, generator names) and only then restores model, optimizer and generators.
/// Any problem throws tessera::Error naming the file and the issue, leaving all objects unchanged.
CheckpointInfo load_checkpoint(const std::string& dir, Module& model, Optimizer* opt,
                               const std::map<std::string, Generator*>& generators);

}  // namespace tessera::nn
