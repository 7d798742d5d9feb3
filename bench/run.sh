#!/usr/bin/env bash
# orderd benchmark: nginx `return 200` ceiling, the plain C libfcgi responder (bench/c/responder.c)
# and orderd, back to back in one invocation, each behind nginx rendered by scripts/render-nginx.sh,
# without and with upstream keepalive. Then orderd's follow-up work: POST /orders with the SMS gateway
# (scripts/test-gateway.py) answering at once, after 50 ms and after 2 s (isolation), the backlog of the
# slow run drained and accounted for (overflow: RSS, deliveries, lost tasks), and the executor
# micro-benchmark (bench/executor). Loopback and unix sockets only; every step is time-bounded.
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
#   SCENARIOS=all       which sections to run, comma or space separated: backends (the table above:
#                       ceiling, C, orderd; BACKENDS picks among them), isolation, overflow, executor
#   GATEWAY_DELAYS="0 0.05 2"   isolation: SMS gateway delays (seconds) of the follow-up runs; the first is
#                       the reference the others are divided by
#   OVERFLOW_DELAYS=2   overflow: gateway delays whose run is also drained and accounted for (RSS, deliveries,
#                       lost tasks); with SCENARIOS=overflow alone only these runs happen
#   DRAIN_TIMEOUT=300   overflow: longest wait (seconds) for the outbox to empty after the load
#   ISOLATION_BASELINE=1  isolation: also a run with task.sms.driver=log (no gateway, no outgoing HTTP) first
#   EXECUTOR_BENCH_BIN  executor: a built executor-bench binary; default: built here with
#                       `$SWIFT build -c release [--scratch-path $SWIFT_SCRATCH] --product executor-bench`
#   EXECUTOR_BENCH_ARGS extra arguments for executor-bench (e.g. "--tasks 200000 --runs 1")
#   EXECUTOR_TIMEOUT=600  executor: longest build, and longest run, of executor-bench (seconds)
#   SWIFT, SWIFT_SCRATCH  the swift binary and --scratch-path for the executor build (make bench passes
#                       both; default: swift on PATH or /opt/swift/usr/bin/swift, and the scratch dir that
#                       holds ORDERD_BIN when it is a SwiftPM one, else SwiftPM's default)
#
# Output: a Markdown table on stdout and in bench/results/<date>.md (commit it; a run of only some SCENARIOS
# writes bench/results/<date>.<scenarios>.md instead, e.g. 2026-11-27.isolation.md); raw wrk output in
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

# Sections: SCENARIOS=all, or a comma/space separated list of backends isolation overflow executor.
SCENARIOS=${SCENARIOS:-all}
SCENARIOS=${SCENARIOS//,/ }
[ "$(echo $SCENARIOS)" = all ] && SCENARIOS="backends isolation overflow executor"
for s in $SCENARIOS; do
    case "$s" in backends|isolation|overflow|executor) ;;
        *) echo "bench: unknown scenario '$s' in SCENARIOS (backends isolation overflow executor, or all)" >&2; exit 2 ;;
    esac
done
want() { [[ " $(echo $SCENARIOS) " == *" $1 "* ]]; }
GATEWAY_DELAYS=${GATEWAY_DELAYS:-0 0.05 2}
OVERFLOW_DELAYS=${OVERFLOW_DELAYS:-2}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
ISOLATION_BASELINE=${ISOLATION_BASELINE:-1}
EXECUTOR_TIMEOUT=${EXECUTOR_TIMEOUT:-600}
for d in $GATEWAY_DELAYS $OVERFLOW_DELAYS; do
    [[ "$d" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench: gateway delays are seconds (0, 0.05, 2), got '$d'" >&2; exit 2; }
done
[[ "$DRAIN_TIMEOUT" =~ ^[0-9]+$ ]] || { echo "bench: DRAIN_TIMEOUT must be whole seconds" >&2; exit 2; }
[[ "$EXECUTOR_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || { echo "bench: EXECUTOR_TIMEOUT must be whole seconds" >&2; exit 2; }

for tool in wrk spawn-fcgi curl gcc pkg-config python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/deps.sh)" >&2; exit 1; }
done
[ -x "$NGINX" ] || { echo "bench: nginx missing (scripts/deps.sh)" >&2; exit 1; }

# --- the C responder, rebuilt when its source is newer -------------------------------------------
RESPONDER=$REPO/bench/bin/responder
if want backends && [[ " $BACKENDS " == *" c "* ]] && { [ ! -x "$RESPONDER" ] || [ "$REPO/bench/c/responder.c" -nt "$RESPONDER" ]; }; then
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
# A run of every scenario writes <date>.md; a partial one <date>.<scenarios>.md, so it never replaces the full table.
SUFFIX=""
want backends && want isolation && want overflow && want executor || SUFFIX=.$(echo $SCENARIOS | tr ' ' '-')
RESULT_MD=$REPO/bench/results/$DATE$SUFFIX.md
RAW=$REPO/bench/results/$DATE.raw
ROWS=$RUN/rows.tsv
FU_ROWS=$RUN/followup.tsv   # one row per follow-up (gateway) run, see run_followup
: > "$ROWS"; : > "$FU_ROWS"
WRK_ROWS=$ROWS              # where run_wrk appends its row
NOTES=()
{ echo "# bench/run.sh $(date -Iseconds)"; } >> "$RAW"

NGINX_PID="" BACKEND_PID="" GW_PID="" GW_PORT=""

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
stop_gateway() {
    if [ -n "$GW_PID" ]; then
        kill -TERM "$GW_PID" 2>/dev/null || true
        wait_gone "$GW_PID" 10
        GW_PID="" GW_PORT=""
    fi
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_nginx
    stop_backend
    stop_gateway
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
    # Follow-ups as shipped (SMS driver=log, audit, stats), the audit file in the run dir: each order also costs
    # its follow-up work, after its response.
    rm -f "$SOCK" "$RUN/audit.log"
    fresh_db orderd
    local in=- tuning=()
    [ -f "$ORDERD_INI" ] && in=$ORDERD_INI
    if [ "${2:-same}" = same ]; then
        tuning=(--set server.request_workers="$THREADS" --set log.level="${ORDERD_LOG_LEVEL:-warning}")
    fi
    scripts/render-ini.sh --in "$in" --out "$RUN/orderd.ini" \
        --set server.listen="$SOCK" --set store.path="$RUN/orderd.db" --set store.synchronous="$1" \
        --set task.audit.path="$RUN/audit.log" "${tuning[@]}"
    "$ORDERD_BIN" serve --config "$RUN/orderd.ini" >>"$RUN/orderd.log" 2>&1 &
    BACKEND_PID=$!
    wait_socket orderd
}

# --- measuring ----------------------------------------------------------------------------------
# CPU accounting around a measured wrk run, when CPU_PIDS is set to "ROLE:PID ..." (the first role's threads are
# listed one by one too). cpu_snapshot prints `total BUSY ALL` (jiffies of all cores, from /proc/stat), then
# `pid ROLE TICKS` and `tid ROLE TID NAME TICKS` lines (utime + stime); cpu_report turns two snapshots into
# cores used: "busy orderd gateway nginx rest busiest-thread-name busiest-thread-cores".
CPU_PIDS=""
cpu_snapshot() {
    awk '/^cpu / { all = 0; for (i = 2; i <= NF; i++) all += $i; print "total", all - $5 - $6, all }' /proc/stat
    local entry role pid first=1 t
    for entry in $CPU_PIDS; do
        role=${entry%%:*} pid=${entry#*:}
        [ -r "/proc/$pid/stat" ] || continue
        # the fields after the ")" that ends the command name: utime is the 12th, stime the 13th
        sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk -v r="$role" '{ print "pid", r, $12 + $13 }'
        if [ "$first" = 1 ]; then
            for t in /proc/"$pid"/task/*; do
                { printf 'tid %s %s %s ' "$role" "${t##*/}" "$(tr ' ' _ < "$t/comm" 2>/dev/null)"
                  sed 's/^.*) //' "$t/stat" 2>/dev/null | awk '{ print $12 + $13 }'; } 2>/dev/null
            done
        fi
        first=0
    done
}
cpu_report() { # BEFORE AFTER
    awk -v ncpu="$(nproc)" '
        FNR == NR { if ($1 == "total") { b0 = $2; a0 = $3 } else if ($1 == "pid") p0[$2] += $3; else if ($1 == "tid") t0[$3] = $5; next }
        $1 == "total" { busy = $2 - b0; all = $3 - a0; next }
        $1 == "pid" { p1[$2] += $3; next }
        $1 == "tid" && ($3 in t0) { d = $5 - t0[$3]; if (d > best) { best = d; bestname = $4 } }
        END {
            if (all <= 0) { print "- - - - - - -"; exit }
            core = all / ncpu   # jiffies of one core over the interval
            o = p1["orderd"] - p0["orderd"]; g = p1["gateway"] - p0["gateway"]; n = p1["nginx"] - p0["nginx"]
            printf "%.2f %.2f %.2f %.2f %.2f %s %.2f\n", busy / core, o / core, g / core, n / core, (busy - o - g - n) / core, (bestname == "" ? "-" : bestname), best / core
        }' "$1" "$2"
}
# run_wrk BACKEND SCENARIO KEEPALIVE URL [LUA]: one measured wrk run, one row in $ROWS.
run_wrk() {
    local backend=$1 scenario=$2 ka=$3 url=$4 lua=${5:-} out
    local args=(-t"$WRK_THREADS" -c"$CONNS" --latency --timeout 5s)
    [ -n "$lua" ] && args+=(-s "$lua")
    if [ "$WARMUP" != 0 ]; then timeout $((WARMUP + 15)) wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true; fi
    out=$RUN/wrk.out
    echo "bench: $backend $scenario keepalive=$ka ($DURATION) ..." >&2
    [ -n "$CPU_PIDS" ] && cpu_snapshot > "$RUN/cpu.before"
    if ! timeout $((DUR_S + 30)) wrk "${args[@]}" -d"${DUR_S}s" "$url" >"$out" 2>&1; then
        echo "bench: wrk failed or timed out for $backend $scenario" >&2
    fi
    [ -n "$CPU_PIDS" ] && cpu_snapshot > "$RUN/cpu.after"
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
        }' "$out" >> "$WRK_ROWS"
    tail -1 "$WRK_ROWS" | awk -F'\t' '{ printf "bench:   %s req/s, p50 %s ms, p99 %s ms, non-2xx %s, socket errors %s\n", $4, $5, $6, $7, $8 }' >&2
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
        start_orderd "$mode" "$variant" || { NOTES+=("$backend $scenario keepalive=$ka: orderd did not start: $(tail -n 5 "$RUN/orderd.log" 2>/dev/null | grep 'cannot start' | tail -1 | sed 's/^.*error=//' | cut -c1-200 || true)"); stop_backend; return 0; }
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

# --- follow-up work: the SMS gateway, /status, RSS ---------------------------------------------
# start_gateway DELAY: scripts/test-gateway.py on a free loopback port, answering every delivery after
# DELAY seconds. Its stdin is our coprocess pipe (--stop-on-stdin-eof): it stops when this script ends,
# however it ends.
GATEWAY_SCRIPT=$REPO/scripts/test-gateway.py
start_gateway() {
    local line=""
    coproc GWPROC { exec python3 "$GATEWAY_SCRIPT" --port 0 --mode ok --delay "$1" --stop-on-stdin-eof 2>>"$RUN/gateway.log"; }
    GW_PID=$GWPROC_PID
    if read -r -t 10 -u "${GWPROC[0]}" line && [[ "$line" =~ ^LISTENING\ ([0-9]+)$ ]]; then
        GW_PORT=${BASH_REMATCH[1]}
        return 0
    fi
    echo "bench: the test gateway did not start (log: $RUN/gateway.log): ${line:-no output}" >&2
    stop_gateway
    return 1
}
gateway() { # METHOD PATH -> the gateway's JSON answer on stdout
    curl -s --max-time 5 -X "$1" "http://127.0.0.1:$GW_PORT$2"
}
gateway_rtt() { # median round trip (ms) of 30 GET /_mode on one kept-alive connection: the gateway's own cost
    python3 - "$GW_PORT" <<'PY' 2>/dev/null || echo -
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
times = []
for _ in range(30):
    t = time.perf_counter()
    c.request("GET", "/_mode")
    c.getresponse().read()
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print("%.2f" % times[len(times) // 2])
PY
}
start_orderd_followups() { # http|log: orderd as shipped, the SMS posted to the test gateway (http) or only logged
    rm -f "$SOCK" "$RUN/audit.log"
    fresh_db orderd
    local in=- smsargs=(--set task.sms.driver=log)
    [ -f "$ORDERD_INI" ] && in=$ORDERD_INI
    [ "$1" = http ] && smsargs=(--set task.sms.driver=http --set task.sms.gateway_url="http://127.0.0.1:$GW_PORT/sms")
    scripts/render-ini.sh --in "$in" --out "$RUN/orderd.ini" \
        --set server.listen="$SOCK" --set store.path="$RUN/orderd.db" --set log.level="${ORDERD_LOG_LEVEL:-warning}" \
        "${smsargs[@]}" --set task.audit.path="$RUN/audit.log"
    "$ORDERD_BIN" serve --config "$RUN/orderd.ini" >>"$RUN/orderd.log" 2>&1 &
    BACKEND_PID=$!
    wait_socket orderd
}
rss_kb() { # VmRSS of the backend in KiB, or -
    awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print "-" }' "/proc/$BACKEND_PID/status" 2>/dev/null || echo -
}
# status_fields: GET /status through nginx, as the tab-separated fields
#   outbox.pending outbox.dead tasks.overflowed_to_outbox tasks.dropped.stats executor.rejected tasks.done
# (each `-` when missing or when /status does not answer).
status_fields() {
    curl -s --max-time 5 "http://127.0.0.1:$PORT/status" | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except Exception:
    s = {}
e, t, o = s.get("executor") or {}, s.get("tasks") or {}, s.get("outbox") or {}
v = [o.get("pending"), o.get("dead"), t.get("overflowed_to_outbox"), (t.get("dropped") or {}).get("stats"),
     e.get("rejected"), t.get("done")]
print("\t".join("-" if x is None else str(x) for x in v))'
}
# drain: the gateway answers at once from now on; wait (at most DRAIN_TIMEOUT s) until /status says the
# outbox holds no pending task. Sets DRAINED (yes/no) and DRAIN_S (seconds waited).
drain() {
    local t0 pending=""
    t0=$(date +%s.%N)
    DRAINED=no
    gateway POST "/_mode?mode=ok&delay=0" >/dev/null || echo "bench: could not switch the gateway to instant" >&2
    while :; do
        pending=$(status_fields | cut -f1)
        if [ "$pending" = 0 ]; then DRAINED=yes; break; fi
        kill -0 "$BACKEND_PID" 2>/dev/null || { echo "bench: orderd exited while draining" >&2; break; }
        if awk -v a="$t0" -v b="$(date +%s.%N)" -v m="$DRAIN_TIMEOUT" 'BEGIN { exit !(b - a >= m) }'; then
            echo "bench: outbox still has $pending pending after ${DRAIN_TIMEOUT}s: giving up" >&2
            break
        fi
        sleep 0.5
    done
    DRAIN_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}
# db_scalar SQL: one number from orderd's database (orderd stopped or not: WAL readers do not block it).
db_scalar() { sqlite3 -cmd '.timeout 5000' "$RUN/orderd.db" "$1" 2>>"$RUN/sqlite.log" || echo -; }

# run_followup DELAY ACCOUNT: POST /orders through nginx (keepalive off, as shipped) with the SMS gateway
# answering after DELAY seconds. ACCOUNT=1: afterwards drain the backlog (gateway switched to instant) and
# count what was acknowledged, delivered and left undone. One row in $FU_ROWS:
#   delay rps p50 p99 non2xx errors total | pending dead overflowed dropped_stats rejected done (at the end of
#   the load) | rss_idle rss_load rss_drained drained drain_s | orders sms_distinct gw_count duplicates
#   tasks_not_done orders_missing audit_lines | gateway_rtt_ms | cores: busy orderd gateway nginx rest,
#   busiest orderd thread's name and cores (see cpu_report). DELAY=log: no gateway, task.sms.driver=log.
run_followup() {
    local delay=$1 account=$2 label="gateway ${1}s" driver=http
    local rss_idle rss_load rss_drained=- st_load fields rtt=- cpu
    local orders=- sms=- gw_count=- dups=- not_done=- missing=- audit_lines=-
    DRAINED=- DRAIN_S=-
    if [ "$delay" = log ]; then
        driver=log label="SMS driver=log"
    elif ! start_gateway "$delay"; then
        NOTES+=("follow-ups, $label: the test gateway did not start"); return 0
    fi
    if ! start_orderd_followups "$driver"; then NOTES+=("follow-ups, $label: orderd did not start (see its log)"); stop_backend; stop_gateway; return 0; fi
    if ! start_nginx off; then NOTES+=("follow-ups, $label: nginx did not start"); stop_backend; stop_gateway; return 0; fi
    PROBE_ANSWER=""
    if ! probe POST /orders 201 || ! probe GET /status 200; then
        NOTES+=("follow-ups, $label skipped: probe got $PROBE_ANSWER")
        echo "bench: skip follow-ups $label: $PROBE_ANSWER" >&2
        stop_nginx; stop_backend; stop_gateway
        return 0
    fi
    sleep 0.5   # the probe's follow-ups
    rss_idle=$(rss_kb)
    [ -n "$GW_PID" ] && rtt=$(gateway_rtt)
    WRK_ROWS=$RUN/wrk-followup.tsv; : > "$WRK_ROWS"
    CPU_PIDS="orderd:$BACKEND_PID${GW_PID:+ gateway:$GW_PID} nginx:$NGINX_PID"
    for fields in $(ps -o pid= --ppid "$NGINX_PID" 2>/dev/null); do CPU_PIDS+=" nginx:$fields"; done
    rm -f "$RUN/cpu.before" "$RUN/cpu.after"
    run_wrk "orderd, $label" "POST /orders" off "http://127.0.0.1:$PORT/orders" "$REPO/bench/post-order.lua"
    CPU_PIDS="" WRK_ROWS=$ROWS
    cpu="- - - - - - -"
    [ -s "$RUN/cpu.after" ] && cpu=$(cpu_report "$RUN/cpu.before" "$RUN/cpu.after")
    rss_load=$(rss_kb)
    st_load=$(status_fields)
    echo "bench:   at the end of the load: outbox pending/dead, overflowed, stats dropped, rejected, done: $(echo $st_load)" >&2
    if [ "$account" = 1 ] && [ -n "$GW_PID" ]; then
        drain
        rss_drained=$(rss_kb)
        echo "bench:   drained: $DRAINED after ${DRAIN_S}s, RSS $rss_drained KiB" >&2
        fields=$(gateway GET /_stats | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
    print(s["distinct_keys"], s["count"], s["duplicates"])
except Exception:
    print("- - -")') || fields="- - -"
        read -r sms gw_count dups <<<"$fields"
    fi
    stop_nginx
    stop_backend   # SIGTERM: orderd drains what runs (drain_timeout) and closes the database
    if [ "$account" = 1 ]; then
        orders=$(db_scalar 'select count(*) from orders')
        not_done=$(db_scalar "select count(*) from tasks where state != 'done'")
        missing=$(db_scalar "select count(*) from orders o where
            not exists (select 1 from tasks t where t.order_id = o.id and t.kind = 'sms' and t.state = 'done')
            or not exists (select 1 from tasks t where t.order_id = o.id and t.kind = 'audit' and t.state = 'done')")
        audit_lines=$( (wc -l < "$RUN/audit.log") 2>/dev/null || echo -)
    fi
    stop_gateway
    local row=("$delay") w
    w=$(head -1 "$RUN/wrk-followup.tsv" | cut -f4-9)
    [ -n "$w" ] || w=$'0\t-\t-\t0\t0\t0'
    row+=("$w" "$st_load" "$rss_idle" "$rss_load" "$rss_drained" "$DRAINED" "$DRAIN_S" \
        "$orders" "$sms" "$gw_count" "$dups" "$not_done" "$missing" "$audit_lines" "$rtt" "${cpu// /$'\t'}")
    (IFS=$'\t'; echo "${row[*]}") >> "$FU_ROWS"
}

# --- the executor micro-benchmark (bench/executor, product executor-bench) ------------------------
EXECUTOR_MD=""
run_executor() {
    local swift=${SWIFT:-swift} scratch=() bin rc dir
    if ! command -v "$swift" >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then swift=/opt/swift/usr/bin/swift
        elif [ -z "${EXECUTOR_BENCH_BIN:-}" ]; then EXECUTOR_MD="Not run: no swift on PATH or at /opt/swift/usr/bin (set SWIFT or EXECUTOR_BENCH_BIN)."; return 0
        fi
    fi
    if [ -z "${SWIFT_SCRATCH:-}" ]; then
        # the SwiftPM scratch dir that holds ORDERD_BIN (DIR/release/orderd or DIR/<triple>/release/orderd)
        dir=$(dirname "$(dirname "$ORDERD_BIN")")
        [ -f "$dir/workspace-state.json" ] || dir=$(dirname "$dir")
        [ -f "$dir/workspace-state.json" ] && SWIFT_SCRATCH=$dir
    fi
    [ -n "${SWIFT_SCRATCH:-}" ] && scratch=(--scratch-path "$SWIFT_SCRATCH")
    if [ -n "${EXECUTOR_BENCH_BIN:-}" ]; then
        bin=$EXECUTOR_BENCH_BIN
    else
        echo "bench: building executor-bench ($swift build -c release ${scratch[*]} --product executor-bench) ..." >&2
        rc=0
        timeout "$EXECUTOR_TIMEOUT" "$swift" build -c release "${scratch[@]}" --product executor-bench >"$RUN/executor-build.log" 2>&1 || rc=$?
        if [ "$rc" != 0 ]; then
            local why
            why=$(grep -E '^(/[^ ]*: )?error: ' "$RUN/executor-build.log" | sort -u | head -3 | sed "s|$REPO/||" | tr '\n' ' ' | cut -c1-400 || true)
            [ "$rc" = 124 ] && why="timed out after ${EXECUTOR_TIMEOUT}s"
            EXECUTOR_MD="Not run: \`swift build --product executor-bench\` failed (exit $rc): ${why:-see the build log}"
            return 0
        fi
        bin="$("$swift" build -c release "${scratch[@]}" --show-bin-path 2>/dev/null)/executor-bench"
    fi
    if [ ! -x "$bin" ]; then EXECUTOR_MD="Not run: no executor-bench binary at $bin"; return 0; fi
    echo "bench: executor-bench ${EXECUTOR_BENCH_ARGS:-} ..." >&2
    rc=0
    # shellcheck disable=SC2086
    timeout "$EXECUTOR_TIMEOUT" "$bin" ${EXECUTOR_BENCH_ARGS:-} >"$RUN/executor.md" 2>"$RUN/executor.err" || rc=$?
    { echo "## executor-bench ${EXECUTOR_BENCH_ARGS:-}"; cat "$RUN/executor.md" "$RUN/executor.err"; echo; } >> "$RAW"
    if [ "$rc" != 0 ]; then
        local why
        why=$(tail -3 "$RUN/executor.err" | tr '\n' ' ' | cut -c1-400 || true)
        [ "$rc" = 124 ] && why="timed out after ${EXECUTOR_TIMEOUT}s"
        EXECUTOR_MD="executor-bench failed (exit $rc): ${why:-no message}"
        [ -s "$RUN/executor.md" ] && EXECUTOR_MD+=$'\n\nIts output before that:\n\n'"$(cat "$RUN/executor.md")"
        return 0
    fi
    EXECUTOR_MD=$(cat "$RUN/executor.md")
}

# --- the runs -----------------------------------------------------------------------------------
START=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
[ -x "$ORDERD_BIN" ] || NOTES+=("orderd skipped: no binary at $ORDERD_BIN (make bench builds it)")
if want backends; then
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
fi
# Follow-up runs: the isolation delays, and the overflow delays (drained and accounted for), each once.
FU_DELAYS=()
want isolation && [ "$ISOLATION_BASELINE" = 1 ] && FU_DELAYS+=(log)
want isolation && for d in $GATEWAY_DELAYS; do FU_DELAYS+=("$d"); done
want overflow && for d in $OVERFLOW_DELAYS; do [[ " ${FU_DELAYS[*]} " == *" $d "* ]] || FU_DELAYS+=("$d"); done
if [ ${#FU_DELAYS[@]} -gt 0 ]; then
    if [ ! -x "$ORDERD_BIN" ]; then
        NOTES+=("isolation/overflow skipped: they need orderd")
    else
        for d in "${FU_DELAYS[@]}"; do
            account=0
            want overflow && [[ " $OVERFLOW_DELAYS " == *" $d "* ]] && account=1
            run_followup "$d" "$account"
        done
    fi
fi
want executor && run_executor
ELAPSED=$(( $(date +%s) - START ))

# --- the table ----------------------------------------------------------------------------------
{
    echo "# orderd benchmark, $(date '+%Y-%m-%d %H:%M %Z')"
    echo
    echo "Machine: $(nproc) cores, $(uname -sr), $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 | sed 's/^/SQLite /'), load before: $LOAD_BEFORE."
    echo "wrk -t$WRK_THREADS -c$CONNS -d${DUR_S}s --latency over loopback; nginx 2 workers, unix socket to the backend."
    want backends && echo "Backends table: C responder and orderd with $THREADS request threads; keepalive runs: nginx \`keepalive $KEEPALIVE_CONNS\` + \`fastcgi_keep_conn on\`."
    echo "POST: one order (bench/order.json, $(wc -c < "$ORDER_BODY") bytes) per request, its own transaction, SQLite WAL, database on $(df -T "$RUN" | awk 'NR==2 { print $2 }'); orderd gets a fresh Idempotency-Key per request and runs at log.level=${ORDERD_LOG_LEVEL:-warning} (no per-request log line; the C responder logs nothing either)."
    echo "Scenarios: $(echo $SCENARIOS). Took ${ELAPSED}s. Compare rows of one run only: figures move by tens of percent between sittings."
    if want backends; then
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
    fi
    if [ -s "$FU_ROWS" ]; then
        echo
        echo "## Isolation: POST /orders while the SMS gateway is slow"
        echo
        echo "orderd as shipped ($ORDERD_INI: $SHIPPED_THREADS request threads, synchronous=full, executor 5 workers, queue 1024) at log.level=${ORDERD_LOG_LEVEL:-warning},"
        echo "\`task.sms.driver = http\` to ${GATEWAY_SCRIPT#$REPO/} on loopback answering 200 after the delay below, audit file in the run dir,"
        echo "stats on; nginx without upstream keepalive (as shipped); wrk -t$WRK_THREADS -c$CONNS -d${DUR_S}s, ${WARMUP}s warm-up (bench/post-order.lua, a new Idempotency-Key per request)."
        echo "Every order has two durable follow-ups (sms, audit) and one best-effort (stats); 5 workers with a 2 s gateway serve ~2.5 SMS/s,"
        echo "so almost every order's tasks overflow to the outbox (expected: they wait in the database, not in memory)."
        echo
        echo "| SMS gateway delay | gateway RTT ms | req/s | p50 ms | p99 ms | non-2xx | socket errors | outbox pending at end | overflowed to outbox | stats dropped | executor rejected | tasks done at end |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' '
            function f(v) { return (v == "-" || v == "") ? "-" : sprintf("%.2f", v) }
            { printf "| %s | %s | %d | %s | %s | %d | %d | %s | %s | %s | %s | %s |\n", ($1 == "log" ? "none: driver=log" : $1 " s"), $26, $2, f($3), f($4), $5, $6, $8, $10, $11, $12, $13 }' "$FU_ROWS"
        echo
        echo "Columns: gateway RTT = median of 30 GET /_mode on one kept-alive connection, before the load: what the gateway costs"
        echo "besides its delay (scripts/test-gateway.py); req/s, p50, p99: wrk's"
        echo "figures for the measured run (201s only, unless non-2xx says otherwise); the other"
        echo "columns are read from GET /status the moment the load stops: outbox pending = durable tasks not done yet (queued,"
        echo "running or waiting in the database); overflowed to outbox = durable tasks that found the executor's queue full and"
        echo "were left in the database for the dispatcher; stats dropped = best-effort tasks dropped on a full queue; executor"
        echo "rejected = submissions the executor refused (queue full); tasks done = durable tasks finished so far."
        awk -F'\t' -v ref="${GATEWAY_DELAYS%% *}" '
            $1 == "log" { if ($2 > 0 && $4 != "-") { lr = $2; lp = $4; havelog = 1 }; next }
            { n++; D[n] = $1; R[n] = $2; P99[n] = $4; if ($1 + 0 == ref + 0 && $2 > 0 && $4 != "-") { rr = $2; rp = $4; have = 1 } }
            END {
                if (have) {
                    print ""
                    printf "Ratios to the %s s gateway run of this same invocation (%d req/s, p99 %.2f ms):\n", ref, rr, rp
                    for (i = 1; i <= n; i++) {
                        if (D[i] + 0 == ref + 0) continue
                        if (P99[i] == "-" || rp + 0 <= 0) { printf "- gateway %s s: no latency figures\n", D[i]; continue }
                        p = P99[i] / rp; r = R[i] / rr
                        printf "- gateway %s s: p99 %.2fx (goal <= 1.2: %s), req/s %.2fx (goal >= 0.9: %s)\n", D[i], p, (p <= 1.2 ? "met" : "MISSED"), r, (r >= 0.9 ? "met" : "MISSED")
                    }
                }
                if (havelog) {
                    print ""
                    printf "The same against the run without outgoing HTTP (driver=log: %d req/s, p99 %.2f ms), for reference (no goal):\n", lr, lp
                    for (i = 1; i <= n; i++) {
                        if (P99[i] == "-") continue
                        printf "- gateway %s s: p99 %.2fx, req/s %.2fx\n", D[i], P99[i] / lp, R[i] / lr
                    }
                }
            }' "$FU_ROWS"
        if awk -F'\t' '$27 != "-" && $27 != "" { found = 1 } END { exit !found }' "$FU_ROWS"; then
            echo
            echo "Where the CPU went during each measured run ($(nproc) cores; in cores, i.e. 1.00 = one core busy all the time):"
            echo
            echo "| SMS gateway delay | machine busy | orderd | busiest orderd thread | gateway | nginx | rest (wrk, anything else on the machine) |"
            echo "|---|---:|---:|---|---:|---:|---:|"
            awk -F'\t' '$27 != "-" && $27 != "" {
                printf "| %s | %s | %s | %s (%s) | %s | %s | %s |\n", ($1 == "log" ? "none: driver=log" : $1 " s"), $27, $28, $33, $32, ($1 == "log" ? "-" : $29), $30, $31 }' "$FU_ROWS"
            echo
            echo "From /proc/stat and /proc/PID[/task/TID]/stat (utime + stime) just before and after the measured wrk run; the"
            echo "busiest thread is named as the kernel knows it (orderd's own threads show as \`orderd\`)."
        fi
        if awk -F'\t' '$17 != "-" { found = 1 } END { exit !found }' "$FU_ROWS"; then
            echo
            echo "## Overflow: backlog, memory, and what became of every acknowledged order"
            echo
            echo "The run above, then the gateway switched to instant (POST /_mode) and GET /status polled until outbox.pending = 0"
            echo "(at most ${DRAIN_TIMEOUT}s); then orderd stopped (SIGTERM) and its database read with sqlite3."
            echo
            echo "| SMS gateway delay | orders acknowledged: 201s measured / in db | RSS idle MiB | RSS end of load MiB | RSS drained MiB | drain s | SMS delivered | SMS requests | duplicates | audit lines | tasks not done | lost durable tasks |"
            echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            awk -F'\t' '
                function mib(v) { return (v == "-" || v == "") ? "-" : sprintf("%.1f", v / 1024) }
                $17 != "-" {
                    drain = ($17 == "yes") ? $18 : ("not drained after " $18)
                    printf "| %s s | %d / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $7 - $5, $19, mib($14), mib($15), mib($16), drain, $20, $21, $22, $25, $23, $24
                }' "$FU_ROWS"
            echo
            echo "Columns: orders acknowledged = 201 answers in the measured wrk run / orders in the database (those plus the warm-up"
            echo "and one probe); RSS = VmRSS of orderd (/proc/PID/status) after the probe, when the load stops, and once the outbox is"
            echo "empty; drain s = from switching the gateway to instant until outbox.pending = 0; SMS delivered = distinct"
            echo "Idempotency-Keys the gateway received (one per order when nothing is lost), SMS requests = all POSTs it received,"
            echo "duplicates = requests whose key it had seen before (a retry after a timeout); audit lines = lines in the audit file;"
            echo "tasks not done = task rows with state != done; lost durable tasks = orders without a done sms task or without a"
            echo "done audit task (expected 0; if the drain timed out these are late, not lost: they are still pending in the outbox)."
        fi
    fi
    if want executor; then
        echo
        echo "## Executor"
        echo
        echo "bench/executor (product executor-bench${EXECUTOR_BENCH_ARGS:+, arguments: $EXECUTOR_BENCH_ARGS}): BoundedExecutor alone, no-op tasks, no I/O; its own table, verbatim."
        echo
        echo "$EXECUTOR_MD"
    fi
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
