// SPDX-License-Identifier: Apache-2.0
/// @brief f / g, parallel linear layers, vocabulary-parallel embedding and cross-entropy
/// (see tensor_parallel.h).
#include <tessera/parallel/tensor_parallel.h>

#include <tessera/autograd/function.h>
#include <tessera/creation.h>
#include <tessera/nn/functional.h>
#include <tessera/ops.h>

namespace tessera::parallel {
namespace {

struct CopyToTp {
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& x, Communicator* tp) {
    ctx.set("tp", tp);
    return autograd::data_alias(x);  // a new handle: the output gets its own grad_fn
  }
  static std::vector<Tensor> backward(autograd::AutogradContext& ctx,
                                      const std::vector<Tensor>& g) {
    Tensor sum = native::clone(g[0]);
    ctx.get<Communicator*>("tp")->all_reduce(sum, ReduceOp::Sum);
    return {sum};
  }
};

struct ReduceFromTp {
  static Tensor forward(autograd::AutogradContext&, const Tensor& x, Communicator* tp) {
    Tensor sum = native::clone(x);
    tp->all_reduce(sum, ReduceOp::Sum);
    return sum;
  }
  static std::vector<Tensor> backward(autograd::AutogradContext&, const std::vector<Tensor>& g) {
    return {g[0]};
  }
};

/// Forward: loss; saves softmax of the local columns, the local target index and its mask.
struct VocabParallelCrossEntropy {
  static Tensor forward(autograd::AutogradContext& ctx, const Tensor& logits, const Tensor& targets,
                        Communicator* tp, int64_t start) {
    const int64_t n = logits.size(0), vl = logits.size(1);
    Tensor row_max = native::amax(logits, {1});  // (N)
    tp->all_reduce(row_max, ReduceOp::Max);
    const Tensor shifted = native::sub(logits, native::unsqueeze(row_max, 1));
    const Tensor e = native::exp(shifted);
    Tensor sum_exp = native::sum(e, {1});
    tp->all_reduce(sum_exp, ReduceOp::Sum);
    const Tensor t64 = native::to(targets, kInt64);
    const Tensor mask =
        native::logical_and(native::ge(t64, Scalar(start)), native::lt(t64, Scalar(start + vl)));
    const Tensor local = native::where(mask, native::sub(t64, Scalar(start)), Scalar(int64_t{0}));
    Tensor picked = native::squeeze(native::gather(shifted, 1, native::unsqueeze(local, 1)), 1);
    picked = native::mul(picked, native::to(mask, logits.dtype()));
    tp->all_reduce(picked, ReduceOp::Sum);
    const Tensor per_row = native::sub(native::log(sum_exp), picked);
    ctx.save_for_backward({native::div(e, native::unsqueeze(sum_exp, 1)), local, mask});
    ctx.set("n", n);
    return native::mean(per_row);
  }
  static std::vector<Tensor> backward(autograd::AutogradContext& ctx,
                                      const std::vector<Tensor>& g) {
    const auto s = ctx.saved();
    Tensor grad = native::clone(s[0]);  // softmax columns of this rank
    const Tensor minus_one = native::unsqueeze(native::neg(native::to(s[2], grad.dtype())), 1);
    native::scatter_add_(grad, 1, native::unsqueeze(s[1], 1), minus_one);
    const double scale = g[0].item<double>() / static_cast<double>(ctx.get<int64_t>("n"));
    native::mul_(grad, Scalar(scale));
    return {grad, Tensor()};
  }
};

void check_divisible(const char* what, int64_t n, int64_t tp) {
  TESSERA_CHECK(n > 0 && n % tp == 0, what, ": size ", n,
                " is not divisible by the tensor-parallel "
                "size ",
                tp);
}

}  // namespace

Tensor copy_to_tp(const Tensor& x, Communicator& tp) {
  if (tp.size() == 1) return x;
  return autograd::Function<CopyToTp>::apply(x, &tp);
}

Tensor reduce_from_tp(const Tensor& x, Communicator& tp) {
  if (tp.size() == 1) return x;
  return autograd::Function<ReduceFromTp>::apply(x, &tp);
}

Tensor shard_parameter(const Tensor& full, const ShardSpec& spec, int rank, int tp) {
  if (spec.replicated()) return native::clone(full);
  TESSERA_CHECK(spec.dim < full.dim(), "shard_parameter: dim ", spec.dim, " out of range for ",
                describe(full));
  const int64_t block = full.size(spec.dim) / spec.groups;
  TESSERA_CHECK(block * spec.groups == full.size(spec.dim) && block % tp == 0,
                "shard_parameter: ", describe(full), " dim ", spec.dim, " is not ", spec.groups,
                " blocks divisible by tp ", tp);
  const int64_t part = block / tp;
  std::vector<Tensor> pieces;
  for (int64_t gi = 0; gi < spec.groups; ++gi)
    pieces.push_back(native::narrow(full, spec.dim, gi * block + rank * part, part));
  return native::contiguous(native::cat(pieces, spec.dim));
}

Tensor unshard_parameter(const Tensor& stacked, const ShardSpec& spec) {
  const int64_t tp = stacked.size(0);
  if (spec.replicated()) return native::clone(native::select(stacked, 0, 0));
  const int64_t part = stacked.size(spec.dim + 1) / spec.groups;
  std::vector<Tensor> pieces;
  for (int64_t gi = 0; gi < spec.groups; ++gi)
    for (int64_t r = 0; r < tp; ++r)
      pieces.push_back(native::narrow(native::select(stacked, 0, r), spec.dim, gi * part, part));
  return native::contiguous(native::cat(pieces, spec.dim));
}

ColumnParallelLinear::ColumnParallelLinear(int64_t in, int64_t out,
                                           std::shared_ptr<Communicator> tp, bool has_bias,
                                           int64_t groups, DType dtype)
    : tp_(std::move(tp)), groups_(groups) {
  TESSERA_CHECK(tp_ != nullptr && in > 0 && groups > 0 && out % groups == 0,
                "ColumnParallelLinear: bad sizes in ", in, ", out ", out, ", groups ", groups);
  check_divisible("ColumnParallelLinear", out / groups, tp_->size());
  weight = register_parameter("weight", zeros({out / tp_->size(), in}, {.dtype = dtype}));
  if (has_bias) bias = register_parameter("bias", zeros({out / tp_->size()}, {.dtype = dtype}));
}

Tensor ColumnParallelLinear::forward(const Tensor& x) {
  return nn::F::linear(copy_to_tp(x, *tp_), weight, bias);
}

RowParallelLinear::RowParallelLinear(int64_t in, int64_t out, std::shared_ptr<Communicator> tp,
                                     bool has_bias, DType dtype)
    : tp_(std::move(tp)) {
  TESSERA_CHECK(tp_ != nullptr && out > 0, "RowParallelLinear: bad sizes in ", in, ", out ", out);
  check_divisible("RowParallelLinear", in, tp_->size());
  weight = register_parameter("weight", zeros({out, in / tp_->size()}, {.dtype = dtype}));
  if (has_bias) bias = register_parameter("bias", zeros({out}, {.dtype = dtype}));
}

Tensor RowParallelLinear::forward(const Tensor& x) {
  Tensor y = reduce_from_tp(nn::F::linear(x, weight), *tp_);
  return bias.defined() ? add(y, bias) : y;
}

VocabParallelEmbedding::VocabParallelEmbedding(int64_t num, int64_t dim,
                                               std::shared_ptr<Communicator> tp, DType dtype)
    : tp_(std::move(tp)) {
  TESSERA_CHECK(tp_ != nullptr && dim > 0, "VocabParallelEmbedding: bad sizes ", num, " x ", dim);
  check_divisible("VocabParallelEmbedding", num, tp_->size());
  const int64_t local = num / tp_->size();
  start_ = local * tp_->rank();
  weight = register_parameter("weight", zeros({local, dim}, {.dtype = dtype}));
}

Tensor VocabParallelEmbedding::forward(const Tensor& indices) {
  if (tp_->size() == 1) return embedding(weight, indices);
  const int64_t local = weight.size(0);
  const Tensor i64 = native::to(indices, kInt64);
  const Tensor mask =
      native::logical_and(native::ge(i64, Scalar(start_)), native::lt(i64, Scalar(start_ + local)));
  const Tensor idx = native::where(mask, native::sub(i64, Scalar(start_)), Scalar(int64_t{0}));
  const Tensor rows =
      mul(embedding(weight, idx), native::unsqueeze(native::to(mask, weight.dtype()), -1));
  return reduce_from_tp(rows, *tp_);
}

Tensor vocab_parallel_cross_entropy(const Tensor& local_logits, const Tensor& targets,
                                    Communicator& tp, int64_t vocab_start) {
  TESSERA_CHECK(
      local_logits.dim() == 2 && is_floating(local_logits.dtype()) && targets.dim() == 1 &&
          is_integral(targets.dtype()) && targets.size(0) == local_logits.size(0),
      "vocab_parallel_cross_entropy: expected logits (N, V/tp) floating and targets (N) int, got ",
      describe(local_logits), ", ", describe(targets));
  TESSERA_CHECK(local_logits.size(0) > 0,
                "vocab_parallel_cross_entropy: no rows (mean of nothing)");
  const int64_t vocab = local_logits.size(1) * tp.size();
  const Tensor t64 = native::to(targets, kInt64);
  const int64_t lo = native::amin(t64).item<int64_t>(), hi = native::amax(t64).item<int64_t>();
  TESSERA_CHECK(lo >= 0 && hi < vocab, "vocab_parallel_cross_entropy: targets must be in [0, ",
                vocab, "), got [", lo, ", ", hi, "]");
  return autograd::Function<VocabParallelCrossEntropy>::apply(local_logits, targets, &tp,
                                                              vocab_start);
}

}  // namespace tessera::parallel
