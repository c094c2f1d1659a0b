# shellcheck shell=bash disable=SC2034 # variables are used by the scripts sourcing this
# Shared helpers for the nginx end-to-end tests: Debian's nginx with ngx_pkcs11_module on
# 127.0.0.1 high ports, in a private prefix, with a private copy of the SoftHSM2 token.
#
# Environment (set by tests/nginx/CMakeLists.txt):
#   HSMP_FIXTURE_ENV   the nginx token fixture (a softhsm-token.sh fixture.env)
#   HSMP_PROVIDER_DIR  directory of pkcs11.so
#   NGX_PKCS11_MODULE  path of ngx_pkcs11_module.so
#   NGX_TOKEN          softhsm: the workers open the token copy themselves;
#                      p11kit: a private `p11-kit server` serves the copy from another
#                      process and the workers use p11-kit-client.so
#
# Each script gets its own token copy, so nginx tests run in parallel with each other and
# with the rest of the suite. When run as root, the workers run as `nobody` (the master
# stays root, as in production), so the fork + setuid + stripped-environment path of a
# real deployment is what is tested.
NGX_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$NGX_LIB_DIR/../e2e/lib.sh"

: "${NGX_PKCS11_MODULE:?NGX_PKCS11_MODULE (ngx_pkcs11_module.so) is not set: run through ctest}"
[[ -f $NGX_PKCS11_MODULE ]] || fail "no nginx module at $NGX_PKCS11_MODULE"
NGX_TOKEN=${NGX_TOKEN:-softhsm}
NGINX=${NGINX:-/usr/sbin/nginx}
[[ -x $NGINX ]] || skip "$NGINX not found; run ci/install-deps.sh"
NGX_STREAM_SO=/usr/lib/nginx/modules/ngx_stream_module.so
[[ -f $NGX_STREAM_SO ]] || skip "$NGX_STREAM_SO not found (libnginx-mod-stream)"
require_cmd curl gnutls-cli

chmod 0755 "$WORK"
if [[ $EUID -eq 0 ]]; then
    NGX_USER=nobody
    NGX_GROUP=$(id -gn nobody)
else
    NGX_USER=
fi

# --- the token copy -------------------------------------------------------------------
# A full copy of the fixture directory with its paths rewritten: a valid softhsm fixture of
# its own (p11kit-server.sh accepts it), owned by the worker user when run as root (SoftHSM
# rewrites token files on login, so the workers need write access).
ngx_copy_token() {
    local src=$HSMP_TEST_DIR dst=$WORK/tok
    cp -a -- "$src" "$dst"
    local f
    for f in "$dst/softhsm2.conf" "$dst/fixture.env"; do
        sed -i "s|$src|$dst|g" "$f"
    done
    # A PIN no log line can contain by chance (the fixture's 1234 turns up in pids and
    # ports), so no_secret checks mean something.
    local new_pin
    new_pin="pin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    NGX_OLD_PIN=$(<"$dst/user.pin") NGX_NEW_PIN=$new_pin SOFTHSM2_CONF=$dst/softhsm2.conf \
        run "$WORK/change-pin.log" "set a distinctive PIN on the token copy" \
        pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label \
        "$HSMP_TEST_TOKEN_LABEL" --login --pin env:NGX_OLD_PIN --change-pin \
        --new-pin env:NGX_NEW_PIN
    (umask 077 && printf '%s' "$new_pin" >"$dst/user.pin")
    if [[ -n $NGX_USER ]]; then
        chown -R "$NGX_USER:$NGX_GROUP" "$dst/tokens"
    fi
    chmod 0755 "$dst"
}
ngx_copy_token
P11KIT_DIR=
ngx_cleanup_p11kit() {
    if [[ -n $P11KIT_DIR ]]; then
        bash "$NGX_LIB_DIR/../fixtures/p11kit-server.sh" stop "$P11KIT_DIR" >/dev/null 2>&1 || true
    fi
}
case $NGX_TOKEN in
softhsm)
    load_fixture "$WORK/tok/fixture.env"
    NGX_ENV_LINES=("env SOFTHSM2_CONF;")
    ;;
p11kit)
    P11KIT_DIR=$WORK/p11
    # The token server is not part of what is tested: neither the provider (OPENSSL_CONF)
    # nor the preloaded sanitizer runtimes go into it.
    OPENSSL_CONF=/dev/null plain bash "$NGX_LIB_DIR/../fixtures/p11kit-server.sh" start "$P11KIT_DIR" "$WORK/tok" \
        >"$WORK/p11kit-start.log" 2>&1 || {
        sed 's/^/    | /' "$WORK/p11kit-start.log" >&2
        fail "p11-kit server did not start"
    }
    # The workers (nobody) must reach the socket the root-run server created.
    chmod 0711 "$P11KIT_DIR"
    chmod 0666 "$P11KIT_DIR/p11kit.sock"
    load_fixture "$P11KIT_DIR/fixture.env"
    NGX_ENV_LINES=("env P11_KIT_SERVER_ADDRESS;")
    ;;
*) fail "NGX_TOKEN must be softhsm or p11kit, not '$NGX_TOKEN'" ;;
esac
FIX=$HSMP_TEST_DIR
TOKEN_URI="pkcs11:token=$(urlenc "$HSMP_TEST_TOKEN_LABEL")"
# The PIN file stays root-only: only the master (configuration parsing) reads it.
write_conf "$WORK/openssl.cnf"
export OPENSSL_CONF=$WORK/openssl.cnf
NGX_PIN=$(<"$HSMP_TEST_PIN_FILE")

# --- nginx ------------------------------------------------------------------------------
NGX_PREFIX=$WORK/ngx
mkdir -p "$NGX_PREFIX/conf" "$NGX_PREFIX/logs" "$NGX_PREFIX/html"
NGX_CONF=$NGX_PREFIX/conf/nginx.conf
NGX_LOG=$NGX_PREFIX/logs/error.log
NGX_PIDFILE=$NGX_PREFIX/logs/nginx.pid
NGX_MASTER=

ngx_cleanup() {
    local rc=$?
    if [[ -n $NGX_MASTER ]] && kill -0 "$NGX_MASTER" 2>/dev/null; then
        kill -TERM "$NGX_MASTER" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$NGX_MASTER" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGX_MASTER" 2>/dev/null || true
    fi
    if ((rc != 0)) && [[ -f $NGX_LOG ]]; then
        note "last lines of the nginx error log:"
        tail -n 25 "$NGX_LOG" | sed 's/^/    | /' >&2
    fi
    ngx_cleanup_p11kit
    e2e_cleanup
}
trap ngx_cleanup EXIT

# ngx_write_conf WORKERS BODY: nginx.conf with the module, the stream module, the pid and
# log files in the prefix, the token environment and BODY (http{} and/or stream{}).
ngx_write_conf() {
    local workers=$1 body=$2
    {
        printf 'load_module %s;\n' "$NGX_STREAM_SO"
        printf 'load_module %s;\n' "$NGX_PKCS11_MODULE"
        printf 'daemon on;\nmaster_process on;\nworker_processes %s;\n' "$workers"
        [[ -n $NGX_USER ]] && printf 'user %s %s;\n' "$NGX_USER" "$NGX_GROUP"
        printf 'pid %s;\nerror_log %s notice;\n' "$NGX_PIDFILE" "$NGX_LOG"
        printf '%s\n' "${NGX_ENV_LINES[@]}"
        printf 'events { worker_connections 512; }\n'
        printf '%s\n' "$body"
    } >"$NGX_CONF"
}

# ngx_http_common: the lines every http{} block of these tests starts with.
ngx_http_common() {
    local t
    printf 'access_log off;\n'
    for t in client_body proxy fastcgi uwsgi scgi; do
        printf '%s_temp_path %s/tmp_%s;\n' "$t" "$NGX_PREFIX" "$t"
    done
}

# ngx_https_conf WORKERS PORT KEY...: nginx.conf with one https server on PORT serving
# each KEY (fixture labels) from the token, with its fixture certificate; `/` answers
# "ok <worker pid>".
ngx_https_conf() {
    local workers=$1 port=$2 key pairs=""
    shift 2
    for key in "$@"; do
        pairs+="
        ssl_certificate $(cert_pem "$key");
        ssl_certificate_key \"$(key_uri "$key")\";"
    done
    ngx_write_conf "$workers" "
http {
    $(ngx_http_common)
    server {
        listen 127.0.0.1:$port ssl;
        ssl_protocols TLSv1.2 TLSv1.3;$pairs
        location / { return 200 \"ok \$pid\n\"; }
    }
}"
}

# ngx_test: `nginx -t` on the current configuration, output to $WORK/nginx-t.log; returns
# nginx's exit status.
ngx_test() {
    timeout 60 "$NGINX" -p "$NGX_PREFIX" -c "$NGX_CONF" -t >"$WORK/nginx-t.log" 2>&1
}

# ngx_start WORKERS KEYS: start nginx (daemon, master + WORKERS workers) and wait until
# every worker has logged the warm-up outcome of each of its KEYS provider keys.
ngx_start() {
    local workers=$1 keys=$2 i
    : >"$NGX_LOG"
    rm -f "$NGX_PIDFILE"
    timeout 60 "$NGINX" -p "$NGX_PREFIX" -c "$NGX_CONF" >"$WORK/nginx-start.log" 2>&1 || {
        sed 's/^/    | /' "$WORK/nginx-start.log" >&2
        fail "nginx did not start"
    }
    for ((i = 0; i < 300; i++)); do
        [[ -s $NGX_PIDFILE ]] && break
        sleep 0.05
    done
    [[ -s $NGX_PIDFILE ]] || fail "nginx wrote no pid file"
    read -r NGX_MASTER <"$NGX_PIDFILE"
    ngx_wait_warmups "$((workers * keys))"
}

# ngx_wait_warmups N: until the error log has N warm-up outcomes (bounded, 30 s).
ngx_wait_warmups() {
    local want=$1 i n
    for ((i = 0; i < 600; i++)); do
        n=$(grep -cE 'pkcs11: worker [0-9]+ .*(ready|still unusable)' "$NGX_LOG" || true)
        ((n >= want)) && return 0
        kill -0 "$NGX_MASTER" 2>/dev/null || fail "nginx master $NGX_MASTER exited"
        sleep 0.05
    done
    fail "only $n of $want worker warm-ups were logged within 30 s"
}

# ngx_assert_warmups N: exactly N warm-ups, all successful.
ngx_assert_warmups() {
    local want=$1 ok bad
    ok=$(grep -cE 'pkcs11: worker [0-9]+ .* ready, warm-up signature' "$NGX_LOG" || true)
    bad=$(grep -cE 'still unusable' "$NGX_LOG" || true)
    ((bad == 0)) || fail "$bad warm-up(s) failed: $(grep -m1 'still unusable' "$NGX_LOG")"
    ((ok == want)) || fail "$ok successful warm-ups, expected $want"
}

# ngx_stop [SIGNAL]: stop the master by PID, gracefully (QUIT, the default) or fast (TERM,
# what `nginx -s stop` sends); every process must exit in 20 s.
ngx_stop() {
    local i sig=${1:-QUIT}
    [[ -n $NGX_MASTER ]] || return 0
    kill "-$sig" "$NGX_MASTER" 2>/dev/null || true
    for ((i = 0; i < 400; i++)); do
        kill -0 "$NGX_MASTER" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$NGX_MASTER" 2>/dev/null && fail "nginx master $NGX_MASTER still running 20 s after $sig"
    NGX_MASTER=
}

# ngx_assert_clean_log: no alert, crit or emerg line and no process killed by a signal.
ngx_assert_clean_log() {
    if grep -E '\[(alert|crit|emerg)\]|exited on signal' "$NGX_LOG" >"$WORK/bad-lines"; then
        sed 's/^/    | /' "$WORK/bad-lines" >&2
        fail "the nginx error log has alert/crit/emerg lines or a crashed process"
    fi
    no_secret "$NGX_PIN" "$NGX_LOG" "$NGX_CONF"
}

# served_pub HOST:PORT SERVERNAME S_CLIENT-ARGS... > PEM: the public key of the
# certificate the server presents.
served_pub() {
    local addr=$1
    shift
    timeout 20 env OPENSSL_CONF=/dev/null "${PLAIN[@]}" openssl s_client -connect "$addr" "$@" \
        </dev/null 2>/dev/null | sw x509 -noout -pubkey
}

# client CMD...: a TLS client (curl, openssl s_client, gnutls-cli) bounded by 20 s, without
# the pkcs11 provider (the client side is plain software) or the sanitizer runtimes.
client() {
    timeout 20 env OPENSSL_CONF=/dev/null "${PLAIN[@]}" "$@"
}
