#!/bin/bash
# Builds ngx_pkcs11_module.so against an nginx source tree, the way Debian builds
# its own dynamic modules (dh_nginx): the tree's ./configure with --with-compat and
# the flags nginx itself was built with, then `make modules`. The module's binary
# signature then matches the nginx binary, which load_module checks.
#
#   nginx-module/build.sh NGINX_SRC OUT_DIR [ADDON_DIR]
#
# ADDON_DIR (default: nginx-module/) is the addon to build; the tests build a
# test-only module with it too.
# NGINX_SRC: Debian's nginx-dev tree (/usr/share/nginx/src, with conf_flags) or any
# nginx source tree (then configure runs with --with-compat and the http ssl module;
# pass the flags of the target nginx in NGX_PKCS11_CONFIGURE_FLAGS to match its
# signature, as `nginx -V` prints them). The tree is copied into OUT_DIR first, so
# a system tree is never written to. The result is OUT_DIR/<addon name>.so.
set -euo pipefail

[[ $# -eq 2 || $# -eq 3 ]] || { echo "usage: $0 NGINX_SRC OUT_DIR [ADDON_DIR]" >&2; exit 2; }
src=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
addon=$(cd "${3:-$(dirname "${BASH_SOURCE[0]}")}" && pwd)
name=$(sed -n 's/^ngx_addon_name=//p' "$addon/config")

[[ -x $src/configure ]] || { echo "$0: $src has no nginx configure script" >&2; exit 1; }

tree=$out/nginx-src
rm -rf "$tree"
mkdir -p "$tree"
cp -a "$src/." "$tree/"

flags=()
if [[ -n ${NGX_PKCS11_CONFIGURE_FLAGS:-} ]]; then
    read -r -a flags <<<"$NGX_PKCS11_CONFIGURE_FLAGS"
elif [[ -f $tree/conf_flags ]]; then
    # shellcheck disable=SC1091 # Debian's nginx-dev: NGX_CONF_FLAGS=( ... )
    . "$tree/conf_flags"
    flags=("${NGX_CONF_FLAGS[@]}")
else
    flags=(--with-compat --with-http_ssl_module)
fi

cc_opt="-fPIC"
ld_opt="-fPIC"
if command -v dpkg-buildflags >/dev/null; then
    cc_opt="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS) -fPIC"
    ld_opt="$(dpkg-buildflags --get LDFLAGS) -fPIC"
fi
cc_opt="$cc_opt ${NGX_PKCS11_EXTRA_CFLAGS:-}"
ld_opt="$ld_opt ${NGX_PKCS11_EXTRA_LDFLAGS:-}"

cd "$tree"
./configure --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt" "${flags[@]}" \
    --add-dynamic-module="$addon" --builddir="$out/objs" >"$out/configure.log" 2>&1 || {
    tail -30 "$out/configure.log" >&2
    echo "$0: nginx configure failed (full log: $out/configure.log)" >&2
    exit 1
}
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -f "$out/objs/Makefile" modules
cp "$out/objs/$name.so" "$out/$name.so"
