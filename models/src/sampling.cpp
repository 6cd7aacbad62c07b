// SPDX-License-Identifier: Apache-2.0
/// @brief Token sampling and KV-cached generation for GPT.
#include <tessera/models/sampling.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <tessera/autograd/grad_mode.h>
#include <tessera/creation.h>
#include <tessera/native.h>
#include <tessera/philox.h>

namespace tessera::models {

int32_t sample_token(const std::vector<float>& logits, const SamplingOptions& o, Generator& gen) {
  TESSERA_CHECK(!logits.empty(), "sample_token: empty logits");
  TESSERA_CHECK(o.temperature >= 0 && o.top_p > 0 && o.top_p <= 1 && o.top_k >= 0,
                "sample_token: need temperature >= 0, top_p in (0, 1], top_k >= 0; got ",
                o.temperature, ", ", o.top_p, ", ", o.top_k);
  const int64_t v = static_cast<int64_t>(logits.size());
  if (o.temperature == 0.0) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  // Candidates sorted by logit (ties by id, so the order is deterministic).
  std::vector<int32_t> ids(static_cast<size_t>(v));
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  int64_t keep = o.top_k > 0 ? std::min(o.top_k, v) : v;
  std::vector<double> p(static_cast<size_t>(keep));
  const double top = logits[ids[0]];
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) {
    p[i] = std::exp((static_cast<double>(logits[ids[i]]) - top) / o.temperature);
    total += p[i];
  }
  if (o.top_p < 1.0) {  // smallest prefix whose mass reaches top_p
    double mass = 0;
    int64_t n = 0;
    while (n < keep) {
      mass += p[n++] / total;
      if (mass >= o.top_p) break;
    }
    keep = n;
    total = std::accumulate(p.begin(), p.begin() + keep, 0.0);
  }
  const U32x4 w = Philox4x32::generate(gen.seed(), gen.advance(1));
  const double u = uniform_double(w[0], w[1]) * total;
  double acc = 0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += p[i];
    if (u < acc) return ids[i];
  }
  return ids[keep - 1];
}

std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt,
                              const SamplingOptions& opts) {
  TESSERA_CHECK(!prompt.empty(), "generate: the prompt must hold at least one token");
  Generator& gen = opts.gen ? *opts.gen : default_generator();
  const bool was_training = model.is_training();
  model.eval();
  autograd::NoGradGuard no_grad;
  const int64_t ctx = model.config().context;
  const int64_t n_layer = model.config().n_layer;

  std::vector<int32_t> history = prompt;
  std::vector<int32_t> out;
  std::vector<nn::KVCache> caches(static_cast<size_t>(n_layer));
  // Token ids go to the model's device; only the last position's logits (V floats) come back.
  const Device device = model.wte->weight.device();
  // Feeds `tokens` through the cached model and returns the last position's logits.
  auto feed = [&](const std::vector<int32_t>& tokens) {
    std::vector<int64_t> ids(tokens.begin(), tokens.end());
    Tensor idx = from_vector(ids, {1, static_cast<int64_t>(ids.size())});
    if (!device.is_cpu()) idx = native::to(idx, device);
    const Tensor logits = model.forward(idx, caches);  // (1, T, V)
    return to_vector<float>(native::select(native::select(logits, 0, 0), 0, -1));
  };
  auto refill = [&] {  // restart the cache on the most recent context/2 tokens
    for (auto& c : caches) c.clear();
    const int64_t keep =
        std::min<int64_t>(static_cast<int64_t>(history.size()), std::max<int64_t>(ctx / 2, 1));
    return feed(std::vector<int32_t>(history.end() - keep, history.end()));
  };
  std::vector<float> logits =
      static_cast<int64_t>(history.size()) <= ctx ? feed(history) : refill();
  for (int64_t i = 0; i < opts.max_new_tokens; ++i) {
    const int32_t next = sample_token(logits, opts, gen);
    out.push_back(next);
    history.push_back(next);
    if (opts.stop_token && next == *opts.stop_token) break;
    if (i + 1 == opts.max_new_tokens) break;
    if (caches[0].length() + 1 > ctx)
      logits = refill();
    else
      logits = feed({next});
  }
  if (was_training) model.train();
  return out;
}

}  // namespace tessera::models
