#!/bin/bash
# Install every Debian 12 package the build and the tests need.
#
#   ci/install-deps.sh           install what is missing (idempotent)
#   ci/install-deps.sh --check   only report; exit 1 if anything is missing
#
# Works as root, or through sudo when run as another user. When everything is
# already installed it only runs dpkg-query (well under a second) and never
# touches the network. apt-get update runs only when something is missing and
# the package lists are absent or older than a day, or when an install with
# the current lists fails.
set -euo pipefail

# One package per line; keep the groups, add new ones where they belong.
PACKAGES=(
    # build
    build-essential
    cmake
    pkg-config
    libssl-dev
    libssl-doc
    openssl
    libp11-kit-dev
    # real tokens and PKCS#11 tools (tests/fixtures)
    p11-kit
    p11-kit-modules
    softhsm2
    opensc
    libnss3
    libnss3-tools
    # unit tests
    googletest
    libgtest-dev
    libgmock-dev
    libcmocka-dev
    # compilers, sanitizer runtimes, format/lint
    clang-16
    libclang-rt-16-dev
    clang-format
    clang-tidy-16
    # scripts, fixture self-tests and end-to-end clients
    python3
    python3-cryptography
    gnutls-bin
    curl
    procps
    # nginx module: stock Debian nginx, its module build tree, the stream module, load tools
    nginx
    nginx-dev
    libnginx-mod-stream
    nghttp2-client
    apache2-utils
    util-linux
)

readonly LISTS_MAX_AGE_MIN=1440

log() { printf '[install-deps] %s\n' "$*" >&2; }
die() {
    printf '[install-deps] FAILED: %s\n' "$*" >&2
    exit 1
}

missing_packages() {
    local pkg status
    for pkg in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [[ $status == installed ]] || printf '%s\n' "$pkg"
    done
}

lists_fresh() {
    [[ -n $(find /var/lib/apt/lists -maxdepth 1 -name '*Release' \
        -mmin "-$LISTS_MAX_AGE_MIN" -print -quit 2>/dev/null) ]]
}

main() {
    local check_only=false
    case ${1:-} in
    "") ;;
    --check) check_only=true ;;
    *) die "usage: $0 [--check]" ;;
    esac
    command -v dpkg-query >/dev/null || die "dpkg-query not found: this script is for Debian"

    local missing
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "all ${#PACKAGES[@]} packages are installed"
        return 0
    fi
    log "missing: ${missing[*]}"
    if $check_only; then
        return 1
    fi

    local -a as_root=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null || die "not root and sudo is not installed"
        as_root=(sudo)
    fi
    apt_get() {
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
            -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300 "$@"
    }

    local updated=false
    if ! lists_fresh; then
        log "package lists are missing or older than a day: apt-get update"
        apt_get update || die "apt-get update"
        updated=true
    fi
    if ! apt_get install --no-install-recommends "${missing[@]}"; then
        $updated && die "apt-get install ${missing[*]}"
        log "install failed with the current lists: apt-get update and retry"
        apt_get update || die "apt-get update"
        apt_get install --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]}"
    fi

    mapfile -t missing < <(missing_packages)
    [[ ${#missing[@]} -eq 0 ]] || die "still missing after install: ${missing[*]}"
    log "installed; all ${#PACKAGES[@]} packages present"
}

main "$@"
