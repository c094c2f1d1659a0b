#!/bin/bash
# Shared helpers for the openssl CLI end-to-end tests: every script sources this, gets a
# private work directory (removed on exit, background processes stopped by PID), the
# fixture's variables, and an openssl.cnf that loads the provider built here for the
# fixture's token.
#
# Environment from CTest: HSMP_PROVIDER_DIR (directory of pkcs11.so), HSMP_FIXTURE_ENV
# (fixture.env of a token made by tests/fixtures/*-token.sh).
set -euo pipefail

: "${HSMP_PROVIDER_DIR:?HSMP_PROVIDER_DIR not set: run through ctest}"
: "${HSMP_FIXTURE_ENV:?HSMP_FIXTURE_ENV not set: run through ctest}"

WORK=$(mktemp -d)
PIDS=()
MAIN_PID=$BASHPID
cleanup() {
    # Subshells (command substitutions) may run the EXIT trap too: only the script cleans up.
    [[ $BASHPID == "$MAIN_PID" ]] || return 0
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# fixture.env: KEY=VALUE lines, values taken verbatim (they may hold quotes and spaces).
while IFS= read -r line; do
    [[ $line == *=* ]] || continue
    export "${line%%=*}=${line#*=}"
done <"$HSMP_FIXTURE_ENV"
FIX=$HSMP_TEST_DIR
PIN=$(cat "$HSMP_TEST_PIN_FILE")

# The token's URI prefix, label percent-encoded ("NSS Certificate DB").
TOKEN_URI="pkcs11:token=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$HSMP_TEST_TOKEN_LABEL")"
key_uri() { printf '%s;object=%s;type=private' "$TOKEN_URI" "$1"; }

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}
pass() { printf 'ok: %s\n' "$*"; }

# write_conf FILE [extra p11 lines...]: openssl.cnf activating default and pkcs11.
write_conf() {
    local file=$1
    shift
    {
        echo "openssl_conf = init"
        echo "[init]"
        echo "providers = prov"
        echo "[prov]"
        echo "default = def"
        echo "pkcs11 = p11"
        echo "[def]"
        echo "activate = 1"
        echo "[p11]"
        echo "module = $HSMP_PROVIDER_DIR/pkcs11.so"
        echo "pkcs11-module-path = $HSMP_TEST_MODULE"
        if [[ -n ${HSMP_TEST_INIT_ARGS:-} ]]; then
            # openssl.cnf strips quotes unless escaped.
            echo "pkcs11-module-init-args = ${HSMP_TEST_INIT_ARGS//\'/\\\'}"
        fi
        echo "pkcs11-module-token-pin = file:$HSMP_TEST_PIN_FILE"
        local extra
        for extra in "$@"; do
            echo "$extra"
        done
        echo "activate = 1"
    } >"$file"
}
write_conf "$WORK/openssl.cnf"
export OPENSSL_CONF=$WORK/openssl.cnf

# The keys this fixture has, from fixture.env.
read -r -a KEYS <<<"$HSMP_TEST_KEYS"
has_key() { [[ " ${KEYS[*]} " == *" $1 "* ]]; }

# client CMD...: runs a TLS client that does not need this provider (curl, gnutls-cli) with
# neither the openssl.cnf nor a sanitizer runtime preloaded for the provider.
client() { env -u LD_PRELOAD OPENSSL_CONF=/dev/null "$@"; }

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (bounded, 10 s).
wait_port() {
    local i
    for i in $(seq 100); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    fail "nothing listens on 127.0.0.1:$1 after 10 s"
}
