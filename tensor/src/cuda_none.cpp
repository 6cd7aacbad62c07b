// SPDX-License-Identifier: Apache-2.0
/// @brief tessera/cuda.h in builds without a CUDA backend: no devices, clear errors.
#include <tessera/cuda.h>

#include <tessera/error.h>

namespace tessera::cuda {
namespace {
[[noreturn]] void no_backend(const char* what) {
  TESSERA_FAIL("cuda::", what,
               ": this build of tessera has no CUDA backend "
               "(configure with -DTESSERA_CUDA=ON, or -DTESSERA_CUDA_SIM=ON to run it on cudasim)");
}
}  // namespace

int device_count() { return 0; }
bool is_available() { return false; }
bool is_simulated() { return false; }
int current_device() { no_backend("current_device"); }
void set_device(int) { no_backend("set_device"); }
void synchronize(int) { no_backend("synchronize"); }
Stream Stream::create(int) { no_backend("Stream::create"); }
void Stream::synchronize() const { no_backend("Stream::synchronize"); }
bool Stream::query() const { no_backend("Stream::query"); }
OwnedStream::~OwnedStream() = default;
Stream current_stream(int) { no_backend("current_stream"); }
void set_current_stream(const Stream&) { no_backend("set_current_stream"); }
StreamGuard::StreamGuard(const Stream&) : previous_device_(0) { no_backend("StreamGuard"); }
StreamGuard::~StreamGuard() = default;
Event::Event() { no_backend("Event"); }
Event::~Event() = default;
Event::Event(Event&&) noexcept {}
Event& Event::operator=(Event&&) noexcept { return *this; }
void Event::record(const Stream&) { no_backend("Event::record"); }
void Event::record() { no_backend("Event::record"); }
void Event::synchronize() const { no_backend("Event::synchronize"); }
bool Event::query() const { no_backend("Event::query"); }
void Event::block(const Stream&) const { no_backend("Event::block"); }
float Event::elapsed_ms(const Event&) const { no_backend("Event::elapsed_ms"); }
MemoryStats memory_stats(int) { no_backend("memory_stats"); }
void empty_cache() {}
void set_allow_tf32(bool) {}
bool allow_tf32() { return false; }

}  // namespace tessera::cuda
