// A fixed set of worker threads that split one loop at a time. Kernels use it to spread
// the output panels of a matrix product across cores; with zero workers (the single-threaded
// WebAssembly build) everything runs inline on the caller.
//
// A frame issues about a hundred short products (each well under a millisecond), so the
// hand-off must be cheap: workers spin briefly on an atomic generation counter before
// sleeping, and the caller spins for completion. Waking a sleeping WebAssembly thread
// (Atomics.wait/notify) costs tens of microseconds; spinning avoids it while work flows.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kyutai {

class ThreadPool {
 public:
  // `threads` counts the caller: 1 means no worker threads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint ranges covering [0, n); returns when all are done.
  // The range is cut into a few contiguous chunks per thread (each still one long stream of
  // weights), and threads take chunks in turn until none are left: a thread that started late
  // or runs on a busier core does less, instead of holding everyone up.
  // Not reentrant: one parallel_for at a time per pool.
  void parallel_for(int n, const std::function<void(int, int)>& fn);

  // Threads this build can run (1 when the build has no thread support).
  static int hardware_threads();

 private:
  void worker_loop();
  // Takes chunks of job `generation` until none are left.
  void run_chunks(uint32_t generation);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<bool> caller_waiting_{false};
  // The job in one atomic: its generation (bits 32-63), its chunk count (16-31) and the next
  // chunk to take (0-15). A thread still holding an earlier job's value can neither take a
  // chunk of a new job nor judge one by the new job's count.
  std::atomic<uint64_t> next_{0};
  std::atomic<int> done_chunks_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int, int)>* job_ = nullptr;
  int job_n_ = 0;
};

}  // namespace kyutai
