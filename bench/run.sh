#!/usr/bin/env bash
# orderd benchmark: nginx `return 200` ceiling, the plain C libfcgi responder (bench/c/responder.c)
# and orderd, back to back in one invocation, each behind nginx rendered by scripts/render-nginx.sh,
# without and with upstream keepalive. Loopback and unix sockets only; every step is time-bounded.
#
#   bench/run.sh                  (make bench builds orderd in release mode first)
#
# Environment:
#   DURATION=10s        each measured wrk run (seconds, `s` suffix optional)
#   THREADS=4           C responder threads = orderd server.request_workers
#   CONNS=16 WRK_THREADS=2   wrk -c / -t
#   KEEPALIVE_CONNS=16  nginx `keepalive N` (per nginx worker; 2 workers) in the keepalive runs
#   KEEPALIVE="off on"  which upstream keepalive settings to run
#   BACKENDS="ceiling c orderd orderd-shipped"   which backends to run (orderd: THREADS threads and a quiet
#                       log, like for like with C; orderd-shipped: config/orderd.ini as shipped)
#   WARMUP=1            seconds of unmeasured wrk before each run (0: none)
#   ORDERD_BIN          default .build/release/orderd (orderd rows are skipped, with the reason, without it)
#   ORDERD_INI          INI to start from (default config/orderd.ini, else an empty one)
#   ORDER_BODY          POST body file (default bench/order.json), used by bench/post-order.lua
#   KEEP_RUN=1          keep the temp run dir (configs, logs, databases) for inspection
#
# Output: a Markdown table on stdout and in bench/results/<date>.md (commit it); raw wrk output in
# bench/results/<date>.raw (gitignored). Figures move by tens of percent between sittings on a
# shared 2-core machine: compare rows of one run, not runs of different days.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

DURATION=${DURATION:-10s}
DUR_S=${DURATION%s}
[[ "$DUR_S" =~ ^[1-9][0-9]*$ ]] || { echo "bench: DURATION must be whole seconds, got '$DURATION'" >&2; exit 2; }
THREADS=${THREADS:-4}
CONNS=${CONNS:-16}
WRK_THREADS=${WRK_THREADS:-2}
KEEPALIVE_CONNS=${KEEPALIVE_CONNS:-16}
KEEPALIVE_SET=${KEEPALIVE:-off on}
BACKENDS=${BACKENDS:-ceiling c orderd orderd-shipped}
SHIPPED_THREADS=$(sed -n "s/^;*request_workers *= *\([0-9]*\).*/\1/p" config/orderd.ini | head -1)
WARMUP=${WARMUP:-1}
ORDERD_BIN=${ORDERD_BIN:-$REPO/.build/release/orderd}
ORDERD_INI=${ORDERD_INI:-$REPO/config/orderd.ini}
export ORDER_BODY=${ORDER_BODY:-$REPO/bench/order.json}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

for tool in wrk spawn-fcgi curl gcc pkg-config python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/deps.sh)" >&2; exit 1; }
done
[ -x "$NGINX" ] || { echo "bench: nginx missing (scripts/deps.sh)" >&2; exit 1; }

# --- the C responder, rebuilt when its source is newer -------------------------------------------
RESPONDER=$REPO/bench/bin/responder
if [ ! -x "$RESPONDER" ] || [ "$REPO/bench/c/responder.c" -nt "$RESPONDER" ]; then
    mkdir -p "$REPO/bench/bin"
    # shellcheck disable=SC2046
    gcc -O2 -Wall -Wextra -pthread -o "$RESPONDER" "$REPO/bench/c/responder.c" $(pkg-config --cflags --libs fcgi sqlite3)
fi

# --- run dir, ports, cleanup ------------------------------------------------------------------
RUN=$(mktemp -d /tmp/orderd-bench.XXXXXX)
SOCK=$RUN/backend.sock
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT=${BENCH_PORT:-$(free_port)}
CEILING_PORT=${BENCH_CEILING_PORT:-$(free_port)}
[ "$CEILING_PORT" != "$PORT" ] || CEILING_PORT=$(free_port)

mkdir -p "$REPO/bench/results"
DATE=$(date +%Y-%m-%d)
RESULT_MD=$REPO/bench/results/$DATE.md
RAW=$REPO/bench/results/$DATE.raw
ROWS=$RUN/rows.tsv
: > "$ROWS"
NOTES=()
{ echo "# bench/run.sh $(date -Iseconds)"; } >> "$RAW"

NGINX_PID="" BACKEND_PID=""

# wait_gone PID SECONDS: wait for a child to exit, SIGKILL it after SECONDS.
wait_gone() {
    local pid=$1 secs=$2 i
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "bench: pid $pid still running after ${secs}s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
stop_nginx() {
    if [ -n "$NGINX_PID" ]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait_gone "$NGINX_PID" 15
        NGINX_PID=""
    fi
}
stop_backend() {
    if [ -n "$BACKEND_PID" ]; then
        kill -TERM "$BACKEND_PID" 2>/dev/null || true
        wait_gone "$BACKEND_PID" 20
        BACKEND_PID=""
    fi
    rm -f "$SOCK"
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_nginx
    stop_backend
    if [ "${KEEP_RUN:-0}" = 1 ]; then echo "bench: run dir kept: $RUN" >&2; else rm -rf "$RUN"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# --- starting things ----------------------------------------------------------------------------
start_nginx() { # keepalive: on|off
    scripts/render-nginx.sh --run-dir "$RUN" --socket "$SOCK" --port "$PORT" \
        --keepalive "$1" --keepalive-conns "$KEEPALIVE_CONNS" --ceiling-port "$CEILING_PORT" >/dev/null
    : > "$RUN/nginx/access.log"; : > "$RUN/nginx/ceiling.access.log" 2>/dev/null || true
    "$NGINX" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e stderr 2>>"$RUN/nginx/stderr.log" &
    NGINX_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$CEILING_PORT/" && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: nginx did not come up:" >&2
    cat "$RUN/nginx/stderr.log" "$RUN/nginx/error.log" >&2 2>/dev/null || true
    return 1
}
wait_socket() { # name
    local i
    for ((i = 0; i < 150; i++)); do
        [ -S "$SOCK" ] && return 0
        kill -0 "$BACKEND_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: $1 did not create $SOCK (log: $RUN/$1.log):" >&2
    tail -20 "$RUN/$1.log" >&2 || true
    return 1
}
fresh_db() { rm -f "$RUN/$1.db" "$RUN/$1.db-wal" "$RUN/$1.db-shm"; }
start_c() { # db mode: none|full|normal
    rm -f "$SOCK"
    local args=(-t "$THREADS")
    if [ "$1" != none ]; then fresh_db c; args+=(-d "$RUN/c.db" -m "$1"); fi
    spawn-fcgi -s "$SOCK" -M 0660 -n -- "$RESPONDER" "${args[@]}" >>"$RUN/c.log" 2>&1 &
    BACKEND_PID=$!
    wait_socket c
}
start_orderd() { # synchronous: full|normal; variant: same (THREADS threads, quiet log) | shipped (the INI as shipped)
    rm -f "$SOCK"
    fresh_db orderd
    local in=- tuning=()
    [ -f "$ORDERD_INI" ] && in=$ORDERD_INI
    if [ "${2:-same}" = same ]; then
        tuning=(--set server.request_workers="$THREADS" --set log.level="${ORDERD_LOG_LEVEL:-warning}")
    fi
    scripts/render-ini.sh --in "$in" --out "$RUN/orderd.ini" \
        --set server.listen="$SOCK" --set store.path="$RUN/orderd.db" --set store.synchronous="$1" "${tuning[@]}"
    "$ORDERD_BIN" serve --config "$RUN/orderd.ini" >>"$RUN/orderd.log" 2>&1 &
    BACKEND_PID=$!
    wait_socket orderd
}

# --- measuring ----------------------------------------------------------------------------------
# run_wrk BACKEND SCENARIO KEEPALIVE URL [LUA]: one measured wrk run, one row in $ROWS.
run_wrk() {
    local backend=$1 scenario=$2 ka=$3 url=$4 lua=${5:-} out
    local args=(-t"$WRK_THREADS" -c"$CONNS" --latency --timeout 5s)
    [ -n "$lua" ] && args+=(-s "$lua")
    if [ "$WARMUP" != 0 ]; then timeout $((WARMUP + 15)) wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true; fi
    out=$RUN/wrk.out
    echo "bench: $backend $scenario keepalive=$ka ($DURATION) ..." >&2
    if ! timeout $((DUR_S + 30)) wrk "${args[@]}" -d"${DUR_S}s" "$url" >"$out" 2>&1; then
        echo "bench: wrk failed or timed out for $backend $scenario" >&2
    fi
    { echo "## $backend | $scenario | keepalive=$ka | threads=$THREADS | $url"; cat "$out"; echo; } >> "$RAW"
    # req/s, p50 ms, p99 ms, non-2xx, socket errors, total requests
    awk -v b="$backend" -v s="$scenario" -v k="$ka" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0
            if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v + 0
        }
        /Requests\/sec:/ { rps = $2 }
        /^[ \t]+50%/ { p50 = ms($2) }
        /^[ \t]+99%/ { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
        / requests in / { total = $1 }
        END {
            if (rps == "") { rps = 0; p50 = "-"; p99 = "-" }
            printf "%s\t%s\t%s\t%.0f\t%s\t%s\t%d\t%d\t%d\n", b, s, k, rps, p50, p99, non2xx, errs, total
        }' "$out" >> "$ROWS"
    tail -1 "$ROWS" | awk -F'\t' '{ printf "bench:   %s req/s, p50 %s ms, p99 %s ms, non-2xx %s, socket errors %s\n", $4, $5, $6, $7, $8 }' >&2
}
probe() { # method path expected-status -> 0 if it answers as expected; prints the answer otherwise
    local code body
    if [ "$1" = POST ]; then
        body=$(curl -s --max-time 5 -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
            -H "Idempotency-Key: bench-probe-$RANDOM$RANDOM" --data-binary @"$ORDER_BODY" "http://127.0.0.1:$PORT$2" || true)
    else
        body=$(curl -s --max-time 5 -w '\n%{http_code}' "http://127.0.0.1:$PORT$2" || true)
    fi
    code=${body##*$'\n'}
    [ "$code" = "$3" ] && return 0
    PROBE_ANSWER="HTTP ${code:-none}: $(printf '%s' "${body%$'\n'*}" | head -c 200)"
    return 1
}

run_backend() { # backend scenario keepalive
    local backend=$1 scenario=$2 ka=$3 mode=none path=/healthz lua="" method=GET expect=200
    case "$scenario" in
        "POST /orders FULL") mode=full; path=/orders; lua=$REPO/bench/post-order.lua; method=POST; expect=201 ;;
        "POST /orders NORMAL") mode=normal; path=/orders; lua=$REPO/bench/post-order.lua; method=POST; expect=201 ;;
    esac
    if [[ "$backend" == orderd* ]]; then
        if [ ! -x "$ORDERD_BIN" ]; then return 0; fi   # noted once, below
        [ "$mode" = none ] && mode=full
        local variant=same
        [ "$backend" = orderd-shipped ] && variant=shipped
        start_orderd "$mode" "$variant" || { NOTES+=("orderd $scenario keepalive=$ka: orderd did not start (see its log)"); stop_backend; return 0; }
    else
        start_c "$mode" || { NOTES+=("C $scenario keepalive=$ka: responder did not start"); stop_backend; return 0; }
    fi
    if ! start_nginx "$ka"; then NOTES+=("$backend $scenario keepalive=$ka: nginx did not start"); stop_backend; return 0; fi
    PROBE_ANSWER=""
    local label=$backend
    [ "$backend" = c ] && label=C
    [ "$backend" = orderd-shipped ] && label="orderd as shipped ($SHIPPED_THREADS threads, log.level=info)"
    if probe "$method" "$path" "$expect"; then
        run_wrk "$label" "$scenario" "$ka" "http://127.0.0.1:$PORT$path" "$lua"
    else
        NOTES+=("$backend $scenario keepalive=$ka skipped: probe $method $path wanted $expect, got $PROBE_ANSWER")
        echo "bench: skip $backend $scenario: $PROBE_ANSWER" >&2
    fi
    stop_nginx
    stop_backend
}

# --- the runs -----------------------------------------------------------------------------------
START=$(date +%s)
[ -x "$ORDERD_BIN" ] || NOTES+=("orderd skipped: no binary at $ORDERD_BIN (make bench builds it)")
if [[ " $BACKENDS " == *" ceiling "* ]]; then
    start_nginx off
    run_wrk "nginx return 200" "GET /healthz" "-" "http://127.0.0.1:$CEILING_PORT/healthz"
    stop_nginx
fi
for ka in $KEEPALIVE_SET; do
    for scenario in "GET /healthz" "POST /orders FULL" "POST /orders NORMAL"; do
        for backend in c orderd orderd-shipped; do
            [[ " $BACKENDS " == *" $backend "* ]] || continue
            run_backend "$backend" "$scenario" "$ka"
        done
    done
done
ELAPSED=$(( $(date +%s) - START ))

# --- the table ----------------------------------------------------------------------------------
{
    echo "# orderd benchmark, $(date '+%Y-%m-%d %H:%M %Z')"
    echo
    echo "Machine: $(nproc) cores, $(uname -sr), $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 | sed 's/^/SQLite /'), load before: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "wrk -t$WRK_THREADS -c$CONNS -d${DUR_S}s --latency over loopback; nginx 2 workers, unix socket to the backend;"
    echo "C responder and orderd with $THREADS request threads; keepalive runs: nginx \`keepalive $KEEPALIVE_CONNS\` + \`fastcgi_keep_conn on\`."
    echo "POST: one order (bench/order.json, $(wc -c < "$ORDER_BODY") bytes) per request, its own transaction, SQLite WAL, database on $(df -T "$RUN" | awk 'NR==2 { print $2 }'); orderd gets a fresh Idempotency-Key per request and runs at log.level=${ORDERD_LOG_LEVEL:-warning} (no per-request log line; the C responder logs nothing either)."
    echo "Took ${ELAPSED}s. Compare rows of this table only: figures move by tens of percent between sittings."
    echo
    echo "| backend | scenario | upstream keepalive | req/s | p50 ms | p99 ms | non-2xx | socket errors | orderd/C req/s |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '
        { B[NR] = $1; S[NR] = $2; K[NR] = $3; R[NR] = $4; P50[NR] = $5; P99[NR] = $6; N[NR] = $7; E[NR] = $8
          if ($1 == "C") c[$2, $3] = $4 }
        function f(v) { return v == "-" ? "-" : sprintf("%.2f", v) }
        END {
            for (i = 1; i <= NR; i++) {
                ratio = ""
                if (B[i] ~ /^orderd/ && ((S[i], K[i]) in c) && c[S[i], K[i]] > 0) ratio = sprintf("%.2f", R[i] / c[S[i], K[i]])
                printf "| %s | %s | %s | %d | %s | %s | %d | %d | %s |\n", B[i], S[i], K[i], R[i], f(P50[i]), f(P99[i]), N[i], E[i], ratio
            }
        }' "$ROWS"
    # The durable-order goals: orderd as shipped (synchronous=full) against the C responder's one commit per
    # request at FULL and at NORMAL, measured above in this same run. The C responder is taken at its best
    # upstream-keepalive setting (keepalive starves it), so a keepalive row never flatters orderd.
    awk -F'\t' '
        $1 == "C" && $2 == "POST /orders FULL" && $4 > cfull { cfull = $4; cfullk = $3 }
        $1 == "C" && $2 == "POST /orders NORMAL" && $4 > cnormal { cnormal = $4; cnormalk = $3 }
        $1 ~ /^orderd as shipped/ && $2 == "POST /orders FULL" { o[$3] = $4 }
        END {
            if (cfull == 0 || cnormal == 0) exit
            print ""
            printf "Durable POST /orders, orderd as shipped (synchronous=full) against the C responder at its best (FULL: keepalive %s, %d req/s; NORMAL: keepalive %s, %d req/s):\n", cfullk, cfull, cnormalk, cnormal
            for (k in o) printf "- orderd with keepalive %s: %.2fx the C responder at FULL (goal >= 1.5), %.2fx the C responder at NORMAL (goal >= 0.8)\n", k, o[k] / cfull, o[k] / cnormal
        }' "$ROWS"
    if [ ${#NOTES[@]} -gt 0 ]; then
        echo
        for n in "${NOTES[@]}"; do echo "- $n"; done
    fi
} > "$RUN/table.md"
cp "$RUN/table.md" "$RESULT_MD"
echo
cat "$RESULT_MD"
echo
echo "bench: written $RESULT_MD (raw wrk output: $RAW)"
