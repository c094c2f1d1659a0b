#!/bin/bash
# TLS with OpenSSL's own server holding a token key: `openssl s_server -key pkcs11:...` and
# handshakes with openssl s_client (TLS 1.2 and 1.3, RSA with PKCS#1 and PSS signature
# algorithms), curl and gnutls-cli (an independent TLS stack); the served certificate's
# public key is the token's.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

serve() {  # serve KEY -> sets PORT, starts s_server in the background
    PORT=$(free_port)
    openssl s_server -accept "127.0.0.1:$PORT" -key "$(key_uri "$1")" \
        -cert "$FIX/certs/$1.pem" -www -quiet >"$WORK/s_server-$1.log" 2>&1 &
    PIDS+=($!)
    wait_port "$PORT"
}

handshake() {  # handshake LABEL s_client-args... : asserts success, prints the peer sigalg
    local label=$1
    shift
    echo | timeout 20 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost "$@" \
        >"$WORK/hs.out" 2>&1 || true
    grep -qE '^(New|Reused), TLSv1\.[23]' "$WORK/hs.out" || fail "$label: no handshake: $(tail -5 "$WORK/hs.out")"
    openssl x509 -in <(sed -n '/BEGIN CERT/,/END CERT/p' "$WORK/hs.out") -pubkey -noout \
        >"$WORK/served.pub" 2>/dev/null || fail "$label: no certificate served"
}

count=0
for key in rsa2048 ec-p256 ec-p384; do
    has_key "$key" || continue
    serve "$key"
    ref=$WORK/$key.ref.pub
    openssl pkey -pubin -in "$FIX/pub/$key.pem" -pubout -out "$ref"
    for v in -tls1_2 -tls1_3; do
        handshake "$key $v" "$v" -showcerts
        cmp -s "$WORK/served.pub" "$ref" || fail "$key $v: served key is not the token's"
        count=$((count + 1))
    done
    if [[ $key == rsa* ]]; then
        handshake "$key PKCS#1" -tls1_2 -sigalgs RSA+SHA256 -showcerts
        grep -q 'Peer signature type: RSA$' "$WORK/hs.out" || fail "$key: not a PKCS#1 signature"
        handshake "$key PSS" -tls1_2 -sigalgs rsa_pss_rsae_sha256 -showcerts
        grep -q 'Peer signature type: RSA-PSS' "$WORK/hs.out" || fail "$key: not a PSS signature"
        count=$((count + 2))
    fi
    code=$(client curl -s --max-time 20 -k -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/") ||
        true
    [[ $code == 200 ]] || fail "$key: curl got '$code'"
    client timeout 20 gnutls-cli --insecure --port "$PORT" 127.0.0.1 </dev/null >"$WORK/gnutls.out" 2>&1 ||
        true
    grep -q 'Handshake was completed' "$WORK/gnutls.out" ||
        fail "$key: gnutls-cli handshake failed: $(tail -3 "$WORK/gnutls.out")"
    count=$((count + 2))
    kill "${PIDS[-1]}"
    wait "${PIDS[-1]}" 2>/dev/null || true
    grep -qiE 'segmentation|abort' "$WORK/s_server-$key.log" && fail "s_server crashed for $key"
done
[[ $count -ge 6 ]] || fail "only $count handshakes ran"
pass "$count TLS handshakes with token keys (s_client 1.2/1.3, PKCS#1 and PSS, curl, gnutls-cli)"
