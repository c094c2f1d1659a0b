#!/bin/bash
# The demo: everything from a fresh Debian 12 machine to a key used inside an HSM.
#   1. installs the Debian packages (ci/install-deps.sh) and builds (build/ci),
#   2. initialises a SoftHSM2 token under ./build/demo (its own SOFTHSM2_CONF; the system
#      token directory is never touched) and generates an EC P-256 key pair inside it,
#   3. finds the key by its pkcs11: URI through the project's PKCS#11 layer (hsmp-find),
#   4. signs a message inside the token and verifies the signature with openssl from the
#      public key alone,
#   5. through the pkcs11 provider: shows that private key material cannot be exported,
#      makes a CSR and a self-signed certificate with
#      `openssl req -key 'pkcs11:...'`, starts `openssl s_server` with the HSM key, completes
#      a TLS handshake with `curl -v`, and stops the server.
# The nginx issue replaces s_server with nginx.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing Debian packages and building"
bash ci/install-deps.sh
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/ci -j "$(nproc)" --target hsmp-find hsmp >/dev/null
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

step "TLS with the HSM key: openssl s_server + curl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl s_server -accept "127.0.0.1:$port" -key "$uri;type=private" -cert "$demo/web.pem" \
    -www -quiet >"$demo/s_server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
curl -v --cacert "$demo/web.pem" "https://localhost:$port/" -o /dev/null 2>&1 |
    grep -E '^\* (SSL connection|Server certificate|  subject|  issuer|SSL certificate verify)|^< HTTP' |
    sed 's/^/  /'
kill "$server"
wait "$server" 2>/dev/null || true
trap - EXIT
echo "s_server stopped; the private key never left the token."

step "Done"
echo "Token, key, certificate and openssl.cnf are in $demo. Test suite: bash ci/test.sh"
