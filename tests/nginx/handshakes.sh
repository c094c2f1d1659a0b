#!/bin/bash
# nginx serves TLS with keys that stay in the token: http (an RSA and an ECDSA
# certificate/key pair on one server, the ECDSA certificate taken from the token too) and
# stream (ECDSA P-384), with WORKERS worker processes. Handshakes with curl, openssl
# s_client and gnutls-cli, TLS 1.2 and 1.3; the served certificate's public key is the
# token key's; every worker warms every key up; the metrics page counts the signatures;
# a graceful stop leaves no alert, crash or PIN in the log.
#
#   handshakes.sh [WORKERS]      (default 2)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

workers=${1:-2}
http_port=$(free_port)
stream_port=$(free_port)
ca=$HSMP_TEST_CA

ngx_write_conf "$workers" "
http {
    $(ngx_http_common)
    server {
        listen 127.0.0.1:$http_port ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $(cert_pem rsa2048);
        ssl_certificate_key \"$(key_uri rsa2048)\";
        ssl_certificate \"$TOKEN_URI;object=ec-p256;type=cert\";
        ssl_certificate_key \"$(key_uri ec-p256)\";
        location / { return 200 \"ok \$pid\n\"; }
        location = /metrics { pkcs11_metrics; }
    }
}
stream {
    server {
        listen 127.0.0.1:$stream_port ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $(cert_pem ec-p384);
        ssl_certificate_key \"$(key_uri ec-p384)\";
        return \"stream ok\n\";
    }
}"

ngx_test || { sed 's/^/    | /' "$WORK/nginx-t.log" >&2; fail "nginx -t rejected a valid configuration"; }
grep -q 'test is successful' "$WORK/nginx-t.log" || fail "nginx -t did not say the test is successful"
for key in rsa2048 ec-p256 ec-p384; do
    grep -qF "pkcs11: \"$(key_uri "$key")\": " "$WORK/nginx-t.log" ||
        fail "nginx -t did not report loading $key"
done
pass "nginx -t loads the three token keys and the token certificate"

ngx_start "$workers" 3
ngx_assert_warmups "$((workers * 3))"
pass "$workers workers each warmed up 3 token keys"

# s_client: the certificate nginx chooses follows the client's signature algorithms.
check_s_client() { # TAG PORT KEY ARGS...
    local tag=$1 port=$2 key=$3
    shift 3
    served_pub "127.0.0.1:$port" -CAfile "$ca" -verify_return_error -verify_ip 127.0.0.1 "$@" \
        >"$WORK/served-$tag.pem" || fail "s_client $tag: handshake failed"
    same_pub "s_client $tag: served key" "$WORK/served-$tag.pem" "$(pub_pem "$key")"
}
check_s_client tls13-rsa "$http_port" rsa2048 -tls1_3 -sigalgs RSA-PSS+SHA256
check_s_client tls12-rsa "$http_port" rsa2048 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 \
    -sigalgs RSA+SHA256
check_s_client tls12-rsa-pss "$http_port" rsa2048 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 \
    -sigalgs RSA-PSS+SHA256
check_s_client tls13-ec "$http_port" ec-p256 -tls1_3 -sigalgs ECDSA+SHA256
check_s_client tls12-ec "$http_port" ec-p256 -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
check_s_client stream-tls13 "$stream_port" ec-p384 -tls1_3
check_s_client stream-tls12 "$stream_port" ec-p384 -tls1_2
pass "openssl s_client: http RSA (PKCS#1, PSS) and ECDSA, stream ECDSA P-384, TLS 1.2 and 1.3"

# curl: a full request over each key and protocol.
check_curl() { # TAG ARGS...
    local tag=$1 body
    shift
    body=$(client curl -sS --cacert "$ca" "$@" "https://127.0.0.1:$http_port/") ||
        fail "curl $tag failed"
    [[ $body == "ok "* ]] || fail "curl $tag: unexpected body '$body'"
}
check_curl tls13 --tlsv1.3
check_curl tls12-rsa --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256
check_curl tls12-ec --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
pass "curl: TLS 1.3 and TLS 1.2 with the RSA and the ECDSA key"

# gnutls-cli: an independent TLS stack verifies the token's signatures.
check_gnutls() { # TAG PORT PRIORITY EXPECT
    local tag=$1 port=$2 prio=$3 want=$4 rc=0
    client gnutls-cli --port "$port" --x509cafile "$ca" --priority "$prio" 127.0.0.1 \
        </dev/null >"$WORK/gnutls-$tag.out" 2>&1 || rc=$?
    if ((rc != 0)) || ! grep -q 'Handshake was completed' "$WORK/gnutls-$tag.out"; then
        tail -20 "$WORK/gnutls-$tag.out" | sed 's/^/    | /' >&2
        fail "gnutls-cli $tag: exit $rc"
    fi
    grep -qE -- "$want" "$WORK/gnutls-$tag.out" ||
        fail "gnutls-cli $tag: expected '$want': $(grep -E 'Description' "$WORK/gnutls-$tag.out")"
}
base='NORMAL:-VERS-ALL'
check_gnutls tls13-rsa "$http_port" "$base:+VERS-TLS1.3:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256" \
    '\(TLS1.3-X.509\)-.*\(RSA-PSS-RSAE-SHA256\)'
check_gnutls tls12-rsa "$http_port" "$base:+VERS-TLS1.2:-SIGN-ALL:+SIGN-RSA-SHA256" \
    '\(TLS1.2-X.509\)-\(ECDHE-[A-Z0-9]+\)-\(RSA-SHA256\)'
check_gnutls tls13-ec "$http_port" "$base:+VERS-TLS1.3:-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256" \
    '\(TLS1.3-X.509\)-.*\(ECDSA-SECP256R1-SHA256\)'
check_gnutls stream-tls13 "$stream_port" "$base:+VERS-TLS1.3" \
    '\(TLS1.3-X.509\)-.*\(ECDSA-SECP384R1-SHA384\)'
pass "gnutls-cli: RSA-PSS, RSA PKCS#1 and ECDSA signatures made in the token verify"

# The stream server's payload arrives over the token-backed TLS session.
out=$(client openssl s_client -connect "127.0.0.1:$stream_port" -CAfile "$ca" -quiet \
    -verify_return_error 2>/dev/null </dev/null) || true
[[ $out == *"stream ok"* ]] || fail "stream server payload not received: '$out'"
pass "stream: payload received over TLS"

# Metrics: the signatures above, counted across all workers, per key.
client curl -sS --cacert "$ca" -o "$WORK/metrics.txt" -w '%{http_code} %{content_type}' \
    "https://127.0.0.1:$http_port/metrics" >"$WORK/metrics.status" || fail "GET /metrics failed"
read -r code ctype <"$WORK/metrics.status" || true # no newline after curl -w
[[ $code == 200 ]] || fail "GET /metrics answered $code: $(head -c 300 "$WORK/metrics.txt")"
[[ $ctype == text/plain* ]] || fail "GET /metrics content type '$ctype'"
for key in rsa2048 ec-p256 ec-p384; do
    n=$(grep -E "^hsm_operations_total\{.*operation=\"sign\".*key_label=\"$key\".*result=\"ok\".*\} [0-9]+" \
        "$WORK/metrics.txt" | awk '{s += $NF} END {print s + 0}')
    # Each worker's warm-up signs once with each key; handshakes add more.
    ((n >= workers)) || fail "metrics: $n successful signatures with $key, expected at least $workers"
done
grep -qE '^hsm_operations_total\{.*result="error".*\}|^# TYPE hsm_operations_total counter' \
    "$WORK/metrics.txt" || fail "metrics: no hsm_operations_total series"
no_secret "$NGX_PIN" "$WORK/metrics.txt"
python3 "$NGX_LIB_DIR/../support/promcheck.py" "$WORK/metrics.txt" >"$WORK/promcheck.out" 2>&1 || {
    sed 's/^/    | /' "$WORK/promcheck.out" >&2
    fail "metrics: not valid Prometheus text"
}
pass "pkcs11_metrics: signatures per key summed over the workers, valid Prometheus text"

ngx_stop
ngx_assert_clean_log
finish "nginx ($workers workers, $NGX_TOKEN) served TLS with token keys and stopped cleanly"
