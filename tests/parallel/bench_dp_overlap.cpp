// SPDX-License-Identifier: Apache-2.0
/// @brief How much of the data-parallel gradient all-reduce backward hides (docs/parallel.md).
///
///   mpirun -np 2 bench_parallel_dp_overlap [steps]
/// Per step, on a GPT of shape V 256, T 128, L 4, H 4, C 128, B 16 / p per rank (float32):
///   comm    = a blocking all-reduce of the whole gradient (after a barrier): the cost to hide;
///   exposed = DataParallel::finish's wait after an overlapped backward (after a barrier, so rank
///             skew before the step does not count) and the same with overlap off.
/// Both exposed waits also contain the ranks' skew inside backward (on a loaded machine, more than
/// the all-reduce itself), so the hidden share is estimated as (exposed(off) - exposed(on)) / comm,
/// which assumes equal skew in both modes. Medians over the steps; rank 0 prints.
/// TESSERA_DP_PROGRESS_THREAD=1 (mpirun -x ...) runs the overlapped mode with DataParallel's
/// progress thread.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <omp.h>

#include <tessera/creation.h>
#include <tessera/ops.h>
#include <tessera/parallel/data_parallel.h>
#include <tessera/parallel/environment.h>
#include <tessera/parallel/parallel_gpt.h>

using namespace tessera;
using namespace tessera::parallel;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("OMP_NUM_THREADS") == nullptr) omp_set_num_threads(1);
  Environment env(&argc, &argv);
  auto world = env.world();
  const int steps = argc > 1 ? std::atoi(argv[1]) : 8;
  models::GPTConfig cfg;
  cfg.vocab_size = 256, cfg.context = 128, cfg.n_layer = 4, cfg.n_head = 4, cfg.n_embd = 128;
  Generator gen(1);
  models::GPT full(cfg, &gen);
  auto local = std::make_shared<LocalCommunicator>();
  ParallelGPT model(cfg, local);
  model.load_full_state_dict(full.state_dict());
  const int64_t rows = std::max<int64_t>(1, 16 / world->size());
  std::vector<double> comm, exposed_on, exposed_off, backward_s;
  int64_t grad_bytes = 0;
  for (const Tensor& p : model.parameters()) grad_bytes += p.nbytes();
  const char* progress_env = std::getenv("TESSERA_DP_PROGRESS_THREAD");
  const bool progress = progress_env != nullptr && std::string(progress_env) == "1";
  for (bool overlap : {true, false}) {
    DataParallel dp(model.parameters(), world,
                    {.bucket_bytes = int64_t{1} << 20,
                     .overlap = overlap,
                     .progress_thread = progress && overlap});
    for (int s = 0; s < steps + 1; ++s) {  // step 0 warms up
      Generator g(100 + static_cast<uint64_t>(s) * 7 + static_cast<uint64_t>(world->rank()));
      const Tensor idx = randint(0, cfg.vocab_size, {rows, cfg.context}, {.dtype = kInt64}, &g);
      for (const Tensor& p : model.parameters()) p.set_grad(Tensor());
      const Tensor loss = model.loss(idx, idx);
      world->barrier();
      const double t0 = now();
      dp.backward(loss);
      const double t1 = now();
      if (s == 0) continue;
      (overlap ? exposed_on : exposed_off).push_back(dp.last_stats().wait_seconds);
      if (overlap) backward_s.push_back(t1 - t0);
      if (overlap) {
        Tensor flat = zeros({grad_bytes / 4});
        world->barrier();
        const double c0 = now();
        world->all_reduce(flat, ReduceOp::Avg);
        comm.push_back(now() - c0);
      }
    }
  }
  if (world->rank() == 0) {
    const double c = median(comm), on = median(exposed_on), off = median(exposed_off);
    std::printf(
        "dp %d%s | gradient %.2f MB | backward+sync %.4f s | all-reduce alone %.4f s | exposed "
        "after "
        "backward: overlapped %.4f s, not overlapped %.4f s | estimated hidden share %.2f\n",
        world->size(), progress ? " (progress thread)" : "", grad_bytes / 1e6, median(backward_s),
        c, on, off, c > 0 ? (off - on) / c : 0.0);
  }
  return 0;
}
