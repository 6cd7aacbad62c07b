// SPDX-License-Identifier: Apache-2.0
/// @brief Checkpoints: resuming from a checkpoint reproduces an uninterrupted run bit for bit
/// (model, AdamW state, schedule via step, dropout RNG); corrupted, truncated, incomplete or
/// mismatched checkpoints give clear errors and change nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <tessera/nn.h>
#include <tessera/nn/checkpoint.h>

using namespace tessera;
using namespace tessera::nn;
namespace fs = std::filesystem;

namespace {

struct Run {
  Generator init{1}, drop{2};
  std::shared_ptr<Sequential> net;
  std::unique_ptr<AdamW> opt;
  WarmupCosine sched{.warmup_steps = 2, .total_steps = 20, .min_factor = 0.1};
  Tensor x, y;
  explicit Run(int64_t hidden = 8) {
    net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
        std::make_shared<Linear>(3, hidden, true, kFloat32, &init), std::make_shared<GELU>(),
        std::make_shared<Dropout>(0.2, &drop),
        std::make_shared<Linear>(hidden, 4, true, kFloat32, &init)});
    opt = std::make_unique<AdamW>(decay_groups(net->named_parameters(), 1e-2, 0.1),
                                  AdamOptions{.lr = 1e-2});
    Generator data(3);
    x = randn({6, 3}, {}, &data);
    y = randint(0, 4, {6}, {.dtype = kInt64}, &data);
  }
  void train(int64_t from, int64_t to) {
    for (int64_t s = from; s < to; ++s) {
      sched.apply(*opt, s);
      opt->zero_grad();
      backward(F::cross_entropy(net->forward(x), y));
      opt->step();
    }
  }
};

std::string tmpdir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("tessera_ckpt_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p.string();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool same_params(const Module& a, const Module& b) {
  const auto da = a.state_dict(), db = b.state_dict();
  for (const auto& [n, t] : da)
    if (!native::equal(t, db.at(n))) return false;
  return da.size() == db.size();
}

}  // namespace

TEST_CASE("resuming from a checkpoint reproduces the uninterrupted run bit for bit",
          "[nn][checkpoint]") {
  const std::string dir = tmpdir("resume");
  Run a;
  a.train(0, 5);
  save_checkpoint(dir, *a.net, a.opt.get(), {{"dropout", &a.drop}},
                  {.step = 5, .config_json = R"({"hidden": 8})"});
  a.train(5, 10);

  Run b;  // fresh objects: different state until loaded
  CHECK_FALSE(same_params(*a.net, *b.net));
  const CheckpointInfo info = load_checkpoint(dir, *b.net, b.opt.get(), {{"dropout", &b.drop}});
  CHECK(info.step == 5);
  CHECK(info.config_json == R"({"hidden":8})");
  b.train(info.step, 10);
  CHECK(same_params(*a.net, *b.net));
  CHECK(b.drop.offset() == a.drop.offset());
  fs::remove_all(dir);
}

TEST_CASE("bad checkpoints give clear errors and leave model and optimizer unchanged",
          "[nn][checkpoint]") {
  const std::string dir = tmpdir("bad");
  Run a;
  a.train(0, 3);
  save_checkpoint(dir, *a.net, a.opt.get(), {{"dropout", &a.drop}}, {.step = 3});
  Run b;
  const StateDict before = b.net->state_dict();
  auto snapshot = [](const StateDict& d) {
    StateDict c;
    for (auto& [n, t] : d) c[n] = native::clone(t);
    return c;
  };
  const StateDict saved_before = snapshot(before);
  const TensorDict opt_before = snapshot(b.opt->state_dict());
  auto unchanged = [&] {
    for (auto& [n, t] : saved_before)
      if (!native::equal(t, b.net->state_dict().at(n))) return false;
    return b.opt->state_dict().at("state.0.step").item<int64_t>() ==
           opt_before.at("state.0.step").item<int64_t>();
  };
  const fs::path model = fs::path(dir) / "model.safetensors";
  const fs::path optf = fs::path(dir) / "optimizer.safetensors";
  const fs::path state = fs::path(dir) / "state.json";
  auto load = [&] { load_checkpoint(dir, *b.net, b.opt.get(), {{"dropout", &b.drop}}); };
  auto backup = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto restore = [](const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  };
  const std::string model_bytes = backup(model), opt_bytes = backup(optf),
                    state_bytes = backup(state);

  SECTION("a flipped byte in the model file") {
    std::string c = model_bytes;
    c[c.size() - 3] ^= 0x40;
    restore(model, c);
    CHECK(error_of(load).find("does not match its hash") != std::string::npos);
  }
  SECTION("a truncated optimizer file") {
    restore(optf, opt_bytes.substr(0, opt_bytes.size() / 2));
    CHECK(error_of(load).find("optimizer.safetensors has") != std::string::npos);
  }
  SECTION("no manifest (a save that never completed)") {
    fs::remove(state);
    CHECK(error_of(load).find("no state.json") != std::string::npos);
  }
  SECTION("a missing or malformed manifest") {
    restore(state, "{\"format\": \"tessera-checkpoint\", \"version\": 1, ");
    CHECK(error_of(load).find("invalid JSON") != std::string::npos);
    restore(state, R"({"format": "tessera-checkpoint", "version": 99})");
    CHECK(error_of(load).find("unsupported version") != std::string::npos);
  }
  SECTION("a model of another shape") {
    Run other(/*hidden=*/5);
    const std::string err = error_of([&] {
      load_checkpoint(dir, *other.net, nullptr, {{"dropout", &other.drop}});
    });
    CHECK(err.find("0.weight") != std::string::npos);
    CHECK(err.find("[5, 3]") != std::string::npos);
  }
  SECTION("generators must match by name") {
    Generator extra(9);
    CHECK(error_of([&] {
            load_checkpoint(dir, *b.net, b.opt.get(), {{"dropout", &b.drop}, {"data", &extra}});
          }).find("no valid state for generator 'data'") != std::string::npos);
    CHECK(error_of([&] { load_checkpoint(dir, *b.net, b.opt.get(), {}); }).find("did not pass") !=
          std::string::npos);
  }
  CHECK(unchanged());
  fs::remove_all(dir);
}
