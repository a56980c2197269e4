#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "core/thread_pool.h"

namespace kyutai {
namespace {

// Threads this build can really run: the single-threaded WebAssembly build has none to spare.
bool has_workers(const ThreadPool& pool) { return pool.threads() > 1; }

TEST(ThreadPool, CoversTheRangeExactlyOnce) {
  ThreadPool pool(4);
  std::vector<int> hits(1001, 0);
  pool.parallel_for(1001, [&](int b, int e) {
    for (int i = b; i < e; ++i) hits[i]++;
  });
  for (int h : hits) ASSERT_EQ(h, 1);
}

// Thousands of short jobs back to back, of every size, as a frame issues them: no job may
// see a chunk of another (a thread still finishing job g must not take work of job g + 1).
TEST(ThreadPool, BackToBackJobsEachCoverTheirOwnRangeOnce) {
  ThreadPool pool(3);
  for (int job = 0; job < 5000; ++job) {
    const int n = 1 + job % 37;
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(n, [&](int b, int e) {
      ASSERT_LE(0, b);
      ASSERT_LE(e, n);
      for (int i = b; i < e; ++i) hits[i].fetch_add(1);
    });
    for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "job " << job << ", index " << i;
  }
}

// The caller's first chunk waits until everything else is done, as if its core were taken by
// another process. With one fixed half per thread the caller would still owe its whole half;
// with chunks taken in turn, the worker takes all the rest and the caller does only the chunk
// it lagged in. The wait has a generous bound, so a regression fails instead of hanging.
TEST(ThreadPool, AThreadThatLagsHandsItsRemainingChunksToTheOthers) {
  ThreadPool pool(2);
  if (!has_workers(pool)) GTEST_SKIP() << "no worker threads in this build";
  const int n = 64;
  const auto caller = std::this_thread::get_id();
  std::atomic<int> done_elsewhere{0}, done_by_caller{0};
  bool first_caller_chunk = true;
  pool.parallel_for(n, [&](int b, int e) {
    if (std::this_thread::get_id() != caller) {
      done_elsewhere += e - b;
      return;
    }
    if (first_caller_chunk) {
      first_caller_chunk = false;
      const int rest = n - (e - b);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (done_elsewhere.load() < rest && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    }
    done_by_caller += e - b;
  });
  EXPECT_EQ(done_elsewhere.load() + done_by_caller.load(), n);
  EXPECT_LT(done_by_caller.load(), n / 2) << "the lagging caller still did " << done_by_caller.load() << " of " << n;
}

}  // namespace
}  // namespace kyutai
