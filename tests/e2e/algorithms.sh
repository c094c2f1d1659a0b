#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# Algorithms offered according to the tokens' mechanism lists (issue 3). `openssl list` shows
# exactly the key managers and signature algorithms "@ pkcs11" whose mechanisms some token of
# the module offers for signing, as an independent PKCS#11 client (tests/fixtures/p11probe.py)
# reads them with C_GetMechanismList and C_GetMechanismInfo (CKF_SIGN). On SoftHSM2 the same
# token is then used through a configuration that switches ECDSA and EdDSA off
# (slots.mechanisms): EC and EdDSA are no longer offered, a token EC or Ed25519 key is
# refused with an error that names the missing mechanisms, RSA keys still sign, and software
# Ed25519 keys keep working through the default provider.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK" || exit 1

# Mechanism numbers (PKCS#11 2.40 and the EdDSA addition) that let each family sign: raw or
# hash-and-sign, and raw RSA for PSS blocks built in software.
declare -A FAMILY_MECHS=(
    [rsa]="0x1 0x3 0x6 0xd 0xe 0x40 0x41 0x42 0x43 0x44 0x45 0x46 0x47"
    [rsa-pss]="0x3 0xd 0xe 0x43 0x44 0x45 0x47"
    [ec]="0x1041 0x1042 0x1043 0x1044 0x1045 0x1046"
    [eddsa]="0x1057"
)
# The names OpenSSL lists for each family: key managers, then signature algorithms.
declare -A FAMILY_KEYMGMT=([rsa]="RSA" [rsa-pss]="RSA-PSS" [ec]="EC" [eddsa]="ED25519 ED448")
declare -A FAMILY_SIGNATURE=([rsa]="RSA" [rsa-pss]="RSA-PSS" [ec]="ECDSA" [eddsa]="ED25519 ED448")

# probe_families FIXTURE_ENV: the families the module's tokens can sign for, by the probe.
probe_families() {
    local mechs family m
    mechs=" $(python3 "$E2E_DIR/../fixtures/p11probe.py" --env "$1" mechanisms | tr '\n' ' ') " ||
        fail "p11probe could not list the token's mechanisms"
    for family in rsa rsa-pss ec eddsa; do
        for m in ${FAMILY_MECHS[$family]}; do
            if [[ $mechs == *" $m "* ]]; then
                printf '%s\n' "$family"
                break
            fi
        done
    done
}

# offered NAME FILE: NAME is listed "@ pkcs11" in FILE (`openssl list` output).
offered() {
    grep -E '@ pkcs11$' "$2" | grep -qE "(^|[{ ,])$1([ ,}]|$)"
}

# check_offer TAG FAMILIES...: `openssl list` (current SOFTHSM2_CONF/OPENSSL_CONF) offers
# exactly the names of FAMILIES @ pkcs11.
check_offer() {
    local tag=$1 family name want
    shift
    run_out "$tag.kmgmt" "$tag.err" "openssl list -key-managers ($tag)" openssl list -key-managers
    run_out "$tag.sig" "$tag.err" "openssl list -signature-algorithms ($tag)" \
        openssl list -signature-algorithms
    for family in rsa rsa-pss ec eddsa; do
        want=false
        [[ " $* " == *" $family "* ]] && want=true
        for name in ${FAMILY_KEYMGMT[$family]}; do
            if offered "$name" "$tag.kmgmt"; then
                $want || fail "$tag: key manager $name @ pkcs11 offered, but no token can sign for $family"
            else
                $want && fail "$tag: key manager $name @ pkcs11 not offered, though a token signs for $family"
            fi
        done
        for name in ${FAMILY_SIGNATURE[$family]}; do
            if offered "$name" "$tag.sig"; then
                $want || fail "$tag: signature $name @ pkcs11 offered, but no token can sign for $family"
            else
                $want && fail "$tag: signature $name @ pkcs11 not offered, though a token signs for $family"
            fi
        done
    done
    return 0
}

mapfile -t families < <(probe_families "$HSMP_FIXTURE_ENV")
((${#families[@]} > 0)) || fail "the probe found no signing mechanism on $KIND"
check_offer "$KIND" "${families[@]}"
pass "$KIND: offered exactly the families its tokens sign for: ${families[*]}"

[[ $KIND == softhsm ]] || exit 0

# The same SoftHSM2 token with every ECDSA and the EdDSA mechanism switched off. SoftHSM2
# 2.6.1 ignores the first name of a "-" list (it keeps the "-"), hence CKM_ECDSA twice, as in
# the fixture's own configuration.
sed '/^slots.mechanisms/d' "$SOFTHSM2_CONF" >restricted.conf
printf 'slots.mechanisms = -CKM_ECDSA,CKM_ECDSA,CKM_ECDSA_SHA1,CKM_ECDSA_SHA224,CKM_ECDSA_SHA256,CKM_ECDSA_SHA384,CKM_ECDSA_SHA512,CKM_EDDSA\n' \
    >>restricted.conf
sed "s|^SOFTHSM2_CONF=.*|SOFTHSM2_CONF=$WORK/restricted.conf|" "$HSMP_FIXTURE_ENV" >restricted.env
export SOFTHSM2_CONF=$WORK/restricted.conf
mapfile -t families < <(probe_families restricted.env)
[[ " ${families[*]} " == *" rsa "* && " ${families[*]} " != *" ec "* &&
    " ${families[*]} " != *" eddsa "* ]] ||
    fail "SoftHSM2 did not apply slots.mechanisms; the probe sees: ${families[*]}"
check_offer restricted "${families[@]}"
pass "restricted SoftHSM2: offered ${families[*]}, not EC or EdDSA"

# Token keys of a family not offered: refused, naming what the token lacks.
for key in ec-p256 ed25519; do
    has_key "$key" || continue
    rc=0
    bounded openssl pkey -in "$(key_uri "$key")" -pubout >"$key.out" 2>"$key.err" </dev/null || rc=$?
    ((rc != 0)) || fail "$key loaded although its token cannot sign with it: $(cat "$key.out")"
    ((rc < 124)) || fail "pkey -in $key crashed or hung (exit $rc)"
    case $key in
    ec-*) want='does not offer EC keys or signatures' mech=CKM_ECDSA ;;
    *) want='does not offer EdDSA keys or signatures' mech=CKM_EDDSA ;;
    esac
    grep -qF "$want" "$key.err" || fail "pkey -in $key: no reason given: $(cat "$key.err")"
    grep -qF "$mech" "$key.err" || fail "pkey -in $key: the missing $mech is not named: $(cat "$key.err")"
    grep -qF "object=$key" "$key.err" || fail "pkey -in $key: the key is not named: $(cat "$key.err")"
done
pass "restricted SoftHSM2: EC and Ed25519 token keys refused with the missing mechanisms named"

# RSA keys of the same token still sign (and verify in software).
key=rsa2048
sw dgst -sha256 -binary -out msg.sha256 msg
run sign.log "$key: pkeyutl -sign with the restricted token" \
    openssl pkeyutl -sign -inkey "$(key_uri "$key")" -pkeyopt digest:sha256 -in msg.sha256 \
    -out rsa.sig
run verify.log "$key: the signature does not verify with the default provider" \
    sw pkeyutl -verify -pubin -inkey "$(pub_pem "$key")" -pkeyopt digest:sha256 \
    -in msg.sha256 -sigfile rsa.sig
pass "restricted SoftHSM2: $key still signs"

# Software Ed25519 keys do not need this provider: the default provider serves them.
run gen.log "genpkey ED25519 with the pkcs11 provider loaded" \
    openssl genpkey -algorithm ED25519 -out soft-ed.pem
run soft-sign.log "pkeyutl -sign with a software Ed25519 key" \
    openssl pkeyutl -sign -inkey soft-ed.pem -rawin -in msg -out soft-ed.sig
sw pkey -in soft-ed.pem -pubout -out soft-ed.pub
run soft-verify.log "the software Ed25519 signature does not verify" \
    sw pkeyutl -verify -pubin -inkey soft-ed.pub -rawin -in msg -sigfile soft-ed.sig
pass "restricted SoftHSM2: software Ed25519 keys still sign through the default provider"
