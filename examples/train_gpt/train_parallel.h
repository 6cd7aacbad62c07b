// SPDX-License-Identifier: Apache-2.0
/// @brief train_gpt's parallel loop (--dp N --tp N --zero 1 under mpirun): the same batches,
/// schedule, evals, metrics, checkpoints and resume as the single-process loop, on a dp x tp mesh.
///
/// The global batch of `batch` windows is the one the single-process trainer draws at each step;
/// data-parallel rank d trains on rows [d B/dp, (d+1) B/dp) of it, so a run at any layout follows
/// the single-process trajectory up to summation order. Checkpoints are consolidated
/// (parallel::save_checkpoint): --resume works across layouts, world sizes and the single-process
/// trainer. Only world rank 0 prints and writes files.
#pragma once

#include <memory>
#include <string>

#include <tessera/models/gpt.h>
#include <tessera/models/tokenizer.h>
#include <tessera/parallel/environment.h>
#include <tessera/parallel/mesh.h>

#include "data.h"

namespace tessera::examples {

struct ParallelTrainSettings {
  parallel::Layout layout;  ///< dp = 0: the world size / tp
  int zero = 0;             ///< ZeRO stage: 0 (AdamW replicated) or 1 (AdamW state sharded over dp)
  models::GPTConfig model;
  int64_t batch = 0, steps = 0, warmup = 0, eval_every = 0, eval_batches = 0, log_every = 0;
  int64_t sample_tokens = 0, stop_after = 0;
  double lr = 0, min_lr = 0, weight_decay = 0, grad_clip = 0, beta1 = 0, beta2 = 0;
  uint64_t seed = 0;
  std::string out, resume;
  std::string settings_json;  ///< config.json of a new run (written by rank 0)
};

/// Whether this process should start MPI: a parallel flag is on the command line, or mpirun
/// started it.
bool wants_parallel(int argc, char** argv);

/// Exit code as the single-process trainer: 0 done, 2 bad input (layout refused: every rank
/// prints why), 130 interrupted after saving.
int train_parallel(parallel::Environment& env, const ParallelTrainSettings& s,
                   const models::Tokenizer& tok, const TokenSplit& split);

}  // namespace tessera::examples
