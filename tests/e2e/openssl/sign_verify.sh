#!/bin/bash
# Signatures made in the token through `openssl dgst -sign` and `openssl pkeyutl -sign` with a
# pkcs11: URI, for RSA PKCS#1 v1.5, RSA-PSS (every salt-length form, MGF1 digests) and
# ECDSA; each verified by OpenSSL's default provider from the public key alone and by
# python3-cryptography as an independent verifier.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

msg=$WORK/message.txt
head -c 10000 /dev/urandom >"$msg"

pyverify() {  # pyverify PUBPEM SIG ALG DIGEST [PSS_SALT MGF1]
    python3 - "$@" "$msg" <<'PY'
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
pub_path, sig_path, alg, digest = sys.argv[1:5]
msg = open(sys.argv[-1], "rb").read()
pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
sig = open(sig_path, "rb").read()
h = getattr(hashes, digest.upper())()
if alg == "ecdsa":
    pub.verify(sig, msg, ec.ECDSA(h))
elif alg == "pkcs1":
    pub.verify(sig, msg, padding.PKCS1v15(), h)
else:
    mgf = getattr(hashes, sys.argv[6].upper())()
    pub.verify(sig, msg, padding.PSS(mgf=padding.MGF1(mgf), salt_length=padding.PSS.AUTO), h)
PY
}

count=0
for key in "${KEYS[@]}"; do
    case $key in
    rsa*) alg=pkcs1 ;;
    ec-*) alg=ecdsa ;;
    *) continue ;;
    esac
    pub=$FIX/pub/$key.pem
    for d in sha1 sha256 sha384 sha512; do
        sig=$WORK/$key-$d.sig
        openssl dgst "-$d" -sign "$(key_uri "$key")" -out "$sig" "$msg" ||
            fail "dgst -$d -sign with $key"
        openssl dgst "-$d" -verify "$pub" -signature "$sig" "$msg" >/dev/null ||
            fail "OpenSSL rejects the $key $d signature"
        pyverify "$pub" "$sig" "$alg" "$d" || fail "python3-cryptography rejects $key $d"
        count=$((count + 1))
    done
    # pkeyutl over a digest.
    openssl dgst -sha256 -binary "$msg" >"$WORK/digest"
    openssl pkeyutl -sign -inkey "$(key_uri "$key")" -pkeyopt digest:sha256 \
        -in "$WORK/digest" -out "$WORK/pk.sig" || fail "pkeyutl -sign with $key"
    openssl pkeyutl -verify -pubin -inkey "$pub" -pkeyopt digest:sha256 -in "$WORK/digest" \
        -sigfile "$WORK/pk.sig" >/dev/null || fail "pkeyutl signature of $key does not verify"
    count=$((count + 1))
done

for key in "${KEYS[@]}"; do
    [[ $key == rsa2048 ]] || continue
    pub=$FIX/pub/$key.pem
    for salt in digest max auto 32; do
        for mgf in sha256 sha384; do
            sig=$WORK/pss-$salt-$mgf.sig
            openssl dgst -sha256 -sign "$(key_uri "$key")" -sigopt rsa_padding_mode:pss \
                -sigopt "rsa_pss_saltlen:$salt" -sigopt "rsa_mgf1_md:$mgf" -out "$sig" "$msg" ||
                fail "PSS signature saltlen=$salt mgf1=$mgf"
            openssl dgst -sha256 -verify "$pub" -sigopt rsa_padding_mode:pss \
                -sigopt rsa_pss_saltlen:auto -sigopt "rsa_mgf1_md:$mgf" -signature "$sig" \
                "$msg" >/dev/null || fail "OpenSSL rejects PSS saltlen=$salt mgf1=$mgf"
            pyverify "$pub" "$sig" pss sha256 "$salt" "$mgf" ||
                fail "python3-cryptography rejects PSS saltlen=$salt mgf1=$mgf"
            count=$((count + 1))
        done
    done
done
[[ $count -ge 10 ]] || fail "only $count signatures were checked"
pass "$count signatures made in the token verified by OpenSSL and python3-cryptography"
