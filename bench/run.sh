#!/bin/bash
# Signature benchmark of the provider core (not part of the test suite):
#   bash bench/run.sh [SECONDS_PER_CELL]     (default 6, in 6 alternating rounds)
# Builds (build/bench, Release), makes a SoftHSM2 token in a temporary directory, and for
# RSA-2048 PKCS#1 v1.5, RSA-2048 PSS and ECDSA P-256 compares, on the same key and in one
# run: raw C_Sign on a session-object copy (the token's limit), this provider through
# EVP_DigestSign, and OpenSSL's default provider with an in-memory key; 1 and 2 threads.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-6}
cd "$root"
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DHSMP_BUILD_TESTS=OFF >/dev/null
cmake --build build/bench -j "$(nproc)" --target sign_bench hsmp >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=lib.sh
source "$root/bench/lib.sh"
bench_token "$work"
echo "machine: $(nproc) cores, $(openssl version), SoftHSM $(dpkg-query -W -f='${Version}' softhsm2)"
for case in "rsa-pkcs1 rsa2048" "rsa-pss rsa2048" "ecdsa ec-p256"; do
    set -- $case
    build/bench/bench/sign_bench --module /usr/lib/softhsm/libsofthsm2.so \
        --pin-file "$work/token/user.pin" --alg "$1" --seconds "$seconds" --rounds 6 --threads 12 \
        --uri "pkcs11:token=hsmp-test;object=$2;type=private"
done
