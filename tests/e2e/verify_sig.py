#!/usr/bin/env python3
"""Independent signature verifier for the end-to-end tests (python3-cryptography, not the
OpenSSL CLI). Exits 0 when the signature verifies, 1 when it does not, 2 on bad usage.

  verify_sig.py --pub PUB.pem --sig SIG --data FILE --scheme SCHEME [--md MD]
                [--prehashed] [--salt N|digest|max|auto] [--mgf1 MD]

SCHEME: pkcs1 (RSA PKCS#1 v1.5), pss (RSA-PSS), ecdsa (DER ECDSA-Sig-Value), eddsa.
--prehashed: FILE holds the digest itself (what `openssl pkeyutl -sign` signs), not the
message. --salt: the PSS salt length the signer was asked for; digest/max are turned into
the exact number, so a signature with a different salt length is rejected; auto accepts any.
"""
import argparse
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448, padding, rsa, utils

DIGESTS = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def digest(name):
    try:
        return DIGESTS[name.lower().replace("-", "")]()
    except KeyError:
        sys.exit(f"verify_sig.py: unknown digest {name}")


def pss_salt(arg, key, md):
    if arg == "auto":
        return padding.PSS.AUTO
    if arg == "digest":
        return md.digest_size
    if arg == "max":
        em_len = (key.key_size - 1 + 7) // 8
        return em_len - md.digest_size - 2
    return int(arg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pub", required=True)
    ap.add_argument("--sig", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--scheme", required=True, choices=["pkcs1", "pss", "ecdsa", "eddsa"])
    ap.add_argument("--md", default="sha256")
    ap.add_argument("--prehashed", action="store_true")
    ap.add_argument("--salt", default="digest")
    ap.add_argument("--mgf1")
    a = ap.parse_args()

    with open(a.pub, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    with open(a.sig, "rb") as f:
        sig = f.read()
    with open(a.data, "rb") as f:
        data = f.read()

    md = digest(a.md)
    algo = utils.Prehashed(md) if a.prehashed else md
    if a.prehashed and len(data) != md.digest_size:
        sys.exit(f"verify_sig.py: {a.data} holds {len(data)} bytes, not a {a.md} digest")
    try:
        if a.scheme == "pkcs1":
            assert isinstance(key, rsa.RSAPublicKey), "not an RSA key"
            key.verify(sig, data, padding.PKCS1v15(), algo)
        elif a.scheme == "pss":
            assert isinstance(key, rsa.RSAPublicKey), "not an RSA key"
            mgf_md = digest(a.mgf1) if a.mgf1 else md
            pad = padding.PSS(mgf=padding.MGF1(mgf_md), salt_length=pss_salt(a.salt, key, md))
            key.verify(sig, data, pad, algo)
        elif a.scheme == "ecdsa":
            assert isinstance(key, ec.EllipticCurvePublicKey), "not an EC key"
            key.verify(sig, data, ec.ECDSA(algo))
        else:
            assert isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)), \
                "not an EdDSA key"
            key.verify(sig, data)
    except InvalidSignature:
        print(f"verify_sig.py: {a.scheme} signature {a.sig} does NOT verify", file=sys.stderr)
        return 1
    except AssertionError as e:
        print(f"verify_sig.py: {a.pub}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
