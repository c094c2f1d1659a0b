#!/bin/bash
# The PIN comes only from nginx's ssl_password_file (read by the root master; nothing in the
# provider configuration): the key loads while parsing, and the workers log in again after
# fork and setuid with the PIN the provider kept, without further input.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly WORKERS=2
port=$(free_port)
ca=$HSMP_TEST_CA
grep -v '^pkcs11-module-token-pin' "$OPENSSL_CONF" >"$WORK/nopin.cnf"
export OPENSSL_CONF=$WORK/nopin.cnf
install -m 0600 "$HSMP_TEST_PIN_FILE" "$WORK/ssl.pass"

# ssl_password_file at http level, keys in the server: the module finds the enclosing
# block's passwords.
ngx_write_conf "$WORKERS" "
http {
    $(ngx_http_common)
    ssl_password_file $WORK/ssl.pass;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $(cert_pem ec-p256);
        ssl_certificate_key \"$(key_uri ec-p256)\";
        location / { return 200 \"ok\n\"; }
    }
}"
ngx_test || { sed 's/^/    | /' "$WORK/nginx-t.log" >&2; fail "nginx -t failed with the PIN in ssl_password_file"; }
pass "nginx -t logs in with the PIN from ssl_password_file"

ngx_start "$WORKERS" 1
ngx_assert_warmups "$WORKERS"
for ((i = 0; i < 10; i++)); do
    body=$(client curl -sS --no-keepalive --cacert "$ca" "https://127.0.0.1:$port/") ||
        fail "handshake $i failed"
    [[ $body == ok ]] || fail "handshake $i: body '$body'"
done
pass "the workers logged in again after fork without the PIN file; 10 handshakes"
ngx_stop
ngx_assert_clean_log

# Without any PIN source the error says where a PIN can come from, and nginx -t ends.
ngx_write_conf 1 "
http {
    $(ngx_http_common)
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $(cert_pem ec-p256);
        ssl_certificate_key \"$(key_uri ec-p256)\";
    }
}"
rc=0
ngx_test || rc=$?
((rc != 0 && rc != 124)) || fail "nginx -t without any PIN: exit $rc"
grep -qE '\[emerg\].*(PIN|pin).*in .*nginx.conf:[0-9]+' "$WORK/nginx-t.log" || {
    sed 's/^/    | /' "$WORK/nginx-t.log" >&2
    fail "nginx -t without any PIN: no [emerg] about the PIN"
}
pass "no PIN anywhere: $(grep -m1 emerg "$WORK/nginx-t.log" | sed 's/^.*\[emerg\] [0-9#]*: //' | cut -c1-200)"
finish "PIN from ssl_password_file works across fork"
