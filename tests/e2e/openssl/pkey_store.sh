#!/bin/bash
# Loading keys by URI: provider listing, storeutl, pkey -pubout byte-identical to the default
# provider's output, -text with public parts only, the key-reference PEM round trip, and
# refusal of every private-key export.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

openssl list -providers >"$WORK/providers" || fail "openssl list -providers"
grep -q "pkcs11 (HSM) provider" "$WORK/providers" || fail "provider not listed via openssl.cnf"

# The -provider form, with a configuration section that does not activate it.
write_conf "$WORK/noact.cnf"
sed -i '$d' "$WORK/noact.cnf"  # drop the final "activate = 1"
OPENSSL_CONF=$WORK/noact.cnf openssl list -providers -provider-path "$HSMP_PROVIDER_DIR" \
    -provider pkcs11 -provider default >"$WORK/providers2" || fail "-provider pkcs11"
grep -q "pkcs11 (HSM) provider" "$WORK/providers2" || fail "provider not listed via -provider"
pass "provider loads from openssl.cnf and from -provider"

openssl storeutl -keys "$TOKEN_URI" >"$WORK/keys" 2>&1 || fail "storeutl -keys: $(cat "$WORK/keys")"
n=$(grep -c 'Pkey' "$WORK/keys" || true)
[[ $n -ge ${#KEYS[@]} ]] || fail "storeutl -keys listed $n keys, the token has ${#KEYS[@]}"
openssl storeutl -certs "$TOKEN_URI" >"$WORK/certs" 2>&1 || fail "storeutl -certs"
grep -q 'Certificate' "$WORK/certs" || fail "storeutl -certs listed no certificate"
openssl storeutl -keys -text "$TOKEN_URI" >"$WORK/keys.txt" 2>&1 || fail "storeutl -keys -text"
grep -q 'URI: pkcs11:' "$WORK/keys.txt" || fail "storeutl -text does not show key URIs"
pass "storeutl lists $n keys with their URIs and the certificates"

for key in "${KEYS[@]}"; do
    uri=$(key_uri "$key")
    openssl pkey -in "$uri" -pubout -out "$WORK/$key.pub.pem" || fail "pkey -pubout $key"
    openssl pkey -pubin -in "$FIX/pub/$key.pem" -pubout -out "$WORK/$key.ref.pem"
    cmp -s "$WORK/$key.pub.pem" "$WORK/$key.ref.pem" ||
        fail "pkey -pubout of $key differs from the default provider's encoding"
    openssl pkey -in "$uri" -text -noout >"$WORK/$key.txt" || fail "pkey -text $key"
    if grep -qiE 'privateExponent|^priv:|prime1' "$WORK/$key.txt"; then
        fail "pkey -text of $key shows private components"
    fi
    if openssl pkey -in "$uri" -outform DER -out "$WORK/$key.der" 2>"$WORK/$key.err"; then
        fail "private key material of $key was exported"
    fi
    grep -q 'cannot be exported' "$WORK/$key.err" || fail "export refusal for $key is unclear"
    if openssl pkey -in "$uri" -traditional -out "$WORK/$key.trad" 2>/dev/null &&
        grep -q 'PRIVATE KEY' "$WORK/$key.trad"; then
        fail "a traditional private key PEM was written for $key"
    fi
done
pass "pkey -pubout byte-identical, -text public only, private export refused (${#KEYS[@]} keys)"

# The key-reference PEM: written by default, loads back as the same token key.
key=${KEYS[0]}
openssl pkey -in "$(key_uri "$key")" -out "$WORK/ref.pem" || fail "pkey -out"
head -1 "$WORK/ref.pem" | grep -q 'BEGIN PKCS#11 PROVIDER URI' || fail "not a key-reference PEM"
if grep -q "$PIN" <(openssl asn1parse -in "$WORK/ref.pem" 2>/dev/null | grep -i pin-value); then
    fail "the key-reference PEM holds a PIN"
fi
openssl pkey -in "$WORK/ref.pem" -pubout | cmp -s - "$WORK/$key.ref.pem" ||
    fail "the key-reference PEM does not load as the same key"
openssl dgst -sha256 -binary "$WORK/ref.pem" >"$WORK/d"
openssl pkeyutl -sign -inkey "$WORK/ref.pem" -pkeyopt digest:sha256 -in "$WORK/d" \
    -out "$WORK/d.sig" || fail "pkeyutl -sign -inkey key-reference PEM"
openssl pkeyutl -verify -pubin -inkey "$FIX/pub/$key.pem" -pkeyopt digest:sha256 -in "$WORK/d" \
    -sigfile "$WORK/d.sig" >/dev/null || fail "signature through the key-reference PEM"
pass "key-reference PEM round trip and signing for $key"
