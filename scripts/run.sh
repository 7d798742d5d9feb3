#!/usr/bin/env bash
# Run orderd behind nginx on this machine: what `make run` calls after building orderd (release).
# Builds nothing itself.
#
#   RUN_DIR=./.run PORT=8080 [CONFIG=my.ini] [KEEPALIVE=off|on] [ORDERD_BIN=...] scripts/run.sh
#
#   RUN_DIR     where everything goes (default ./.run): orderd.ini, orderd.sock, orderd.db, nginx/.
#   PORT        nginx listens on 127.0.0.1:PORT (default 8080).
#   CONFIG      INI to start from instead of config/orderd.ini; it is copied to RUN_DIR/orderd.ini with
#               server.listen, store.path, task.audit.path and auth.keys_file pointed into RUN_DIR,
#               everything else as it is (its [task.sms] driver included: the shipped example's default
#               is driver = log).
#
# API keys are required, as in production: the first run makes one key with every scope (id `local`)
# into RUN_DIR/api-keys (the keys file, hashes only) and RUN_DIR/api-key (its secret, mode 0600), and
# later runs reuse it. The curl lines printed at the start carry it.
#   KEEPALIVE   nginx upstream keepalive (default on, as shipped).
#   ORDERD_BIN  default .build/release/orderd.
#   STOP_TIMEOUT  seconds to wait for each process on stop before SIGKILL (default 70: orderd's stop
#               budget with the default timeouts, 3 s + 30 s + 0.5 s + 10 s + 20 s + 5 s = 68.5 s; docs/operations.md,
#               "How long a stop may take". systemd/orderd.service covers the largest allowed values).
#
# Ctrl-C / SIGTERM: nginx quits gracefully (stops accepting, finishes what it has), then orderd gets
# SIGTERM and drains. If either process dies on its own, the other is stopped and run.sh exits 1.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

RUN_DIR=${RUN_DIR:-./.run}
PORT=${PORT:-8080}
CONFIG=${CONFIG:-}
KEEPALIVE=${KEEPALIVE:-on}
ORDERD_BIN=${ORDERD_BIN:-$REPO/.build/release/orderd}
STOP_TIMEOUT=${STOP_TIMEOUT:-70}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

say() { echo "run: $*" >&2; }
die() { say "$*"; exit 1; }

[ -x "$ORDERD_BIN" ] || die "no orderd binary at $ORDERD_BIN (make run builds it: swift build -c release)"
[ -x "$NGINX" ] || die "nginx not installed (scripts/deps.sh)"
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
SOCK=$RUN_DIR/orderd.sock
INI=$RUN_DIR/orderd.ini
NGINX_CONF=$RUN_DIR/nginx/nginx.conf

# Refuse to start twice on one run dir.
if [ -f "$RUN_DIR/nginx/nginx.pid" ] && kill -0 "$(cat "$RUN_DIR/nginx/nginx.pid" 2>/dev/null)" 2>/dev/null; then
    die "nginx from an earlier run is still running (pid $(cat "$RUN_DIR/nginx/nginx.pid")): stop it first"
fi
if command -v curl >/dev/null && curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/"; then
    die "something already answers on 127.0.0.1:$PORT: choose another PORT"
fi

# INI: the shipped example (or CONFIG) with the socket, the store and the audit file pointed into RUN_DIR.
# Nothing else is overridden: an INI that says `driver = http` sends its SMS.
SRC_INI=${CONFIG:-$REPO/config/orderd.ini}
[ -r "$SRC_INI" ] || die "cannot read $SRC_INI"
KEYS=$RUN_DIR/api-keys SECRET_FILE=$RUN_DIR/api-key
if [ ! -s "$KEYS" ] || [ ! -s "$SECRET_FILE" ]; then
    rm -f "$KEYS" "$SECRET_FILE"
    "$ORDERD_BIN" keys new --id local --scopes orders:write,orders:read,admin --note "make run" \
        --append-to "$KEYS" --secret-to "$SECRET_FILE" 2>/dev/null || die "orderd keys new failed"
    say "made a local API key with every scope: $SECRET_FILE (hash in $KEYS)"
fi
scripts/render-ini.sh --in "$SRC_INI" --out "$INI" --set server.listen="$SOCK" --set store.path="$RUN_DIR/orderd.db" \
    --set task.audit.path="$RUN_DIR/audit.log" --set auth.keys_file="$KEYS"
scripts/render-nginx.sh --run-dir "$RUN_DIR" --socket "$SOCK" --port "$PORT" --keepalive "$KEEPALIVE" >/dev/null

ORDERD_PID="" NGINX_PID="" STOPPING=0

wait_gone() { # pid seconds name
    local pid=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    say "$3 (pid $pid) still running after ${secs}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}
stop_all() {
    [ "$STOPPING" = 0 ] || return 0
    STOPPING=1
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        say "stopping nginx (graceful quit)"
        "$NGINX" -p "$RUN_DIR/nginx" -c "$NGINX_CONF" -e stderr -s quit 2>/dev/null || kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait_gone "$NGINX_PID" "$STOP_TIMEOUT" nginx
    fi
    if [ -n "$ORDERD_PID" ] && kill -0 "$ORDERD_PID" 2>/dev/null; then
        say "stopping orderd (SIGTERM)"
        kill -TERM "$ORDERD_PID" 2>/dev/null || true
        wait_gone "$ORDERD_PID" "$STOP_TIMEOUT" orderd
    fi
    # reap, keeping the exit codes out of set -e's way
    [ -z "$NGINX_PID" ] || wait "$NGINX_PID" 2>/dev/null || true
    [ -z "$ORDERD_PID" ] || wait "$ORDERD_PID" 2>/dev/null || true
}
trap 'stop_all' EXIT
trap 'say "interrupted"; stop_all; exit 0' INT TERM

# Children run in their own sessions (setsid): a terminal Ctrl-C reaches only this script, which
# stops them in order, instead of hitting nginx (fast shutdown on SIGINT) and orderd at once.
# scripts/socket-holder.py holds the socket (as systemd's orderd.socket does) and runs orderd on it, so a
# restart (kill -USR2 <holder>) fails no request; SIGHUP and SIGTERM are passed on to orderd.
rm -f "$SOCK"
say "starting orderd: $ORDERD_BIN serve --config $INI (socket held by scripts/socket-holder.py)"
setsid python3 "$REPO/scripts/socket-holder.py" --socket "$SOCK" -- "$ORDERD_BIN" serve --config "$INI" </dev/null &
ORDERD_PID=$!

for ((i = 0; i < 150; i++)); do
    [ -S "$SOCK" ] && break
    kill -0 "$ORDERD_PID" 2>/dev/null || { wait "$ORDERD_PID" && rc=0 || rc=$?; ORDERD_PID=""; die "orderd exited (status $rc) before creating $SOCK"; }
    sleep 0.1
done
[ -S "$SOCK" ] || die "orderd did not create $SOCK within 15s"

say "starting nginx: $NGINX -p $RUN_DIR/nginx -c $NGINX_CONF (errors: $RUN_DIR/nginx/error.log)"
setsid "$NGINX" -p "$RUN_DIR/nginx" -c "$NGINX_CONF" -e stderr </dev/null &
NGINX_PID=$!
for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/healthz" && break
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$NGINX_PID" 2>/dev/null || { tail -5 "$RUN_DIR/nginx/error.log" >&2 2>/dev/null || true; die "nginx failed to start"; }

echo "orderd serving at http://127.0.0.1:$PORT"
cat <<TRY
Try it; every request but /healthz needs the key (it is in $SECRET_FILE):
  KEY=\$(cat $SECRET_FILE)
  curl -si localhost:$PORT/orders -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
    -d '{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":1299}]}'
  curl -s localhost:$PORT/orders/<id from the Location header> -H "Authorization: Bearer \$KEY"
  curl -s localhost:$PORT/status -H "Authorization: Bearer \$KEY"   (in a browser: any user name, the key as password)
TRY
say "Ctrl-C to stop (access log: $RUN_DIR/nginx/access.log)"
say "reload $INI: kill -HUP $ORDERD_PID; restart without failing a request: kill -USR2 $ORDERD_PID"

# Wait for either to exit; a signal interrupts the wait and runs the trap.
set +e
wait -n "$ORDERD_PID" "$NGINX_PID"
rc=$?
set -e
if kill -0 "$ORDERD_PID" 2>/dev/null; then who=nginx; else who=orderd; fi
say "$who exited on its own (status $rc): stopping the other"
stop_all
exit 1
