// SPDX-License-Identifier: Apache-2.0
/// @brief SIGINT/SIGTERM -> a flag the training loop polls.
#include "interrupt.h"

#include <csignal>
#include <cstdlib>
#include <unistd.h>

namespace tessera::examples {
namespace {

volatile std::sig_atomic_t g_requested = 0;  // a signal handler can only touch such a flag
struct sigaction g_old_int, g_old_term;

void on_signal(int) {
  if (g_requested) _exit(130);  // second Ctrl-C: stop now
  g_requested = 1;
  const char msg[] = "\ninterrupt: saving a checkpoint and stopping (Ctrl-C again to quit now)\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_requested = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

bool InterruptGuard::requested() { return g_requested != 0; }

}  // namespace tessera::examples
