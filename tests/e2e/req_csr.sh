#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# CSRs signed in the token (issue 3, "CSRs"): `openssl req -new -key 'pkcs11:...'` for every
# key of the fixture, RSA also with PSS (-sigopt rsa_padding_mode:pss); `openssl req -verify`
# passes, the request carries the token's public key and the expected signature algorithm,
# and the default provider alone verifies it too. Both the openssl.cnf and the -provider form.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK" || exit 1
n=0

# csr NAME KEY EXPECTED_SIGALG [REQ OPTIONS...]
csr() {
    local name=$1 key=$2 alg=$3
    shift 3
    run "$name.log" "req -new -key $(key_uri "$key") $*" \
        openssl req -new -key "$(key_uri "$key")" -subj "/O=hsmp e2e/CN=$name" "$@" \
        -out "$name.csr"
    run "$name.verify" "openssl req -verify $name.csr" openssl req -verify -noout -in "$name.csr"
    grep -q 'verify OK' "$name.verify" || fail "req -verify of $name: $(cat "$name.verify")"
    # The default provider alone (no pkcs11 provider) accepts the signature as well.
    run "$name.sw" "default-provider req -verify $name.csr" sw req -verify -noout -in "$name.csr"
    sw req -in "$name.csr" -pubkey -noout >"$name.pub"
    same_pub "$name CSR" "$name.pub" "$(pub_pem "$key")"
    sw req -in "$name.csr" -text -noout >"$name.txt"
    grep -q "Signature Algorithm: $alg" "$name.txt" ||
        later "$name: req $* signed with $(grep -m1 'Signature Algorithm' "$name.txt" | sed 's/^ *//'), expected $alg"
    grep -q "Subject: O = hsmp e2e, CN = $name" "$name.txt" || fail "$name: wrong subject"
    n=$((n + 1))
}

for key in "${KEYS[@]}"; do
    case $(key_kind "$key") in
    rsa)
        csr "$key-pkcs1" "$key" sha256WithRSAEncryption
        csr "$key-sha512" "$key" sha512WithRSAEncryption -sha512
        csr "$key-pss" "$key" rsassaPss -sigopt rsa_padding_mode:pss
        grep -q 'Hash Algorithm: sha256' "$key-pss.txt" || later "$key-pss: no SHA-256 in PSS params"
        csr "$key-pss384" "$key" rsassaPss -sha384 -sigopt rsa_padding_mode:pss \
            -sigopt rsa_pss_saltlen:digest -sigopt rsa_mgf1_md:sha384
        grep -q 'Hash Algorithm: sha384' "$key-pss384.txt" ||
            later "$key-pss384: PSS hash is not SHA-384: $(grep -m1 'Hash Algorithm' "$key-pss384.txt")"
        grep -q 'Salt Length: 0x30' "$key-pss384.txt" ||
            later "$key-pss384: PSS salt is not 48 bytes: $(grep -m1 'Salt Length' "$key-pss384.txt")"
        ;;
    ec)
        csr "$key" "$key" ecdsa-with-SHA256
        csr "$key-sha384" "$key" ecdsa-with-SHA384 -sha384
        ;;
    ed) csr "$key" "$key" ED25519 ;;
    esac
done

# The -provider command-line form with a section that does not activate the provider.
{
    printf 'openssl_conf = init\n[init]\nproviders = prov\n[prov]\npkcs11 = p11\n[p11]\n'
    p11_section | grep -v '^module = '
} >noact.cnf
key=${KEYS[0]}
OPENSSL_CONF=$WORK/noact.cnf run cli.log "req -new -provider pkcs11 -provider default" \
    openssl req -new -provider-path "$HSMP_PROVIDER_DIR" -provider pkcs11 -provider default \
    -key "$(key_uri "$key")" -subj /CN=cli -out cli.csr
run cli.verify "req -verify cli.csr" sw req -verify -noout -in cli.csr
n=$((n + 1))
finish "$n CSRs signed in the token verify (req -verify, default provider alone): ${KEYS[*]}"
