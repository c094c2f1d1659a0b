#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Signatures with one token key (issue 3, "Signatures"): `openssl pkeyutl -sign` and
# `openssl dgst -sha1|-sha256|-sha384|-sha512 -sign 'pkcs11:...'` for RSA PKCS#1 v1.5,
# RSA-PSS (salt length digest/max/auto/explicit, MGF1 digest choice), ECDSA and EdDSA. Every
# signature is verified twice from the fixture's public key alone: by OpenSSL's default
# provider (no pkcs11 provider loaded) and by python3-cryptography.
#
#   sign_verify.sh KEY    KEY: a key label of the fixture (rsa2048, ec-p256, ...)
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK" || exit 1
key=${1:?usage: sign_verify.sh KEY}
has_key "$key" || fail "the $KIND fixture has no key $key (it has ${KEYS[*]})"
OPENSSL_CONF=/dev/null plain python3 -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
uri=$(key_uri "$key")
pub=$(pub_pem "$key")
kind=$(key_kind "$key")
n=0

# Message and prehashed digests.
for md in sha1 sha256 sha384 sha512; do
    sw dgst -"$md" -binary -out "msg.$md" msg
done

# check_dgst MD SCHEME [SALT MGF1] -- SIGOPT...: dgst -sign with the token key; verify with
# the default provider (same options, salt length made exact) and python3-cryptography.
check_dgst() {
    local md=$1 scheme=$2 salt=${3:-} mgf=${4:-} tag
    shift 5
    tag="dgst-$md-$scheme${salt:+-$salt}${mgf:+-$mgf}"
    run "$tag.log" "$key: openssl dgst -$md -sign $* " \
        openssl dgst -"$md" -sign "$uri" "$@" -out "$tag.sig" msg
    [[ -s $tag.sig ]] || fail "$tag: empty signature"
    local -a vopt=()
    [[ $scheme == pss ]] && vopt=(-sigopt rsa_padding_mode:pss
        -sigopt "rsa_pss_saltlen:$(sw_salt "$md" "$salt")"
        -sigopt "rsa_mgf1_md:${mgf:-$md}")
    run "$tag.v1" "$key: $tag does not verify with the default provider" \
        sw dgst -"$md" -verify "$pub" "${vopt[@]}" -signature "$tag.sig" msg
    run "$tag.v2" "$key: $tag does not verify with python3-cryptography" \
        pyverify --pub "$pub" --sig "$tag.sig" --data msg --scheme "$scheme" --md "$md" \
        ${salt:+--salt "$salt"} ${mgf:+--mgf1 "$mgf"}
    n=$((n + 1))
}

# check_pkeyutl MD SCHEME [SALT MGF1] -- PKEYOPT...: pkeyutl -sign over the digest.
check_pkeyutl() {
    local md=$1 scheme=$2 salt=${3:-} mgf=${4:-} tag
    shift 5
    tag="pkeyutl-$md-$scheme${salt:+-$salt}${mgf:+-$mgf}"
    run "$tag.log" "$key: openssl pkeyutl -sign -pkeyopt digest:$md $*" \
        openssl pkeyutl -sign -inkey "$uri" -pkeyopt "digest:$md" "$@" -in "msg.$md" \
        -out "$tag.sig"
    local -a vopt=()
    [[ $scheme == pss ]] && vopt=(-pkeyopt rsa_padding_mode:pss
        -pkeyopt "rsa_pss_saltlen:$(sw_salt "$md" "$salt")"
        -pkeyopt "rsa_mgf1_md:${mgf:-$md}")
    run "$tag.v1" "$key: $tag does not verify with the default provider" \
        sw pkeyutl -verify -pubin -inkey "$pub" -pkeyopt "digest:$md" "${vopt[@]}" \
        -in "msg.$md" -sigfile "$tag.sig"
    run "$tag.v2" "$key: $tag does not verify with python3-cryptography" \
        pyverify --pub "$pub" --sig "$tag.sig" --data "msg.$md" --prehashed --scheme "$scheme" \
        --md "$md" ${salt:+--salt "$salt"} ${mgf:+--mgf1 "$mgf"}
    n=$((n + 1))
}

# sw_salt MD SALT: the salt length the verifier insists on (exact for digest/max/N; "auto"
# accepts what the signer chose).
sw_salt() {
    local md=$1 salt=$2 bits hlen
    case $salt in
    digest) sw dgst -"$md" -binary </dev/null | wc -c ;;
    max)
        bits=$(sw pkey -pubin -in "$pub" -text -noout | sed -n 's/^Public-Key: (\([0-9]*\) bit)/\1/p')
        hlen=$(sw dgst -"$md" -binary </dev/null | wc -c)
        echo $(((bits - 1 + 7) / 8 - hlen - 2))
        ;;
    *) echo "$salt" ;;
    esac
}

case $kind in
rsa)
    for md in sha1 sha256 sha384 sha512; do
        check_dgst "$md" pkcs1 "" "" --
        check_pkeyutl "$md" pkcs1 "" "" --
        for salt in digest max auto 32; do
            check_dgst "$md" pss "$salt" "" -- -sigopt rsa_padding_mode:pss \
                -sigopt "rsa_pss_saltlen:$salt"
            check_pkeyutl "$md" pss "$salt" "" -- -pkeyopt rsa_padding_mode:pss \
                -pkeyopt "rsa_pss_saltlen:$salt"
        done
    done
    # MGF1 with another digest than the message digest.
    for salt in digest max auto 32; do
        check_dgst sha256 pss "$salt" sha384 -- -sigopt rsa_padding_mode:pss \
            -sigopt "rsa_pss_saltlen:$salt" -sigopt rsa_mgf1_md:sha384
        check_pkeyutl sha256 pss "$salt" sha384 -- -pkeyopt rsa_padding_mode:pss \
            -pkeyopt "rsa_pss_saltlen:$salt" -pkeyopt rsa_mgf1_md:sha384
    done
    check_dgst sha512 pss digest sha1 -- -sigopt rsa_padding_mode:pss \
        -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha1
    # PSS is randomised (salt), PKCS#1 v1.5 is deterministic: same message, same signature.
    openssl dgst -sha256 -sign "$uri" -out again.sig msg
    cmp -s again.sig dgst-sha256-pkcs1.sig || fail "$key: PKCS#1 v1.5 signatures differ"
    cmp -s dgst-sha256-pss-digest.sig dgst-sha256-pss-32.sig &&
        fail "$key: two PSS signatures are identical (no random salt?)"
    ;;
ec)
    for md in sha1 sha256 sha384 sha512; do
        check_dgst "$md" ecdsa "" "" --
        check_pkeyutl "$md" ecdsa "" "" --
    done
    # DER ECDSA-Sig-Value: SEQUENCE of two INTEGERs.
    sw asn1parse -inform DER -in dgst-sha256-ecdsa.sig >asn1.txt ||
        fail "$key: the ECDSA signature is not DER"
    [[ $(grep -c 'prim: INTEGER' asn1.txt) -eq 2 ]] || fail "$key: not an ECDSA-Sig-Value: $(cat asn1.txt)"
    ;;
ed)
    run ed.log "$key: pkeyutl -sign -rawin" openssl pkeyutl -sign -inkey "$uri" -rawin -in msg \
        -out ed.sig
    run ed.v1 "$key: EdDSA signature does not verify with the default provider" \
        sw pkeyutl -verify -pubin -inkey "$pub" -rawin -in msg -sigfile ed.sig
    run ed.v2 "$key: EdDSA signature does not verify with python3-cryptography" \
        pyverify --pub "$pub" --sig ed.sig --data msg --scheme eddsa
    n=$((n + 1))
    ;;
esac

# The verifiers can fail: a changed message is rejected by both.
printf 'tampered\n' >>msg
case $kind in
rsa) scheme=pkcs1 ;;
ec) scheme=ecdsa ;;
ed) scheme=eddsa ;;
esac
sig=$([[ $kind == ed ]] && echo ed.sig || echo "dgst-sha256-$scheme.sig")
if pyverify --pub "$pub" --sig "$sig" --data msg --scheme "$scheme" --md sha256 2>/dev/null; then
    fail "python3-cryptography accepted a signature over a changed message"
fi
if [[ $kind != ed ]] && sw dgst -sha256 -verify "$pub" -signature "$sig" msg >/dev/null 2>&1; then
    fail "the default provider accepted a signature over a changed message"
fi
pass "$key: $n signatures made in the token verify with the default provider and python3-cryptography"
