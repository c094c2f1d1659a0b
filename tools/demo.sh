#!/bin/bash
# The demo: everything from a fresh Debian 12 machine to a key used inside an HSM.
#   1. installs the Debian packages (ci/install-deps.sh) and builds (build/ci),
#   2. initialises a SoftHSM2 token under ./build/demo (its own SOFTHSM2_CONF; the system
#      token directory is never touched) and generates an EC P-256 key pair inside it,
#   3. finds the key by its pkcs11: URI through the project's PKCS#11 layer (hsmp-find),
#   4. signs a message inside the token and verifies the signature with openssl from the
#      public key alone, and shows that the private key cannot be read out.
# Later issues grow this into the main job: nginx serving TLS with the HSM key.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing Debian packages and building"
bash ci/install-deps.sh
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/ci -j "$(nproc)" --target hsmp-find hsmp >/dev/null
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

step "The private key never leaves the token"
if pkcs11-tool --module "$module" --token-label demo --login --pin "$(cat "$demo/user.pin")" \
    --read-object --type privkey --label web -o "$demo/stolen.der" >/dev/null 2>&1; then
    echo "UNEXPECTED: the private key could be read" >&2
    exit 1
fi
echo "pkcs11-tool --read-object --type privkey: refused by the token (CKA_SENSITIVE, not extractable)"

step "Done"
echo "Token, key and files are in $demo. Run the test suite with: bash ci/test.sh"
