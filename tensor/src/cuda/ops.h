// SPDX-License-Identifier: Apache-2.0
/// @brief The CUDA implementations the native ops dispatch to (tensor/src/cuda/*.cpp).
///
/// Each function takes the same arguments as its native op, plus what the native op already
/// computed (the compute dtype), so type promotion and argument checks live in one place: the
/// native op. They check that all tensors share one CUDA device, enqueue kernels on the current
/// stream of that device, and return without synchronising.
#pragma once

#include <optional>
#include <utility>

#include <tessera/kernels/cuda/ew_op.h>
#include <tessera/native/fused.h>
#include <tessera/random.h>
#include <tessera/scalar.h>
#include <tessera/tensor.h>

namespace tessera::native::cuda_impl {

using kernels::cuda::EwOp;

inline bool is_cuda(const Tensor& t) { return t.defined() && t.device().is_cuda(); }
inline bool is_cuda(const Device& d) { return d.is_cuda(); }
/// True when any argument (tensor, or target device) is on CUDA.
template <typename... T>
inline bool any_cuda(const T&... ts) {
  return (is_cuda(ts) || ...);
}

/// The EwOp of a native unary op's name ("sqrt" -> kSqrt); throws for an unknown name.
EwOp op_named(const char* name);

// ---- elementwise (tensor/src/cuda/elementwise.cpp)
// -----------------------------------------------
/// out = op(a, b) computed in `compute` (the native op's promoted dtype); bool out for predicates.
Tensor binary(EwOp op, const char* name, const Tensor& a, const Tensor& b, DType compute);
/// out = op(x) computed in `compute`.
Tensor unary(EwOp op, const char* name, const Tensor& x, DType compute);
/// 16-bit tensor op float scalar, the scalar kept in float32 (native "scalar_16bit"); `name` is
/// add/sub/rsub/mul/div/rdiv.
Tensor scalar_16bit(const char* name, const Tensor& a, const Scalar& s, bool reversed);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b, DType compute);
Tensor clamp(const Tensor& x, DType compute, double lo, double hi);
/// self = op(self, other) for add_/sub_/mul_/div_/add_scaled_ (alpha for the latter).
Tensor& binary_inplace(EwOp op, const char* name, Tensor& self, const Tensor& other, double alpha);
Tensor& fill_(Tensor& self, const Scalar& value);
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol);

// ---- conversion (tensor/src/cuda/copy.cpp)
// -------------------------------------------------------
Tensor& copy_(Tensor& self, const Tensor& src);
Tensor to(const Tensor& x, Device device, bool copy);

// ---- reductions (tensor/src/cuda/reduce.cpp)
// -----------------------------------------------------
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim, bool mean, DType out_dtype);
Tensor prod(const Tensor& x, const Shape& dims, bool keepdim);
Tensor extreme(const char* op, const Tensor& x, const Shape& dims, bool keepdim, bool is_max);
std::pair<Tensor, Tensor> arg_extreme(const char* op, const Tensor& x, int64_t dim, bool keepdim,
                                      bool is_max);
Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim);
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim);

// ---- linear algebra (tensor/src/cuda/linalg.cpp)
// -------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- indexing (tensor/src/cuda/index.cpp)
// --------------------------------------------------------
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor& scatter_add_(Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor embedding(const Tensor& weight, const Tensor& indices);
Tensor embedding_backward(const Tensor& grad_output, const Tensor& indices, int64_t num_weights);
Tensor one_hot(const Tensor& indices, int64_t num_classes);

// ---- random (tensor/src/cuda/random.cpp)
// ---------------------------------------------------------
/// A float32/float64 uniform [0,1) or standard normal draw of `shape` made on `device`.
Tensor random_draw(bool normal, const Shape& shape, DType draw, Generator& gen, Device device);
/// int64 draw low + (64 bits % range), the CPU's randint stream.
Tensor randint_draw(int64_t low, uint64_t range, const Shape& shape, Generator& gen, Device device);

// ---- fused cross-entropy and AdamW (tensor/src/cuda/fused_ce_adamw.cpp)
// ---------------------------
/// native::cross_entropy / cross_entropy_backward on CUDA (targets validated on the host).
CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                 double label_smoothing);
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& logits, const Tensor& targets,
                              const Tensor& lse, int64_t ignore_index, double label_smoothing);
/// The device of the first CUDA tensor in the lists, else CPU (adamw_step_ dispatches on it).
Device first_cuda_device(std::initializer_list<const std::vector<Tensor>*> lists);
/// native::adamw_step_ on CUDA: one multi-tensor kernel launch for the whole list.
void adamw_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                 const AdamWParams& p);
// ---- fused LayerNorm and softmax family (tensor/src/cuda/fused_norm.cpp)
// -----------------------------------------
LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool want_x,
                                   bool want_weight, bool want_bias);
/// softmax (log = false) or log_softmax over `dim` with the fused single-pass kernel.
Tensor softmax(const Tensor& x, int64_t dim, bool log);
Tensor softmax_backward(const Tensor& y, const Tensor& grad_y, int64_t dim, bool log);
// ---- fused attention (tensor/src/cuda/fused_attention.cpp)
// ---------------------------------------
/// Whether the CUDA kernel covers dtype `t` and `head_dim` (else callers compose the op).
bool attention_supported(DType t, int64_t head_dim);
AttentionResult scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                             const AttentionParams& p);
AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q,
                                                     const Tensor& k, const Tensor& v,
                                                     const Tensor& out, const Tensor& lse,
                                                     const AttentionParams& p);

}  // namespace tessera::native::cuda_impl
