#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# TLS with OpenSSL's own server holding a token key (issue 3, "TLS"): `openssl s_server -key
# 'pkcs11:...' -cert <certificate> -www` on 127.0.0.1 (free port; stopped by PID), and
# handshakes from three clients that never see the token: `openssl s_client` (TLS 1.2 and 1.3;
# RSA with PKCS#1 and PSS signature algorithms, ECDSA with SHA-256 and SHA-384), `curl` (with
# the server's public key pinned) and `gnutls-cli` (an independent TLS stack). Each handshake
# must complete, the HTTP answer must arrive, the server must have signed with the requested
# algorithm, and the served certificate's public key must be the token key's.
#
#   tls_server.sh KEY    KEY: rsa2048, ec-p256 or ec-p384
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK" || exit 1
key=${1:?usage: tls_server.sh KEY}
has_key "$key" || fail "the $KIND fixture has no key $key"
require_cmd curl gnutls-cli
kind=$(key_kind "$key")
cert=$(cert_pem "$key")
pub=$(pub_pem "$key")
n=0

# Trust: the SoftHSM fixture's certificates come from its CA (SAN localhost, 127.0.0.1);
# NSS's are self-signed without SAN, so they are their own trust anchor and clients skip the
# name check (the public key is compared instead).
if [[ -n ${HSMP_TEST_CA:-} ]]; then
    cafile=$HSMP_TEST_CA
    names=true
else
    cafile=$cert
    names=false
fi
sw pkey -pubin -in "$pub" -outform DER -out token.spki.der
pin_sha256=$(sw dgst -sha256 -binary token.spki.der | base64)

# Start the server: token key, certificate from the fixture.
port=$(free_port)
bg_start s_server.log openssl s_server -accept "127.0.0.1:$port" -naccept 1000 \
    -key "$(key_uri "$key")" -cert "$cert" -www
server=$BG_PID
wait_listen "$server" s_server.log "$port"

server_alive() {
    kill -0 "$server" 2>/dev/null || {
        sed 's/^/    | /' s_server.log >&2
        fail "s_server (pid $server) died after: $1"
    }
}

# served_key_is FILE WHAT: the first certificate in FILE carries the token's public key.
served_key_is() {
    sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/{p;/END CERTIFICATE/q}' "$1" >served.pem
    [[ -s served.pem ]] || fail "$2: no certificate in the client output"
    sw x509 -in served.pem -pubkey -noout >served.pub || fail "$2: unreadable served certificate"
    same_pub "$2: served certificate" served.pub "$pub"
}

# s_client_hs TAG EXPECT_PROTO EXPECT_SIGTYPE EXPECT_DIGEST S_CLIENT_ARGS...
s_client_hs() {
    local tag=$1 proto=$2 sigtype=$3 digest=$4 rc=0
    shift 4
    printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=/dev/null timeout 30 "${PLAIN[@]}" openssl s_client \
        -connect "127.0.0.1:$port" -servername localhost -CAfile "$cafile" \
        -verify_return_error -showcerts -ign_eof "$@" >"$tag.out" 2>&1 || rc=$?
    server_alive "$tag"
    if ((rc != 0)) || ! grep -q '^HTTP/1.0 200 ok' "$tag.out"; then
        sed 's/^/    | /' "$tag.out" | tail -30 >&2
        tail -5 s_server.log | sed 's/^/    server| /' >&2
        fail "$tag: s_client $* failed (exit $rc)"
    fi
    grep -qE "^ *Protocol *: $proto\$" "$tag.out" ||
        fail "$tag: not $proto: $(grep -E 'Protocol' "$tag.out")"
    grep -q '^Verification: OK' "$tag.out" || fail "$tag: certificate verification did not pass"
    grep -q "^Peer signature type: $sigtype\$" "$tag.out" ||
        fail "$tag: expected signature type $sigtype: $(grep '^Peer sig' "$tag.out")"
    grep -q "^Peer signing digest: $digest\$" "$tag.out" ||
        fail "$tag: expected signing digest $digest: $(grep '^Peer sig' "$tag.out")"
    served_key_is "$tag.out" "$tag"
    n=$((n + 1))
}

case $kind in
rsa)
    s_client_hs tls13 TLSv1.3 RSA-PSS SHA256 -tls1_3
    s_client_hs tls13-pss384 TLSv1.3 RSA-PSS SHA384 -tls1_3 -sigalgs rsa_pss_rsae_sha384
    s_client_hs tls12 TLSv1.2 RSA-PSS SHA256 -tls1_2
    s_client_hs tls12-pkcs1 TLSv1.2 RSA SHA256 -tls1_2 -sigalgs RSA+SHA256
    s_client_hs tls12-pkcs1-sha512 TLSv1.2 RSA SHA512 -tls1_2 -sigalgs RSA+SHA512
    s_client_hs tls12-pss TLSv1.2 RSA-PSS SHA256 -tls1_2 -sigalgs rsa_pss_rsae_sha256
    ;;
ec)
    case $key in
    ec-p256) d=SHA256 sa13=ecdsa_secp256r1_sha256 ;;
    ec-p384) d=SHA384 sa13=ecdsa_secp384r1_sha384 ;;
    *) fail "no TLS parameters for $key" ;;
    esac
    s_client_hs tls13 TLSv1.3 ECDSA "$d" -tls1_3 -sigalgs "$sa13"
    s_client_hs tls12 TLSv1.2 ECDSA SHA256 -tls1_2 -sigalgs ECDSA+SHA256
    s_client_hs tls12-sha384 TLSv1.2 ECDSA SHA384 -tls1_2 -sigalgs ECDSA+SHA384
    ;;
*) fail "TLS with a $kind key is not part of this test" ;;
esac
pass "$key: $n s_client handshakes (TLS 1.2 and 1.3) signed by the token key"

# curl: libcurl with Debian's OpenSSL, the server's public key pinned.
for v in 1.2 1.3; do
    rc=0
    url=https://127.0.0.1:$port/
    args=(--cacert "$cafile")
    $names || args=(-k)
    OPENSSL_CONF=/dev/null timeout 30 "${PLAIN[@]}" curl -sS --max-time 20 "--tlsv$v" --tls-max "$v" \
        "${args[@]}" --pinnedpubkey "sha256//$pin_sha256" -w '\n%{http_code} %{ssl_verify_result}\n' \
        -o curl-$v.body "$url" >curl-$v.out 2>curl-$v.err || rc=$?
    server_alive "curl TLS $v"
    ((rc == 0)) || fail "curl --tlsv$v: exit $rc: $(cat curl-$v.err)"
    grep -q '^200 ' curl-$v.out || fail "curl --tlsv$v: $(cat curl-$v.out)"
    grep -q 's_server' curl-$v.body || fail "curl --tlsv$v: not the s_server page"
    n=$((n + 1))
done
# The pin is enforced: a wrong key hash makes curl fail.
if OPENSSL_CONF=/dev/null timeout 30 "${PLAIN[@]}" curl -sS --max-time 20 -k \
    --pinnedpubkey "sha256//$(printf 'x%.0s' {1..32} | base64)" -o /dev/null \
    "https://127.0.0.1:$port/" 2>/dev/null; then
    fail "curl accepted a wrong pinned public key: the pin check proves nothing"
fi
server_alive "curl with a wrong pin"
pass "$key: curl TLS 1.2 and 1.3 with the token's public key pinned"

# gnutls-cli: GnuTLS, not OpenSSL, verifies the signature made in the token.
gnutls_hs() { # TAG PRIORITY EXPECT_DESCRIPTION_REGEX
    local tag=$1 prio=$2 want=$3 rc=0
    local -a trust=(--x509cafile "$cafile")
    if $names; then
        trust+=(--verify-hostname localhost)
    else
        trust=(--insecure)
    fi
    timeout 30 "${PLAIN[@]}" gnutls-cli --port "$port" "${trust[@]}" --priority "$prio" \
        --save-cert "gnutls-$tag.pem" 127.0.0.1 </dev/null >"gnutls-$tag.out" 2>&1 || rc=$?
    server_alive "gnutls-cli $tag"
    if ((rc != 0)) || ! grep -q 'Handshake was completed' "gnutls-$tag.out"; then
        sed 's/^/    | /' "gnutls-$tag.out" | tail -20 >&2
        fail "gnutls-cli $tag ($prio): exit $rc"
    fi
    grep -qE -- "$want" "gnutls-$tag.out" ||
        fail "gnutls-cli $tag: expected '$want': $(grep -E 'Description|Server Signature' "gnutls-$tag.out")"
    served_key_is "gnutls-$tag.pem" "gnutls-cli $tag"
    n=$((n + 1))
}
base=NORMAL:-VERS-ALL
case $kind in
rsa)
    gnutls_hs tls13 "$base:+VERS-TLS1.3" 'Description: \(TLS1.3-X.509\)-.*\(RSA-PSS-RSAE-SHA256\)'
    gnutls_hs tls12-pkcs1 "$base:+VERS-TLS1.2:-SIGN-ALL:+SIGN-RSA-SHA256" \
        'Description: \(TLS1.2-X.509\)-\(ECDHE-[A-Z0-9]+\)-\(RSA-SHA256\)'
    gnutls_hs tls12-pss "$base:+VERS-TLS1.2:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256" \
        'Description: \(TLS1.2-X.509\)-\(ECDHE-[A-Z0-9]+\)-\(RSA-PSS-RSAE-SHA256\)'
    ;;
ec)
    gnutls_hs tls13 "$base:+VERS-TLS1.3" 'Description: \(TLS1.3-X.509\)-.*\(ECDSA-SECP(256|384)R1-SHA(256|384)\)'
    gnutls_hs tls12 "$base:+VERS-TLS1.2" 'Description: \(TLS1.2-X.509\)-\(ECDHE-[A-Z0-9]+\)-\(ECDSA-SHA(256|384)\)'
    ;;
esac
pass "$key: gnutls-cli handshakes (TLS 1.2 and 1.3) verify the token's signatures"

bg_stop "$server"
grep -qiE 'segmentation|abort|sanitizer' s_server.log && fail "s_server reported a crash"
pass "$key: $n TLS connections served with the token key"
