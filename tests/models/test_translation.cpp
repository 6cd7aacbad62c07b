// SPDX-License-Identifier: Apache-2.0
/// @brief TransformerMT: config JSON, padding masks, KV-cached decoding == full decoding, greedy ==
/// beam 1, beam search == exhaustive search on a tiny vocabulary, data pipeline.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>

#include <unistd.h>

#include <tessera/autograd/grad_mode.h>
#include <tessera/creation.h>
#include <tessera/models/beam_search.h>
#include <tessera/models/transformer_mt.h>
#include <tessera/models/translation_data.h>
#include <tessera/native.h>
#include <tessera/ops.h>

using namespace tessera;
using namespace tessera::models;

namespace {

TransformerMTConfig tiny(bool pre_ln = true, const std::string& pos = "sinusoidal",
                         bool share = true, int64_t vocab = 23) {
  TransformerMTConfig c;
  c.vocab_size = vocab;
  c.d_model = 16;
  c.encoder_layers = 2;
  c.decoder_layers = 2;
  c.num_heads = 2;
  c.dim_feedforward = 24;
  c.dropout = 0.0;
  c.pre_ln = pre_ln;
  c.positions = pos;
  c.max_positions = 40;
  c.share_embeddings = share;
  return c;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = to_vector<float>(native::contiguous(a));
  const auto y = to_vector<float>(native::contiguous(b));
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(static_cast<double>(x[i]) - y[i]));
  return m;
}

std::vector<int32_t> random_seq(std::mt19937& rng, int64_t len, int64_t vocab, bool eos) {
  std::uniform_int_distribution<int32_t> d(3,
                                           static_cast<int32_t>(vocab - 1));  // never pad/bos/eos
  std::vector<int32_t> s(static_cast<size_t>(len));
  for (auto& t : s) t = d(rng);
  if (eos) s.push_back(BpeTokenizer::kEos);
  return s;
}

// Each config variant the model supports.
std::vector<TransformerMTConfig> variants() {
  return {tiny(true, "sinusoidal", true), tiny(false, "sinusoidal", true),
          tiny(true, "learned", false), tiny(false, "learned", true)};
}

}  // namespace

TEST_CASE("TransformerMT config presets, JSON round trip and validation", "[models][translation]") {
  const auto small = TransformerMTConfig::preset("small");
  CHECK(small.d_model == 256);
  CHECK(small.encoder_layers == 3);
  CHECK(small.decoder_layers == 3);
  CHECK(small.num_heads == 4);
  CHECK(small.dim_feedforward == 1024);
  const auto base = TransformerMTConfig::preset("base");
  CHECK(base.d_model == 512);
  CHECK(base.encoder_layers == 6);
  CHECK(base.num_heads == 8);
  CHECK(base.dim_feedforward == 2048);
  CHECK_THROWS_WITH(TransformerMTConfig::preset("huge"), Catch::Contains("unknown preset 'huge'"));
  for (const auto& c : variants()) CHECK(TransformerMTConfig::from_json(c.to_json()) == c);

  auto bad = tiny();
  bad.num_heads = 3;
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("num_heads (3) must divide d_model (16)"));
  bad = tiny();
  bad.positions = "rotary";
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("positions must be"));
  bad = tiny();
  bad.dropout = 1.0;
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("dropout"));
  bad = tiny();
  bad.vocab_size = 4;
  CHECK_THROWS_WITH(bad.validate(), Catch::Contains("vocab_size"));
  CHECK_THROWS_WITH(TransformerMTConfig::from_json("[1]"), Catch::Contains("not a JSON object"));
  std::string j = tiny().to_json();
  j.replace(j.find("\"d_model\":16"), 12, "\"d_model\":\"x\"");
  CHECK_THROWS_WITH(TransformerMTConfig::from_json(j),
                    Catch::Contains("'d_model' missing or not an integer"));
}

TEST_CASE("TransformerMT parameters: shared or separate embeddings, pad row zero",
          "[models][translation]") {
  Generator gen(1);
  TransformerMT shared(tiny(true, "sinusoidal", true), &gen);
  TransformerMT separate(tiny(true, "learned", false), &gen);
  std::set<std::string> names_shared, names_sep;
  for (auto& [n, t] : shared.named_parameters()) names_shared.insert(n);
  for (auto& [n, t] : separate.named_parameters()) names_sep.insert(n);
  CHECK(names_shared.count("embed.weight"));
  CHECK_FALSE(names_shared.count("tgt_embed.weight"));
  CHECK_FALSE(names_shared.count("out_proj.weight"));
  CHECK(names_shared.count("encoder_ln.weight"));
  CHECK(names_sep.count("tgt_embed.weight"));
  CHECK(names_sep.count("out_proj.weight"));
  CHECK(names_sep.count("pos_embed.weight"));
  const auto row0 =
      to_vector<float>(native::contiguous(native::select(shared.embed->weight, 0, 0)));
  for (float v : row0) CHECK(v == 0.0f);
  TransformerMT post(tiny(false), &gen);
  for (auto& [n, t] : post.named_parameters()) CHECK_FALSE(n.starts_with("encoder_ln"));
  // The sinusoid table: position 0 is [0.., 1..]; row p, column i = sin(p * 10000^(-i/(h-1))).
  const auto table = to_vector<float>(sinusoidal_positions(5, 8));
  CHECK(table[0] == 0.0f);
  CHECK(table[4] == 1.0f);
  CHECK(table[3 * 8 + 1] == Approx(std::sin(3.0 * std::pow(10000.0, -1.0 / 3.0))).margin(1e-6));
  CHECK(table[3 * 8 + 4 + 2] == Approx(std::cos(3.0 * std::pow(10000.0, -2.0 / 3.0))).margin(1e-6));
}

TEST_CASE("TransformerMT: a padded batch gives each sentence the outputs it gets alone",
          "[models][translation][mask]") {
  std::mt19937 rng(5);
  for (const auto& cfg : variants()) {
    Generator gen(11);
    TransformerMT model(cfg, &gen);
    model.eval();
    NoGradGuard no_grad;
    const std::vector<int64_t> src_lens{7, 3, 1, 5}, tgt_lens{2, 6, 4, 1};
    std::vector<std::vector<int32_t>> srcs, tgts;
    for (size_t i = 0; i < src_lens.size(); ++i) {
      srcs.push_back(random_seq(rng, src_lens[i], cfg.vocab_size, true));
      auto t = random_seq(rng, tgt_lens[i], cfg.vocab_size, false);
      t.insert(t.begin(), BpeTokenizer::kBos);
      tgts.push_back(t);
    }
    const Tensor logits = model.forward(pad_sequences(srcs), pad_sequences(tgts));
    for (size_t i = 0; i < srcs.size(); ++i) {
      const Tensor alone = model.forward(pad_sequences({srcs[i]}), pad_sequences({tgts[i]}));
      const Tensor row = native::narrow(native::narrow(logits, 0, static_cast<int64_t>(i), 1), 1, 0,
                                        static_cast<int64_t>(tgts[i].size()));
      INFO("pre_ln " << cfg.pre_ln << " positions " << cfg.positions << " sentence " << i);
      CHECK(max_abs_diff(row, alone) < 2e-5);
    }
    // The check can fail: changing a padded source position without the mask changes the output.
    auto srcs2 = srcs;
    std::vector<int32_t> junk = srcs[2];
    junk.resize(srcs[0].size(), 5);  // same length as the longest, no padding
    srcs2[2] = junk;
    const Tensor other = model.forward(pad_sequences(srcs2), pad_sequences(tgts));
    CHECK(max_abs_diff(native::narrow(other, 0, 2, 1), native::narrow(logits, 0, 2, 1)) > 1e-3);
  }
}

TEST_CASE("TransformerMT: KV-cached incremental decoding equals full decoding",
          "[models][translation][cache]") {
  std::mt19937 rng(7);
  for (const auto& cfg : variants()) {
    Generator gen(13);
    TransformerMT model(cfg, &gen);
    model.eval();
    NoGradGuard no_grad;
    std::vector<std::vector<int32_t>> srcs{random_seq(rng, 6, cfg.vocab_size, true),
                                           random_seq(rng, 2, cfg.vocab_size, true),
                                           random_seq(rng, 4, cfg.vocab_size, true)};
    std::vector<std::vector<int32_t>> tgts;
    for (int i = 0; i < 3; ++i) {
      auto t = random_seq(rng, 8, cfg.vocab_size, false);
      t.insert(t.begin(), BpeTokenizer::kBos);
      tgts.push_back(t);
    }
    const Tensor src = pad_sequences(srcs), tgt = pad_sequences(tgts);
    const Tensor memory = model.encode(src);
    const Tensor full = model.decode(tgt, memory, TransformerMT::padding_mask(src));
    INFO("pre_ln " << cfg.pre_ln << " positions " << cfg.positions);
    SECTION("token by token") {
      DecoderState st = model.begin_decoding(memory, TransformerMT::padding_mask(src));
      for (int64_t t = 0; t < tgt.size(1); ++t) {
        const Tensor step = model.decode_step(native::narrow(tgt, 1, t, 1), st);
        CHECK(max_abs_diff(step, native::narrow(full, 1, t, 1)) < 2e-5);
      }
      CHECK(st.length == tgt.size(1));
    }
    SECTION("in chunks 3 + 1 + 5") {
      DecoderState st = model.begin_decoding(memory, TransformerMT::padding_mask(src));
      int64_t at = 0;
      for (int64_t len : {3, 1, 5}) {
        const Tensor step = model.decode_step(native::narrow(tgt, 1, at, len), st);
        CHECK(max_abs_diff(step, native::narrow(full, 1, at, len)) < 2e-5);
        at += len;
      }
    }
    SECTION("after select_rows (reorder and drop) the rows follow their sentences") {
      DecoderState st = model.begin_decoding(memory, TransformerMT::padding_mask(src));
      model.decode_step(native::narrow(tgt, 1, 0, 4), st);
      TransformerMT::select_rows(st, from_vector(std::vector<int64_t>{2, 0}, {2}));
      const Tensor next = native::index_select(native::narrow(tgt, 1, 4, 2), 0,
                                               from_vector(std::vector<int64_t>{2, 0}, {2}));
      const Tensor step = model.decode_step(next, st);
      const Tensor want = native::index_select(native::narrow(full, 1, 4, 2), 0,
                                               from_vector(std::vector<int64_t>{2, 0}, {2}));
      CHECK(max_abs_diff(step, want) < 2e-5);
    }
  }
}

TEST_CASE("greedy decoding equals beam search with beam size 1", "[models][translation][beam]") {
  std::mt19937 rng(17);
  for (const auto& cfg : variants()) {
    Generator gen(19);
    TransformerMT model(cfg, &gen);
    model.eval();
    std::vector<std::vector<int32_t>> srcs;
    for (int i = 0; i < 9; ++i) srcs.push_back(random_seq(rng, 1 + i % 6, cfg.vocab_size, true));
    DecodeOptions o;
    o.max_len_a = 1.0;
    o.max_len_b = 3;
    const auto greedy = greedy_decode(model, srcs, o);
    o.beam_size = 1;
    for (double alpha : {0.0, 1.0, 2.0}) {
      o.length_penalty = alpha;
      const auto beam = beam_search(model, srcs, o);
      for (size_t i = 0; i < srcs.size(); ++i) CHECK(beam[i].tokens == greedy[i]);
    }
    // Some outputs stop at <eos> and some at the maximum length, so both paths are covered.
    size_t at_max = 0;
    for (size_t i = 0; i < srcs.size(); ++i)
      at_max += static_cast<int64_t>(greedy[i].size()) ==
                max_target_length(srcs[i].size(), o, cfg.max_positions);
    INFO("outputs at max length: " << at_max);
    CHECK(translate(model, srcs, o) == greedy);
  }
}

TEST_CASE("beam search finds the exhaustive best hypothesis on a tiny vocabulary",
          "[models][translation][beam]") {
  // Vocabulary: 4 specials + 2 words -> 3 choices per step (<eos>, w4, w5). With at most 3 words
  // there are 15 complete hypotheses; a beam of 27 keeps every live one, so beam search must
  // return the exhaustive argmax of log_prob / lp(len).
  auto cfg = tiny(true, "sinusoidal", true, 6);
  for (uint64_t seed : {1u, 2u, 3u, 4u}) {
    Generator gen(seed);
    TransformerMT model(cfg, &gen);
    model.eval();
    NoGradGuard no_grad;
    const std::vector<int32_t> src{4, 5, 5, 2};
    DecodeOptions o;
    o.max_len_a = 0;
    o.max_len_b = 3;
    o.beam_size = 27;
    for (auto [pen, alpha] :
         {std::pair{LengthPenalty::kPower, 1.0}, std::pair{LengthPenalty::kGnmt, 0.6},
          std::pair{LengthPenalty::kPower, 0.0}}) {
      o.penalty = pen;
      o.length_penalty = alpha;
      // Exhaustive: score every sequence y (len <= 3 words) + <eos> with full teacher forcing.
      double best = -INFINITY;
      std::vector<int32_t> best_y;
      std::function<void(std::vector<int32_t>)> visit = [&](std::vector<int32_t> y) {
        std::vector<int32_t> in{BpeTokenizer::kBos};
        in.insert(in.end(), y.begin(), y.end());
        const Tensor logits = model.forward(pad_sequences({src}), pad_sequences({in}));
        const auto raw = to_vector<float>(native::contiguous(logits));
        // Full-vocabulary log-softmax in double (the search normalises over all ids, then bans
        // <pad>/<bos>), summed over the words and the final <eos>.
        double total = 0;
        for (size_t t = 0; t <= y.size(); ++t) {
          const int32_t tok = t < y.size() ? y[t] : BpeTokenizer::kEos;
          double mx = -INFINITY, sum = 0;
          for (int v = 0; v < 6; ++v) mx = std::max(mx, static_cast<double>(raw[t * 6 + v]));
          for (int v = 0; v < 6; ++v) sum += std::exp(static_cast<double>(raw[t * 6 + v]) - mx);
          total += static_cast<double>(raw[t * 6 + tok]) - mx - std::log(sum);
        }
        const double l = static_cast<double>(y.size() + 1);
        const double score = total / (pen == LengthPenalty::kGnmt ? std::pow((5 + l) / 6, alpha)
                                                                  : std::pow(l, alpha));
        if (score > best + 1e-9) {
          best = score;
          best_y = y;
        }
        if (y.size() < 3)
          for (int32_t w : {4, 5}) {
            auto z = y;
            z.push_back(w);
            visit(z);
          }
      };
      visit({});
      const auto hyp = beam_search(model, {src}, o);
      INFO("seed " << seed << " alpha " << alpha);
      CHECK(hyp[0].tokens == best_y);
      CHECK(hyp[0].score == Approx(best).margin(1e-4));
    }
  }
}

TEST_CASE("beam search with a larger beam never scores below greedy's hypothesis",
          "[models][translation][beam]") {
  std::mt19937 rng(23);
  Generator gen(29);
  TransformerMT model(tiny(), &gen);
  model.eval();
  std::vector<std::vector<int32_t>> srcs;
  for (int i = 0; i < 6; ++i) srcs.push_back(random_seq(rng, 2 + i, 23, true));
  DecodeOptions o;
  o.length_penalty = 0.0;  // raw log-probability: a wider beam can only find better or equal
  o.beam_size = 1;
  const auto one = beam_search(model, srcs, o);
  o.beam_size = 5;
  const auto five = beam_search(model, srcs, o);
  for (size_t i = 0; i < srcs.size(); ++i) CHECK(five[i].score >= one[i].score - 1e-9);
  o.beam_size = 0;
  CHECK_THROWS_WITH(beam_search(model, srcs, o), Catch::Contains("beam size must be >= 1"));
  o.beam_size = 2;
  CHECK_THROWS_WITH(beam_search(model, {{}}, o), Catch::Contains("source 0 is empty"));
  CHECK_THROWS_WITH(beam_search(model, {{99, 2}}, o), Catch::Contains("token id 99"));
}

TEST_CASE("translation batches: every example once, within the token budget, seeded",
          "[models][translation][data]") {
  std::mt19937 rng(31);
  std::vector<Example> ex(500);
  for (auto& e : ex) {
    e.src = random_seq(rng, 1 + static_cast<int64_t>(rng() % 30), 50, true);
    e.tgt = random_seq(rng, static_cast<int64_t>(rng() % 30), 50, false);
  }
  ex[7].src.resize(90, 5);  // longer than the budget allows with a partner: its own batch
  const int64_t budget = 120;
  const auto batches = make_batches(ex, budget, 42, 0);
  std::vector<int> seen(ex.size(), 0);
  for (const auto& b : batches) {
    int64_t width = 0;
    for (int64_t i : b) {
      ++seen[i];
      width = std::max<int64_t>({width, static_cast<int64_t>(ex[i].src.size()),
                                 static_cast<int64_t>(ex[i].tgt.size()) + 1});
    }
    CHECK((b.size() == 1 || static_cast<int64_t>(b.size()) * width <= budget));
  }
  for (int s : seen) CHECK(s == 1);
  CHECK(make_batches(ex, budget, 42, 0) == batches);
  CHECK(make_batches(ex, budget, 42, 1) != batches);
  CHECK(make_batches(ex, budget, 43, 0) != batches);

  const auto tb = collate(ex, {3, 7});
  CHECK(tb.src.size(0) == 2);
  CHECK(tb.src.size(1) == 90);
  CHECK(tb.tgt_in.size(1) ==
        static_cast<int64_t>(std::max(ex[3].tgt.size(), ex[7].tgt.size()) + 1));
  const auto tin = to_vector<int64_t>(tb.tgt_in), tout = to_vector<int64_t>(tb.tgt_out);
  const int64_t t_len = tb.tgt_in.size(1);
  CHECK(tin[0] == BpeTokenizer::kBos);
  for (size_t j = 0; j < ex[3].tgt.size(); ++j) {
    CHECK(tin[j + 1] == ex[3].tgt[j]);
    CHECK(tout[j] == ex[3].tgt[j]);
  }
  CHECK(tout[ex[3].tgt.size()] == BpeTokenizer::kEos);
  for (int64_t j = static_cast<int64_t>(ex[3].tgt.size()) + 1; j < t_len; ++j) CHECK(tout[j] == 0);
  CHECK(tb.target_tokens == static_cast<int64_t>(ex[3].tgt.size() + ex[7].tgt.size() + 2));

  const auto kept = filter_by_length(ex, 20);
  for (const auto& e : kept) CHECK((e.src.size() <= 20 && e.tgt.size() + 1 <= 20));
  CHECK(kept.size() < ex.size());
}

TEST_CASE("read_parallel rejects missing, empty, mismatched and invalid UTF-8 files",
          "[models][translation][data]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("tessera_mt_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return (dir / name).string();
  };
  const auto a = write("a.en", "one\ntwo\r\nthree");
  const auto b = write("b.de", "eins\nzwei\ndrei\n");
  const auto c = write("c.de", "eins\nzwei\n");
  const auto e = write("e.de", "");
  const auto bad = write("bad.de", "eins\nzw\xC3\x28i\ndrei\n");
  const ParallelText p = read_parallel(a, b, "--train");
  CHECK(p.src == std::vector<std::string>{"one", "two", "three"});
  CHECK(p.tgt == std::vector<std::string>{"eins", "zwei", "drei"});
  CHECK_THROWS_WITH(read_parallel(a, c, "--train"),
                    Catch::Contains("line counts differ") && Catch::Contains("3 lines"));
  CHECK_THROWS_WITH(read_parallel(a, e, "--train"), Catch::Contains("is empty"));
  CHECK_THROWS_WITH(read_parallel(a, bad, "--train"),
                    Catch::Contains("line 2 is not valid UTF-8 (byte offset 2"));
  CHECK_THROWS_WITH(read_parallel(a, (dir / "nope").string(), "--train"),
                    Catch::Contains("cannot open"));
  fs::remove_all(dir);
}
