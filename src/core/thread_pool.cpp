#include "core/thread_pool.h"

#include <algorithm>

namespace kyutai {

namespace {
// Spin iterations before a worker goes to sleep (about 0.1-0.5 ms): longer than the gap
// between the products of one frame, shorter than the gap between frames.
constexpr int kSpinBeforeSleep = 200000;
// Chunks per thread in one parallel_for: enough for a thread that lags to hand work over,
// few enough that each chunk is still a long run of consecutive panels.
constexpr int kChunksPerThread = 4;
constexpr int kMaxChunks = 0xffff;  // a chunk count and index each take 16 bits of next_

// The fields of ThreadPool::next_ (see thread_pool.h).
uint64_t job_word(uint32_t generation, int chunks) { return uint64_t(generation) << 32 | uint64_t(chunks) << 16; }
uint32_t generation_of(uint64_t word) { return uint32_t(word >> 32); }
int chunks_of(uint64_t word) { return int((word >> 16) & 0xffff); }
int next_chunk_of(uint64_t word) { return int(word & 0xffff); }
}  // namespace

ThreadPool::ThreadPool(int threads) {
  int workers = std::max(0, threads - 1);
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  workers = 0;
#endif
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker_loop(); });
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

void ThreadPool::run_chunks(uint32_t generation) {
  for (;;) {
    uint64_t next = next_.load();
    for (;;) {
      if (generation_of(next) != generation || next_chunk_of(next) >= chunks_of(next)) return;
      if (next_.compare_exchange_weak(next, next + 1)) break;
    }
    // Claimed chunk c of this generation: the caller cannot return (so job_ and job_n_ stay
    // this job's) until every chunk, this one included, is done.
    const int c = next_chunk_of(next), chunks = chunks_of(next);
    const int begin = int(int64_t(job_n_) * c / chunks), end = int(int64_t(job_n_) * (c + 1) / chunks);
    (*job_)(begin, end);
    if (done_chunks_.fetch_add(1) + 1 == chunks && caller_waiting_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int n, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  const int chunks = std::min({n, kChunksPerThread * threads(), kMaxChunks});
  done_chunks_.store(0);
  const uint32_t generation = generation_of(next_.load()) + 1;
  next_.store(job_word(generation, chunks));  // publishes the job (sequentially consistent)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  run_chunks(generation);
  // Spin briefly, then block: a blocked WebAssembly main thread still runs the calls other
  // threads proxy to it, a spinning one would not.
  for (int spins = 0; done_chunks_.load() != chunks && spins < kSpinBeforeSleep; ++spins) {
  }
  if (done_chunks_.load() != chunks) {
    std::unique_lock<std::mutex> lock(mutex_);
    caller_waiting_.store(true);
    done_.wait(lock, [&] { return done_chunks_.load() == chunks; });
    caller_waiting_.store(false);
  }
  job_ = nullptr;
}

void ThreadPool::worker_loop() {
  uint32_t seen = 0;  // the generation at construction: a job posted before this thread runs is not missed
  auto generation = [this] { return generation_of(next_.load()); };
  for (;;) {
    int spins = 0;
    while (generation() == seen && !stop_.load() && spins < kSpinBeforeSleep) ++spins;
    if (generation() == seen && !stop_.load()) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);
      wake_.wait(lock, [&] { return stop_.load() || generation() != seen; });
      sleepers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = generation();
    run_chunks(seen);
  }
}

}  // namespace kyutai
