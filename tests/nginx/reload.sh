#!/bin/bash
# `nginx -s reload` 20 times while clients keep handshaking: the master re-reads the keys
# each time, new workers warm them up, old workers finish and exit with code 0, and not
# one handshake fails.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly RELOADS=20 WORKERS=2
port=$(free_port)
ca=$HSMP_TEST_CA
ngx_https_conf "$WORKERS" "$port" rsa2048 ec-p256
ngx_start "$WORKERS" 2
ngx_assert_warmups "$((WORKERS * 2))"

# One client loop per key: a new connection and a full handshake per request.
handshake_loop() { # CIPHER RESULTS
    local cipher=$1 out=$2
    while [[ ! -e $WORK/stop ]]; do
        if body=$(client curl -sS --no-keepalive --cacert "$ca" --tlsv1.2 --tls-max 1.2 \
            --ciphers "$cipher" "https://127.0.0.1:$port/" 2>&1); then
            [[ $body == "ok "* ]] && echo ok >>"$out" || echo "bad body: $body" >>"$out"
        else
            echo "failed: $body" >>"$out"
        fi
    done
}
handshake_loop ECDHE-RSA-AES128-GCM-SHA256 "$WORK/rsa.results" &
BG_PIDS+=("$!")
handshake_loop ECDHE-ECDSA-AES128-GCM-SHA256 "$WORK/ec.results" &
BG_PIDS+=("$!")

for ((r = 1; r <= RELOADS; r++)); do
    kill -HUP "$NGX_MASTER"
    # The new generation's warm-ups mark the reload done.
    ngx_wait_warmups "$(((r + 1) * WORKERS * 2))"
    sleep 0.2
done
sleep 0.5
touch "$WORK/stop"
wait "${BG_PIDS[@]}" 2>/dev/null || true
BG_PIDS=()

total=$(cat "$WORK/rsa.results" "$WORK/ec.results" | wc -l)
failed=$(cat "$WORK/rsa.results" "$WORK/ec.results" | grep -vc '^ok$' || true)
((failed == 0)) || {
    grep -hv '^ok$' "$WORK/rsa.results" "$WORK/ec.results" | sort | uniq -c | head >&2
    fail "$failed of $total handshakes failed during $RELOADS reloads"
}
((total >= 2 * RELOADS)) || fail "only $total handshakes ran during $RELOADS reloads"
pass "$total handshakes (RSA and ECDSA) during $RELOADS reloads, none failed"

loads=$(grep -c 'pkcs11: "pkcs11:.*rsa2048;type=private": RSA 2048-bit private key' "$NGX_LOG" || true)
((loads == RELOADS)) || fail "the master re-read the RSA key $loads times in $RELOADS reloads"
ngx_assert_warmups "$(((RELOADS + 1) * WORKERS * 2))"
exited=$(grep -c 'worker process [0-9]* exited with code 0' "$NGX_LOG" || true)
((exited == RELOADS * WORKERS)) ||
    fail "$exited old workers exited with code 0, expected $((RELOADS * WORKERS))"
pass "each reload re-read the keys; $exited old workers exited with code 0"

# Fast shutdown (`nginx -s stop`): workers exit at once, with keys and sessions live.
ngx_stop TERM
ngx_assert_clean_log
finish "20 reloads under load without a failed handshake; fast stop without a crash"
