# shellcheck shell=bash
# Shared set-up of the benchmark scripts (sourced, with $root set to the repository):
# bench_token DIR makes a SoftHSM2 token fixture in DIR (tests/fixtures/softhsm-token.sh:
# rsa2048, ec-p256, ... under the label hsmp-test, user PIN in DIR/token/user.pin) and an
# openssl.cnf activating the default provider and the Release pkcs11.so of build/bench
# against it; exports SOFTHSM2_CONF and OPENSSL_CONF.
bench_token() {
    local dir=$1
    bash "$root/tests/fixtures/softhsm-token.sh" create "$dir/token" >/dev/null
    export SOFTHSM2_CONF=$dir/token/softhsm2.conf
    cat >"$dir/openssl.cnf" <<CONF
openssl_conf = init
[init]
providers = prov
[prov]
default = def
pkcs11 = p11
[def]
activate = 1
[p11]
module = $root/build/bench/provider/pkcs11.so
pkcs11-module-path = /usr/lib/softhsm/libsofthsm2.so
pkcs11-module-token-pin = file:$dir/token/user.pin
activate = 1
CONF
    export OPENSSL_CONF=$dir/openssl.cnf
}
