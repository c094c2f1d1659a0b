#!/bin/bash
# CSRs and a CA whose key lives in the token: req -new (RSA, RSA-PSS, EC), req -x509 roots,
# x509 -req and `openssl ca` issuing leaves, `openssl verify` accepting them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WORK"

rsa=rsa2048
ec=ec-p256
has_key $rsa || fail "fixture has no $rsa"
has_key $ec || fail "fixture has no $ec"

openssl req -new -key "$(key_uri $rsa)" -subj /CN=rsa-leaf -out rsa.csr || fail "req RSA"
openssl req -new -key "$(key_uri $rsa)" -sigopt rsa_padding_mode:pss -subj /CN=pss-leaf \
    -out pss.csr || fail "req RSA-PSS"
openssl req -new -key "$(key_uri $ec)" -subj /CN=ec-leaf -out ec.csr || fail "req EC"
for c in rsa pss ec; do
    openssl req -verify -in $c.csr -noout 2>&1 | grep -q 'verify OK' || fail "$c CSR does not verify"
done
openssl req -in pss.csr -noout -text | grep -q 'rsassaPss' || fail "PSS CSR is not RSASSA-PSS"
pass "CSRs for RSA, RSA-PSS and EC verify"

for ca in $rsa $ec; do
    openssl req -x509 -key "$(key_uri $ca)" -subj "/CN=root-$ca" -days 30 \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign \
        -out "ca-$ca.pem" || fail "req -x509 root with $ca"
    for c in rsa pss ec; do
        openssl x509 -req -in $c.csr -CA "ca-$ca.pem" -CAkey "$(key_uri $ca)" \
            -CAcreateserial -days 7 -out "leaf-$ca-$c.pem" 2>/dev/null ||
            fail "x509 -req -CAkey $ca for $c"
        openssl verify -CAfile "ca-$ca.pem" "leaf-$ca-$c.pem" >/dev/null ||
            fail "leaf $c issued by $ca does not verify"
    done
    mkdir -p "ca-$ca/newcerts"
    : >"ca-$ca/index.txt"
    echo 1000 >"ca-$ca/serial"
    cat >"ca-$ca.cnf" <<CONF
[ca]
default_ca = ca
[ca]
dir = $WORK/ca-$ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
certificate = $WORK/ca-$ca.pem
default_md = sha256
default_days = 7
policy = any
[any]
commonName = supplied
CONF
    openssl ca -batch -config "ca-$ca.cnf" -keyfile "$(key_uri $ca)" -in ec.csr \
        -out "ca-leaf-$ca.pem" 2>"ca-$ca.err" || fail "openssl ca -keyfile $ca: $(cat "ca-$ca.err")"
    openssl verify -CAfile "ca-$ca.pem" "ca-leaf-$ca.pem" >/dev/null ||
        fail "leaf from openssl ca ($ca) does not verify"
done
pass "RSA and EC CAs in the token issue verifiable leaves (req -x509, x509 -req, ca)"
