#!/bin/bash
# The token goes away under a running nginx and comes back: the remote token's server
# (p11-kit server) is killed while nginx serves, handshakes fail fast (no hang) while it is
# gone, and once it is restarted the same workers serve again by themselves: no reload, no
# restart, no worker left broken. p11kit only: the token lives in another process.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $NGX_TOKEN == p11kit ]] || fail "token_outage.sh needs NGX_TOKEN=p11kit"
readonly WORKERS=2 RECOVERY_S=30
port=$(free_port)
ca=$HSMP_TEST_CA
ngx_https_conf "$WORKERS" "$port" ec-p256
ngx_start "$WORKERS" 1
ngx_assert_warmups "$WORKERS"
workers_before=$(plain pgrep -P "$NGX_MASTER" | sort | tr '\n' ' ')

hs() { client curl -sS --no-keepalive --max-time 10 --cacert "$ca" "https://127.0.0.1:$port/" 2>&1; }
for i in 1 2 3 4; do
    [[ $(hs) == "ok "* ]] || fail "handshake $i before the outage failed"
done
pass "serving before the outage"

fx=$NGX_LIB_DIR/../fixtures/p11kit-server.sh
bash "$fx" kill "$P11KIT_DIR" >/dev/null 2>&1 || fail "could not kill the p11-kit server"
failed=0
for i in 1 2 3 4 5 6; do
    start=$(date +%s%N)
    out=$(hs) || true
    ms=$((($(date +%s%N) - start) / 1000000))
    [[ $out == "ok "* ]] || failed=$((failed + 1))
    ((ms < 10000)) || fail "a handshake during the outage hung for ${ms} ms"
done
((failed > 0)) || fail "handshakes still succeeded with the token's server killed (test is not testing)"
pass "token gone: $failed of 6 handshakes failed, none hung"

OPENSSL_CONF=/dev/null plain bash "$fx" start "$P11KIT_DIR" "$WORK/tok" >"$WORK/p11kit-restart.log" 2>&1 || {
    sed 's/^/    | /' "$WORK/p11kit-restart.log" >&2
    fail "p11-kit server did not restart"
}
chmod 0711 "$P11KIT_DIR"
chmod 0666 "$P11KIT_DIR/p11kit.sock"
end=$((SECONDS + RECOVERY_S))
ok_in_row=0
while ((SECONDS < end && ok_in_row < 8)); do
    if [[ $(hs) == "ok "* ]]; then ok_in_row=$((ok_in_row + 1)); else ok_in_row=0; sleep 0.2; fi
done
((ok_in_row >= 8)) || fail "not serving again ${RECOVERY_S}s after the token came back"
workers_after=$(plain pgrep -P "$NGX_MASTER" | sort | tr '\n' ' ')
[[ $workers_after == "$workers_before" ]] ||
    fail "workers changed during the outage ($workers_before -> $workers_after)"
pass "token back: the same workers serve again without a reload"

ngx_stop
# nginx logs a handshake that failed for a reason it does not know at [crit]: those lines,
# naming the provider's "token unavailable", are the outage itself. Anything else at
# crit or above, or a crash, is not acceptable.
grep -E '\[crit\]' "$NGX_LOG" | grep -q 'pkcs11::token unavailable' ||
    fail "the outage left no 'token unavailable' line in the error log"
if grep -E '\[(alert|crit|emerg)\]|exited on signal' "$NGX_LOG" |
    grep -vE '\[crit\] .*SSL_do_handshake\(\) failed \(SSL: error:[0-9A-F]+:pkcs11::token unavailable' \
        >"$WORK/bad-lines"; then
    sed 's/^/    | /' "$WORK/bad-lines" >&2
    fail "alert/crit/emerg lines or a crashed process in the nginx error log"
fi
no_secret "$NGX_PIN" "$NGX_LOG"
finish "nginx recovered from a token outage by itself"
