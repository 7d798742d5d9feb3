#!/usr/bin/env bash
# The package test's body: unpack a .deb into a throwaway root, hide the Swift toolchain for real, and run the
# packaged orderd behind the packaged nginx site. Run by PackageTests (Tests/IntegrationTests), as root.
#
#   scripts/package-smoke.sh DEB WORKDIR PORT [NON_STATIC_BINARY]
#
# In a private mount namespace (unshare -m) an empty directory is bind-mounted over /opt/swift, so a binary
# that still needs libswiftCore.so cannot start. NON_STATIC_BINARY, when given, is started there first to show
# exactly that. Then: `orderd --version`, `check-config` of the packaged INI pointed into WORKDIR, `serve`,
# nginx with the packaged site rendered for WORKDIR and PORT, and POST/GET /orders with a key made by the
# packaged `orderd keys new`. Prints what it saw; exits non-zero at the first failure.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 DEB WORKDIR PORT [NON_STATIC_BINARY]" >&2; exit 2; }
DEB=$1 WORK=$2 PORT=$3 NON_STATIC=${4:-}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -z "${ORDERD_IN_NAMESPACE:-}" ]; then
    export ORDERD_IN_NAMESPACE=1
    exec unshare -m --propagation private "$0" "$@"
fi

ROOT=$WORK/root
mkdir -p "$ROOT" "$WORK/empty"
dpkg -x "$DEB" "$ROOT"
if [ -d /opt/swift ]; then mount --bind "$WORK/empty" /opt/swift; fi
echo "toolchain hidden: $(ls -A /opt/swift 2>/dev/null | wc -l) entries in /opt/swift"

if [ -n "$NON_STATIC" ]; then
    if out=$("$NON_STATIC" --version 2>&1); then
        echo "non-static binary started: $out"
    else
        echo "non-static binary refused: $out"
    fi
fi

BIN=$ROOT/usr/bin/orderd
echo "ldd: $(ldd "$BIN" | tr '\n' ';')"
echo "version: $("$BIN" --version | tr '\n' ' ')"

# The packaged INI, pointed into WORK: socket, database, audit file, keys file.
"$BIN" keys new --id package-test --scopes orders:write,orders:read --append-to "$WORK/api-keys" \
    --secret-to "$WORK/api-key" 2>/dev/null
"$REPO/scripts/render-ini.sh" --in "$ROOT/etc/orderd/orderd.ini" --out "$WORK/orderd.ini" \
    --set server.listen="$WORK/orderd.sock" --set store.path="$WORK/orderd.db" \
    --set task.audit.path="$WORK/audit.log" --set auth.keys_file="$WORK/api-keys"
"$BIN" check-config --config "$WORK/orderd.ini" > "$WORK/check-config.out" 2>&1
echo "check-config: $(grep 'configuration file' "$WORK/check-config.out")"

"$BIN" serve --config "$WORK/orderd.ini" > "$WORK/orderd.log" 2>&1 &
ORDERD=$!
NGINX_PID=""
cleanup() {
    [ -z "$NGINX_PID" ] || kill -QUIT "$NGINX_PID" 2>/dev/null || true
    kill -TERM "$ORDERD" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 300); do [ -S "$WORK/orderd.sock" ] && break; kill -0 "$ORDERD" || { cat "$WORK/orderd.log"; exit 1; }; sleep 0.1; done

"$REPO/scripts/render-nginx.sh" --run-dir "$WORK" --socket "$WORK/orderd.sock" --port "$PORT" \
    --site "$ROOT/etc/nginx/sites-available/orderd.conf" >/dev/null
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
NGINX_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done

KEY=$(cat "$WORK/api-key")
created=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$PORT/orders" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d '{"customer":{"phone":"+8613800138000"},"currency":"CNY","items":[{"sku":"PKG-1","quantity":1,"unit_price_cents":100}]}')
echo "POST /orders: $created"
id=$(printf '%s' "$created" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
echo "GET /orders/$id: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/orders/$id" -H "Authorization: Bearer $KEY")"
echo "GET /orders/$id without a key: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/orders/$id")"
