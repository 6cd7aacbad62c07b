// SPDX-License-Identifier: Apache-2.0
/// @brief tessera::parallel without MPI: LocalCommunicator, layout checks, DistributedSampler,
/// parameter sharding, and the world-size-1 equivalences (ParallelGPT with tp = 1 is models::GPT,
/// ZeroAdamW with dp = 1 is nn::AdamW, consolidated checkpoints load into models::GPT).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include <tessera/creation.h>
#include <tessera/autograd/hooks.h>
#include <tessera/native.h>
#include <tessera/nn/checkpoint.h>
#include <tessera/ops.h>
#include <tessera/parallel/checkpoint.h>
#include <tessera/parallel/data_parallel.h>
#include <tessera/parallel/dropout_rng.h>
#include <tessera/parallel/mesh.h>
#include <tessera/parallel/parallel_gpt.h>
#include <tessera/parallel/sampler.h>
#include <tessera/parallel/zero.h>

#include "test_util.h"

using namespace tessera;
using namespace tessera::parallel;

namespace {
models::GPTConfig tiny_config() {
  models::GPTConfig c;
  c.vocab_size = 12;
  c.context = 8;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_embd = 16;
  return c;
}
double max_abs_diff(const Tensor& a, const Tensor& b) {
  return native::amax(native::abs(native::sub(native::to(a, kFloat64), native::to(b, kFloat64))))
      .item<double>();
}
}  // namespace

TEST_CASE("LocalCommunicator: collectives of a world of one", "[parallel][local]") {
  LocalCommunicator c;
  Tensor x = tensor({1.0f, 2.0f, 3.0f});
  c.all_reduce(x, ReduceOp::Avg);
  CHECK(test::values(x) == std::vector<double>{1, 2, 3});
  CHECK(c.all_gather(x).shape() == Shape{1, 3});
  CHECK(test::values(c.reduce_scatter(native::unsqueeze(x, 0))) == std::vector<double>{1, 2, 3});
  Tensor ints = zeros({2}, {.dtype = kInt64});
  CHECK_THROWS_WITH(c.all_reduce(ints, ReduceOp::Avg),
                    Catch::Contains("avg needs a floating tensor"));
  CHECK_THROWS_WITH(c.send(x, 0), Catch::Contains("not another rank"));
  CHECK_THROWS_WITH(c.reduce_scatter(zeros({2, 3})), Catch::Contains("leading dim"));
  CHECK(c.split(0, 0)->size() == 1);
}

TEST_CASE("layouts that do not fit are refused with the reason", "[parallel][local]") {
  const models::GPTConfig cfg = tiny_config();  // 4 heads, vocabulary 12
  CHECK(check_layout(4, {2, 2}, &cfg).empty());
  CHECK(check_layout(4, {4, 1}, &cfg).empty());
  CHECK_THAT(check_layout(4, {2, 1}, &cfg), Catch::Contains("does not match the 4 processes"));
  CHECK_THAT(check_layout(3, {1, 3}, &cfg),
             Catch::Contains("does not divide the 4 attention heads"));
  models::GPTConfig odd = cfg;
  odd.vocab_size = 13;
  CHECK_THAT(check_layout(2, {1, 2}, &odd),
             Catch::Contains("does not divide the vocabulary of 13"));
  CHECK_THAT(check_layout(1, {0, 1}, &cfg), Catch::Contains(">= 1"));
  CHECK_THROWS_WITH(Mesh(std::make_shared<LocalCommunicator>(), {2, 1}),
                    Catch::Contains("parallel layout refused"));
  Mesh m(std::make_shared<LocalCommunicator>(), {1, 1}, &cfg);
  CHECK(m.dp().size() == 1);
  CHECK(m.tp().size() == 1);
}

TEST_CASE("DistributedSampler: disjoint, covering, seed- and epoch-deterministic shards",
          "[parallel][local]") {
  for (int64_t n : {0, 1, 12, 13}) {
    for (int replicas : {1, 2, 3, 4}) {
      std::multiset<int64_t> all;
      for (int r = 0; r < replicas; ++r) {
        DistributedSampler s(n, replicas, r, 42);
        const auto idx = s.indices(3);
        CHECK(static_cast<int64_t>(idx.size()) == s.num_samples());
        CHECK(idx == DistributedSampler(n, replicas, r, 42).indices(3));  // deterministic
        all.insert(idx.begin(), idx.end());
      }
      // Every index appears; only the padding (n not divisible) repeats indices.
      for (int64_t i = 0; i < n; ++i) CHECK(all.count(i) >= 1);
      CHECK(static_cast<int64_t>(all.size()) == (n + replicas - 1) / replicas * replicas);
      if (n % replicas == 0) CHECK(std::set<int64_t>(all.begin(), all.end()).size() == all.size());
    }
  }
  DistributedSampler s(100, 2, 0, 7);
  CHECK(s.indices(0) != s.indices(1));                                 // reshuffled each epoch
  CHECK(s.indices(0) != DistributedSampler(100, 2, 0, 8).indices(0));  // seed matters
  CHECK(DistributedSampler(13, 4, 3, 1, true, /*drop_last=*/true).indices(0).size() == 3);
  std::vector<int64_t> plain = DistributedSampler(6, 2, 1, 0, /*shuffle=*/false).indices(0);
  CHECK(plain == std::vector<int64_t>{1, 3, 5});
}

TEST_CASE("shard_parameter / unshard_parameter round trip, including [q; k; v] blocks",
          "[parallel][local]") {
  const Tensor full = arange(Scalar(0.0), Scalar(72.0), Scalar(1.0), {.dtype = kFloat64});
  const Tensor w = native::reshape(full, {12, 6});
  for (ShardSpec spec : {ShardSpec{0, 1}, ShardSpec{0, 3}, ShardSpec{1, 1}, ShardSpec{}}) {
    for (int tp : {1, 2}) {
      std::vector<Tensor> shards;
      for (int r = 0; r < tp; ++r) shards.push_back(shard_parameter(w, spec, r, tp));
      CHECK(test::bitwise_equal(unshard_parameter(native::stack(shards), spec), w));
    }
  }
  // Rank 1 of 2 with groups 3 holds rows 2-3 (q), 6-7 (k), 10-11 (v) of 12.
  const Tensor s = shard_parameter(w, {0, 3}, 1, 2);
  CHECK(test::get(s, {0, 0}) == 12);
  CHECK(test::get(s, {2, 0}) == 36);
  CHECK(test::get(s, {4, 0}) == 60);
}

TEST_CASE("ParallelGPT with tp = 1 is models::GPT (same names, forward, loss, gradients)",
          "[parallel][local]") {
  const models::GPTConfig cfg = tiny_config();
  Generator gen(5);
  models::GPT ref(cfg, &gen);
  ref.to(kFloat64);
  ParallelGPT par(cfg, std::make_shared<LocalCommunicator>());
  par.to(kFloat64);
  par.load_full_state_dict(ref.state_dict());
  std::vector<std::string> a, b;
  for (auto& [n, t] : ref.named_parameters()) a.push_back(n);
  for (auto& [n, t] : par.named_parameters()) b.push_back(n);
  CHECK(a == b);
  Generator data(9);
  const Tensor idx = randint(0, cfg.vocab_size, {3, 7}, {.dtype = kInt64}, &data);
  const Tensor tgt = randint(0, cfg.vocab_size, {3, 7}, {.dtype = kInt64}, &data);
  CHECK(max_abs_diff(ref.forward(idx), par.forward(idx)) < 1e-12);
  const Tensor l1 = ref.loss(idx, tgt), l2 = par.loss(idx, tgt);
  CHECK(std::abs(l1.item<double>() - l2.item<double>()) < 1e-12);
  backward(l1);
  backward(l2);
  const auto pr = ref.named_parameters(), pp = par.named_parameters();
  for (size_t i = 0; i < pr.size(); ++i) {
    INFO(pr[i].first);
    CHECK(max_abs_diff(pr[i].second.grad(), pp[i].second.grad()) < 1e-12);
  }
}

TEST_CASE("ZeroAdamW with one rank is nn::AdamW, and its state round-trips", "[parallel][local]") {
  Generator gen(3);
  auto make = [&](uint64_t seed) {
    Generator g(seed);
    std::vector<Tensor> ps = {randn({5, 3}, {.dtype = kFloat64}, &g).requires_grad_(true),
                              randn({7}, {.dtype = kFloat64}, &g).requires_grad_(true)};
    return ps;
  };
  auto a = make(1), b = make(1);
  nn::AdamOptions o{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.9, .eps = 1e-8, .weight_decay = 0.1};
  nn::AdamW plain({nn::ParamGroup{{a[0]}, 0.01, 0.1}, nn::ParamGroup{{a[1]}, 0.01, 0.0}}, o);
  ZeroAdamW zero({nn::ParamGroup{{b[0]}, 0.01, 0.1}, nn::ParamGroup{{b[1]}, 0.01, 0.0}}, o,
                 std::make_shared<LocalCommunicator>());
  for (int step = 0; step < 4; ++step) {
    Generator g(100 + step);
    for (size_t i = 0; i < 2; ++i) {
      const Tensor grad = randn(a[i].shape(), {.dtype = kFloat64}, &g);
      a[i].set_grad(native::clone(grad));
      b[i].set_grad(native::clone(grad));
    }
    plain.step();
    zero.step();
  }
  for (size_t i = 0; i < 2; ++i) CHECK(test::bitwise_equal(a[i], b[i]));
  const TensorDict sa = plain.state_dict(), sb = zero.full_state_dict();
  REQUIRE(sa.size() == sb.size());
  for (const auto& [k, t] : sa) {
    INFO(k);
    CHECK(test::bitwise_equal(t, sb.at(k)));
  }
  ZeroAdamW again({nn::ParamGroup{{b[0]}, 0.01, 0.1}, nn::ParamGroup{{b[1]}, 0.01, 0.0}}, o,
                  std::make_shared<LocalCommunicator>());
  again.load_full_state_dict(sb);
  for (const auto& [k, t] : again.full_state_dict()) CHECK(test::bitwise_equal(t, sb.at(k)));
}

TEST_CASE("a parallel checkpoint from one process loads into models::GPT", "[parallel][local]") {
  const models::GPTConfig cfg = tiny_config();
  Generator gen(5);
  models::GPT ref(cfg, &gen);
  auto world = std::make_shared<LocalCommunicator>();
  Mesh mesh(world, {1, 1}, &cfg);
  ParallelGPT par(cfg, mesh.tp_ptr());
  par.load_full_state_dict(ref.state_dict());
  nn::AdamW opt(par.param_groups(1e-3, 0.1), {});
  DataParallel dp(par.parameters(), mesh.dp_ptr());
  Generator data(1);
  const Tensor idx = randint(0, cfg.vocab_size, {2, 8}, {.dtype = kInt64}, &data);
  dp.backward(par.loss(idx, idx));
  opt.step();
  const std::string dir =
      (std::filesystem::temp_directory_path() / "tessera_parallel_local_ckpt").string();
  std::filesystem::remove_all(dir);
  save_checkpoint(dir, mesh, par, opt, {}, {.step = 1, .config_json = "{}"});
  models::GPT loaded(cfg, &gen);
  nn::AdamW lopt(loaded.param_groups(1e-3, 0.1), {});
  CHECK(nn::load_checkpoint(dir, loaded, &lopt, {}).step == 1);
  for (auto& [n, t] : loaded.state_dict()) CHECK(test::bitwise_equal(t, par.state_dict().at(n)));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a save killed mid-way never damages the previous checkpoint", "[parallel][local]") {
  const models::GPTConfig cfg = tiny_config();
  Generator gen(5);
  models::GPT ref(cfg, &gen);
  Mesh mesh(std::make_shared<LocalCommunicator>(), {1, 1}, &cfg);
  ParallelGPT par(cfg, mesh.tp_ptr());
  par.load_full_state_dict(ref.state_dict());
  nn::AdamW opt(par.param_groups(1e-3, 0.1), {});
  namespace fs = std::filesystem;
  const std::string dir = (fs::temp_directory_path() / "tessera_parallel_swap").string();
  fs::remove_all(dir);
  save_checkpoint(dir, mesh, par, opt, {}, {.step = 1, .config_json = "{}"});
  save_checkpoint(dir, mesh, par, opt, {}, {.step = 2, .config_json = "{}"});  // overwrite
  CHECK(!fs::exists(dir + ".partial"));
  CHECK(!fs::exists(dir + ".previous"));
  // Killed after moving the old checkpoint aside, before the new one was renamed into place.
  fs::rename(dir, dir + ".previous");
  fs::create_directories(dir + ".partial");
  std::ofstream(dir + ".partial/model.safetensors") << "half-written";
  CHECK(load_checkpoint(dir, mesh, par, opt, {}).step == 2);
  // Killed while writing the new files: `dir` is untouched and loads.
  fs::rename(dir + ".previous", dir);
  CHECK(load_checkpoint(dir, mesh, par, opt, {}).step == 2);
  save_checkpoint(dir, mesh, par, opt, {}, {.step = 3, .config_json = "{}"});  // cleans .partial
  CHECK(!fs::exists(dir + ".partial"));
  CHECK(load_checkpoint(dir, mesh, par, opt, {}).step == 3);
  fs::remove_all(dir);
}

TEST_CASE("GradReadyGuard: once per leaf, after its last contribution, before backward ends",
          "[parallel][local][autograd]") {
  Tensor w1 = tensor({1.0, 2.0}, {.dtype = kFloat64}).requires_grad_(true);
  Tensor w2 = tensor({3.0, 4.0}, {.dtype = kFloat64}).requires_grad_(true);
  // w1 is used twice (two AccumulateGrad nodes); w2 once, late in forward (so early in backward).
  const Tensor h = mul(w1, 2.0);
  const Tensor loss = sum(mul(add(h, w1), w2));
  std::vector<std::pair<std::string, std::vector<double>>> seen;
  {
    autograd::GradReadyGuard guard([&](const Tensor& leaf) {
      seen.emplace_back(leaf.is_same(w1)   ? "w1"
                        : leaf.is_same(w2) ? "w2"
                                           : "?",
                        test::values(leaf.grad()));
    });
    backward(loss);
  }
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].first == "w2");  // ready first: its only use is the last op
  CHECK(seen[0].second == std::vector<double>{3.0, 6.0});
  CHECK(seen[1].first == "w1");  // fired once, with both contributions (3 * w2) accumulated
  CHECK(seen[1].second == std::vector<double>{9.0, 12.0});
  // Without a guard nothing is called; autograd::grad never calls it.
  seen.clear();
  zero_grad({w1, w2});
  backward(sum(mul(w1, w2)));
  {
    autograd::GradReadyGuard guard(
        [&](const Tensor&) { seen.emplace_back("x", std::vector<double>{}); });
    autograd::grad({sum(mul(w1, w2))}, {w1});
  }
  CHECK(seen.empty());
}

TEST_CASE("dropout keys: one per replica for replicated, one per (replica, tp rank) for sharded",
          "[parallel][local][dropout]") {
  using R = DropoutRegion;
  const uint64_t s = 1234;
  // One replica keeps the generator's own stream where nothing distinguishes the ranks.
  CHECK(dropout_key(s, {1, 1}, 0, 0, R::Replicated) == s);
  CHECK(dropout_key(s, {1, 1}, 0, 0, R::Sharded) == s);
  CHECK(dropout_key(s, {1, 4}, 0, 2, R::Replicated) == s);
  // Every (layout, rank, region) stream is distinct, except replicated == sharded at tp 1.
  std::set<uint64_t> keys;
  int streams = 0;
  for (const Layout l : {Layout{1, 1}, Layout{2, 1}, Layout{1, 2}, Layout{2, 2}, Layout{4, 1},
                         Layout{1, 4}, Layout{4, 2}})
    for (int d = 0; d < l.dp; ++d) {
      for (int t = 0; t < l.tp; ++t) keys.insert(dropout_key(s, l, d, t, R::Sharded));
      keys.insert(dropout_key(s, l, d, 0, R::Replicated));
      streams += l.tp > 1 ? l.tp + 1 : 1;
      for (int t = 1; t < l.tp; ++t)  // the tp ranks of a replica share its replicated key
        CHECK(dropout_key(s, l, d, t, R::Replicated) == dropout_key(s, l, d, 0, R::Replicated));
    }
  // {1, 1} and {1, 2}, {1, 4} share the seed for the replicated stream.
  CHECK(keys.size() == static_cast<size_t>(streams - 2));
  CHECK(dropout_key(s + 1, {2, 1}, 1, 0, R::Replicated) !=
        dropout_key(s, {2, 1}, 1, 0, R::Replicated));
  CHECK_THROWS_WITH(dropout_key(s, {2, 2}, 2, 0, R::Replicated),
                    Catch::Contains("outside the layout dp 2 x tp 2"));
}

TEST_CASE("ParallelGPT with dropout at dp = tp = 1 draws models::GPT's masks",
          "[parallel][local][dropout]") {
  models::GPTConfig cfg = tiny_config();
  cfg.dropout = 0.3;
  Generator init(5), ref_drop(77), par_drop(77);
  models::GPT ref(cfg, &init, &ref_drop);
  ref.to(kFloat64);
  ParallelGPT par(cfg, std::make_shared<LocalCommunicator>(), &par_drop);
  par.to(kFloat64);
  par.load_full_state_dict(ref.state_dict());
  // models::GPT's blocks also hand their generator to the Linear initialisers (then overwritten):
  // start from where its construction left the stream.
  par_drop.set_state(ref_drop.seed(), ref_drop.offset());
  Generator data(9);
  const Tensor idx = randint(0, cfg.vocab_size, {3, 7}, {.dtype = kInt64}, &data);
  const Tensor tgt = randint(0, cfg.vocab_size, {3, 7}, {.dtype = kInt64}, &data);
  for (int step = 0; step < 2; ++step) {
    const Tensor l1 = ref.loss(idx, tgt), l2 = par.loss(idx, tgt);
    CHECK(std::abs(l1.item<double>() - l2.item<double>()) < 1e-12);
    CHECK(ref_drop.offset() == par_drop.offset());  // the run's generator holds the counter
    CHECK(par_drop.seed() == 77);
    backward(l1);
    backward(l2);
    const auto pr = ref.named_parameters(), pp = par.named_parameters();
    for (size_t i = 0; i < pr.size(); ++i) {
      INFO(pr[i].first);
      CHECK(max_abs_diff(pr[i].second.grad(), pp[i].second.grad()) < 1e-12);
    }
  }
  // The masks really are random: another seed gives another loss.
  Generator other(78);
  ParallelGPT par2(cfg, std::make_shared<LocalCommunicator>(), &other);
  par2.to(kFloat64);
  par2.load_full_state_dict(ref.state_dict());
  CHECK(std::abs(par2.loss(idx, tgt).item<double>() - ref.loss(idx, tgt).item<double>()) > 1e-6);
}
