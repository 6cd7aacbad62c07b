// SPDX-License-Identifier: Apache-2.0
/// @brief Communicator base (timeout, shared checks) and LocalCommunicator (world size 1).
#include <tessera/parallel/communicator.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <tessera/native.h>

namespace tessera::parallel {

std::string reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "sum";
    case ReduceOp::Avg:
      return "avg";
    case ReduceOp::Max:
      return "max";
  }
  return "?";
}

double collective_timeout_from_env() {
  const char* v = std::getenv("TESSERA_COLLECTIVE_TIMEOUT_S");
  if (v == nullptr || *v == '\0') return 300.0;
  char* end = nullptr;
  errno = 0;
  const double s = std::strtod(v, &end);
  TESSERA_CHECK(errno == 0 && end != v && *end == '\0' && std::isfinite(s) && s >= 0,
                "TESSERA_COLLECTIVE_TIMEOUT_S: expected a number of seconds >= 0 (0 = no timeout), "
                "got '",
                v, "'");
  return s;
}

Communicator::Communicator() : timeout_s_(collective_timeout_from_env()) {}

void check_reduce(const char* op_name, const Tensor& t, ReduceOp op) {
  TESSERA_CHECK(t.defined(), op_name, ": undefined tensor");
  TESSERA_CHECK(op != ReduceOp::Avg || is_floating(t.dtype()), op_name,
                ": avg needs a floating tensor, got ", describe(t),
                " (reduce with sum and divide, or convert first)");
}

void check_peer(const char* op_name, const Communicator& c, int peer) {
  TESSERA_CHECK(peer >= 0 && peer < c.size() && peer != c.rank(), op_name, ": peer rank ", peer,
                " is not another rank of this communicator (rank ", c.rank(), " of ", c.size(),
                ")");
}

namespace {
class DoneWork final : public Work {
 public:
  void wait() override {}
  bool test() override { return true; }
};
}  // namespace

void LocalCommunicator::all_reduce(Tensor& t, ReduceOp op) { check_reduce("all_reduce", t, op); }

std::unique_ptr<Work> LocalCommunicator::all_reduce_async(Tensor t, ReduceOp op) {
  check_reduce("all_reduce_async", t, op);
  return std::make_unique<DoneWork>();
}

void LocalCommunicator::broadcast(Tensor& t, int root) {
  TESSERA_CHECK(t.defined(), "broadcast: undefined tensor");
  TESSERA_CHECK(root == 0, "broadcast: root ", root, " is not a rank of a world of size 1");
}

Tensor LocalCommunicator::all_gather(const Tensor& x) {
  TESSERA_CHECK(x.defined(), "all_gather: undefined tensor");
  return native::unsqueeze(native::clone(x), 0);
}

Tensor LocalCommunicator::reduce_scatter(const Tensor& x, ReduceOp op) {
  check_reduce("reduce_scatter", x, op);
  TESSERA_CHECK(x.dim() >= 1 && x.size(0) == 1,
                "reduce_scatter: expected a leading dim equal to "
                "the world size 1, got ",
                describe(x));
  return native::clone(native::select(x, 0, 0));
}

void LocalCommunicator::send(const Tensor&, int dst, int) { check_peer("send", *this, dst); }
void LocalCommunicator::recv(Tensor&, int src, int) { check_peer("recv", *this, src); }

std::shared_ptr<Communicator> LocalCommunicator::split(int, int) {
  return std::make_shared<LocalCommunicator>();
}

}  // namespace tessera::parallel
