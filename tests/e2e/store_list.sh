#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# `openssl storeutl` on the token (issue 3, store): -keys lists every private key with a URI
# that loads back as that key; type=public lists the public keys; -certs lists the token's
# certificates, byte-identical to the fixture's; the -provider command-line form works too.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK" || exit 1
n=${#KEYS[@]}

# count PATTERN FILE: lines matching PATTERN.
count() { grep -cE -- "$1" "$2" || true; }

# Private keys, with their URIs (-text prints the provider's text form, which has the URI).
run_out keys.out keys.err "storeutl -keys" openssl storeutl -keys "$TOKEN_URI"
[[ $(count '^[0-9]+: Pkey$' keys.out) -eq $n ]] ||
    fail "storeutl -keys listed $(count '^[0-9]+: Pkey$' keys.out) private keys, the token has $n: $(cat keys.out)"
no_private_pem keys.out
run_out keys.txt keys.err "storeutl -keys -text" openssl storeutl -noout -text -keys "$TOKEN_URI"
[[ $(count '^URI: pkcs11:' keys.txt) -eq $n ]] ||
    fail "storeutl -keys -text shows $(count '^URI: pkcs11:' keys.txt) URIs for $n keys"
no_private_pem keys.txt
no_secret "$(<"$HSMP_TEST_PIN_FILE")" keys.out keys.txt keys.err
for key in "${KEYS[@]}"; do
    uri=$(grep -E "^URI: pkcs11:.*[;:]object=$key(;|$)" keys.txt | sed 's/^URI: //') ||
        fail "no URI with object=$key in storeutl -keys -text: $(grep '^URI' keys.txt)"
    [[ $(wc -l <<<"$uri") -eq 1 ]] || fail "several URIs list object=$key: $uri"
    [[ $uri == *type=private* ]] || fail "the listed URI of $key lacks type=private: $uri"
    [[ $uri != *pin-value* && $uri != *pin-source* ]] || fail "the listed URI carries a PIN: $uri"
    run_out "$key.pub" "$key.err" "pkey -pubout from the listed URI $uri" \
        openssl pkey -in "$uri" -pubout
    same_pub "listed URI of $key" "$key.pub" "$(pub_pem "$key")"
done
pass "storeutl -keys lists the $n private keys; each listed URI loads as that key"

# Public keys (OpenSSL 3.0's storeutl -keys keeps private keys only, so select by type).
run_out pubs.out pubs.err "storeutl type=public" openssl storeutl -text "$TOKEN_URI;type=public"
[[ $(count '^[0-9]+: Public key$' pubs.out) -eq $n ]] ||
    fail "storeutl listed $(count '^[0-9]+: Public key$' pubs.out) public keys, the token has $n"
# Every fixture public key is among them.
plain awk '/BEGIN PUBLIC KEY/{f=1; n++} f{print > ("listed-pub-" n ".pem")} /END PUBLIC KEY/{f=0}' pubs.out
for key in "${KEYS[@]}"; do
    found=false
    for f in listed-pub-*.pem; do
        if cmp -s "$f" <(openssl pkey -pubin -in "$(pub_pem "$key")"); then
            found=true
        fi
    done
    $found || fail "the public key of $key is not among the listed public keys"
done
pass "type=public lists the $n public keys"

# ... each with its URI in the -text output (issue 3: "lists private and public keys with their
# URIs"), redacted like the private keys' URIs, and that URI loads back as that public key.
[[ $(count '^URI: pkcs11:' pubs.out) -eq $n ]] ||
    fail "storeutl -text shows $(count '^URI: pkcs11:' pubs.out) URIs for $n public keys: $(cat pubs.out)"
no_secret "$(<"$HSMP_TEST_PIN_FILE")" pubs.out pubs.err
for key in "${KEYS[@]}"; do
    uri=$(grep -E "^URI: pkcs11:.*[;:]object=$key(;|$)" pubs.out | sed 's/^URI: //') ||
        fail "no URI with object=$key among the listed public keys: $(grep '^URI' pubs.out)"
    [[ $(wc -l <<<"$uri") -eq 1 ]] || fail "several public-key URIs name object=$key: $uri"
    [[ $uri == *type=public* ]] || fail "the listed public-key URI of $key lacks type=public: $uri"
    [[ $uri != *pin-value* && $uri != *pin-source* ]] || fail "the listed URI carries a PIN: $uri"
    run_out "$key.puburi.pem" "$key.err" "pkey -pubin from the listed URI $uri" \
        openssl pkey -pubin -in "$uri" -pubout
    cmp "$key.puburi.pem" <(openssl pkey -pubin -in "$(pub_pem "$key")") ||
        fail "the listed URI $uri does not load the public key of $key byte for byte"
done
pass "storeutl -text shows each public key's URI; each loads back as that key"

# Certificates.
run_out certs.out certs.err "storeutl -certs" openssl storeutl -certs "$TOKEN_URI"
[[ $(count '^[0-9]+: Certificate$' certs.out) -eq $n ]] ||
    fail "storeutl -certs listed $(count '^[0-9]+: Certificate$' certs.out) certificates, expected $n"
plain awk '/BEGIN CERTIFICATE/{f=1; n++} f{print > ("listed-cert-" n ".pem")} /END CERTIFICATE/{f=0}' certs.out
for key in "${KEYS[@]}"; do
    want=$(openssl x509 -in "$(cert_pem "$key")" -outform DER | sha256sum)
    found=false
    for f in listed-cert-*.pem; do
        [[ $(openssl x509 -in "$f" -outform DER | sha256sum) == "$want" ]] && found=true
    done
    $found || fail "the certificate of $key is not among the listed certificates"
done
pass "storeutl -certs lists the $n token certificates"

# One object name, no type: private key, public key and certificate of that name.
key=${KEYS[0]}
run_out one.out one.err "storeutl object=$key" openssl storeutl -noout "$TOKEN_URI;object=$key"
for what in Pkey 'Public key' Certificate; do
    [[ $(count "^[0-9]+: $what\$" one.out) -eq 1 ]] ||
        fail "storeutl object=$key: expected one '$what': $(cat one.out)"
done
pass "object=$key lists its private key, public key and certificate"

# The command-line form of the issue: -provider pkcs11 -provider default.
{
    printf 'openssl_conf = init\n[init]\nproviders = prov\n[prov]\npkcs11 = p11\n[p11]\n'
    p11_section | grep -v '^module = '
} >noact.cnf
OPENSSL_CONF=$WORK/noact.cnf run_out cli.out cli.err "storeutl -provider pkcs11 -keys" \
    openssl storeutl -provider-path "$HSMP_PROVIDER_DIR" -provider pkcs11 -provider default \
    -keys "$TOKEN_URI"
[[ $(count '^[0-9]+: Pkey$' cli.out) -eq $n ]] || fail "storeutl -provider pkcs11 -keys: $(cat cli.out)"
pass "storeutl -provider pkcs11 -provider default -keys lists the $n keys"


# Public keys' URIs whichever provider is loaded first (the order decides which keymgmt
# OpenSSL fetches first for a key reference).
for order in "pkcs11 default" "default pkcs11"; do
    read -r first second <<<"$order"
    OPENSSL_CONF=$WORK/noact.cnf run_out cli-pub.out cli-pub.err "storeutl -provider $first -provider $second -text type=public" \
        openssl storeutl -provider-path "$HSMP_PROVIDER_DIR" -provider "$first" -provider "$second" \
        -noout -text "$TOKEN_URI;type=public"
    [[ $(count '^URI: pkcs11:.*type=public' cli-pub.out) -eq $n ]] ||
        fail "storeutl -provider $first -provider $second -text: $(count '^URI: pkcs11:.*type=public' cli-pub.out) public-key URIs for $n keys"
done
pass "storeutl -provider ... -text shows the $n public-key URIs in either provider order"
