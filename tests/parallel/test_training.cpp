// SPDX-License-Identifier: Apache-2.0
/// @brief Parallel training equals single-process training: data parallel, tensor parallel,
/// dp x tp, ZeRO-1, consolidated checkpoints moved between layouts, refused layouts.
///
/// The reference is models::GPT + nn::AdamW + nn::clip_grad_norm_ trained on the concatenated
/// global batch in one process (every rank computes it locally). The model is float64 so that the
/// only differences are summation order (cross-rank sums, split matmuls): tolerance 1e-9 absolute
/// on losses, gradients and parameters after 3 AdamW steps with clipping active.
/// Runs with 2 ranks (DP 2, TP 2) and 4 ranks (DP 4, TP 4, DP 2 x TP 2), each with and without
/// ZeRO-1.
#include <catch2/catch.hpp>

#include <filesystem>

#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/nn/checkpoint.h>
#include <tessera/nn/loss.h>
#include <tessera/ops.h>
#include <tessera/parallel/checkpoint.h>
#include <tessera/parallel/data_parallel.h>
#include <tessera/parallel/environment.h>
#include <tessera/parallel/mesh.h>
#include <tessera/parallel/parallel_gpt.h>
#include <tessera/parallel/zero.h>

#include "mpi_world.h"
#include "test_util.h"

using namespace tessera;
using namespace tessera::parallel;

namespace {

constexpr double kTol = 1e-9;
constexpr double kLr = 3e-2, kWd = 0.1, kClip = 0.5;  // clipping is active at these sizes
constexpr int64_t kBatch = 4, kSeq = 8;

models::GPTConfig config() {
  models::GPTConfig c;
  c.vocab_size = 12;
  c.context = 8;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 16;
  return c;
}

nn::AdamOptions adam() {
  return {.lr = kLr, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = kWd};
}

struct Batch {
  Tensor idx, tgt;
};
Batch global_batch(int step) {
  Generator g(1000 + static_cast<uint64_t>(step));
  return {randint(0, config().vocab_size, {kBatch, kSeq}, {.dtype = kInt64}, &g),
          randint(0, config().vocab_size, {kBatch, kSeq}, {.dtype = kInt64}, &g)};
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  if (a.numel() == 0) return 0;
  return native::amax(native::abs(native::sub(native::to(a, kFloat64), native::to(b, kFloat64))))
      .item<double>();
}

/// The single-process reference.
struct Reference {
  Generator gen{77};
  models::GPT model{config(), &gen};
  std::unique_ptr<nn::AdamW> opt;
  Reference() {
    model.to(kFloat64);
    opt = std::make_unique<nn::AdamW>(model.param_groups(kLr, kWd), adam());
  }
  double step(int s) {
    const Batch b = global_batch(s);
    opt->zero_grad();
    const Tensor loss = model.loss(b.idx, b.tgt);
    backward(loss);
    nn::clip_grad_norm_(model.parameters(), kClip);
    opt->step();
    return loss.item<double>();
  }
};

/// One rank of a parallel run.
struct ParallelRun {
  Mesh mesh;
  ParallelGPT model;
  std::unique_ptr<nn::Optimizer> opt;
  std::unique_ptr<DataParallel> dp;
  std::vector<bool> replicated;
  bool zero;

  ParallelRun(const Layout& layout, bool use_zero, const nn::StateDict& init)
      : mesh(test::world(), layout, nullptr), model(config(), mesh.tp_ptr()), zero(use_zero) {
    model.to(kFloat64);
    model.load_full_state_dict(init);
    auto groups = model.param_groups(kLr, kWd);
    for (const auto& g : groups)
      for (const Tensor& p : g.params)
        for (const auto& [n, t] : model.named_parameters())
          if (t.is_same(p)) replicated.push_back(ParallelGPT::spec_of(n).replicated());
    if (zero) {
      auto z = std::make_unique<ZeroAdamW>(groups, adam(), mesh.dp_ptr());
      z->set_grad_clip(kClip, replicated, mesh.tp_ptr());
      opt = std::move(z);
    } else {
      opt = std::make_unique<nn::AdamW>(groups, adam());
      // Small buckets: several per step, so bucketing itself is exercised.
      dp = std::make_unique<DataParallel>(model.parameters(), mesh.dp_ptr(),
                                          DataParallelOptions{.bucket_bytes = 4096});
    }
  }
  std::vector<Tensor> opt_params() const {
    std::vector<Tensor> out;
    for (const auto& g : opt->param_groups())
      out.insert(out.end(), g.params.begin(), g.params.end());
    return out;
  }
  /// Trains on this dp rank's rows of the global batch; returns the loss averaged over dp.
  double step(int s) {
    const Batch b = global_batch(s);
    const int64_t rows = kBatch / mesh.layout().dp;
    const Tensor idx = native::narrow(b.idx, 0, rows * mesh.dp_rank(), rows);
    const Tensor tgt = native::narrow(b.tgt, 0, rows * mesh.dp_rank(), rows);
    opt->zero_grad();
    const Tensor loss = model.loss(idx, tgt);
    if (zero) {
      backward(loss);
    } else {
      dp->backward(loss);
      clip_grad_norm_tp(opt_params(), replicated, kClip, mesh.tp());
    }
    opt->step();
    Tensor l = native::clone(loss);
    mesh.dp().all_reduce(l, ReduceOp::Avg);
    return l.item<double>();
  }
};

std::vector<Layout> layouts() {
  const int p = test::world()->size();
  std::vector<Layout> out = {{p, 1}, {1, p}};
  if (p == 4) out.push_back({2, 2});
  return out;
}

std::string name_of(const Layout& l, bool zero) {
  return "dp " + std::to_string(l.dp) + " x tp " + std::to_string(l.tp) + (zero ? " + ZeRO-1" : "");
}

}  // namespace

TEST_CASE("parallel training equals one process on the concatenated batch",
          "[parallel][training]") {
  for (const Layout& layout : layouts()) {
    for (bool zero : {false, true}) {
      INFO(name_of(layout, zero) << " on world rank " << test::world()->rank());
      Reference ref;
      ParallelRun run(layout, zero, ref.model.state_dict());
      // Step 0: loss and every gradient shard against the reference (before any update).
      {
        const Batch b = global_batch(0);
        const Tensor ref_loss = ref.model.loss(b.idx, b.tgt);
        backward(ref_loss);
        const int64_t rows = kBatch / layout.dp;
        const Tensor loss =
            run.model.loss(native::narrow(b.idx, 0, rows * run.mesh.dp_rank(), rows),
                           native::narrow(b.tgt, 0, rows * run.mesh.dp_rank(), rows));
        if (run.dp) {
          run.dp->backward(loss);
          // Every gradient goes through a bucket; the layout sends each gradient byte once.
          int64_t bytes = 0;
          for (const Tensor& p : run.model.parameters()) bytes += p.nbytes();
          CHECK(run.dp->last_stats().payload_bytes == bytes);
          CHECK(run.dp->num_buckets() > 1);
          // Every bucket started inside backward (the engine's gradient-ready hook).
          CHECK(run.dp->last_stats().launched_in_backward == run.dp->num_buckets());
          const auto rp = ref.model.named_parameters();
          const auto pp = run.model.named_parameters();
          for (size_t i = 0; i < rp.size(); ++i) {
            INFO(rp[i].first);
            const Tensor want =
                shard_parameter(rp[i].second.grad(), ParallelGPT::spec_of(rp[i].first),
                                run.mesh.tp_rank(), layout.tp);
            CHECK(max_abs_diff(pp[i].second.grad(), want) < kTol);
          }
        } else {
          backward(loss);
        }
        Tensor l = native::clone(loss);
        run.mesh.dp().all_reduce(l, ReduceOp::Avg);
        CHECK(std::abs(l.item<double>() - ref_loss.item<double>()) < kTol);
        ref.opt->zero_grad();
        run.opt->zero_grad();
      }
      for (int s = 0; s < 3; ++s) {
        const double want = ref.step(s), got = run.step(s);
        CHECK(std::abs(want - got) < kTol);
      }
      const nn::StateDict full = run.model.full_state_dict();
      for (const auto& [n, t] : ref.model.state_dict()) {
        INFO(n);
        CHECK(max_abs_diff(full.at(n), t) < kTol);
      }
    }
  }
}

TEST_CASE("checkpoints are consolidated and move between layouts", "[parallel][training]") {
  const int p = test::world()->size();
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("tessera_parallel_ckpt_np" + std::to_string(p)))
          .string();
  const std::vector<std::pair<Layout, Layout>> moves = {{{1, p}, {p, 1}}, {{p, 1}, {1, p}}};
  for (const auto& [from, to] : moves) {
    for (bool zero : {false, true}) {
      INFO(name_of(from, zero) << " -> " << name_of(to, !zero));
      Reference ref;
      {
        ParallelRun a(from, zero, ref.model.state_dict());
        for (int s = 0; s < 2; ++s) a.step(s);
        if (test::world()->rank() == 0) std::filesystem::remove_all(dir);
        test::world()->barrier();
        save_checkpoint(dir, a.mesh, a.model, *a.opt, {},
                        {.step = 2, .config_json = "{\"run\": 1}"});
      }
      for (int s = 0; s < 2; ++s) ref.step(s);
      // The files are nn::save_checkpoint's: a single-process model + AdamW loads them and holds
      // the reference's state.
      {
        Generator g(1);
        models::GPT single(config(), &g);
        single.to(kFloat64);
        nn::AdamW sopt(single.param_groups(kLr, kWd), adam());
        CHECK(nn::load_checkpoint(dir, single, &sopt, {}).step == 2);
        for (const auto& [n, t] : ref.model.state_dict())
          CHECK(max_abs_diff(single.state_dict().at(n), t) < kTol);
        const TensorDict want = ref.opt->state_dict(), got = sopt.state_dict();
        for (const auto& [k, t] : want) {
          INFO(k);
          CHECK(max_abs_diff(got.at(k), t) < kTol);
        }
      }
      // Resume in the other layout (and the other optimizer sharding); one more step matches.
      Generator scratch(3);
      models::GPT blank(config(), &scratch);
      blank.to(kFloat64);
      ParallelRun b(to, !zero, blank.state_dict());
      const nn::CheckpointInfo info = load_checkpoint(dir, b.mesh, b.model, *b.opt, {});
      CHECK(info.step == 2);
      const double want = ref.step(2), got = b.step(2);
      CHECK(std::abs(want - got) < kTol);
      const nn::StateDict full = b.model.full_state_dict();
      for (const auto& [n, t] : ref.model.state_dict()) {
        INFO(n);
        CHECK(max_abs_diff(full.at(n), t) < kTol);
      }
    }
  }
  test::world()->barrier();
  if (test::world()->rank() == 0) std::filesystem::remove_all(dir);
}

TEST_CASE("layouts that do not fit are refused on every rank before any work",
          "[parallel][training]") {
  const int p = test::world()->size();
  const models::GPTConfig cfg = config();
  CHECK_THROWS_WITH(Mesh(test::world(), {p, 2}, &cfg),
                    Catch::Contains("does not match the " + std::to_string(p) + " processes"));
  models::GPTConfig odd = cfg;
  odd.vocab_size = 13;
  CHECK_THROWS_WITH(Mesh(test::world(), {1, p}, &odd),
                    Catch::Contains("does not divide the vocabulary"));
  models::GPTConfig three = cfg;
  three.n_head = 3;
  three.n_embd = 12;
  CHECK_THROWS_WITH(Mesh(test::world(), {1, p}, &three),
                    Catch::Contains("does not divide the 3 attention heads"));
  test::world()->barrier();  // every rank refused, none is left waiting in a split
}

TEST_CASE("vocabulary-parallel cross-entropy equals cross-entropy of the full logits",
          "[parallel][training]") {
  auto world = test::world();
  const int p = world->size();
  Generator g(11);
  const int64_t n = 9, v = 4 * p;
  const Tensor full = mul(randn({n, v}, {.dtype = kFloat64}, &g), 5.0);
  const Tensor tgt = randint(0, v, {n}, {.dtype = kInt64}, &g);
  Tensor full_leaf = native::clone(full).requires_grad_(true);
  const Tensor ref = nn::functional::cross_entropy(full_leaf, tgt);
  backward(ref);
  Tensor local = native::clone(native::narrow(full, 1, 4 * world->rank(), 4)).requires_grad_(true);
  const Tensor loss = vocab_parallel_cross_entropy(local, tgt, *world, 4 * world->rank());
  CHECK(std::abs(loss.item<double>() - ref.item<double>()) < 1e-12);
  backward(loss);
  CHECK(max_abs_diff(local.grad(), native::narrow(full_leaf.grad(), 1, 4 * world->rank(), 4)) <
        1e-12);
  CHECK_THROWS_WITH(
      vocab_parallel_cross_entropy(local, full_like(tgt, Scalar(int64_t{v})), *world, 0),
      Catch::Contains("targets must be in"));
}

TEST_CASE("DataParallel: broadcast_parameters, unused parameters, one replica's gradients",
          "[parallel][training]") {
  auto world = test::world();
  const int p = world->size(), r = world->rank();
  Tensor used =
      full({3, 5}, Scalar(static_cast<double>(r)), {.dtype = kFloat64}).requires_grad_(true);
  Tensor unused = full({7}, Scalar(1.0 + r), {.dtype = kFloat32}).requires_grad_(true);
  DataParallel dp({used, unused}, world, {.bucket_bytes = 64});
  CHECK(dp.num_buckets() >= 2);  // 120 + 28 bytes in 64-byte buckets, one dtype per bucket
  dp.broadcast_parameters();
  CHECK(test::values(used) == std::vector<double>(15, 0.0));  // rank 0's values everywhere
  CHECK(test::values(unused) == std::vector<double>(7, 1.0));
  // loss_r = (r + 1) * sum(used): the average gradient is mean(r + 1) = (p + 1) / 2.
  dp.backward(mul(sum(used), static_cast<double>(r + 1)));
  CHECK(test::values(used.grad()) == std::vector<double>(15, (p + 1) / 2.0));
  REQUIRE(unused.grad().defined());  // zeros, so every rank sent the same buckets
  CHECK(test::values(unused.grad()) == std::vector<double>(7, 0.0));
  const auto& st = dp.last_stats();
  CHECK(st.payload_bytes == 15 * 8 + 7 * 4);
  CHECK(st.buckets == dp.num_buckets());
}

TEST_CASE(
    "DataParallel's progress thread: the same gradients (MPI_THREAD_MULTIPLE) or a clear error",
    "[parallel][training][progress]") {
  if (!Environment::thread_multiple()) {  // the default: MPI_THREAD_FUNNELED
    Tensor w = zeros({3}).requires_grad_(true);
    CHECK_THROWS_WITH(
        DataParallel({w}, test::world(), {.progress_thread = true}),
        Catch::Contains("MPI_THREAD_MULTIPLE") && Catch::Contains("TESSERA_DP_PROGRESS_THREAD=1"));
    return;
  }
  // ctest's parallel_progress_np*: TESSERA_DP_PROGRESS_THREAD=1. With tp > 1 the backward thread
  // calls MPI (tp all-reduces) while the progress thread tests the dp buckets.
  for (const Layout& layout : layouts()) {
    INFO(name_of(layout, false) << " on world rank " << test::world()->rank());
    Reference ref;
    const nn::StateDict init = ref.model.state_dict();
    std::vector<Tensor> grads[2];
    for (int threaded = 0; threaded < 2; ++threaded) {
      Mesh mesh(test::world(), layout, nullptr);
      ParallelGPT model(config(), mesh.tp_ptr());
      model.to(kFloat64);
      model.load_full_state_dict(init);
      DataParallel dp(
          model.parameters(), mesh.dp_ptr(),
          {.bucket_bytes = 4096, .progress_thread = threaded == 1, .progress_interval_us = 20});
      for (int s = 0; s < 2; ++s) {
        const Batch b = global_batch(s);
        const int64_t rows = kBatch / layout.dp;
        for (const Tensor& p : model.parameters()) p.set_grad(Tensor());
        dp.backward(model.loss(native::narrow(b.idx, 0, rows * mesh.dp_rank(), rows),
                               native::narrow(b.tgt, 0, rows * mesh.dp_rank(), rows)));
        CHECK(dp.last_stats().launched_in_backward == dp.num_buckets());
        CHECK((dp.last_stats().progress_polls > 0) == (threaded == 1));
      }
      for (const Tensor& p : model.parameters()) grads[threaded].push_back(native::clone(p.grad()));
    }
    for (size_t i = 0; i < grads[0].size(); ++i) CHECK(max_abs_diff(grads[0][i], grads[1][i]) == 0);
  }
}
