#!/usr/bin/env bash
# Robustness stage (called at the end of scripts/test.sh; runs alone too):
#   1. the whole native GoogleTest suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#      (clang, RelWithDebInfo) in $BUILD_DIR/asan, run by ctest;
#   2. the tests that run threads (thread pool, threaded products, convolutions, LM and Mimi
#      against one thread) built with ThreadSanitizer in $BUILD_DIR/tsan;
#   3. the libFuzzer targets of tests/fuzz/ (ASan + UBSan too) built in $BUILD_DIR/fuzz, each
#      run for FUZZ_SECONDS (default 20) on its seed corpus tests/fuzz/corpus/<target>/ and
#      the inputs found before, tests/fuzz/found/<target>/. bind_checks fuzzes the Embind
#      layer's number conversions (wasm/bind_checks.cpp), built natively so UBSan sees them.
# Options: FUZZ_SECONDS=n (longer runs), FUZZ_TARGETS="config session" (a subset),
# FUZZ_ONLY=1 (skip stages 1 and 2), FUZZ_SAVE=0 (leave tests/fuzz/found/ untouched).
# The corpus grows: after each run, libFuzzer's merge keeps the new inputs that reach new
# coverage and they are copied into tests/fuzz/found/<target>/ (commit them). Build
# directories are reused between runs; a crashing input is saved in
# $BUILD_DIR/fuzz/artifacts/<target>/ and fails the stage (reproduce: fuzz_<target> <file>).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_SAVE=${FUZZ_SAVE:-1}
FUZZ_ONLY=${FUZZ_ONLY:-0}
CLANGXX=${CLANGXX:-clang++}
read -r -a TARGETS <<<"${FUZZ_TARGETS:-safetensors config sentencepiece session bind_checks}"

configure() {  # dir, cmake args...: configures once, later runs reuse the directory
  local dir=$1; shift
  [[ -f $dir/build.ninja ]] || cmake -S . -B "$dir" -G Ninja "$@"
}

# Sanitizer reports fail the run; leaks are checked at exit (LeakSanitizer).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Inputs of `merged` (libFuzzer names them by content hash) that neither the seed corpus nor
# tests/fuzz/found/ holds yet go to tests/fuzz/found/<target>/; prints how many.
save_finds() {  # target, merged dir
  local t=$1 merged=$2 added=0 f name known
  mkdir -p "tests/fuzz/found/$t"
  known=$(find "tests/fuzz/corpus/$t" "tests/fuzz/found/$t" -type f -exec sha1sum {} + | cut -c1-40)
  for f in "$merged"/*; do
    [[ -f $f ]] || continue
    name=$(sha1sum "$f" | cut -c1-40)
    grep -qx "$name" <<<"$known" && continue
    cp "$f" "tests/fuzz/found/$t/$name"
    added=$((added + 1))
  done
  echo "$added"
}

if [[ $FUZZ_ONLY != 1 ]]; then
start=$SECONDS
echo "== Sanitizers: the native GoogleTest suite under ASan + UBSan ($B/asan)"
configure "$B/asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CLANGXX" -DKYUTAI_SANITIZE=ON \
  -DKYUTAI_BENCH=OFF
cmake --build "$B/asan" -j "$JOBS" --target kyutai_tests
ctest --test-dir "$B/asan" --output-on-failure -j "$JOBS"
echo "robustness: sanitizer suite green ($((SECONDS - start)) s)"

start=$SECONDS
echo "== ThreadSanitizer: the tests that run threads ($B/tsan)"
# XNNPACK off: its own thread pool is not instrumented. halt_on_error: any race fails the run.
configure "$B/tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CLANGXX" -DKYUTAI_TSAN=ON \
  -DKYUTAI_BENCH=OFF -DKYUTAI_XNNPACK=OFF
cmake --build "$B/tsan" -j "$JOBS" --target kyutai_tests
TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
  ctest --test-dir "$B/tsan" --output-on-failure -j "$JOBS" --no-tests=error -R 'ThreadPool\.|\.ThreadsGive|PackingOnAPool|PrequantizedValuesReadBack|Codebook\.'
echo "robustness: thread sanitizer green ($((SECONDS - start)) s)"
fi

start=$SECONDS
echo "== Fuzzing: ${#TARGETS[@]} libFuzzer targets, ${FUZZ_SECONDS} s each ($B/fuzz)"
configure "$B/fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CLANGXX" -DKYUTAI_FUZZ=ON \
  -DKYUTAI_TESTS=OFF -DKYUTAI_BENCH=OFF -DKYUTAI_XNNPACK=OFF
cmake --build "$B/fuzz" -j "$JOBS" --target fuzzers
for t in "${TARGETS[@]}"; do
  work="$B/fuzz/corpus/$t"
  artifacts="$B/fuzz/artifacts/$t"
  log="$B/fuzz/fuzz_$t.log"
  found="tests/fuzz/found/$t"
  mkdir -p "$work" "$artifacts" "$found"
  if "$B/fuzz/tests/fuzz/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 "$work" "tests/fuzz/corpus/$t" "$found" >"$log" 2>&1; then
    runs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    kept=""
    if [[ $FUZZ_SAVE == 1 ]]; then
      # libFuzzer's merge adds to the seeds + earlier finds only this run's inputs that reach
      # coverage they do not; those are saved.
      merged="$B/fuzz/merged/$t"
      rm -rf "$merged" && mkdir -p "$merged"
      cp "tests/fuzz/corpus/$t"/* "$merged"/
      cp "$found"/. "$merged"/ -r 2>/dev/null || true
      "$B/fuzz/tests/fuzz/fuzz_$t" -merge=1 -timeout=10 -rss_limit_mb=2048 "$merged" "$work" >>"$log" 2>&1
      kept=", $(save_finds "$t" "$merged") new input(s) saved in $found/"
    fi
    echo "fuzz_$t: ${runs:-?} inputs, $cov, no finding$kept"
  else
    echo "fuzz_$t: FINDING (log: $log, input saved in $artifacts/)" >&2
    tail -n 80 "$log" >&2
    exit 1
  fi
done
echo "robustness: fuzzing green ($((SECONDS - start)) s)"
