// SPDX-License-Identifier: Apache-2.0
/// @brief Dropout under dp x tp (parallel/dropout_rng.h): masks differ between data-parallel
/// replicas, agree between the tp ranks of a replica on replicated activations, differ between tp
/// ranks on sharded ones; runs are deterministic for a seed and layout; a run resumed from a
/// checkpoint draws the masks of the uninterrupted run, bit for bit.
/// Runs with 2 ranks (dp 2, tp 2) and 4 ranks (dp 4, tp 4, dp 2 x tp 2).
#include <catch2/catch.hpp>

#include <filesystem>

#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/ops.h>
#include <tessera/parallel/checkpoint.h>
#include <tessera/parallel/data_parallel.h>
#include <tessera/parallel/dropout_rng.h>
#include <tessera/parallel/mesh.h>
#include <tessera/parallel/parallel_gpt.h>

#include "mpi_world.h"

using namespace tessera;
using namespace tessera::parallel;

namespace {

constexpr uint64_t kDropoutSeed = 4242;

models::GPTConfig config(double dropout) {
  models::GPTConfig c;
  c.vocab_size = 12;
  c.context = 8;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 16;
  c.dropout = dropout;
  return c;
}

std::vector<Layout> layouts() {
  const int p = test::world()->size();
  std::vector<Layout> out = {{p, 1}, {1, p}};
  if (p == 4) out.push_back({2, 2});
  return out;
}

std::string name_of(const Layout& l) {
  return "dp " + std::to_string(l.dp) + " x tp " + std::to_string(l.tp);
}

/// Every rank's copy of `x` (float64), indexed by world rank.
std::vector<Tensor> gather(const Tensor& x) {
  const Tensor all = test::world()->all_gather(native::to(native::contiguous(x), kFloat64));
  std::vector<Tensor> out;
  for (int r = 0; r < test::world()->size(); ++r) out.push_back(native::select(all, 0, r));
  return out;
}

bool same_values(const Tensor& a, const Tensor& b) {
  return native::amax(native::abs(native::sub(a, b))).item<double>() == 0.0;
}

/// The same initial model on every rank (models::GPT's initialisation, seed 77).
nn::StateDict initial(const models::GPTConfig& cfg) {
  Generator g(77);
  models::GPT m(cfg, &g);
  m.to(kFloat64);
  return m.state_dict();
}

/// One rank's model, optimizer and data-parallel gradient averaging.
struct Run {
  Mesh mesh;
  Generator dropout_gen{kDropoutSeed};
  ParallelGPT model;
  std::unique_ptr<nn::AdamW> opt;
  std::unique_ptr<DataParallel> dp;
  Run(const Layout& layout, const models::GPTConfig& cfg)
      : mesh(test::world(), layout, &cfg),
        model(cfg, mesh.tp_ptr(), &dropout_gen, mesh.dp_rank(), layout.dp) {
    model.to(kFloat64);
    model.load_full_state_dict(initial(cfg));
    model.train();
    opt = std::make_unique<nn::AdamW>(model.param_groups(1e-2, 0.1), nn::AdamOptions{.lr = 1e-2});
    dp = std::make_unique<DataParallel>(model.parameters(), mesh.dp_ptr());
  }
  /// One step on this replica's rows of step s's batch; returns the local loss.
  double step(int s) {
    Generator g(500 + static_cast<uint64_t>(s));
    const int64_t b = 4, rows = b / mesh.layout().dp;
    const Tensor idx = randint(0, 12, {b, 8}, {.dtype = kInt64}, &g);
    const Tensor tgt = randint(0, 12, {b, 8}, {.dtype = kInt64}, &g);
    opt->zero_grad();
    const Tensor loss = model.loss(native::narrow(idx, 0, rows * mesh.dp_rank(), rows),
                                   native::narrow(tgt, 0, rows * mesh.dp_rank(), rows));
    dp->backward(loss);
    opt->step();
    return loss.item<double>();
  }
};

}  // namespace

TEST_CASE("dropout masks: per replica on replicated activations, per tp rank on sharded ones",
          "[parallel][dropout]") {
  const models::GPTConfig cfg = config(0.5);
  for (const Layout& layout : layouts()) {
    INFO(name_of(layout) << " on world rank " << test::world()->rank());
    Run run(layout, cfg);
    DropoutStreams& s = run.model.dropout_streams();
    Tensor rep, shard;
    {
      DropoutStreams::Draw d(s, DropoutRegion::Replicated);
      rep = bernoulli(0.5, {257}, {.dtype = kFloat64}, s.generator(DropoutRegion::Replicated));
    }
    {
      DropoutStreams::Draw d(s, DropoutRegion::Sharded);
      shard = bernoulli(0.5, {257}, {.dtype = kFloat64}, s.generator(DropoutRegion::Sharded));
    }
    const auto reps = gather(rep), shards = gather(shard);
    const Tensor offset =
        scalar_tensor(static_cast<double>(run.dropout_gen.offset()), {.dtype = kFloat64});
    for (const Tensor& o : gather(offset)) CHECK(o.item<double>() == 2 * 65);  // 257 / 4 -> 65
    for (int a = 0; a < test::world()->size(); ++a)
      for (int b = a + 1; b < test::world()->size(); ++b) {
        INFO("world ranks " << a << " and " << b);
        const bool same_replica = a / layout.tp == b / layout.tp;
        CHECK(same_values(reps[a], reps[b]) == same_replica);
        CHECK(!same_values(shards[a], shards[b]));
      }

    // In the model: with every rank on the same tokens, the replicated parameters' gradients
    // (LayerNorms, wpe, row-parallel biases) are equal on the tp ranks of a replica only if
    // their masks on the replicated activations are; the replicas' losses differ.
    Generator g(9);
    const Tensor idx = randint(0, cfg.vocab_size, {2, 8}, {.dtype = kInt64}, &g);
    const Tensor tgt = randint(0, cfg.vocab_size, {2, 8}, {.dtype = kInt64}, &g);
    const Tensor loss = run.model.loss(idx, tgt);
    backward(loss);  // no data-parallel averaging: each replica keeps its own gradients
    const auto losses = gather(loss);
    for (const auto& [name, p] : run.model.named_parameters()) {
      if (!ParallelGPT::spec_of(name).replicated()) continue;
      INFO(name);
      const auto grads = gather(p.grad());
      for (int r = 0; r < test::world()->size(); ++r) {
        const int first = r / layout.tp * layout.tp;  // tp rank 0 of r's replica
        CHECK(native::amax(native::abs(native::sub(grads[r], grads[first]))).item<double>() <
              1e-12);
      }
    }
    for (int a = 0; a < test::world()->size(); ++a)
      for (int b = a + 1; b < test::world()->size(); ++b)
        CHECK((std::abs(losses[a].item<double>() - losses[b].item<double>()) < 1e-12) ==
              (a / layout.tp == b / layout.tp));
  }
}

TEST_CASE("dropout runs are deterministic and resume bit for bit", "[parallel][dropout]") {
  const models::GPTConfig cfg = config(0.2);
  const int p = test::world()->size();
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("tessera_dropout_ckpt_np" + std::to_string(p)))
          .string();
  for (const Layout& layout : layouts()) {
    INFO(name_of(layout) << " on world rank " << test::world()->rank());
    std::vector<double> a, b;
    {
      Run run(layout, cfg);
      for (int s = 0; s < 4; ++s) {
        a.push_back(run.step(s));
        if (s == 1) {
          if (test::world()->rank() == 0) std::filesystem::remove_all(dir);
          test::world()->barrier();
          save_checkpoint(dir, run.mesh, run.model, *run.opt, {{"dropout", &run.dropout_gen}},
                          {.step = 2, .config_json = "{}"});
        }
      }
    }
    {
      Run run(layout, cfg);  // the same seed and layout: the same losses, bit for bit
      for (int s = 0; s < 4; ++s) b.push_back(run.step(s));
    }
    CHECK(a == b);
    {
      Run run(layout, config(0.2));
      run.dropout_gen.set_state(1, 0);  // overwritten by the checkpoint
      CHECK(load_checkpoint(dir, run.mesh, run.model, *run.opt, {{"dropout", &run.dropout_gen}})
                .step == 2);
      CHECK(run.dropout_gen.seed() == kDropoutSeed);
      const double s2 = run.step(2), s3 = run.step(3);
      CHECK(s2 == a[2]);
      CHECK(s3 == a[3]);
    }
  }
  test::world()->barrier();
  if (test::world()->rank() == 0) std::filesystem::remove_all(dir);
}
