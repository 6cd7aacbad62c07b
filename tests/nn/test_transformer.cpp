// SPDX-License-Identifier: Apache-2.0
/// @brief A two-layer Transformer encoder (pre-LN and post-LN, key padding mask) against a naive
/// float64 implementation written here with plain loops: forward values, and every parameter
/// gradient against central differences of the naive forward.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include <tessera/nn.h>

using namespace tessera;
using namespace tessera::nn;

namespace {

using Vec = std::vector<double>;
using Params = std::map<std::string, Vec>;
constexpr int64_t B = 2, T = 4, C = 8, H = 2, FF = 12, L = 2;

// ---- naive reference: x is (B*T, C) row-major --------------------------------------------------
Vec linear(const Vec& x, int64_t rows, int64_t in, const Vec& w, const Vec& b, int64_t out) {
  Vec y(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b[o];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

Vec layer_norm(const Vec& x, int64_t rows, const Vec& w, const Vec& b) {
  Vec y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mu = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mu += x[r * C + c];
    mu /= C;
    for (int64_t c = 0; c < C; ++c) var += (x[r * C + c] - mu) * (x[r * C + c] - mu);
    var /= C;
    for (int64_t c = 0; c < C; ++c)
      y[r * C + c] = (x[r * C + c] - mu) / std::sqrt(var + 1e-5) * w[c] + b[c];
  }
  return y;
}

Vec attention(const Vec& x, const Params& p, const std::string& pre, const std::vector<bool>& pad) {
  const Vec qkv =
      linear(x, B * T, C, p.at(pre + "c_attn.weight"), p.at(pre + "c_attn.bias"), 3 * C);
  const int64_t D = C / H;
  Vec heads(B * T * C);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> s(T);
        double mx = -1e300;
        for (int64_t j = 0; j < T; ++j) {
          if (pad[b * T + j]) {
            s[j] = -INFINITY;
            continue;
          }
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += qkv[(b * T + i) * 3 * C + h * D + d] * qkv[(b * T + j) * 3 * C + C + h * D + d];
          s[j] = dot / std::sqrt(static_cast<double>(D));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (int64_t j = 0; j < T; ++j) z += (s[j] = pad[b * T + j] ? 0.0 : std::exp(s[j] - mx));
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < T; ++j)
            acc += s[j] / z * qkv[(b * T + j) * 3 * C + 2 * C + h * D + d];
          heads[(b * T + i) * C + h * D + d] = acc;
        }
      }
  return linear(heads, B * T, C, p.at(pre + "c_proj.weight"), p.at(pre + "c_proj.bias"), C);
}

Vec mlp(const Vec& x, const Params& p, const std::string& pre) {
  Vec h = linear(x, B * T, C, p.at(pre + "c_fc.weight"), p.at(pre + "c_fc.bias"), FF);
  for (double& v : h) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  return linear(h, B * T, FF, p.at(pre + "c_proj.weight"), p.at(pre + "c_proj.bias"), C);
}

Vec add(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

Vec encoder(Vec x, const Params& p, bool pre_ln, const std::vector<bool>& pad) {
  for (int64_t l = 0; l < L; ++l) {
    const std::string k = std::to_string(l) + ".";
    auto ln = [&](const Vec& v, const char* n) {
      return layer_norm(v, B * T, p.at(k + n + ".weight"), p.at(k + n + ".bias"));
    };
    if (pre_ln) {
      x = add(x, attention(ln(x, "ln_1"), p, k + "attn.", pad));
      x = add(x, mlp(ln(x, "ln_2"), p, k + "mlp."));
    } else {
      x = ln(add(x, attention(x, p, k + "attn.", pad)), "ln_1");
      x = ln(add(x, mlp(x, p, k + "mlp.")), "ln_2");
    }
  }
  return x;
}

}  // namespace

TEST_CASE("two-layer Transformer encoder matches a naive float64 implementation (values and grads)",
          "[nn][transformer]") {
  const bool pre_ln = GENERATE(true, false);
  INFO("norm_first " << pre_ln);
  Generator g(7);
  auto layers = std::make_shared<ModuleList<TransformerEncoderLayer>>();
  for (int64_t l = 0; l < L; ++l)
    layers->push_back(
        std::make_shared<TransformerEncoderLayer>(TransformerLayerOptions{.d_model = C,
                                                                          .num_heads = H,
                                                                          .dim_feedforward = FF,
                                                                          .norm_first = pre_ln,
                                                                          .dtype = kFloat64,
                                                                          .gen = &g}));
  {
    NoGradGuard ng;
    for (auto& [n, p] : layers->named_parameters())
      if (n.find("ln_") != std::string::npos) {
        Tensor q = p;
        tessera::normal_(q, n.ends_with("weight") ? 1.0 : 0.0, 0.3, &g);
      }
  }
  const Tensor x = randn({B, T, C}, {.dtype = kFloat64}, &g);
  const Tensor proj = randn({B, T, C}, {.dtype = kFloat64}, &g);
  const std::vector<bool> pad = {false, false, false, false, false, false, false, true};
  const Tensor kpm = from_vector<bool>(pad, {B, T});

  auto forward = [&] {
    Tensor h = x;
    for (const auto& layer : *layers) h = layer->forward(h, kpm, false);
    return h;
  };
  Params p;
  for (auto& [n, t] : layers->named_parameters()) p[n] = to_vector<double>(t);
  const Vec xv = to_vector<double>(x), rv = to_vector<double>(proj);

  // Forward.
  const Vec ref = encoder(xv, p, pre_ln, pad);
  const Vec got = to_vector<double>(forward());
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(ref[i] - got[i]));
  INFO("forward max abs error " << worst);
  CHECK(worst < 1e-12);

  // Gradients of <proj, out> w.r.t. every parameter vs central differences of the naive model.
  Tensor loss = sum(mul(forward(), proj));
  auto named = layers->named_parameters();
  std::vector<Tensor> params;
  for (auto& [n, t] : named) params.push_back(t);
  const auto grads = autograd::grad({loss}, params);
  auto naive_loss = [&](const Params& q) {
    const Vec y = encoder(xv, q, pre_ln, pad);
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * rv[i];
    return s;
  };
  double worst_ratio = 0;
  std::string worst_where;
  for (size_t i = 0; i < named.size(); ++i) {
    const Vec an = to_vector<double>(grads[i]);
    Vec& w = p[named[i].first];
    for (size_t e = 0; e < w.size(); ++e) {
      const double orig = w[e];
      w[e] = orig + 1e-6;
      const double lp = naive_loss(p);
      w[e] = orig - 1e-6;
      const double lm = naive_loss(p);
      w[e] = orig;
      const double num = (lp - lm) / 2e-6;
      const double ratio = std::abs(an[e] - num) / (1e-6 + 1e-4 * std::abs(num));
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        worst_where = named[i].first + "[" + std::to_string(e) + "] analytic " +
                      std::to_string(an[e]) + " numeric " + std::to_string(num);
      }
    }
  }
  INFO("worst gradient element " << worst_where);
  CHECK(worst_ratio <= 1.0);

  // The float32 module agrees with the float64 reference to float32 accuracy.
  layers->to(kFloat32);
  Tensor h = native::to(x, kFloat32);
  for (const auto& layer : *layers) h = layer->forward(h, kpm, false);
  const Vec got32 = to_vector<double>(native::to(h, kFloat64));
  double worst32 = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst32 = std::max(worst32, std::abs(ref[i] - got32[i]));
  INFO("float32 forward max abs error " << worst32);
  CHECK(worst32 < 1e-4);
}
