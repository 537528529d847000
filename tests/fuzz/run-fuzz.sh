#!/bin/sh
# tests/fuzz/run-fuzz.sh — builds the libFuzzer targets in a separate clang build dir and runs
# each for FUZZ_SECONDS (default 20). Exit 0: no crash; 1: a target crashed or failed to build;
# 77: no clang (CTest reports the test as skipped).
#   usage: run-fuzz.sh <repo> <build-dir>     env: FUZZ_SECONDS, FUZZ_JOBS (default 2)
set -u
repo=${1:?usage: run-fuzz.sh <repo> <build-dir>}
build=${2:?usage: run-fuzz.sh <repo> <build-dir>}
seconds=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-2}
targets="fuzz_server_fsm fuzz_path_parser"

if ! command -v clang >/dev/null 2>&1 || ! command -v clang++ >/dev/null 2>&1; then
    echo "run-fuzz: clang/clang++ not found; skipping" >&2
    exit 77
fi

mkdir -p "$build" || exit 1
echo "run-fuzz: configuring $build"
if ! CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCARTERO_FUZZ=ON -DCARTERO_BUILD_TESTS=ON >"$build/configure.log" 2>&1; then
    cat "$build/configure.log" >&2
    echo "run-fuzz: configure failed" >&2
    exit 1
fi
# shellcheck disable=SC2086
if ! cmake --build "$build" --target $targets -j "$jobs"; then
    echo "run-fuzz: build failed" >&2
    exit 1
fi

status=0
for t in $targets; do
    bin="$build/tests/fuzz/$t"
    seeds="$repo/tests/fuzz/corpus/$t"
    work="$build/corpus/$t" # new inputs go here, never into the source tree
    mkdir -p "$work" "$build/artifacts"
    echo "run-fuzz: $t for ${seconds}s"
    if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
            -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$work" "$seeds"; then
        echo "run-fuzz: $t FAILED (reproducer in $build/artifacts/)" >&2
        status=1
    fi
done
exit $status
