#!/bin/bash
# conf-examples/nginx runs as shipped: only paths, ports and the token's object names are
# rewritten. nginx -t passes, both keys warm up in every worker, http (RSA and ECDSA) and
# stream (TLS to a plain backend) serve, the metrics location answers, and the stop is clean.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

example=$(cd "$NGX_LIB_DIR/../../conf-examples/nginx" && pwd)
https_port=$(free_port)
stream_port=$(free_port)
backend_port=$(free_port)
ca=$HSMP_TEST_CA
echo "hello from the example" >"$NGX_PREFIX/html/index.html"

user_line="user $NGX_USER $NGX_GROUP;"
[[ -n $NGX_USER ]] || user_line=""
env_line="${NGX_ENV_LINES[0]}"
temp_lines=$(ngx_http_common | grep temp_path | tr '\n' ' ')
sed -e "s|modules/ngx_stream_module.so|$NGX_STREAM_SO|" \
    -e "s|modules/ngx_pkcs11_module.so|$NGX_PKCS11_MODULE|" \
    -e "s|^user www-data;|$user_line|" \
    -e "s|^env SOFTHSM2_CONF;|$env_line|" \
    -e "s|/run/nginx.pid|$NGX_PIDFILE|" \
    -e "s|/var/log/nginx/error.log|$NGX_LOG|" \
    -e "s|/var/log/nginx/access.log|$NGX_PREFIX/logs/access.log|" \
    -e "s|^http {|http {\n    $temp_lines|" \
    -e "s|listen 443 ssl;|listen 127.0.0.1:$https_port ssl;|" \
    -e "s|listen 8443 ssl;|listen 127.0.0.1:$stream_port ssl;|" \
    -e "s|127.0.0.1:8080|127.0.0.1:$backend_port|g" \
    -e "s|/etc/nginx/pkcs11/www-rsa.pem|$(cert_pem rsa2048)|" \
    -e "s|/etc/nginx/pkcs11/www-ec.pem|$(cert_pem ec-p256)|" \
    -e "s|token=web;object=www-rsa|${TOKEN_URI#pkcs11:};object=rsa2048|g" \
    -e "s|token=web;object=www-ec|${TOKEN_URI#pkcs11:};object=ec-p256|g" \
    -e "s|/var/www/html|$NGX_PREFIX/html|" \
    "$example/nginx.conf" >"$NGX_CONF"
sed -e "s|^module = pkcs11.so|module = $HSMP_PROVIDER_DIR/pkcs11.so|" \
    -e "s|^pkcs11-module-path = .*|pkcs11-module-path = $HSMP_TEST_MODULE|" \
    -e "s|file:/etc/nginx/pkcs11/token.pin|file:$HSMP_TEST_PIN_FILE|" \
    "$example/openssl-pkcs11.cnf" >"$WORK/example-openssl.cnf"
export OPENSSL_CONF=$WORK/example-openssl.cnf
# Every line of the example that names a path or port was rewritten.
if grep -nE '/etc/nginx|/var/(log|www)|/run/nginx|listen (443|8443)|www-data|www-(rsa|ec)' \
    "$NGX_CONF" >&2; then
    fail "test bug: the lines above of the example were not rewritten"
fi

ngx_test || { sed 's/^/    | /' "$WORK/nginx-t.log" >&2; fail "nginx -t rejected the example"; }
pass "nginx -t accepts conf-examples/nginx"

workers=$(nproc) # worker_processes auto
# Three keys per worker: RSA and ECDSA in http, the ECDSA key again in stream's SSL_CTX.
ngx_start "$workers" 3
ngx_assert_warmups "$((workers * 3))"

body=$(client curl -sS --cacert "$ca" --tlsv1.3 "https://127.0.0.1:$https_port/") ||
    fail "https request failed"
[[ $body == "hello from the example" ]] || fail "https body '$body'"
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-GCM-SHA256; do
    client curl -sS -o /dev/null --cacert "$ca" --tlsv1.2 --tls-max 1.2 --ciphers "$c" \
        "https://127.0.0.1:$https_port/" || fail "TLS 1.2 $c failed"
done
pass "http: TLS 1.3 and TLS 1.2 with the RSA and the ECDSA token key"

body=$(client curl -sS --cacert "$ca" --connect-to "backend:443:127.0.0.1:$stream_port" \
    "https://127.0.0.1:$stream_port/") || fail "request through the stream TLS server failed"
[[ $body == "hello from the backend" ]] || fail "stream body '$body'"
pass "stream: TLS with the token key, proxied to the backend"

code=$(client curl -sS -o "$WORK/metrics.txt" -w '%{http_code}' --cacert "$ca" \
    "https://127.0.0.1:$https_port/pkcs11-metrics") || fail "GET /pkcs11-metrics failed"
[[ $code == 200 ]] || fail "GET /pkcs11-metrics answered $code"
grep -q '^hsm_operations_total{' "$WORK/metrics.txt" || fail "metrics page without hsm_operations_total"
pass "the metrics location answers"

ngx_stop
ngx_assert_clean_log
finish "conf-examples/nginx works as shipped"
