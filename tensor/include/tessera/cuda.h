// SPDX-License-Identifier: Apache-2.0
/// @brief The CUDA device layer: availability, current device, streams, events, memory.
///
/// Present in every build. Without a CUDA backend (neither TESSERA_CUDA nor TESSERA_CUDA_SIM),
/// device_count() is 0, is_available() is false and everything else throws tessera::Error.
/// In a TESSERA_CUDA_SIM build, one simulated device runs kernels on cudasim (docs/cuda.md).
///
/// Rules (docs/cuda.md): every op on CUDA tensors is enqueued on the *current stream* of the
/// tensors' device, a per-thread, per-device setting (default: the legacy default stream). Ops
/// are asynchronous with respect to the host except copies to the CPU and `item()`, which
/// synchronise the stream. Memory comes from a caching allocator that reuses a freed block only
/// for later allocations on the stream it was allocated on.
#pragma once

#include <cstdint>

#include <tessera/allocator.h>
#include <tessera/device.h>

namespace tessera::cuda {

/// Number of visible CUDA devices; 0 (never an error) when there is no driver or no device.
int device_count();
/// device_count() > 0 and the backend is built in.
bool is_available();
/// True when this build runs CUDA code on cudasim (CPU fibers) instead of a GPU.
bool is_simulated();

/// The calling thread's current device (cudaGetDevice); throws if CUDA is not available.
int current_device();
void set_device(int index);
/// Waits for all work on `index` (-1 = current device).
void synchronize(int index = -1);

/// A CUDA stream on one device. Stream() is the legacy default stream of the current device.
/// Streams made by Stream::create are owned (destroyed with the last copy of the handle object is
/// the caller's job: call destroy(), or use the RAII OwnedStream below).
class Stream {
 public:
  Stream() = default;
  Stream(void* handle, int device) : handle_(handle), device_(device) {}
  /// A new non-blocking stream on `device` (-1 = current).
  static Stream create(int device = -1);
  void* handle() const { return handle_; }  ///< cudaStream_t
  int device() const { return device_; }
  void synchronize() const;
  bool query() const;  ///< true when all work on it has finished
  friend bool operator==(const Stream&, const Stream&) = default;

 private:
  void* handle_ = nullptr;
  int device_ = 0;
};

/// Owns a stream made by Stream::create and destroys it (after synchronising) when it goes.
class OwnedStream {
 public:
  explicit OwnedStream(int device = -1) : stream_(Stream::create(device)) {}
  ~OwnedStream();
  OwnedStream(const OwnedStream&) = delete;
  OwnedStream& operator=(const OwnedStream&) = delete;
  const Stream& get() const { return stream_; }

 private:
  Stream stream_;
};

/// The calling thread's current stream on `device` (-1 = current device).
Stream current_stream(int device = -1);
/// Makes `s` current for its device on the calling thread.
void set_current_stream(const Stream& s);

/// Sets the current stream (and device) for a scope, restoring both afterwards.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& s);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream previous_;
  int previous_device_;
};

/// A CUDA event (timing enabled). Move-only RAII.
class Event {
 public:
  Event();
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  /// Records on `s` (default: the current stream of the current device).
  void record(const Stream& s);
  void record();
  void synchronize() const;
  bool query() const;
  /// Makes `s` wait for this event (cudaStreamWaitEvent).
  void block(const Stream& s) const;
  /// Milliseconds from `start` to this event (both recorded and completed).
  float elapsed_ms(const Event& start) const;
  void* handle() const { return handle_; }

 private:
  void* handle_ = nullptr;
};

/// Whether float32 matmul may use TF32 tensor cores (10-bit mantissa products; default false,
/// like torch.backends.cuda.matmul.allow_tf32). Process-wide.
void set_allow_tf32(bool allow);
bool allow_tf32();

/// Statistics of the caching allocator for `device`.
MemoryStats memory_stats(int device = 0);
/// Returns every cached (free) block to the driver.
void empty_cache();

}  // namespace tessera::cuda
