#!/usr/bin/env bash
# Render the shipped nginx/orderd.conf and nginx/nginx-local.conf for one run directory.
# This is the ONE place nginx configs are rendered (make run, the Swift integration tests, the bench).
#
#   scripts/render-nginx.sh --run-dir DIR --socket PATH --port PORT [options]
#
#   --run-dir DIR          run directory; writes DIR/nginx/nginx.conf and DIR/nginx/orderd.conf and
#                          creates DIR/nginx/tmp/ (temp paths). Logs: DIR/nginx/{access,error}.log,
#                          pid: DIR/nginx/nginx.pid.
#   --socket PATH          orderd's unix socket (absolute, or relative to the current directory;
#                          at most 107 bytes, the sun_path limit). Repeat it for several instances:
#                          one upstream `server` line each, with the shipped line's parameters.
#   --port PORT            loopback port: the server listens on 127.0.0.1:PORT.
#   --keepalive on|off     upstream keepalive + fastcgi_keep_conn (default: on, as shipped).
#   --keepalive-conns N    idle kept connections per nginx worker when --keepalive on (default: as shipped, 16).
#   --orders-limit RATE:BURST  limit_req on POST /orders per client address (default: as shipped,
#                          20r/s:40); e.g. 1r/m:1 for a test of the 429, 100000r/s:100000 for a load
#                          test or the benchmark, whose clients all come from 127.0.0.1.
#   --ceiling-port PORT    also render a `return 200` server on 127.0.0.1:PORT (benchmark ceiling).
#   --user USER[:GROUP]    worker user when nginx runs as root (default: the invoking user and group,
#                          `id -un`/`id -gn`). Ignored, and left out of the config, when not root.
#   --site FILE            the site config to render (default: nginx/orderd.conf; the package test renders
#                          the one a .deb installed, to prove that one works).
#   --check                run `nginx -t` on the result (needs nginx on PATH or in /usr/sbin).
#
# Only these lines change: `listen` (→ 127.0.0.1:PORT), the upstream `server unix:` path, the
# limit_req rate and burst of POST /orders (--orders-limit),
# access/error log paths, and the four keepalive lines. Output is deterministic: the same arguments
# give byte-identical files. Prints the path of the rendered nginx.conf on stdout.
# Start:  nginx -p DIR/nginx -c DIR/nginx/nginx.conf -e stderr        (daemon off is in the file)
set -euo pipefail

die() { echo "render-nginx: $*" >&2; exit 2; }
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "${1#./}" ;; esac; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR="" SOCKETS=() PORT="" KEEPALIVE=on KA_CONNS="" CEILING_PORT="" USER_SPEC="" CHECK=0 ORDERS_LIMIT=""
SITE="$REPO/nginx/orderd.conf"
while [ $# -gt 0 ]; do
    case "$1" in
        --run-dir) RUN_DIR=${2:?}; shift 2 ;;
        --socket) SOCKETS+=("${2:?}"); shift 2 ;;
        --port) PORT=${2:?}; shift 2 ;;
        --keepalive) KEEPALIVE=${2:?}; shift 2 ;;
        --keepalive-conns) KA_CONNS=${2:?}; shift 2 ;;
        --orders-limit) ORDERS_LIMIT=${2:?}; shift 2 ;;
        --site) SITE=${2:?}; shift 2 ;;
        --ceiling-port) CEILING_PORT=${2:?}; shift 2 ;;
        --user) USER_SPEC=${2:?}; shift 2 ;;
        --check) CHECK=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[ -n "$RUN_DIR" ] || die "--run-dir is required"
[ ${#SOCKETS[@]} -gt 0 ] || die "--socket is required"
[ -n "$PORT" ] || die "--port is required"
isport() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }
isport "$PORT" || die "--port must be 1-65535, got '$PORT'"
[ -z "$CEILING_PORT" ] || isport "$CEILING_PORT" || die "--ceiling-port must be 1-65535"
[ "$KEEPALIVE" = on ] || [ "$KEEPALIVE" = off ] || die "--keepalive must be on or off"
[ -z "$KA_CONNS" ] || [[ "$KA_CONNS" =~ ^[1-9][0-9]*$ ]] || die "--keepalive-conns must be a positive integer"

[ -z "$ORDERS_LIMIT" ] || [[ "$ORDERS_LIMIT" =~ ^[1-9][0-9]*r/[sm]:[1-9][0-9]*$ ]] || die "--orders-limit must be RATE:BURST such as 20r/s:40 or 1r/m:1"
ORDERS_RATE=${ORDERS_LIMIT%%:*} ORDERS_BURST=${ORDERS_LIMIT#*:}
RUN_DIR=$(abspath "$RUN_DIR"); RUN_DIR=${RUN_DIR%/}
for i in "${!SOCKETS[@]}"; do
    SOCKETS[i]=$(abspath "${SOCKETS[i]}")
    [ "${#SOCKETS[i]}" -le 107 ] || die "socket path is ${#SOCKETS[i]} bytes, over the 107-byte unix socket limit: ${SOCKETS[i]}"
done
SOCKET="${SOCKETS[*]}"
for v in "$RUN_DIR" "${SOCKETS[@]}"; do
    case "$v" in *[[:space:]\;\{\}\'\"\\\$]*) die "path must not contain spaces, quotes, ';', '{', '}', '\$' or '\\': $v" ;; esac
done

if [ "$(id -u)" -eq 0 ]; then
    if [ -n "$USER_SPEC" ]; then
        N_USER=${USER_SPEC%%:*}
        case "$USER_SPEC" in *:*) N_GROUP=${USER_SPEC#*:} ;; *) N_GROUP=$(id -gn "$N_USER") ;; esac
    else
        N_USER=$(id -un); N_GROUP=$(id -gn)
    fi
    ROOT=1
else
    N_USER=$(id -un); N_GROUP=$(id -gn); ROOT=0
fi

OUT="$RUN_DIR/nginx"
mkdir -p "$OUT/tmp"

# orderd.conf: only lines tagged `# @render:NAME` change; every tag must be found.
awk -v sock="$SOCKET" -v port="$PORT" -v out="$OUT" -v ka="$KEEPALIVE" -v kaconns="$KA_CONNS" \
    -v orate="$ORDERS_RATE" -v oburst="$ORDERS_BURST" '
    function indent(s) { match(s, /^[ \t]*/); return substr(s, 1, RLENGTH) }
    function tagged(s, t) { return index(s, "# @render:" t) > 0 }
    tagged($0, "socket") {
        # one server line per socket, each with the parameters of the shipped line (max_fails=...)
        line = $0; sub(/[ \t]*# @render:socket.*$/, "", line); sub(/;[ \t]*$/, "", line)
        params = line; sub(/^[ \t]*server[ \t]+[^ \t]+/, "", params)
        n = split(sock, socks, " ")
        for (i = 1; i <= n; i++) print indent($0) "server unix:" socks[i] params ";"
        seen["socket"]++; next
    }
    tagged($0, "orders_rate") {
        seen["orders_rate"]++
        if (orate != "") { line = $0; sub(/rate=[^;]*;/, "rate=" orate ";", line); print line } else print
        next
    }
    tagged($0, "orders_burst") {
        seen["orders_burst"]++
        if (oburst != "") { line = $0; sub(/burst=[0-9]+/, "burst=" oburst, line); print line } else print
        next
    }
    tagged($0, "listen")     { print indent($0) "listen 127.0.0.1:" port ";"; seen["listen"]++; next }
    tagged($0, "access_log") { print indent($0) "access_log " out "/access.log orderd;"; seen["access_log"]++; next }
    tagged($0, "error_log")  { print indent($0) "error_log " out "/error.log;"; seen["error_log"]++; next }
    tagged($0, "keepalive") {
        seen["keepalive"]++
        line = $0; sub(/[ \t]*# @render:keepalive.*$/, "", line)
        ind = indent(line); body = substr(line, length(ind) + 1); sub(/^#[ \t]*/, "", body)
        if (kaconns != "" && body ~ /^keepalive /) body = "keepalive " kaconns ";"
        print ind (ka == "on" ? "" : "#") body
        next
    }
    # The shipped file has `#listen [::]:80;` commented: a rendered config listens on loopback only.
    /^[ \t]*listen[ \t]/ { print "render-nginx: untagged listen line: " $0 > "/dev/stderr"; bad = 1 }
    { print }
    END {
        if (seen["socket"] != 1 || seen["listen"] != 1 || seen["access_log"] != 1 || seen["error_log"] != 1 || seen["keepalive"] != 4 || seen["orders_rate"] != 1 || seen["orders_burst"] != 1) {
            print "render-nginx: nginx/orderd.conf lost a # @render: tag (socket=" seen["socket"]+0 " listen=" seen["listen"]+0 \
                  " access_log=" seen["access_log"]+0 " error_log=" seen["error_log"]+0 " keepalive=" seen["keepalive"]+0 " orders_rate=" seen["orders_rate"]+0 " orders_burst=" seen["orders_burst"]+0 ", want 1 1 1 1 4 1 1)" > "/dev/stderr"
            exit 3
        }
        if (bad) exit 3
    }' "$SITE" > "$OUT/orderd.conf.tmp"
mv -f "$OUT/orderd.conf.tmp" "$OUT/orderd.conf"

# nginx.conf from the template: @RUN_NGINX@, @USER@, @GROUP@, @CEILING_PORT@, #@root, #@ceiling.
awk -v out="$OUT" -v user="$N_USER" -v group="$N_GROUP" -v root="$ROOT" -v ceiling="$CEILING_PORT" '
    function subst(s) { gsub(/@RUN_NGINX@/, out, s); gsub(/@USER@/, user, s); gsub(/@GROUP@/, group, s); gsub(/@CEILING_PORT@/, ceiling, s); return s }
    /^[ \t]*#@root / { if (root == 1) { s = $0; sub(/#@root /, "", s); print subst(s) }; next }
    /^[ \t]*#@ceiling / { if (ceiling != "") { s = $0; sub(/#@ceiling /, "", s); print subst(s) }; next }
    { print subst($0) }
    END { }' "$REPO/nginx/nginx-local.conf" > "$OUT/nginx.conf.tmp"
if grep -n '@[A-Z_]*@' "$OUT/nginx.conf.tmp" >&2; then die "unrendered placeholder left in nginx.conf"; fi
mv -f "$OUT/nginx.conf.tmp" "$OUT/nginx.conf"

if [ "$CHECK" = 1 ]; then
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    "$NGINX" -t -q -p "$OUT" -c "$OUT/nginx.conf" -e stderr || die "nginx -t failed on $OUT/nginx.conf"
fi
echo "$OUT/nginx.conf"
