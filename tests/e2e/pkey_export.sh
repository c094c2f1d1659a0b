#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# `openssl pkey` with token keys (issue 3): -pubout is byte-identical to the default
# provider's output for the same public key (PEM and DER; EC with the named-curve OID);
# -text shows public parts only; -out writes the key-reference PEM of DESIGN.md section 1,
# which loads back as the same token key and signs; a key-reference PEM built independently
# (latchset/pkcs11-provider's format) loads too; private key material never leaves the token.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK" || exit 1
PIN=$(<"$HSMP_TEST_PIN_FILE")

# refused WHAT CMD...: CMD must fail (no crash, no hang), say why, and write no private key.
refused() {
    local what=$1 rc=0
    shift
    timeout 30 "$@" >refused.out 2>refused.err </dev/null || rc=$?
    ((rc != 0)) || fail "$what succeeded: private key material was exported? $(head -3 refused.out)"
    ((rc != 124 && rc < 128)) || fail "$what crashed or hung (exit $rc)"
    grep -qF 'private key material cannot be exported' refused.err ||
        fail "$what: no clear refusal on stderr: $(cat refused.err)"
    no_private_pem refused.out refused.err
    find . -newer refused.err -type f -size +0 -name 'leak*' | grep -q . &&
        fail "$what wrote a non-empty output file"
    return 0
}

for key in "${KEYS[@]}"; do
    uri=$(key_uri "$key")
    kind=$(key_kind "$key")
    # -pubout, PEM and DER, against the default provider's encoding of the fixture's key.
    run_out "$key.pub.pem" "$key.err" "pkey -pubout $key" openssl pkey -in "$uri" -pubout
    run_out "$key.ref.pem" "$key.err" "default provider -pubout of $(pub_pem "$key")" \
        openssl pkey -provider default -pubin -in "$(pub_pem "$key")" -pubout
    cmp "$key.pub.pem" "$key.ref.pem" || fail "pkey -pubout of $key is not byte-identical"
    head -1 "$key.pub.pem" | grep -qx -- '-----BEGIN PUBLIC KEY-----' || fail "$key: not SPKI PEM"
    run_out "$key.pub.der" "$key.err" "pkey -pubout -outform DER $key" \
        openssl pkey -in "$uri" -pubout -outform DER
    openssl pkey -provider default -pubin -in "$(pub_pem "$key")" -outform DER -out "$key.ref.der"
    cmp "$key.pub.der" "$key.ref.der" || fail "pkey -pubout -outform DER of $key differs"
    if [[ $kind == ec ]]; then
        openssl asn1parse -inform DER -in "$key.pub.der" >"$key.asn1"
        grep -qE 'OBJECT +:(prime256v1|secp384r1|secp521r1)' "$key.asn1" ||
            fail "$key: SPKI without a named-curve OID: $(cat "$key.asn1")"
    fi

    # -text: public parts only, and the key is recognisable.
    run_out "$key.txt" "$key.err" "pkey -text -noout $key" openssl pkey -in "$uri" -text -noout
    no_private_pem "$key.txt"
    grep -qiE 'privateExponent|prime[12]:|exponent[12]:|coefficient:|^priv(ate)?:' "$key.txt" &&
        fail "pkey -text of $key shows private components: $(cat "$key.txt")"
    case $kind in
    rsa) grep -q '^Modulus:' "$key.txt" || fail "pkey -text of $key has no modulus" ;;
    ec | ed) grep -q '^pub:' "$key.txt" || fail "pkey -text of $key has no public point" ;;
    esac
    no_secret "$PIN" "$key.txt"

    # Private material in every form OpenSSL offers: refused with a clear error.
    refused "$key: pkey -outform DER" openssl pkey -in "$uri" -outform DER -out leak.der
    refused "$key: pkey -traditional" openssl pkey -in "$uri" -traditional -out leak.pem
    # An encrypted PKCS#8 PEM request gets the key reference (nothing secret to encrypt).
    run "$key.enc.log" "pkey -aes128 $key" \
        openssl pkey -in "$uri" -aes128 -passout pass:leak -out "$key.enc.pem"
    [[ $(head -1 "$key.enc.pem") == '-----BEGIN PKCS#11 PROVIDER URI-----' ]] ||
        fail "pkey -aes128 of $key wrote something else than a key reference: $(head -1 "$key.enc.pem")"
    case $kind in
    rsa) refused "$key: rsa -outform DER" openssl rsa -in "$uri" -outform DER -out leak-rsa.der ;;
    ec) refused "$key: ec -outform DER" openssl ec -in "$uri" -outform DER -out leak-ec.der ;;
    esac
    # -text of rsa/ec prints from the exported private key in 3.0's legacy path: whatever
    # happens, no private component may appear.
    timeout 30 openssl pkey -in "$uri" -text >text-all.out 2>&1 || true
    no_private_pem text-all.out
    grep -qiE 'privateExponent|prime1:|^priv:' text-all.out && fail "$key: -text shows private parts"
done
pass "-pubout byte-identical (PEM, DER), -text public only, private export refused: ${KEYS[*]}"

# Key-reference PEM: the default output of -out for a token private key.
for key in "${KEYS[@]}"; do
    uri=$(key_uri "$key")
    kind=$(key_kind "$key")
    run "$key.out.log" "pkey -out $key.key.pem" openssl pkey -in "$uri" -out "$key.key.pem"
    [[ $(head -1 "$key.key.pem") == '-----BEGIN PKCS#11 PROVIDER URI-----' ]] ||
        fail "pkey -out of $key is not a key-reference PEM: $(head -1 "$key.key.pem")"
    [[ $(tail -1 "$key.key.pem") == '-----END PKCS#11 PROVIDER URI-----' ]] ||
        fail "pkey -out of $key: bad PEM trailer"
    no_private_pem "$key.key.pem"
    # DER: SEQUENCE { VisibleString "PKCS#11 Provider URI v1.0", UTF8String uri }.
    python3 - "$key.key.pem" "$key" "$PIN" <<'PY' || fail "$key.key.pem is not a valid key reference"
import base64, sys
path, label, pin = sys.argv[1:4]
lines = open(path).read().split("\n")
der = base64.b64decode("".join(l for l in lines if l and not l.startswith("-----")))
def tlv(b, i):
    tag, ln = b[i], b[i + 1]
    i += 2
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(b[i:i + n], "big")
        i += n
    return tag, b[i:i + ln], i + ln
tag, body, end = tlv(der, 0)
assert tag == 0x30 and end == len(der), "not one SEQUENCE"
t1, v1, i = tlv(body, 0)
t2, v2, i = tlv(body, i)
assert i == len(body), "extra fields"
assert t1 == 0x1A and v1 == b"PKCS#11 Provider URI v1.0", f"bad description {t1:#x} {v1!r}"
assert t2 == 0x0C, f"URI is not a UTF8String ({t2:#x})"
uri = v2.decode()
assert uri.startswith("pkcs11:"), uri
assert f"object={label}" in uri, f"{uri} does not name {label}"
assert "pin-value" not in uri and "pin-source" not in uri and pin not in uri.split(";id=")[0], uri
PY
    run_out "$key.back.pem" "$key.err" "pkey -in $key.key.pem -pubout" \
        openssl pkey -in "$key.key.pem" -pubout
    cmp "$key.back.pem" "$key.ref.pem" || fail "$key.key.pem does not load as the same key"
    # ... and signs.
    case $kind in
    rsa | ec)
        openssl dgst -sha256 -binary -out "$key.dgst" msg
        run "$key.sign.log" "pkeyutl -sign -inkey $key.key.pem" openssl pkeyutl -sign \
            -inkey "$key.key.pem" -pkeyopt digest:sha256 -in "$key.dgst" -out "$key.sig"
        run "$key.verify.log" "verify the $key.key.pem signature with the default provider" \
            openssl pkeyutl -verify -pubin -inkey "$(pub_pem "$key")" -pkeyopt digest:sha256 \
            -in "$key.dgst" -sigfile "$key.sig"
        ;;
    ed)
        run "$key.sign.log" "pkeyutl -sign -rawin -inkey $key.key.pem" openssl pkeyutl -sign \
            -inkey "$key.key.pem" -rawin -in msg -out "$key.sig"
        run "$key.verify.log" "verify the $key.key.pem signature with the default provider" \
            openssl pkeyutl -verify -pubin -inkey "$(pub_pem "$key")" -rawin -in msg \
            -sigfile "$key.sig"
        ;;
    esac
    # A second -out from the key-reference PEM writes the same reference again.
    run "$key.again.log" "pkey -in $key.key.pem -out" openssl pkey -in "$key.key.pem" -out "$key.again.pem"
    cmp "$key.key.pem" "$key.again.pem" || fail "$key: the key reference does not round-trip"
done
pass "-out writes a key-reference PEM that loads back and signs: ${KEYS[*]}"

# A key-reference PEM built here, independently of the provider, in latchset/pkcs11-provider's
# format (its encoder writes the same DER; its URIs name the key by id and label).
key=${KEYS[0]}
id_var=HSMP_TEST_ID_${key//-/_}
id_hex=${!id_var}
# shellcheck disable=SC2001 # a % before every hex pair
id_pct=$(sed 's/../%&/g' <<<"$id_hex")
python3 - "$TOKEN_URI;id=$id_pct;object=$key;type=private" latchset.pem <<'PY'
import base64, sys
uri, out = sys.argv[1].encode(), sys.argv[2]
def tlv(tag, v):
    n = len(v)
    ln = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + ln + v
der = tlv(0x30, tlv(0x1A, b"PKCS#11 Provider URI v1.0") + tlv(0x0C, uri))
b64 = base64.b64encode(der).decode()
with open(out, "w") as f:
    f.write("-----BEGIN PKCS#11 PROVIDER URI-----\n")
    for i in range(0, len(b64), 64):
        f.write(b64[i:i + 64] + "\n")
    f.write("-----END PKCS#11 PROVIDER URI-----\n")
PY
run_out latchset.pub latchset.err "pkey -in latchset.pem (independently built key reference)" \
    openssl pkey -in latchset.pem -pubout
cmp latchset.pub "$key.ref.pem" || fail "the independently built key reference loads another key"
pass "an independently built key-reference PEM (id + label) loads $key"
