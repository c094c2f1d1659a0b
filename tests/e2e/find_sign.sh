#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# hsmp-find --sign (tools/): every fixture key signs a message inside the token through the
# PKCS#11 layer, and the signature file verifies with the default provider from the public
# key alone: RSA PKCS#1 v1.5 and ECDSA with `openssl dgst -sha256 -verify` (so the ECDSA
# r || s from the token must come out as DER), EdDSA with `pkeyutl -verify -rawin`.
#   find_sign.sh HSMP_FIND_BINARY
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK" || exit 1
tool=${1:?usage: find_sign.sh HSMP_FIND_BINARY}
[[ -x $tool ]] || fail "no hsmp-find at $tool"

find_args=(--module "$HSMP_TEST_MODULE" --pin-file "$HSMP_TEST_PIN_FILE")
[[ -n ${HSMP_TEST_INIT_ARGS:-} ]] && find_args+=(--init-args "$HSMP_TEST_INIT_ARGS")

# The tool is built like the provider (sanitizers included), so it runs with the sanitizer
# settings the e2e tests get (ci/test.sh: no leak checking there; SoftHSM2's EdDSA C_SignInit
# leaks an ASN1_STRING of its own).
for key in "${KEYS[@]}"; do
    run "$key.find.log" "hsmp-find --sign with $key" \
        "$tool" "${find_args[@]}" --sign msg --out "$key.sig" "$(key_uri "$key")"
    no_secret "$(<"$HSMP_TEST_PIN_FILE")" "$key.find.log"
    case $(key_kind "$key") in
    ed)
        run "$key.verify.log" "the hsmp-find signature of $key does not verify" \
            sw pkeyutl -verify -pubin -inkey "$(pub_pem "$key")" -rawin -in msg \
            -sigfile "$key.sig"
        ;;
    *)
        # ECDSA: OpenSSL accepts only DER that it would write itself (it re-encodes and
        # compares), so a raw r || s or a sloppy encoding fails here.
        run "$key.verify.log" "the hsmp-find signature of $key does not verify" \
            sw dgst -sha256 -verify "$(pub_pem "$key")" -signature "$key.sig" msg
        ;;
    esac
done
pass "hsmp-find --sign: signatures of ${KEYS[*]} verify in software"
