// SPDX-License-Identifier: Apache-2.0
/// @brief The thread-local grad-mode flag.
#include <tessera/autograd/grad_mode.h>

namespace tessera::autograd {
namespace {
thread_local bool tls_grad_enabled = true;
}

bool GradMode::is_enabled() { return tls_grad_enabled; }
void GradMode::set_enabled(bool enabled) { tls_grad_enabled = enabled; }

}  // namespace tessera::autograd
