#!/bin/bash
# Full TLS handshakes per second through nginx (not part of the test suite):
#   bash bench/nginx_handshakes.sh [SECONDS_PER_CELL]      (default 10, in 5 alternating slices)
#
# nginx with 2 workers, session tickets and the session cache off (every connection is a
# full handshake with one private-key signature; checked with $ssl_session_reused), TLS 1.3
# and 1.2, RSA-2048 and ECDSA P-256, for
#   (1) a PEM file key (OpenSSL's default provider signs),
#   (2) the token key through ngx_pkcs11_module and the pkcs11 provider,
#   (3) the token's own signing limit: raw C_Sign, 2 threads (bench/sign_bench, same run).
# Clients: ab (one connection per request, no keep-alive, no resumption), on the same
# machine. Target: (2) >= 90% of the rate the token allows, derived from (1) and (3):
#   per handshake, machine time = T_other + T_sign. From (1): T_other = 1/H_file - 1/S_sw,
#   with S_sw the default provider's 2-thread signing rate (sign_bench, same run). The
#   token then allows H_max = 1 / (T_other + 1/S_token).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-10}
cd "$root"
bash ci/install-deps.sh >/dev/null
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DHSMP_BUILD_TESTS=OFF >/dev/null
cmake --build build/bench -j "$(nproc)" --target sign_bench hsmp ngx_pkcs11_module >/dev/null

work=$(mktemp -d)
chmod 755 "$work"
master=
cleanup() {
    if [[ -n $master ]]; then
        kill -QUIT "$master" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.05; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$root/bench/lib.sh"
bench_token "$work"
chmod 755 "$work/token"
user_line=""
if [[ $EUID -eq 0 ]]; then
    chown -R nobody "$work/token/tokens"
    user_line="user nobody $(id -gn nobody);"
fi
token=hsmp-test

echo "machine: $(nproc) cores, $(openssl version), nginx $(nginx -v 2>&1 | cut -d/ -f2)," \
    "SoftHSM $(dpkg-query -W -f='${Version}' softhsm2), ab $(ab -V | sed -n 's/.*Version \([^ ]*\).*/\1/p')"

# (3) and S_sw: 2-thread signing rates, same token and key.
declare -A raw sw
for case in "rsa rsa-pss rsa2048" "ec ecdsa ec-p256"; do
    set -- $case
    out=$(build/bench/bench/sign_bench --module /usr/lib/softhsm/libsofthsm2.so \
        --pin-file "$work/token/user.pin" --alg "$2" --seconds 6 --threads 2 \
        --uri "pkcs11:token=$token;object=$3;type=private")
    raw[$1]=$(awk -F'|' '$2 ~ /^ raw / && $3 ~ / 2 / {gsub(/ /, "", $4); print $4}' <<<"$out")
    sw[$1]=$(awk -F'|' '$2 ~ /^ default / && $3 ~ / 2 / {gsub(/ /, "", $4); print $4}' <<<"$out")
done

# (1) file keys of the same types (software; the token's keys cannot be exported).
OPENSSL_CONF=/dev/null openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/file-rsa.key" \
    -subj /CN=localhost -days 2 -out "$work/file-rsa.pem" 2>/dev/null
OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/file-ec.key" -subj /CN=localhost -days 2 -out "$work/file-ec.pem" 2>/dev/null

ngx=$work/nginx
mkdir -p "$ngx/conf" "$ngx/logs"
declare -A port
servers=""
for kind in file-rsa file-ec hsm-rsa hsm-ec; do
    port[$kind]=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    case $kind in
    file-*) cert=$work/$kind.pem key=$work/$kind.key ;;
    hsm-rsa) cert=$work/token/certs/rsa2048.pem key="\"pkcs11:token=$token;object=rsa2048;type=private\"" ;;
    hsm-ec) cert=$work/token/certs/ec-p256.pem key="\"pkcs11:token=$token;object=ec-p256;type=private\"" ;;
    esac
    servers+="
    server {
        listen 127.0.0.1:${port[$kind]} ssl backlog=4096;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets off;
        ssl_session_cache off;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        access_log $ngx/logs/$kind.log reuse;
        location / { return 200 \"ok\"; }
    }"
done
cat >"$ngx/conf/nginx.conf" <<CONF
load_module $root/build/bench/nginx-module/ngx_pkcs11_module.so;
daemon on;
master_process on;
worker_processes 2;
$user_line
pid $ngx/logs/nginx.pid;
error_log $ngx/logs/error.log notice;
env SOFTHSM2_CONF;
events { worker_connections 4096; }
http {
    log_format reuse '\$ssl_session_reused';
    client_body_temp_path $ngx/tmp_body;
    proxy_temp_path $ngx/tmp_proxy;
    fastcgi_temp_path $ngx/tmp_fastcgi;
    uwsgi_temp_path $ngx/tmp_uwsgi;
    scgi_temp_path $ngx/tmp_scgi;
    $servers
}
CONF
nginx -p "$ngx" -c conf/nginx.conf
for _ in $(seq 200); do [[ -s $ngx/logs/nginx.pid ]] && break; sleep 0.05; done
master=$(cat "$ngx/logs/nginx.pid")
for _ in $(seq 200); do
    [[ $(grep -c 'warm-up signature' "$ngx/logs/error.log") -ge 4 ]] && break
    sleep 0.05
done

# rate KIND PROTO SECONDS: handshakes per second (ab, 32 concurrent connections, no
# keep-alive).
rate() {
    local kind=$1 proto=$2 secs=$3 log=$ngx/logs/$1.log out
    : >"$log"
    out=$(OPENSSL_CONF=/dev/null ab -q -n 10000000 -t "$secs" -c 32 -f "$proto" \
        "https://127.0.0.1:${port[$kind]}/" 2>&1)
    local resumed
    resumed=$(grep -vc '^\.$' "$log" || true)
    if ((resumed > 0)); then
        echo "bench: $resumed of $(wc -l <"$log") connections to $kind were resumed" >&2
        exit 1
    fi
    awk '/^Requests per second/ {print $4}' <<<"$out"
}

# Each cell is measured in ROUNDS slices that alternate file and HSM key, so that the load of
# the machine's neighbours (seen to move one path's rate by 20% between two sequential runs)
# falls on both alike; a cell's rate is the mean of its slices.
rounds=5
slice=$(python3 -c "print(max(1, round($seconds / $rounds)))")
printf '\n%s s per cell, in %s alternating slices of %s s\n' "$seconds" "$rounds" "$slice"
printf '\n| key | TLS | (1) file key hs/s | (2) HSM key hs/s | (3) token C_Sign/s (2 thr) | default sign/s (2 thr) | token allows hs/s | (2)/allowed |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for proto in TLS1.3 TLS1.2; do
    for alg in rsa ec; do
        files=() hsms=()
        for _ in $(seq "$rounds"); do
            files+=("$(rate "file-$alg" "$proto" "$slice")")
            hsms+=("$(rate "hsm-$alg" "$proto" "$slice")")
        done
        read -r h_file h_hsm allowed ratio < <(python3 -c '
import sys
rounds = int(sys.argv[1])
vals = list(map(float, sys.argv[2:]))
files, hsms, (s_sw, s_tok) = vals[:rounds], vals[rounds:2 * rounds], vals[2 * rounds:]
h_file, h_hsm = sum(files) / rounds, sum(hsms) / rounds
t_other = 1 / h_file - 1 / s_sw
allowed = 1 / (t_other + 1 / s_tok)
print(f"{h_file:.0f} {h_hsm:.0f} {allowed:.0f} {100 * h_hsm / allowed:.1f}%")' \
            "$rounds" "${files[@]}" "${hsms[@]}" "${sw[$alg]}" "${raw[$alg]}")
        label=$([[ $alg == rsa ]] && echo "RSA-2048 (PSS)" || echo "ECDSA P-256")
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "${proto/TLS/}" \
            "$h_file" "$h_hsm" "${raw[$alg]}" "${sw[$alg]}" "$allowed" "$ratio"
    done
done
echo
echo "T_other = 1/(1) - 1/(default sign/s); token allows = 1/(T_other + 1/(3)). No resumed session in any run."
if grep -E '\[(alert|crit|emerg)\]|exited on signal' "$ngx/logs/error.log"; then
    echo "bench: the nginx error log above has alerts" >&2
    exit 1
fi
