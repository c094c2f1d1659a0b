#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# A CA whose key lives in the token (issue 3, "CA"): `openssl req -x509 -key 'pkcs11:...'`
# makes a root; `openssl x509 -req -CA ca.pem -CAkey 'pkcs11:...'` and `openssl ca -keyfile
# 'pkcs11:...'` issue leaf certificates; `openssl verify -CAfile ca.pem` (default provider
# only) accepts them. For the fixture's RSA and EC keys; `openssl ca` refuses a key that does
# not match the CA certificate (keymgmt match).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK" || exit 1
n=0

# The leaf's key is an ordinary software key: only the CA key is in the token.
sw genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf.key 2>/dev/null
sw req -new -key leaf.key -subj "/O=hsmp e2e/CN=leaf" -out leaf.csr
cat >ext.cnf <<'CNF'
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

# sigalg_is CERT ALG: the certificate is signed with ALG (a wrong digest is reported at the end).
sigalg_is() {
    local got
    got=$(sw x509 -in "$1" -noout -text | grep -m1 'Signature Algorithm' | sed 's/.*: //; s/ *$//')
    [[ $got == "$2" ]] || later "${1#"$WORK"/}: signed with $got, expected $2"
}

# verify_chain CA LEAF...: openssl verify, default provider only.
verify_chain() {
    local ca=$1
    shift
    run verify.log "openssl verify -CAfile $ca $*" sw verify -x509_strict -CAfile "$ca" "$@"
    [[ $(grep -c ': OK$' verify.log) -eq $# ]] || fail "openssl verify: $(cat verify.log)"
}

ca_keys=()
for key in rsa2048 ec-p256 ec-p384; do
    has_key "$key" && ca_keys+=("$key")
done
for key in "${ca_keys[@]}"; do
    uri=$(key_uri "$key")
    kind=$(key_kind "$key")
    d=$WORK/$key
    mkdir -p "$d/newcerts"
    case $kind in
    rsa) md=sha384 alg=sha384WithRSAEncryption ;;
    ec) md=sha384 alg=ecdsa-with-SHA384 ;;
    esac

    # Root.
    run "$d/root.log" "$key: req -x509 -key $uri" \
        openssl req -x509 -new -key "$uri" -subj "/O=hsmp e2e/CN=root $key" -days 2 \
        -config ext.cnf -extensions ca_ext -out "$d/ca.pem"
    verify_chain "$d/ca.pem" "$d/ca.pem"
    sw x509 -in "$d/ca.pem" -pubkey -noout >"$d/ca.pub"
    same_pub "$key root" "$d/ca.pub" "$(pub_pem "$key")"
    run "$d/root-md.log" "$key: req -x509 -$md -key $uri" \
        openssl req -x509 -new -key "$uri" -"$md" -subj "/CN=root $key $md" -days 2 \
        -config ext.cnf -extensions ca_ext -out "$d/ca-$md.pem"
    verify_chain "$d/ca-$md.pem" "$d/ca-$md.pem"
    sigalg_is "$d/ca-$md.pem" "$alg"
    n=$((n + 2))

    # Leaf through x509 -req.
    run "$d/x509.log" "$key: x509 -req -CAkey $uri" \
        openssl x509 -req -in leaf.csr -CA "$d/ca.pem" -CAkey "$uri" -set_serial 4097 -days 1 \
        -extfile ext.cnf -extensions leaf_ext -out "$d/leaf-x509.pem"
    verify_chain "$d/ca.pem" "$d/leaf-x509.pem"
    run "$d/x509-md.log" "$key: x509 -req -$md -CAkey $uri" \
        openssl x509 -req -in leaf.csr -CA "$d/ca.pem" -CAkey "$uri" -set_serial 4098 -days 1 \
        -"$md" -extfile ext.cnf -extensions leaf_ext -out "$d/leaf-x509-$md.pem"
    verify_chain "$d/ca.pem" "$d/leaf-x509-$md.pem"
    sigalg_is "$d/leaf-x509-$md.pem" "$alg"
    n=$((n + 2))
    if [[ $kind == rsa ]]; then
        run "$d/x509-pss.log" "$key: x509 -req -CAkey $uri -sigopt rsa_padding_mode:pss" \
            openssl x509 -req -in leaf.csr -CA "$d/ca.pem" -CAkey "$uri" -set_serial 4099 \
            -days 1 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
            -extfile ext.cnf -extensions leaf_ext -out "$d/leaf-x509-pss.pem"
        verify_chain "$d/ca.pem" "$d/leaf-x509-pss.pem"
        sigalg_is "$d/leaf-x509-pss.pem" rsassaPss
        n=$((n + 1))
    fi

    # Leaf through openssl ca (a minimal CA directory; ca checks that key and cert match).
    : >"$d/index.txt"
    echo 1000 >"$d/serial"
    cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = ca_token
[ca_token]
dir = $d
database = $d/index.txt
new_certs_dir = $d/newcerts
serial = $d/serial
certificate = $d/ca.pem
default_md = $md
default_days = 1
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
organizationName = optional
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
authorityKeyIdentifier = keyid
CNF
    run "$d/ca.log" "$key: openssl ca -keyfile $uri" \
        openssl ca -batch -notext -config "$d/ca.cnf" -keyfile "$uri" -in leaf.csr \
        -extensions leaf_ext -out "$d/leaf-ca.pem"
    verify_chain "$d/ca.pem" "$d/leaf-ca.pem"
    sigalg_is "$d/leaf-ca.pem" "$alg"
    grep -q 'CN=leaf' "$d/index.txt" || fail "$key: openssl ca did not record the leaf"
    n=$((n + 1))

    # A token key that is not the CA's key: openssl ca refuses (X509_check_private_key).
    other=${ca_keys[0]}
    [[ $other == "$key" ]] && other=${ca_keys[1]:-}
    if [[ -n $other ]]; then
        rc=0
        timeout 60 openssl ca -batch -notext -config "$d/ca.cnf" -keyfile "$(key_uri "$other")" \
            -in leaf.csr -out "$d/leaf-wrong.pem" >"$d/wrong.log" 2>&1 </dev/null || rc=$?
        ((rc != 0 && rc < 124)) || fail "$key: openssl ca with the key of $other: exit $rc"
        grep -q 'do not match' "$d/wrong.log" ||
            fail "$key: openssl ca with a mismatched key: $(cat "$d/wrong.log")"
    fi
done
[[ ${#ca_keys[@]} -ge 2 ]] || fail "the fixture has fewer than two CA keys (${ca_keys[*]})"
finish "$n certificates issued by token CA keys verify: ${ca_keys[*]}"
