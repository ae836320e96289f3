#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this), on a fresh Debian 12 machine as root:
#   1. install what is needed (Debian packages only);
#   2. start a real one-machine Slurm 22.05 (the differential tests compare with it);
#   3. build with warnings as errors and run every test (unit, layering, integration against the binary);
#   4. build again with AddressSanitizer + UndefinedBehaviorSanitizer and run every test again;
#   5. fuzz the sbatch front end and the results archive reader with libFuzzer (clang) for a bounded time.
# SPAWN_FUZZ_SECONDS (default 60) bounds step 5 (the archive reader gets half); SPAWN_TEST_JOBS the build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${SPAWN_TEST_JOBS:-$(nproc)}
fuzz_seconds=${SPAWN_FUZZ_SECONDS:-60}
step() { printf '\n== %s\n' "$*"; }

step "dependencies"
./scripts/install-deps.sh

step "Slurm 22.05 on this machine"
./scripts/start-slurm.sh
export SPAWN_TEST_SLURM=1

run_suite() {  # build-dir, ctest exclude regex (or ""), extra cmake flags...
  local dir=$1 exclude=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DSPAWN_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900 ${exclude:+-E "$exclude"})
}

step "build (warnings are errors) and test"
run_suite build/ci "" -DCMAKE_BUILD_TYPE=RelWithDebInfo

step "build with AddressSanitizer + UndefinedBehaviorSanitizer and test"
# Every test again, unit and integration, the Slurm-bound suites included. The binary is several times slower here:
# the integration suites stretch their deadlines by SPAWN_TEST_TIME_SCALE (tests/integration/spawnlib.py).
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 SPAWN_TEST_TIME_SCALE=3 \
  run_suite build/sanitize "" -DCMAKE_BUILD_TYPE=Debug -DSPAWN_SANITIZE=ON

step "fuzz the sbatch front end (${fuzz_seconds}s) and the results archive reader ($((fuzz_seconds / 2))s)"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSPAWN_FUZZ=ON -DSPAWN_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/fuzz -j "$jobs" --target fuzz_frontend fuzz_archive
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/frontend" "$work/archive" "$work/seed"
(cd "$work/frontend" && "$root/build/fuzz/fuzz_frontend" -max_total_time="$fuzz_seconds" -max_len=4096 -rss_limit_mb=4096 \
  -print_final_stats=1 "$work/frontend" "$root/tests/data/corpus")
# Seeds for the archive reader: what a task's `tar --format=gnu` sends back (a long name, a directory, small
# files), and a pax archive; each behind the byte that says where the fuzz target cuts it into two pieces.
mkdir -p "$work/seed/results/$(printf 'd%.0s' {1..120})"
echo data >"$work/seed/results/0.txt"
echo more >"$work/seed/results/$(printf 'd%.0s' {1..120})/$(printf 'f%.0s' {1..60}).out"
{ printf '\x80'; tar -cf - --format=gnu -C "$work/seed" results; } >"$work/archive/gnu"
{ printf '\x10'; tar -cf - --format=pax -C "$work/seed" results; } >"$work/archive/pax"
(cd "$work/archive" && TMPDIR=$work "$root/build/fuzz/fuzz_archive" -max_total_time="$((fuzz_seconds / 2))" -max_len=16384 \
  -rss_limit_mb=4096 -print_final_stats=1 "$work/archive")

step "all tests passed"
