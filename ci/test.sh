#!/bin/bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   1. install every Debian package needed (ci/install-deps.sh),
#   2. check formatting (ci/lint.sh),
#   3. build with g++ (RelWithDebInfo) and run every CTest label: unit, token, fork,
#      fixture, e2e (the openssl CLI) and nginx (Debian's nginx with ngx_pkcs11_module),
#   4. build with g++ + ASan + UBSan and run the same tests again (the end-to-end ones with
#      the sanitizer runtimes preloaded into the openssl CLI and nginx; the nginx start
#      races, which measure latency, only in step 3),
#   5. build the libFuzzer targets with clang 16 (+ ASan + UBSan) and fuzz the URI parser and
#      the key-reference DER reader for 60 s each (in parallel).
# Exits non-zero on any failure and on any skipped test. Build trees: build/ci, build/asan,
# build/fuzz.
#
#   ci/test.sh [--no-asan]     (--no-asan: steps 4 and 5 are left out, for quick local runs)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

asan=true
[[ ${1:-} == --no-asan ]] && asan=false

jobs=$(nproc)
log() { printf '\n[test] %s\n' "$*"; }

log "dependencies"
bash ci/install-deps.sh

log "formatting"
bash ci/lint.sh

# run_ctest DIR [ctest args...]: runs ctest, fails on a failure or on any test not run.
run_ctest() {
    local dir=$1
    shift
    local out
    out=$(mktemp)
    local rc=0
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" "$@" 2>&1 |
        tee "$out" || rc=$?
    if grep -qE 'Not Run|\*\*\*Skipped|did not run|\[  SKIPPED \]' "$out"; then
        echo "[test] FAILED: some tests were skipped (CI expects zero skips)" >&2
        rc=1
    fi
    rm -f "$out"
    return $rc
}

log "build: g++ $(g++ -dumpversion), RelWithDebInfo (build/ci)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/ci -j "$jobs"

if $asan; then
    log "build: g++ + AddressSanitizer + UndefinedBehaviorSanitizer (build/asan)"
    cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug \
        -DHSMP_SANITIZE=address,undefined >/dev/null
    cmake --build build/asan -j "$jobs"
    log "build: clang $(clang-16 -dumpversion) + libFuzzer + ASan + UBSan (build/fuzz)"
    cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DHSMP_FUZZ_ONLY=ON -DHSMP_FUZZ=ON \
        -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 \
        -DHSMP_SANITIZE=address,undefined >/dev/null
    cmake --build build/fuzz -j "$jobs"
fi

log "tests: g++ build"
run_ctest build/ci

if $asan; then
    log "tests: fuzzing the URI parser and the key-reference DER reader (clang 16, libFuzzer, ASan + UBSan)"
    run_ctest build/fuzz -L fuzz
    log "tests: sanitizer build (g++, ASan + UBSan)"
    # Leaks inside the token implementations (SoftHSM2, NSS, p11-kit) are theirs;
    # the suppressions name only those libraries.
    export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
    export LSAN_OPTIONS=suppressions=$root/ci/lsan.supp:print_suppressions=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_ctest build/asan -LE 'e2e|nginx'
    log "tests: end to end with the sanitized provider (ASan + UBSan runtimes preloaded)"
    # The openssl, curl and python binaries are not instrumented: the runtimes are preloaded
    # so the sanitized pkcs11.so can load into them; leak checking would report theirs.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
        ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 run_ctest build/asan -L e2e
    log "tests: nginx with the sanitized module and provider (runtimes preloaded into nginx)"
    # The start races measure handshake latency, which the sanitizers inflate: step 3 only.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
        ASAN_OPTIONS=abort_on_error=1:detect_leaks=0 run_ctest build/asan -L nginx -E start_race
fi
