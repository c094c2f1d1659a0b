#!/bin/bash
# Formatting check (CI): every C++ file matches .clang-format.
#   ci/lint.sh          check formatting; exit 1 and list files that differ
#   ci/lint.sh --fix    reformat in place
#   ci/lint.sh --tidy   also run clang-tidy over the layers (needs a build with
#                       compile_commands.json in build/ci; slower, not in CI yet)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

mode=${1:-check}
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.cc' '*.h' | grep -v '^nginx-module/' || true)
if [[ ${#files[@]} -eq 0 ]]; then
    echo "lint: no C++ files" >&2
    exit 1
fi

case $mode in
--fix)
    clang-format -i "${files[@]}"
    ;;
check | --check | --tidy)
    bad=()
    for f in "${files[@]}"; do
        if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
            bad+=("$f")
        fi
    done
    if [[ ${#bad[@]} -gt 0 ]]; then
        printf 'lint: not clang-formatted (run ci/lint.sh --fix):\n' >&2
        printf '  %s\n' "${bad[@]}" >&2
        exit 1
    fi
    echo "lint: ${#files[@]} files formatted"
    if [[ $mode == --tidy ]]; then
        db=build/ci/compile_commands.json
        [[ -f $db ]] || { echo "lint: $db missing; build first" >&2; exit 1; }
        mapfile -t srcs < <(git ls-files 'provider/src/*.cpp' 'p11uri/src/*.cpp' 'tools/*.cpp')
        # clang-tidy 16: 14 cannot parse libstdc++ 12's <source_location>.
        clang-tidy-16 -p build/ci --quiet "${srcs[@]}"
    fi
    ;;
*)
    echo "usage: $0 [--fix|--tidy]" >&2
    exit 2
    ;;
esac
