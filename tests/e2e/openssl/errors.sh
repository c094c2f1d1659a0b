#!/bin/bash
# Bad input, each with the message a user needs: a table of cases run through the real
# openssl CLI. Every case must fail (non-zero, no crash, within 30 s), print the expected
# text, and never print the PIN.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK"

key=${KEYS[0]}
ec_key=""
for k in "${KEYS[@]}"; do
    [[ $k == ec-* ]] && ec_key=$k && break
done
good=$(key_uri "$key")

# Variants of the configuration.
# Configuration errors: a section loaded by -provider (not activated by the file, where
# OpenSSL 3.0 drops activation errors unless config_diagnostics is set).
write_conf bad-key.cnf "pkcs11-module-pth = /x.so"
write_conf bad-value.cnf "pkcs11-module-login-behavior = sometimes"
sed -i '$d' bad-key.cnf
sed -i '$d' bad-value.cnf
write_conf wrong-pin.cnf
sed -i "s|^pkcs11-module-token-pin = .*|pkcs11-module-token-pin = file:$WORK/wrong.pin|" wrong-pin.cnf
printf 'not-the-pin-77' >wrong.pin
write_conf missing-pin.cnf
sed -i "s|^pkcs11-module-token-pin = .*|pkcs11-module-token-pin = file:$WORK/nope.pin|" missing-pin.cnf
write_conf no-module.cnf
sed -i "s|^pkcs11-module-path = .*|pkcs11-module-path = /nonexistent/libpkcs11.so|" no-module.cnf
write_conf not-pkcs11.cnf
sed -i "s|^pkcs11-module-path = .*|pkcs11-module-path = $(readlink -f /lib/x86_64-linux-gnu/libz.so.1)|" \
    not-pkcs11.cnf
write_conf nopin.cnf
sed -i '/^pkcs11-module-token-pin/d' nopin.cnf
{
    echo "openssl_conf = init"
    echo "[init]"
    echo "providers = prov"
    echo "[prov]"
    echo "pkcs11 = p11"
    sed -n '/^\[p11\]/,$p' "$OPENSSL_CONF" | sed '/^activate/d'
} >only-pkcs11.cnf

n=0
check() {  # check NAME EXPECTED CONF -- command...
    local name=$1 expect=$2 conf=$3
    shift 4
    local rc=0
    OPENSSL_CONF=$conf timeout 30 "$@" >"$name.out" 2>&1 </dev/null || rc=$?
    [[ $rc -ne 0 ]] || fail "$name: succeeded, expected a failure"
    [[ $rc -ne 124 ]] || fail "$name: hung (timeout)"
    [[ $rc -lt 128 ]] || fail "$name: crashed (exit $rc)"
    grep -qF -- "$expect" "$name.out" || fail "$name: expected \"$expect\" in: $(cat "$name.out")"
    if grep -qF -- "$PIN" "$name.out" && [[ ${#PIN} -ge 6 ]]; then
        fail "$name: the PIN appears in the output"
    fi
    grep -qF 'not-the-pin-77' "$name.out" && fail "$name: the wrong PIN appears in the output"
    n=$((n + 1))
}

cnf=$OPENSSL_CONF
check malformed-uri "bad percent-encoding at offset" "$cnf" -- openssl pkey -pubout -in "$TOKEN_URI;object=a%zz"
check unknown-attr 'unknown attribute "objct"' "$cnf" -- openssl pkey -pubout -in "$TOKEN_URI;objct=$key"
check no-object "no private key matches" "$cnf" -- openssl pkey -pubout -in "$TOKEN_URI;object=no-such-key;type=private"
check token-absent "no token matches" "$cnf" -- openssl pkey -pubout -in "pkcs11:token=nope;object=$key;type=private"
check wrong-pin "CKR_PIN_INCORRECT" wrong-pin.cnf -- openssl pkey -pubout -in "$good"
check pin-missing "$WORK/nope.pin" missing-pin.cnf -- openssl pkey -pubout -in "$good"
check pin-source-missing "/nonexistent/pin" nopin.cnf -- openssl pkey -pubout -in "$good?pin-source=file:/nonexistent/pin"
check no-pin "passphrase callback gave no PIN" nopin.cnf -- openssl pkey -pubout -in "$good"
check unsupported-digest "is not supported for signatures" "$cnf" -- openssl dgst -md5 -sign "$good" /etc/hostname
check module-missing "/nonexistent/libpkcs11.so" no-module.cnf -- openssl pkey -pubout -in "$good"
check not-pkcs11 "is not a PKCS#11 module" not-pkcs11.cnf -- openssl pkey -pubout -in "$good"
check unknown-config-key 'unknown configuration key "pkcs11-module-pth"' bad-key.cnf -- openssl list -providers -provider-path "$HSMP_PROVIDER_DIR" -provider pkcs11
check bad-config-value 'bad value "sometimes" for pkcs11-module-login-behavior' bad-value.cnf -- openssl list -providers -provider-path "$HSMP_PROVIDER_DIR" -provider pkcs11
check without-default "needs OpenSSL's default provider" only-pkcs11.cnf -- openssl pkey -provider-path "$HSMP_PROVIDER_DIR" -provider pkcs11 -pubout -in "$good"
check private-export "private key material cannot be exported" "$cnf" -- openssl pkey -in "$good" -outform DER
check pss-on-rsa-only-digest "signature" "$cnf" -- openssl dgst -sha256 -sign "$good" -sigopt rsa_padding_mode:oaep /etc/hostname
if [[ -n $ec_key ]]; then
    check key-type-mismatch "rsa_padding_mode" "$cnf" -- openssl dgst -sha256 -sign "$(key_uri "$ec_key")" -sigopt rsa_padding_mode:pss /etc/hostname
fi
[[ $n -ge 15 ]] || fail "only $n error cases ran"
pass "$n bad inputs each fail with a message naming the problem, no crash, no PIN"
