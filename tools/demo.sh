#!/bin/bash
# The demo: everything from a fresh Debian 12 machine to a key used inside an HSM.
#   1. installs the Debian packages (ci/install-deps.sh) and builds (build/ci),
#   2. initialises a SoftHSM2 token under ./build/demo (its own SOFTHSM2_CONF; the system
#      token directory is never touched) and generates an EC P-256 key pair inside it,
#   3. finds the key by its pkcs11: URI through the project's PKCS#11 layer (hsmp-find),
#   4. signs a message inside the token and verifies the signature with openssl from the
#      public key alone,
#   5. through the pkcs11 provider: shows that private key material cannot be exported,
#      makes a CSR and a self-signed certificate with `openssl req -key 'pkcs11:...'`,
#   6. starts Debian's nginx (2 workers) through ngx_pkcs11_module with
#      `ssl_certificate_key "pkcs11:..."`, completes a handshake with `curl -v`, prints the
#      metrics page and stops nginx.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing Debian packages and building"
bash ci/install-deps.sh
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/ci -j "$(nproc)" --target hsmp-find hsmp ngx_pkcs11_module >/dev/null
provider_dir=$root/build/ci/provider
find_tool=$root/build/ci/tools/hsmp-find

demo=$root/build/demo
step "Creating a SoftHSM2 token in $demo"
rm -rf "$demo"
mkdir -p "$demo/tokens"
chmod 700 "$demo"
cat >"$demo/softhsm2.conf" <<CONF
directories.tokendir = $demo/tokens
objectstore.backend = file
log.level = ERROR
CONF
export SOFTHSM2_CONF=$demo/softhsm2.conf
module=/usr/lib/softhsm/libsofthsm2.so
# A demo PIN, kept in a file only the owner can read; it is never printed.
(umask 077 && printf '%s' 'demo-1234' >"$demo/user.pin")
softhsm2-util --init-token --free --label demo --so-pin demo-so-1234 \
    --pin "$(cat "$demo/user.pin")" >/dev/null
echo "token \"demo\" initialised (SOFTHSM2_CONF=$SOFTHSM2_CONF)"

step "Generating an EC P-256 key pair inside the token"
pkcs11-tool --module "$module" --token-label demo --login --pin "$(cat "$demo/user.pin")" \
    --keypairgen --key-type EC:prime256v1 --label web --id 01 2>&1 | sed 's/^/  /'

uri='pkcs11:token=demo;object=web'
step "Finding the key by URI through the PKCS#11 layer: $uri"
"$find_tool" --module "$module" --pin-file "$demo/user.pin" "$uri"

step "Signing inside the token, verifying with openssl from the public key alone"
printf 'release artifact v1.0\n' >"$demo/message.txt"
"$find_tool" --module "$module" --pin-file "$demo/user.pin" \
    --sign "$demo/message.txt" --out "$demo/message.sig" "$uri;type=private" | grep '^signed'
pkcs11-tool --module "$module" --token-label demo --read-object --type pubkey --label web \
    -o "$demo/web.pub.der" >/dev/null 2>&1
openssl pkey -pubin -inform DER -in "$demo/web.pub.der" -out "$demo/web.pub.pem"
openssl dgst -sha256 -verify "$demo/web.pub.pem" -signature "$demo/message.sig" \
    "$demo/message.txt"

step "Configuring OpenSSL to use the provider (openssl.cnf in $demo)"
cat >"$demo/openssl.cnf" <<CONF
openssl_conf = init
[init]
providers = providers
[providers]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = $provider_dir/pkcs11.so
pkcs11-module-path = $module
pkcs11-module-token-pin = file:$demo/user.pin
activate = 1
CONF
export OPENSSL_CONF=$demo/openssl.cnf
openssl list -providers | sed 's/^/  /'

step "The private key never leaves the token"
if openssl pkey -in "$uri;type=private" -outform DER -out "$demo/stolen.der" 2>"$demo/export.err"; then
    echo "UNEXPECTED: private key material was exported" >&2
    exit 1
fi
echo "openssl pkey -outform DER (private key) refused:"
grep -o 'private key material cannot be exported[^:]*' "$demo/export.err" | head -1 | sed 's/^/  /'
echo "openssl pkey -pubout works, and -out writes a key-reference PEM (the URI, no secret):"
openssl pkey -in "$uri;type=private" -out "$demo/web.key.pem"
sed 's/^/  /' "$demo/web.key.pem"

step "A CSR and a self-signed certificate signed inside the token"
openssl req -new -key "$uri;type=private" -subj /CN=localhost -out "$demo/web.csr"
openssl req -verify -in "$demo/web.csr" -noout
openssl req -x509 -key "$uri;type=private" -subj /CN=localhost -days 30 \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -out "$demo/web.pem"
openssl x509 -in "$demo/web.pem" -noout -subject -fingerprint -sha256 | sed 's/^/  /'

step "nginx serving TLS with the HSM key (ngx_pkcs11_module)"
ngx=$demo/nginx
mkdir -p "$ngx/conf" "$ngx/logs"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user_line=""
if [[ $EUID -eq 0 ]]; then
    # Workers drop to nobody, as in production; SoftHSM2 needs the token writable by them.
    user_line="user nobody $(id -gn nobody);"
    chmod 755 "$demo"
    chown -R nobody "$demo/tokens"
fi
cat >"$ngx/conf/nginx.conf" <<CONF
load_module $root/build/ci/nginx-module/ngx_pkcs11_module.so;
daemon on;
master_process on;
worker_processes 2;
$user_line
pid $ngx/logs/nginx.pid;
error_log $ngx/logs/error.log notice;
env SOFTHSM2_CONF;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $ngx/tmp_body;
    proxy_temp_path $ngx/tmp_proxy;
    fastcgi_temp_path $ngx/tmp_fastcgi;
    uwsgi_temp_path $ngx/tmp_uwsgi;
    scgi_temp_path $ngx/tmp_scgi;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $demo/web.pem;
        ssl_certificate_key "$uri;type=private";
        location / { return 200 "hello from nginx worker \$pid; the key stayed in the token\n"; }
        location = /metrics { pkcs11_metrics; }
    }
}
CONF
echo "nginx.conf: ssl_certificate_key \"$uri;type=private\";"
nginx -p "$ngx" -c conf/nginx.conf -t 2>&1 | sed 's/^/  /'
nginx -p "$ngx" -c conf/nginx.conf
for _ in $(seq 100); do [[ -s $ngx/logs/nginx.pid ]] && break; sleep 0.05; done
master=$(cat "$ngx/logs/nginx.pid")
trap 'kill -QUIT "$master" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    [[ $(grep -c 'warm-up signature' "$ngx/logs/error.log") -ge 2 ]] && break
    sleep 0.05
done
grep -o 'pkcs11: worker .*' "$ngx/logs/error.log" | sed 's/^/  /'
curl -v --cacert "$demo/web.pem" "https://localhost:$port/" 2>&1 |
    grep -E '^\* (SSL connection|Server certificate|  subject|  issuer|SSL certificate verify)|^< HTTP|^hello' |
    sed 's/^/  /'
echo "The metrics page (https://localhost:$port/metrics), summed over both workers:"
curl -sS --cacert "$demo/web.pem" "https://localhost:$port/metrics" | grep -E '^hsm_' | head -12 |
    sed 's/^/  /'
kill -QUIT "$master"
for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.05; done
trap - EXIT
if grep -E '\[(alert|crit|emerg)\]|exited on signal' "$ngx/logs/error.log"; then
    echo "UNEXPECTED: the nginx error log above has alerts" >&2
    exit 1
fi
echo "nginx stopped cleanly; the private key never left the token."

step "Done"
echo "Token, key, certificate and openssl.cnf are in $demo. Test suite: bash ci/test.sh"
