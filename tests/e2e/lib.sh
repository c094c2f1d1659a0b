# shellcheck shell=bash disable=SC2034 # variables are used by the scripts sourcing this
# Shared helpers for the end-to-end tests. Every e2e script sources this file, which
#   - reads the token fixture's description (HSMP_FIXTURE_ENV, a fixture.env written by
#     tests/fixtures/*-token.sh) into the environment,
#   - makes a private work directory WORK (removed on exit) and an openssl.cnf in it that
#     activates the default provider and the pkcs11 provider built here (HSMP_PROVIDER_DIR),
#   - stops every background process it was told about (bg_start) by PID on exit.
# The scripts are parameterised only by the fixture, so one script runs for SoftHSM2 and for
# NSS softokn. Exit 77 means a tool is missing (CTest "skipped"; CI expects none).
set -euo pipefail

E2E_NAME=$(basename "$0" .sh)
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly E2E_NAME E2E_DIR
readonly E2E_SKIP=77

fail() {
    printf '[%s] FAIL: %s\n' "$E2E_NAME" "$*" >&2
    exit 1
}
pass() { printf '[%s] ok: %s\n' "$E2E_NAME" "$*"; }

# later MESSAGE: record a failure that must not hide the checks after it (a wrong detail of
# an otherwise working step); finish fails the script if any was recorded.
LATER=()
later() {
    printf '[%s] FAIL (reported at the end): %s\n' "$E2E_NAME" "$*" >&2
    LATER+=("$*")
}
finish() {
    if ((${#LATER[@]} > 0)); then
        printf '[%s] FAIL: %d check(s) failed:\n' "$E2E_NAME" "${#LATER[@]}" >&2
        printf '    - %s\n' "${LATER[@]}" >&2
        exit 1
    fi
    pass "${1:-all checks passed}"
}
note() { printf '[%s] %s\n' "$E2E_NAME" "$*" >&2; }
skip() {
    printf '[%s] SKIPPED: %s\n' "$E2E_NAME" "$*" >&2
    exit "$E2E_SKIP"
}

require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "'$c' not found; run ci/install-deps.sh"
    done
}

: "${HSMP_PROVIDER_DIR:?HSMP_PROVIDER_DIR (directory of pkcs11.so) is not set: run through ctest}"
: "${HSMP_FIXTURE_ENV:?HSMP_FIXTURE_ENV (a token fixture.env) is not set: run through ctest}"
[[ -f $HSMP_PROVIDER_DIR/pkcs11.so ]] || fail "no pkcs11.so in $HSMP_PROVIDER_DIR"
[[ -r $HSMP_FIXTURE_ENV ]] || fail "no fixture description $HSMP_FIXTURE_ENV"
require_cmd openssl python3

# load_fixture FILE: export every KEY=VALUE of a fixture.env (values verbatim: NSS init args
# hold quotes and spaces).
load_fixture() {
    local line
    [[ $(grep -cE '^HSMP_TEST_STATE=(ready|running)$' "$1") -eq 1 ]] || fail "fixture $1 is not ready"
    while IFS= read -r line; do
        [[ -z $line || $line == \#* || $line != *=* ]] && continue
        export "${line%%=*}=${line#*=}"
    done <"$1"
}
load_fixture "$HSMP_FIXTURE_ENV"
FIX=$HSMP_TEST_DIR
KIND=$HSMP_TEST_KIND
read -r -a KEYS <<<"$HSMP_TEST_KEYS"
has_key() { [[ " ${KEYS[*]} " == *" $1 "* ]]; }

# Private work directory and clean-up: background processes are stopped by the PID recorded
# when they were started, never by name.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hsmp-e2e-$E2E_NAME.XXXXXX")
BG_PIDS=()
CLEANUP_DIRS=()
e2e_cleanup() {
    local pid d
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for d in "${CLEANUP_DIRS[@]}"; do
        rm -rf -- "$d"
    done
    if [[ -n ${E2E_KEEP:-} ]]; then
        note "work directory kept: $WORK"
    else
        rm -rf -- "$WORK"
    fi
}
trap e2e_cleanup EXIT

# bg_start LOG CMD...: start CMD in the background (stdout+stderr to LOG), record its PID
# in BG_PID and in the clean-up list.
bg_start() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 </dev/null &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# bg_stop PID: stop one background process started by bg_start.
bg_stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

urlenc() {
    python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

# URIs. TOKEN_URI selects the fixture's token (label percent-encoded: "NSS%20Certificate%20DB").
TOKEN_URI="pkcs11:token=$(urlenc "$HSMP_TEST_TOKEN_LABEL")"
key_uri() { printf '%s;object=%s;type=private' "$TOKEN_URI" "$1"; }
pub_pem() { printf '%s/pub/%s.pem' "$FIX" "$1"; }
cert_pem() { printf '%s/certs/%s.pem' "$FIX" "$1"; }
key_kind() { # rsa, ec or ed from the fixture's label
    case $1 in
    rsa*) echo rsa ;;
    ec-*) echo ec ;;
    ed*) echo ed ;;
    *) fail "unknown key label $1" ;;
    esac
}

# p11_section [EXTRA LINE...]: the [p11] section body for this fixture, without "activate".
p11_section() {
    printf 'module = %s/pkcs11.so\n' "$HSMP_PROVIDER_DIR"
    printf 'pkcs11-module-path = %s\n' "$HSMP_TEST_MODULE"
    if [[ -n ${HSMP_TEST_INIT_ARGS:-} ]]; then
        # openssl.cnf treats ' as a quote character: escape it so the module gets the
        # string verbatim (softokn's configDir='sql:...').
        printf 'pkcs11-module-init-args = %s\n' "${HSMP_TEST_INIT_ARGS//\'/\\\'}"
    fi
    printf 'pkcs11-module-token-pin = file:%s\n' "$HSMP_TEST_PIN_FILE"
    local extra
    for extra in "$@"; do
        printf '%s\n' "$extra"
    done
}

# write_conf FILE [EXTRA P11 LINE...]: openssl.cnf activating default and pkcs11, with extra
# lines appended to the pkcs11 section.
write_conf() {
    local file=$1
    shift
    {
        printf 'openssl_conf = init\n[init]\nproviders = prov\n'
        printf '[prov]\ndefault = def\npkcs11 = p11\n[def]\nactivate = 1\n[p11]\n'
        p11_section "$@"
        printf 'activate = 1\n'
    } >"$file"
}

write_conf "$WORK/openssl.cnf"
export OPENSSL_CONF=$WORK/openssl.cnf
# The SoftHSM fixture needs SOFTHSM2_CONF (exported from fixture.env above).

# A throwaway message for signatures.
printf 'hsmp end-to-end test message %s\n' "$(date +%s%N)" >"$WORK/msg"

# bounded CMD...: CMD (a program or one of these shell functions) killed after 60 s.
bounded() {
    if declare -F "$1" >/dev/null; then
        # timeout cannot run a shell function: hand its definition to a child bash.
        timeout 60 bash -c "$(declare -f "$1" plain); $(declare -p E2E_DIR 2>/dev/null); \"\$@\"" _ "$@"
    else
        timeout 60 "$@"
    fi
}

# run LOG WHAT CMD...: run CMD (bounded by 60 s), stdout+stderr to LOG; on failure print LOG
# and fail naming WHAT.
run() {
    local log=$1 what=$2 rc=0
    shift 2
    bounded "$@" >"$log" 2>&1 </dev/null || rc=$?
    if ((rc != 0)); then
        sed 's/^/    | /' "$log" >&2
        fail "$what (exit $rc)"
    fi
}

# run_out OUT ERR WHAT CMD...: like run, but stdout to OUT and stderr to ERR.
run_out() {
    local out=$1 err=$2 what=$3 rc=0
    shift 3
    bounded "$@" >"$out" 2>"$err" </dev/null || rc=$?
    if ((rc != 0)); then
        sed 's/^/    | /' "$err" >&2
        fail "$what (exit $rc)"
    fi
}

# same_pub WHAT A B: A and B are the same public key (SPKI DER compared byte for byte).
same_pub() {
    local what=$1 a=$2 b=$3
    openssl pkey -pubin -in "$a" -outform DER -out "$WORK/.same.a" 2>/dev/null ||
        fail "$what: $a is not a public key"
    openssl pkey -pubin -in "$b" -outform DER -out "$WORK/.same.b" 2>/dev/null ||
        fail "$what: $b is not a public key"
    cmp -s "$WORK/.same.a" "$WORK/.same.b" || fail "$what: public keys differ ($a vs $b)"
}

# pyverify ARGS...: the independent verifier (python3-cryptography), see verify_sig.py.
# The verifier's own OpenSSL (the cryptography wheel bundles one) must not read our
# openssl.cnf, or it would load the pkcs11 provider and the token into the verifier.
pyverify() {
    OPENSSL_CONF=/dev/null plain python3 "$E2E_DIR/verify_sig.py" "$@"
}

# free_port: a free TCP port on 127.0.0.1 (the kernel picks it from the ephemeral range).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_listen PID LOG PORT: until PID listens on 127.0.0.1:PORT (bounded, 30 s); fail with
# LOG if PID exits first.
wait_listen() {
    local pid=$1 log=$2 port=$3 i
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            sed 's/^/    | /' "$log" >&2
            fail "server (pid $pid) exited before listening on 127.0.0.1:$port"
        fi
        if grep -q '^ACCEPT' "$log" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    sed 's/^/    | /' "$log" >&2
    fail "server (pid $pid) not listening on 127.0.0.1:$port after 30 s"
}

# no_secret SECRET FILE...: SECRET appears in none of the FILEs.
no_secret() {
    local secret=$1 f
    shift
    for f in "$@"; do
        if grep -qaF -- "$secret" "$f"; then
            fail "a PIN appears in $f"
        fi
    done
}

# no_private_pem FILE...: nothing that looks like private key material.
no_private_pem() {
    local f
    for f in "$@"; do
        if grep -qaE 'BEGIN (RSA |EC |ENCRYPTED |)PRIVATE KEY|privateExponent|prime1:|^priv:' "$f"; then
            fail "private key material appears in $f"
        fi
    done
}

# make_private_softhsm DIR PIN_FILE LABEL: an empty SoftHSM2 token in DIR with user PIN from
# PIN_FILE; exports SOFTHSM2_CONF for it. For scripts that mutate a token or log in with a
# wrong PIN (never the shared fixture token).
make_private_softhsm() {
    local dir=$1 pin_file=$2 label=$3
    require_cmd softhsm2-util pkcs11-tool
    mkdir -p "$dir/tokens"
    cat >"$dir/softhsm2.conf" <<EOF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = -CKM_ECDSA_SHA1,CKM_ECDSA_SHA1,CKM_ECDSA_SHA224,CKM_ECDSA_SHA256,CKM_ECDSA_SHA384,CKM_ECDSA_SHA512
EOF
    export SOFTHSM2_CONF=$dir/softhsm2.conf
    # PINs reach pkcs11-tool through the environment, never argv. A fresh token directory has
    # one uninitialised slot, index 0.
    # shellcheck disable=SC2016 # the script is for the child bash, expanded there
    E2E_SO_PIN=so-$RANDOM$RANDOM E2E_USER_PIN=$(<"$pin_file") run "$dir/init.log" \
        "initialise private token $label" bash -c '
            m=/usr/lib/softhsm/libsofthsm2.so
            pkcs11-tool --module "$m" --slot-index 0 --init-token --label "$1" \
                --so-pin env:E2E_SO_PIN &&
            pkcs11-tool --module "$m" --token-label "$1" --login --login-type so \
                --so-pin env:E2E_SO_PIN --init-pin --pin env:E2E_USER_PIN' _ "$label"
}

# p11tool_private LABEL PIN_FILE ARGS...: pkcs11-tool on a private SoftHSM token, PIN via env.
p11tool_private() {
    local label=$1 pin_file=$2
    shift 2
    E2E_USER_PIN=$(<"$pin_file") pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so \
        --token-label "$label" --login --pin env:E2E_USER_PIN "$@"
}

# plain CMD...: CMD without the sanitizer runtimes that ci/test.sh preloads for the e2e run
# under ASan (LD_PRELOAD): only processes that load the provider need them, and clients such
# as curl hang with them preloaded.
# PLAIN: the same as a command prefix, for use after timeout.
plain() {
    env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS "$@"
}
PLAIN=(env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS)

# sw ARGS...: openssl with the default provider only (no pkcs11 provider loaded): the
# independent software side that verifies what the token produced.
sw() {
    OPENSSL_CONF=/dev/null plain openssl "$@"
}
