#!/bin/bash
# `nginx -t` names what is wrong with a pkcs11: value, with the file and line of the
# directive, and never crashes, hangs or prints a PIN: a malformed URI (with the offset),
# the provider not loaded (and how to load it), no such object, an ambiguous URI, a wrong
# PIN (by CKR_ name), variables in the value, the wrong object type, a missing token
# certificate, and an nginx build whose ssl module handler is not the stock one.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${NGX_FOREIGN_MODULE:?NGX_FOREIGN_MODULE (the test-only module) is not set: run through ctest}"
port=$(free_port)

# A configuration whose only pkcs11 directive sits on a known line. The http block starts
# on the line after ngx_write_conf's preamble; the directive's line is found by grep.
write_case() { # CERT_VALUE KEY_VALUE [PREAMBLE]
    ngx_write_conf 1 "${3:-}
http {
    $(ngx_http_common)
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $1;
        ssl_certificate_key $2;
    }
}"
}

# expect_error TAG DIRECTIVE-REGEX MESSAGE-REGEX: nginx -t fails, prints MESSAGE-REGEX on an
# [emerg] line that ends with the file and the line of the directive matching
# DIRECTIVE-REGEX, and prints no PIN.
expect_error() {
    local tag=$1 directive=$2 want=$3 line rc=0
    line=$(grep -nE -- "$directive" "$NGX_CONF" | head -1 | cut -d: -f1)
    [[ -n $line ]] || fail "$tag: test bug, no line matches '$directive'"
    ngx_test || rc=$?
    cp "$WORK/nginx-t.log" "$WORK/case-$tag.log"
    if ((rc == 0)); then
        sed 's/^/    | /' "$WORK/nginx-t.log" >&2
        fail "$tag: nginx -t accepted the configuration"
    fi
    ((rc != 124)) || fail "$tag: nginx -t hung (killed after 60 s)"
    ((rc < 128)) || fail "$tag: nginx -t died on signal $((rc - 128))"
    grep -E '\[emerg\]' "$WORK/nginx-t.log" | grep -qE -- "$want" || {
        sed 's/^/    | /' "$WORK/nginx-t.log" >&2
        fail "$tag: no [emerg] line matching '$want'"
    }
    grep -E '\[emerg\]' "$WORK/nginx-t.log" | grep -E -- "$want" |
        grep -qF " in $NGX_CONF:$line" || {
        sed 's/^/    | /' "$WORK/nginx-t.log" >&2
        fail "$tag: the message does not name $NGX_CONF:$line"
    }
    no_secret "$NGX_PIN" "$WORK/nginx-t.log"
    pass "$tag: $(grep -m1 -E '\[emerg\]' "$WORK/nginx-t.log" | sed 's/^.*\[emerg\] [0-9#]*: //' | cut -c1-160)"
}

rsa_cert=$(cert_pem rsa2048)

write_case "$rsa_cert" "\"$TOKEN_URI;objec%t=rsa2048;type=private\""
expect_error malformed-uri 'objec%t' 'malformed PKCS#11 URI: .*offset [0-9]+'

write_case "$rsa_cert" "\"$TOKEN_URI;object=no-such-key;type=private\""
expect_error no-such-object 'no-such-key' 'no-such-key.*(no (private key|such object|object)|not found|matches)'

write_case "$rsa_cert" "\"$TOKEN_URI;type=private\""
expect_error ambiguous-uri 'ssl_certificate_key' '(ambiguous|matches [0-9]+)'

write_case "$rsa_cert" "\"$TOKEN_URI;object=\$host;type=private\""
expect_error variable 'object=\$host' 'contains "\$" at offset [0-9]+: nginx variables are not supported'

write_case "$rsa_cert" "\"$TOKEN_URI;object=rsa2048;type=cert\""
expect_error key-type-cert 'type=cert' 'names type=cert, but ssl_certificate_key needs type=private'

write_case "\"$TOKEN_URI;object=no-such-cert;type=cert\"" "\"$(key_uri rsa2048)\""
expect_error no-such-cert 'no-such-cert' 'no certificate matches'

# The provider is not loaded: no openssl.cnf activates it and no pkcs11_provider line.
write_case "$rsa_cert" "\"$(key_uri rsa2048)\""
rc=0
OPENSSL_CONF=/dev/null expect_error provider-not-loaded 'ssl_certificate_key' \
    'the "pkcs11" OpenSSL provider is not loaded; add "pkcs11_provider pkcs11;"' || rc=$?
((rc == 0)) || exit "$rc"

# ... and with pkcs11_provider, parameters from an openssl.cnf that declares the section
# without activating it, the same configuration passes.
sed 's/^activate = 1$//' "$OPENSSL_CONF" | sed 's/^\[def\]$/[def]\nactivate = 1/' >"$WORK/declared.cnf"
ngx_write_conf 1 "pkcs11_provider pkcs11;
http {
    $(ngx_http_common)
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $rsa_cert;
        ssl_certificate_key \"$(key_uri rsa2048)\";
    }
}"
OPENSSL_CONF=$WORK/declared.cnf ngx_test || {
    sed 's/^/    | /' "$WORK/nginx-t.log" >&2
    fail "pkcs11_provider with a declared, not activated section: nginx -t failed"
}
pass "pkcs11_provider loads the provider from a declared openssl.cnf section"

# Wrong PIN (a copy of the token, so its counter does not matter): CKR_PIN_INCORRECT by name.
printf '%s' "9${NGX_PIN}9" >"$WORK/wrong.pin"
chmod 0600 "$WORK/wrong.pin"
sed "s|^pkcs11-module-token-pin = .*|pkcs11-module-token-pin = file:$WORK/wrong.pin|" \
    "$OPENSSL_CONF" >"$WORK/wrong-pin.cnf"
write_case "$rsa_cert" "\"$(key_uri rsa2048)\""
rc=0
OPENSSL_CONF=$WORK/wrong-pin.cnf expect_error wrong-pin 'ssl_certificate_key' 'CKR_PIN_INCORRECT' || rc=$?
((rc == 0)) || exit "$rc"
no_secret "9${NGX_PIN}9" "$WORK/case-wrong-pin.log"

# An nginx whose ssl module handler was replaced: the module refuses to wrap it.
ngx_write_conf 1 "http {
    $(ngx_http_common)
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $rsa_cert;
        ssl_certificate_key \"$(key_uri rsa2048)\";
    }
}"
sed -i "1i load_module $NGX_FOREIGN_MODULE;" "$NGX_CONF"
expect_error unsupported-build '^http \{' \
    'ngx_http_ssl_module is not supported by ngx_pkcs11_module'

finish "nginx -t names every bad pkcs11: value with file and line"
