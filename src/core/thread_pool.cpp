#include "core/thread_pool.h"

#include <algorithm>

namespace kyutai {

namespace {
// Spin iterations before a worker goes to sleep (about 0.1-0.5 ms): longer than the gap
// between the products of one frame, shorter than the gap between frames.
constexpr int kSpinBeforeSleep = 200000;
}  // namespace

ThreadPool::ThreadPool(int threads) {
  int workers = std::max(0, threads - 1);
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  workers = 0;
#endif
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this, i] { worker_loop(i + 1); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::hardware_threads() {
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  return 1;
#else
  return std::max(1u, std::thread::hardware_concurrency());
#endif
}

void ThreadPool::run_chunk(int index) {
  int parts = threads();
  int begin = int(int64_t(job_n_) * index / parts);
  int end = int(int64_t(job_n_) * (index + 1) / parts);
  if (begin < end) (*job_)(begin, end);
}

void ThreadPool::parallel_for(int n, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  pending_.store(int(workers_.size()));
  generation_.fetch_add(1);  // publishes job_ (sequentially consistent)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  run_chunk(0);
  // Spin briefly, then block: a blocked WebAssembly main thread still runs the calls other
  // threads proxy to it, a spinning one would not.
  for (int spins = 0; pending_.load() != 0 && spins < kSpinBeforeSleep; ++spins) {
  }
  if (pending_.load() != 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    caller_waiting_.store(true);
    done_.wait(lock, [this] { return pending_.load() == 0; });
    caller_waiting_.store(false);
  }
  job_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;  // the generation at construction: a job posted before this thread runs is not missed
  for (;;) {
    int spins = 0;
    while (generation_.load() == seen && !stop_.load() && spins < kSpinBeforeSleep) ++spins;
    if (generation_.load() == seen && !stop_.load()) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = generation_.load();
    run_chunk(index);
    if (pending_.fetch_sub(1) == 1 && caller_waiting_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace kyutai
