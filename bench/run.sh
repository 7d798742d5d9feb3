#!/usr/bin/env bash
# orderd benchmark: nginx `return 200` ceiling, the peers a user would pick instead of orderd (the plain C
# libfcgi responder bench/c/responder.c = the speed limit; the Go net/http/fcgi responder with a channel + worker
# pool, bench/go = bounded but drops follow-ups; PHP-FPM with PDO SQLite, bench/php = what ops know) and orderd,
# back to back in one invocation, each behind nginx rendered by scripts/render-nginx.sh, at 16 and 64
# connections, without and with upstream keepalive, with the backend's CPU per order (utime + stime of all its
# processes, /proc/PID/stat, over the measured wrk run ÷ the requests wrk completed) and an SVG chart. Then orderd's follow-up work: POST /orders
# with the SMS gateway (scripts/test-gateway.py) answering at once, after 50 ms and after 2 s (isolation), the backlog of the
# slow run drained and accounted for (overflow: RSS, deliveries, lost tasks), and the executor
# micro-benchmark (bench/executor) against Go's buffered channel (bench/go/executor), both run here. Loopback and unix sockets only; every step is time-bounded.
# One report: machine facts and versions, then one table per section, every orderd figure with its ratio to
# the baseline measured beside it (C responder, and Go and PHP-FPM too; the 0 s gateway run, RSS idle, Go's
# channel). With the defaults it takes about 15 minutes.
#
#   bench/run.sh                  (make bench builds orderd in release mode first)
#
# Environment:
#   DURATION=10s        each measured wrk run (seconds, `s` suffix optional)
#   THREADS=4           C responder threads = orderd server.request_workers
#   CONNS="16 64"       wrk -c values of the backends table, each a group of rows; the first one runs every
#                       backend in BACKENDS and is the one isolation/overflow use, the others only MORE_CONNS_BACKENDS
#   MORE_CONNS_BACKENDS="ceiling c go php orderd-shipped"   backends run at the CONNS after the first (the like-for-like
#                       orderd variant is left out there: 64 connections ask whether the peers and orderd as shipped hold up)
#   WRK_THREADS=2       wrk -t
#   KEEPALIVE_CONNS=16  nginx `keepalive N` (per nginx worker; 2 workers) in the keepalive runs
#   KEEPALIVE="off on"  which upstream keepalive settings to run
#   BACKENDS="ceiling c go php orderd orderd-shipped"   which backends to run (orderd: THREADS threads and a quiet
#                       log, like for like with C; orderd-shipped: config/orderd.ini as shipped; go: bench/go built
#                       here with `go build`, cgo against libsqlite3; php: PHP-FPM, bench/php/order.php). A peer
#                       whose toolchain is missing is skipped with the reason in the report (scripts/deps.sh bench)
#   GO=go               the go binary for bench/go (default: go on PATH, else /usr/lib/go/bin/go)
#   GO_WORKERS=5 GO_QUEUE=100   the Go peer's follow-up goroutines and channel capacity (non-blocking send:
#                       a follow-up that finds the channel full is dropped; the counts are in the report)
#   GO_FOLLOWUP=0       how long each of the Go peer's follow-ups takes (a Go duration, e.g. 20ms; 0: trivial work)
#   PHP_FPM             the php-fpm binary (default: php-fpm8.2, else php-fpm, on PATH or in /usr/sbin)
#   PHP_CHILDREN=THREADS  PHP-FPM `pm = static` children (default 4 = THREADS, like for like with C)
#   WARMUP=1            seconds of unmeasured wrk before each run (0: none)
#   ORDERD_BIN          default .build/release/orderd (orderd rows are skipped, with the reason, without it)
#   ORDERD_INI          INI to start from (default config/orderd.ini, else an empty one)
#   ORDERD_SET          space-separated key=value settings for every orderd run, over the INI (e.g.
#                       "executor.workers=16"; bench/compare.sh sets it per binary)
#   ORDER_BODY          POST body file (default bench/order.json), used by bench/post-order.lua
#   KEEP_RUN=1          keep the temp run dir (configs, logs, databases) for inspection
#   PROFILE=1           where orderd's CPU goes: each orderd variant's PROFILE_SCENARIO row at the first CONNS with
#                       keepalive off is also read thread by thread (/proc/PID/task/TID: utime, stime, context
#                       switches) and sampled by perf; one more report section. PROFILE=0: none of it
#   PROFILE_SCENARIO="POST /orders NORMAL"   the profiled scenario (GET /healthz, POST /orders FULL or NORMAL)
#   PROFILE_THREAD_ORDER  how orderd's unnamed threads map to groups by start order (see profile_groups)
#   PERF=auto           perf record -F 499 -g over the profiled runs when `perf record -- true` works here
#                       (auto and 1 alike; the report says why not when it does not); PERF=0: /proc figures only
#   RESULT_MD           where the report goes (default bench/results/<date>[.<scenarios>].md; bench/compare.sh
#                       points it at its own run directory)
#   SCENARIOS=all       which sections to run, comma or space separated, from ALL_SCENARIOS: backends (the
#                       table above: ceiling, C, Go, PHP-FPM, orderd; BACKENDS picks among them), isolation, overflow, executor,
#                       postgres (orderd as shipped on the PostgreSQL store, one and two instances behind one nginx
#                       upstream, at every CONNS; a throwaway PostgreSQL from scripts/with-postgres.sh for the run)
#                       retention (orderd as shipped with outbox.retention = 0s, then 1s: done tasks deleted under
#                       load, the p99 of each and how long the done rows take to go)
#   PG_INSTANCES="1 2"  postgres: instance counts; the first is the reference the others are divided by
#   GATEWAY_DELAYS="0 0.05 2"   isolation: SMS gateway delays (seconds) of the follow-up runs; the first is
#                       the reference the others are divided by
#   OVERFLOW_DELAYS=2   overflow: gateway delays whose run is also drained and accounted for (RSS, deliveries,
#                       lost tasks); with SCENARIOS=overflow alone only these runs happen
#   DRAIN_TIMEOUT=300   overflow: longest wait (seconds) for the outbox to empty after the load
#   ISOLATION_BASELINE=1  isolation: also a run with task.sms.driver=log (no gateway, no outgoing HTTP) first
#   EXECUTOR_BENCH_BIN  executor: a built executor-bench binary; default: built here with
#                       `$SWIFT build -c release [--scratch-path $SWIFT_SCRATCH] --product executor-bench`
#   EXECUTOR_BENCH_ARGS extra arguments for executor-bench (e.g. "--tasks 200000 --runs 1")
#   EXECUTOR_TIMEOUT=600  executor: longest build, and longest run, of executor-bench (seconds); the same for
#                       bench/go/executor (built with GO, run with EXECUTOR_BENCH_ARGS' --tasks/--runs/--workers/
#                       --capacity), whose figures each executor figure is divided by
#   EXECUTOR_PAIRS=3    executor: how many times each of the two runs, alternating (S G, G S, S G); the report
#                       gives the median of each figure and each pair's ratio
#   SWIFT, SWIFT_SCRATCH  the swift binary and --scratch-path for the executor build (make bench passes
#                       both; default: swift on PATH or /opt/swift/usr/bin/swift, and the scratch dir that
#                       holds ORDERD_BIN when it is a SwiftPM one, else SwiftPM's default)
#
# Output: a Markdown table on stdout and in bench/results/<date>.md (commit it; a run of only some SCENARIOS
# writes bench/results/<date>.<scenarios>.md instead, e.g. 2026-11-27.isolation.md), and beside it, when the
# backends ran, <date>[.<scenarios>].svg: req/s and CPU µs/order per backend, POST rows at the first CONNS,
# keepalive off, drawn by bench/chart.py from this run's rows (the .md links it); with PROFILE, a section on where
# orderd's CPU goes per thread group (and perf's top symbols) in the profiled rows; each performance goal judged,
# met or not (bench/goals.py for the backends rows, bench/executor_table.py for the executor's); raw wrk output in
# bench/results/<date>.raw (gitignored). Figures move by tens of percent between sittings on a
# shared 2-core machine: compare rows of one run, not runs of different days.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

DURATION=${DURATION:-10s}
DUR_S=${DURATION%s}
[[ "$DUR_S" =~ ^[1-9][0-9]*$ ]] || { echo "bench: DURATION must be whole seconds, got '$DURATION'" >&2; exit 2; }
THREADS=${THREADS:-4}
CONNS_LIST=$(echo ${CONNS:-16 64} | tr ',' ' ')
for c in $CONNS_LIST; do [[ "$c" =~ ^[1-9][0-9]*$ ]] || { echo "bench: CONNS are connection counts (16 64), got '$c'" >&2; exit 2; }; done
CONNS=${CONNS_LIST%% *}     # the wrk -c of the current run (run_wrk); isolation/overflow use the first of CONNS
MORE_CONNS_BACKENDS=${MORE_CONNS_BACKENDS:-ceiling c go php orderd-shipped}
WRK_THREADS=${WRK_THREADS:-2}
KEEPALIVE_CONNS=${KEEPALIVE_CONNS:-16}
KEEPALIVE_SET=${KEEPALIVE:-off on}
BACKENDS=${BACKENDS:-ceiling c go php orderd orderd-shipped}
for b in $BACKENDS $MORE_CONNS_BACKENDS; do
    [[ " ceiling c go php orderd orderd-shipped " == *" $b "* ]] || { echo "bench: unknown backend '$b' (ceiling c go php orderd orderd-shipped)" >&2; exit 2; }
done
GO_WORKERS=${GO_WORKERS:-5}
GO_QUEUE=${GO_QUEUE:-100}
GO_FOLLOWUP=${GO_FOLLOWUP:-0}
PHP_CHILDREN=${PHP_CHILDREN:-$THREADS}
PROFILE=${PROFILE:-1}
PROFILE_SCENARIO=${PROFILE_SCENARIO:-POST /orders NORMAL}
case "$PROFILE_SCENARIO" in
    "GET /healthz" | "POST /orders FULL" | "POST /orders NORMAL") ;;
    *) echo "bench: PROFILE_SCENARIO is one of 'GET /healthz', 'POST /orders FULL', 'POST /orders NORMAL', got '$PROFILE_SCENARIO'" >&2; exit 2 ;;
esac
PERF=${PERF:-auto}
[[ "$PERF" =~ ^(0|1|auto)$ ]] || { echo "bench: PERF is 0, 1 or auto, got '$PERF'" >&2; exit 2; }
CLK_TCK=$(getconf CLK_TCK)
# server.request_workers as shipped: a number, or auto (then the report gives the number a run started)
SHIPPED_THREADS=$(sed -n "s/^;*request_workers *= *\([0-9a-z]*\).*/\1/p" config/orderd.ini | head -1)
# request_threads PID: orderd's request threads, counted by their names (orderd-req-N); empty for none
request_threads() {
    local n=0 f
    for f in /proc/"$1"/task/*/comm; do [[ "$(cat "$f" 2>/dev/null)" == orderd-req-* ]] && n=$((n + 1)); done
    [ "$n" -gt 0 ] && echo "$n" || true
}
WARMUP=${WARMUP:-1}
ORDERD_BIN=${ORDERD_BIN:-$REPO/.build/release/orderd}
ORDERD_INI=${ORDERD_INI:-$REPO/config/orderd.ini}
export ORDER_BODY=${ORDER_BODY:-$REPO/bench/order.json}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# Sections: SCENARIOS=all, or a comma/space separated list from ALL_SCENARIOS. A new scenario: add its name here,
# its runs under `if want NAME` in "the runs" and its section under `if want NAME` in "the report".
ALL_SCENARIOS="backends isolation overflow retention executor postgres"
SCENARIOS=${SCENARIOS:-all}
SCENARIOS=$(echo ${SCENARIOS//,/ })
[ "$SCENARIOS" = all ] && SCENARIOS=$ALL_SCENARIOS
for s in $SCENARIOS; do
    [[ " $ALL_SCENARIOS " == *" $s "* ]] || { echo "bench: unknown scenario '$s' in SCENARIOS ($ALL_SCENARIOS, or all)" >&2; exit 2; }
done
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }
# The postgres scenario runs beside a throwaway PostgreSQL server, started once for the whole run.
if want postgres && [ -z "${ORDERD_TEST_PG_URL:-}" ] && [ -z "${ORDERD_TEST_PG_SKIP:-}" ]; then
    exec "$REPO/scripts/with-postgres.sh" "$0" "$@"
fi
PG_INSTANCES=${PG_INSTANCES:-1 2}
for n in $PG_INSTANCES; do [[ "$n" =~ ^[1-9]$ ]] || { echo "bench: PG_INSTANCES are instance counts 1-9, got '$n'" >&2; exit 2; }; done
GATEWAY_DELAYS=${GATEWAY_DELAYS:-0 0.05 2}
OVERFLOW_DELAYS=${OVERFLOW_DELAYS:-2}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
ISOLATION_BASELINE=${ISOLATION_BASELINE:-1}
EXECUTOR_TIMEOUT=${EXECUTOR_TIMEOUT:-600}
EXECUTOR_PAIRS=${EXECUTOR_PAIRS:-3}
for d in $GATEWAY_DELAYS $OVERFLOW_DELAYS; do
    [[ "$d" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench: gateway delays are seconds (0, 0.05, 2), got '$d'" >&2; exit 2; }
done
[[ "$DRAIN_TIMEOUT" =~ ^[0-9]+$ ]] || { echo "bench: DRAIN_TIMEOUT must be whole seconds" >&2; exit 2; }
[[ "$EXECUTOR_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || { echo "bench: EXECUTOR_TIMEOUT must be whole seconds" >&2; exit 2; }
[[ "$EXECUTOR_PAIRS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: EXECUTOR_PAIRS must be a whole number of pairs, 1 or more" >&2; exit 2; }

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
# orderd requires an API key: one key for the whole run (every request carries it: wrk's -H, the Lua
# script's headers, curl). The peers ignore the header; orderd checks it (a SHA-256 per request), as shipped.
# Its per-key order limit is off (auth.orders_per_minute = 0) and nginx's per-address limit_req is rendered
# far above any load here (--orders-limit): the load comes from one key and one address.
"$ORDERD_BIN" keys new --id bench --scopes orders:write,orders:read,admin --append-to "$RUN/api-keys" \
    --secret-to "$RUN/api-key" 2>/dev/null
export ORDERD_KEY=$(cat "$RUN/api-key")
AUTH_HEADER="Authorization: Bearer $ORDERD_KEY"
ORDERD_AUTH=(--set auth.keys_file="$RUN/api-keys" --set auth.orders_per_minute=0)
SOCK=$RUN/backend.sock
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT=${BENCH_PORT:-$(free_port)}
CEILING_PORT=${BENCH_CEILING_PORT:-$(free_port)}
[ "$CEILING_PORT" != "$PORT" ] || CEILING_PORT=$(free_port)

mkdir -p "$REPO/bench/results"
DATE=$(date +%Y-%m-%d)
# A run of every scenario writes <date>.md; a partial one <date>.<scenarios>.md, so it never replaces the full table.
SUFFIX=""
for s in $ALL_SCENARIOS; do want "$s" || SUFFIX=.$(echo $SCENARIOS | tr ' ' '-'); done
RESULT_MD=${RESULT_MD:-$REPO/bench/results/$DATE$SUFFIX.md}
RAW=$REPO/bench/results/$DATE.raw
ROWS=$RUN/rows.tsv
STALLS=$RUN/stalls.tsv      # the writer's slow commits per POST row of orderd as shipped, for bench/goals.py
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

# --- the Go and PHP-FPM peers: found (or built) here, or skipped with the reason (PEER_SKIP, in the report) ----
declare -A PEER_SKIP=()
GO=${GO:-$(command -v go || echo /usr/lib/go/bin/go)}
GO_RESPONDER=$REPO/bench/bin/go-responder
GO_EXECUTOR=$REPO/bench/bin/go-executor
# go_build OUT PACKAGE: rebuilt when a source under bench/go is newer. GOPROXY=off and GOFLAGS=-mod=mod: the
# module has no requirements, and nothing may be downloaded; the build cache goes where go puts it by default.
go_build() {
    if [ -x "$1" ] && [ -z "$(find "$REPO/bench/go" -newer "$1" -type f 2>/dev/null | head -1)" ]; then return 0; fi
    mkdir -p "$REPO/bench/bin"
    (cd "$REPO/bench/go" && GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=1 timeout 300 "$GO" build -o "$1" "$2") >"$RUN/go-build.log" 2>&1
}
if want backends && [[ " $BACKENDS " == *" go "* ]]; then
    if [ ! -x "$GO" ]; then PEER_SKIP[go]="no go toolchain (scripts/deps.sh bench installs golang-go)"
    elif ! go_build "$GO_RESPONDER" .; then PEER_SKIP[go]="go build of bench/go failed: $(grep -v '^#' "$RUN/go-build.log" | head -3 | tr '\n' ' ' | cut -c1-300)"
    fi
fi
PHP_FPM=${PHP_FPM:-$(command -v php-fpm8.2 || command -v php-fpm || ls /usr/sbin/php-fpm8.2 /usr/sbin/php-fpm 2>/dev/null | head -1 || true)}
if want backends && [[ " $BACKENDS " == *" php "* ]]; then
    if [ -z "$PHP_FPM" ] || [ ! -x "$PHP_FPM" ]; then PEER_SKIP[php]="no php-fpm (scripts/deps.sh bench installs php8.2-fpm)"
    elif ! "$PHP_FPM" -m 2>/dev/null | grep -x pdo_sqlite >/dev/null; then PEER_SKIP[php]="$PHP_FPM has no pdo_sqlite (scripts/deps.sh bench installs php8.2-sqlite3)"
    fi
fi

# --- the profile of orderd (PROFILE): whether perf works here, or why not (the report says it) ---------------
PERF_OK=0 PERF_WHY=""
PROF_ROWS=$RUN/profile.tsv
: > "$PROF_ROWS"
if [ "$PROFILE" = 1 ] && want backends && [[ " $BACKENDS " == *" orderd"* ]]; then
    if [ "$PERF" = 0 ]; then PERF_WHY="PERF=0"
    elif ! command -v perf >/dev/null; then PERF_WHY="no perf on PATH (Debian: linux-perf)"
    elif timeout 20 perf record -q -o /dev/null -- true >"$RUN/perf-probe.log" 2>&1; then PERF_OK=1
    else PERF_WHY="\`perf record -- true\` failed: $(grep -v '^[[:space:]]*$' "$RUN/perf-probe.log" | head -2 | tr '\n' ' ' | cut -c1-200)"
    fi
    [ "$PERF_OK" = 1 ] || [ "$PERF" != 1 ] || echo "bench: PERF=1 but $PERF_WHY; the profile has the /proc figures only" >&2
    [[ " $KEEPALIVE_SET " == *" off "* ]] || NOTES+=("no profile of orderd: it is taken on a run with upstream keepalive off, and KEEPALIVE=$KEEPALIVE_SET")
fi

# --- starting things ----------------------------------------------------------------------------
start_nginx() { # keepalive: on|off; the upstream is $SOCK, or every socket in $NGINX_SOCKETS; the site
    # bench_site's (nginx/orderd.conf with the per-address connection limit lifted), or $NGINX_SITE (PHP-FPM's)
    local socks=() s site=${NGINX_SITE:-$RUN/site.conf}
    [ -n "${NGINX_SITE:-}" ] || bench_site "$site" || return 1
    for s in ${NGINX_SOCKETS:-$SOCK}; do socks+=(--socket "$s"); done
    scripts/render-nginx.sh --run-dir "$RUN" "${socks[@]}" --port "$PORT" --site "$site" \
        --keepalive "$1" --keepalive-conns "$KEEPALIVE_CONNS" --ceiling-port "$CEILING_PORT" \
        --orders-limit 1000000r/s:1000000 >/dev/null
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
wait_socket() { # name [socket pid]: default $SOCK and $BACKEND_PID
    local i sock=${2:-$SOCK} pid=${3:-$BACKEND_PID}
    for ((i = 0; i < 150; i++)); do
        [ -S "$sock" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: $1 did not create $sock (log: $RUN/$1.log):" >&2
    tail -20 "$RUN/$1.log" >&2 || true
    return 1
}
fresh_db() { rm -f "$RUN/$1.db" "$RUN/$1.db-wal" "$RUN/$1.db-shm"; }
wal_watch() { # FILE OUT ROUNDS: FILE's largest size in bytes so far, written to OUT, read every 0.5 s for at most ROUNDS reads
    local peak=0 size round
    for ((round = 0; round < $3; round++)); do
        size=$(stat -c %s "$1" 2>/dev/null || echo 0)
        if [ "$size" -gt "$peak" ]; then peak=$size; echo "$peak" > "$2"; fi
        sleep 0.5
    done
}
start_c() { # db mode: none|full|normal
    rm -f "$SOCK"
    local args=(-t "$THREADS")
    if [ "$1" != none ]; then fresh_db c; args+=(-d "$RUN/c.db" -m "$1"); fi
    spawn-fcgi -s "$SOCK" -M 0660 -n -- "$RESPONDER" "${args[@]}" >>"$RUN/c.log" 2>&1 &
    BACKEND_PID=$!
    wait_socket c
}
start_go() { # db mode: full|normal (GET /healthz runs use normal: the Go peer always opens its database)
    rm -f "$SOCK"
    local mode=$1
    [ "$mode" = none ] && mode=normal
    fresh_db go
    "$GO_RESPONDER" -s "$SOCK" -d "$RUN/go.db" -m "$mode" -workers "$GO_WORKERS" -queue "$GO_QUEUE" \
        -followup "$GO_FOLLOWUP" >>"$RUN/go.log" 2>&1 &
    BACKEND_PID=$!
    wait_socket go
}
# bench_site OUT [SCRIPT]: the site every backend runs behind, rendered by scripts/render-nginx.sh --site:
# nginx/orderd.conf with the per-address `limit_conn` on POST /orders lifted (every wrk connection comes from
# 127.0.0.1: at 64 connections the shipped 20 would answer 429 instead of measuring the backend; limit_req is
# lifted the same way by --orders-limit), and with SCRIPT the one line PHP-FPM needs and orderd does not
# (SCRIPT_FILENAME: which script to run). Everything else is orderd's shipped file.
bench_site() {
    awk -v script="${2:-}" '
        /^[ \t]*limit_conn[ \t]+orderd_orders_conn[ \t]+[0-9]+;/ { sub(/orderd_orders_conn[ \t]+[0-9]+;/, "orderd_orders_conn 10000;"); conn = 1 }
        { print }
        script != "" && /^[ \t]*fastcgi_param[ \t]+HTTP_PROXY[ \t]/ && !done { match($0, /^[ \t]*/); printf "%sfastcgi_param SCRIPT_FILENAME %s;\n", substr($0, 1, RLENGTH), script; done = 1 }
        END {
            if (script != "" && !done) { print "bench: no fastcgi_param HTTP_PROXY line in nginx/orderd.conf to put SCRIPT_FILENAME after" > "/dev/stderr"; exit 3 }
            if (!conn) print "bench: note: no `limit_conn orderd_orders_conn N;` in nginx/orderd.conf (nothing to lift)" > "/dev/stderr"
        }
    ' "$REPO/nginx/orderd.conf" > "$1"
}
start_php() { # db mode: full|normal; PHP-FPM from bench/php/php-fpm.conf.in, pm = static, PHP_CHILDREN children
    rm -f "$SOCK"
    local mode=$1 root=()
    [ "$mode" = none ] && mode=normal
    fresh_db php
    # the schema and WAL (a property of the file) once, before the children open it; synchronous is per connection
    sqlite3 "$RUN/php.db" 'PRAGMA journal_mode=WAL; CREATE TABLE orders(id INTEGER PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL);' >/dev/null
    sed -e "s|@RUN@|$RUN|g" -e "s|@SOCKET@|$SOCK|g" -e "s|@DB@|$RUN/php.db|g" -e "s|@SYNC@|$mode|g" \
        -e "s|@CHILDREN@|$PHP_CHILDREN|g" -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
        "$REPO/bench/php/php-fpm.conf.in" > "$RUN/php-fpm.conf"
    [ "$(id -u)" -eq 0 ] && root=(-R)   # php-fpm refuses to run its pool as root without it
    "$PHP_FPM" -F -y "$RUN/php-fpm.conf" "${root[@]}" >>"$RUN/php.log" 2>&1 &
    BACKEND_PID=$!
    wait_socket php
}
start_orderd() { # synchronous: full|normal; variant: same (THREADS threads, quiet log) | shipped (the INI as shipped)
    # task.sms.per_recipient=off in every run: bench/order.json sends every order to one number, and the shipped
    # limit (5/1h) would throttle all but five SMS, measuring something else than the follow-up work.
    # Follow-ups as shipped (SMS driver=log, audit, stats), the audit file in the run dir: each order also costs
    # its follow-up work, after its response.
    rm -f "$SOCK" "$RUN/audit.log"
    fresh_db orderd
    local in=- tuning=()
    [ -f "$ORDERD_INI" ] && in=$ORDERD_INI
    if [ "${2:-same}" = same ]; then
        tuning=(--set server.request_workers="$THREADS" --set log.level="${ORDERD_LOG_LEVEL:-warning}")
    fi
    local kv
    for kv in ${ORDERD_SET:-}; do tuning+=(--set "$kv"); done
    scripts/render-ini.sh --in "$in" --out "$RUN/orderd.ini" \
        --set server.listen="$SOCK" --set store.path="$RUN/orderd.db" --set store.synchronous="$1" \
        --set task.audit.path="$RUN/audit.log" --set task.sms.per_recipient=off "${ORDERD_AUTH[@]}" "${tuning[@]}"
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
# backend_ticks: utime + stime (clock ticks, CLK_TCK a second) summed over the pids in BACKEND_CPU_PIDS (a backend's
# processes: PHP-FPM's master and children, the single process of the others, all their threads included);
# `-` when one of them is gone (it died mid-run: no figure rather than a wrong one).
BACKEND_CPU_PIDS=""
backend_ticks() {
    local pid sum=0 t
    for pid in $BACKEND_CPU_PIDS; do
        # the fields after the ")" that ends the command name: utime is the 12th, stime the 13th
        t=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=""
        [ -n "$t" ] || { echo -; return 0; }
        sum=$((sum + t))
    done
    echo "$sum"
}
# run_wrk BACKEND SCENARIO KEEPALIVE URL [LUA]: one measured wrk run with $CONNS connections, one row in $WRK_ROWS:
#   backend scenario keepalive rps p50 p99 non2xx errors total conns cpu_us_per_request
# (the last: the backend's CPU over the measured run ÷ the requests wrk completed, µs; `-` without BACKEND_CPU_PIDS)
run_wrk() {
    local backend=$1 scenario=$2 ka=$3 url=$4 lua=${5:-} out
    local args=(-t"$WRK_THREADS" -c"$CONNS" --latency --timeout 5s -H "$AUTH_HEADER")
    [ -n "$lua" ] && args+=(-s "$lua")
    if [ "$WARMUP" != 0 ]; then timeout $((WARMUP + 15)) wrk "${args[@]}" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true; fi
    out=$RUN/wrk.out
    echo "bench: $backend $scenario keepalive=$ka c=$CONNS ($DURATION) ..." >&2
    [ -n "$CPU_PIDS" ] && cpu_snapshot > "$RUN/cpu.before"
    local ticks0=- ticks1=- ticks=- prof="" perf_pid="" perf_rc=0
    # orderd's metrics before the run (the store's commits for the profile, the writer's durations): one scrape,
    # first, so that its CPU is outside the measure
    local scrape=""
    if [ -n "$PROFILE_PID" ] || [ -n "$WRITER_BUCKETS" ]; then scrape=$RUN/metrics; metrics_scrape "$scrape.before"; fi
    [ -n "$PROFILE_PID" ] && store_commits "$scrape.before" > "$RUN/profile-$((PROF_N + 1)).commits.before"
    [ -n "$WRITER_BUCKETS" ] && writer_buckets "$scrape.before" > "$RUN/writer.before"
    [ -n "$BACKEND_CPU_PIDS" ] && ticks0=$(backend_ticks)
    if [ -n "$PROFILE_PID" ]; then
        # the profile: per-thread readings and perf over the same measured run (perf runs beside wrk for as long)
        PROF_N=$((PROF_N + 1)); prof=$RUN/profile-$PROF_N
        thread_snapshot "$PROFILE_PID" > "$prof.before"
        if [ "$PERF_OK" = 1 ]; then
            timeout $((DUR_S + 30)) perf record -F 499 -g -p "$PROFILE_PID" -o "$prof.data" -- sleep "$DUR_S" >"$prof.perf.log" 2>&1 &
            perf_pid=$!
        fi
    fi
    if ! timeout $((DUR_S + 30)) wrk "${args[@]}" -d"${DUR_S}s" "$url" >"$out" 2>&1; then
        echo "bench: wrk failed or timed out for $backend $scenario" >&2
    fi
    if [ -n "$prof" ]; then
        # perf's sleep started with wrk and ends with it; the second readings after it, at the same moment as
        # backend_ticks', so that the profile's CPU per order is the table's
        [ -z "$perf_pid" ] || wait "$perf_pid" || perf_rc=$?
        thread_snapshot "$PROFILE_PID" > "$prof.after"
    fi
    [ -n "$BACKEND_CPU_PIDS" ] && ticks1=$(backend_ticks)
    if [ -n "$scrape" ]; then
        metrics_scrape "$scrape.after"
        [ -n "$prof" ] && store_commits "$scrape.after" > "$prof.commits.after"
        [ -n "$WRITER_BUCKETS" ] && writer_buckets "$scrape.after" > "$RUN/writer.after"
    fi
    [ "$ticks0" != - ] && [ "$ticks1" != - ] && ticks=$((ticks1 - ticks0))
    [ -n "$CPU_PIDS" ] && cpu_snapshot > "$RUN/cpu.after"
    { echo "## $backend | $scenario | keepalive=$ka | c=$CONNS | threads=$THREADS | $url"; cat "$out"; echo; } >> "$RAW"
    # req/s, p50 ms, p99 ms, non-2xx, socket errors, total requests, connections
    awk -v b="$backend" -v s="$scenario" -v k="$ka" -v c="$CONNS" -v ticks="$ticks" -v hz="$CLK_TCK" '
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
            if (rps == "" || total + 0 == 0) { rps = 0; p50 = "-"; p99 = "-" }   # no answer: no latency either
            cpu = (ticks == "-" || total + 0 == 0) ? "-" : sprintf("%.0f", ticks * 1e6 / hz / total)
            printf "%s\t%s\t%s\t%.0f\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", b, s, k, rps, p50, p99, non2xx, errs, total, c, cpu
        }' "$out" >> "$WRK_ROWS"
    tail -1 "$WRK_ROWS" | awk -F'\t' '{ printf "bench:   %s req/s, p50 %s ms, p99 %s ms, non-2xx %s, socket errors %s, CPU %s µs/request\n", $4, $5, $6, $7, $8, $11 }' >&2
    if [ -n "$prof" ]; then
        profile_finish "$backend" "$prof" "$perf_rc"
        tail -1 "$PROF_ROWS" | awk -F'\t' '{ printf "bench:   profile: writer %s, requests %s, pool %s µs/order; kernel %s%% (perf %s%%); %s context switches/order; %s\n", $9, $10, $12, $5, $17, $6, $18 }' >&2
        echo "bench:   store commits: $(tail -1 "$PROF_ROWS" | cut -f20)" >&2
    fi
}
# --- where orderd's CPU goes: per-thread /proc figures and perf, around one measured run per orderd variant ---
# thread_snapshot PID: `P PID UTIME STIME` (the whole process: its stat counts the threads that already exited
# too), then `T TID STARTTIME UTIME STIME VOLUNTARY NONVOLUNTARY COMM` per thread (stat fields 14, 15, 22 and
# status' *_ctxt_switches). Bash builtins only: no fork per thread between wrk's start and the snapshot, and a
# thread that exits while it is read is left out rather than failing the run.
thread_snapshot() {
    local pid=$1 line t f comm k v vol nvol
    read -r line < "/proc/$pid/stat" 2>/dev/null || return 0
    read -ra f <<< "${line##*) }"
    echo "P $pid ${f[11]} ${f[12]}"
    for t in /proc/"$pid"/task/*; do
        { read -r line < "$t/stat" && read -r comm < "$t/comm"; } 2>/dev/null || continue
        read -ra f <<< "${line##*) }"
        vol=0 nvol=0
        { while read -r k v; do
            case $k in voluntary_ctxt_switches:) vol=$v ;; nonvoluntary_ctxt_switches:) nvol=$v ;; esac
          done < "$t/status"; } 2>/dev/null || true
        echo "T ${t##*/} ${f[19]} ${f[11]} ${f[12]} $vol $nvol ${comm// /_}"
    done
}
# profile_groups BEFORE AFTER REQUEST_THREADS ORDERS [SQLITE_TID]: one line, tab separated:
#   cpu_us_per_order kernel_share_pct ctxsw_per_order vol_per_order nonvol_per_order writer requests dispatcher
#   pool audit other exited how
# (the thread groups in CPU µs per order; `exited` = the process' CPU not found in the threads alive at the second
# snapshot: threads that ended mid-run; `how` says how the threads were told apart). orderd names its own threads
# (OwnedThread writes /proc/thread-self/comm; binaries from before that show the process' comm); libdispatch names
# its workers after their root queue, the last 15 characters of com.apple.root.default-qos[.overcommit]: Swift's
# cooperative pool on Linux, where the follow-up tasks run. Named threads (orderd-writer, orderd-req-N, ...)
# are grouped by name; unnamed ones by their start order (stat's starttime, then TID), which is orderd's start
# sequence: main, WAL checkpointer, SQLite writer, audit writer, outbox dispatcher, status sampler, read-deadline
# watchdog, then the request threads (PROFILE_THREAD_ORDER lists it, `requests` standing for request_workers threads);
# SQLITE_TID, perf's thread with the most libsqlite3 samples, checks that order: it should land in the writer group.
PROFILE_THREAD_ORDER=${PROFILE_THREAD_ORDER:-other other writer audit dispatcher other other requests}
profile_groups() {
    awk -v nreq="$3" -v orders="$4" -v sqltid="${5:-}" -v hz="$CLK_TCK" -v layout="$PROFILE_THREAD_ORDER" '
        $1 == "P" { pid = $2; if (FNR == NR) { pu0 = $3; ps0 = $4 } else { pu1 = $3; ps1 = $4 }; next }
        $1 != "T" { next }
        {
            t = $2; if (!(t in start)) { tids[++n] = t; start[t] = $3; comm[t] = $8 }
            if (FNR == NR) { u0[t] = $4; s0[t] = $5; v0[t] = $6; nv0[t] = $7 }
            else { alive[t] = 1; u1[t] = $4; s1[t] = $5; v1[t] = $6; nv1[t] = $7 }
        }
        END {
            if (orders + 0 <= 0 || pu1 == "") { print "-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\tno figures"; exit }
            us = 1e6 / hz / orders
            # start order, oldest first (insertion sort: a few dozen threads)
            for (i = 2; i <= n; i++) { x = tids[i]; for (j = i - 1; j >= 1 && (start[tids[j]] + 0 > start[x] + 0 || (start[tids[j]] == start[x] && tids[j] + 0 > x + 0)); j--) tids[j + 1] = tids[j]; tids[j + 1] = x }
            maincomm = comm[pid]; named = 0
            for (i = 1; i <= n; i++) if (comm[tids[i]] == "orderd-writer") named = 1   # orderd names its threads: trust the names
            # the layout with `requests` spelled out: one entry per unnamed thread, in start order
            nl = split(layout, L, " "); ne = 0; unnamed = 0
            for (i = 1; i <= nl; i++) {
                if (L[i] != "requests") { E[++ne] = L[i]; continue }
                for (j = 0; j < nreq; j++) E[++ne] = "requests"
            }
            for (i = 1; i <= n; i++) {
                t = tids[i]; c = comm[t]; g = "other"
                if (c ~ /qos/) g = "pool"
                else if (c == "orderd-writer") g = "writer"
                else if (c ~ /^orderd-req-/) g = "requests"
                else if (c == "orderd-dispatch") g = "dispatcher"
                else if (c == "orderd-audit") g = "audit"
                else if (!named && c == maincomm) { unnamed++; if (unnamed <= ne) g = E[unnamed] }
                group[t] = g
                if (!(t in alive)) continue   # gone before the second snapshot: counted in `exited`
                du = u1[t] - u0[t]; ds = s1[t] - s0[t]   # a thread born mid-run has no first reading: 0
                G[g] += du + ds; tt += du + ds
                ctx += v1[t] - v0[t] + nv1[t] - nv0[t]; vol += v1[t] - v0[t]; nvol += nv1[t] - nv0[t]
            }
            cpu = pu1 + ps1 - pu0 - ps0; ex = cpu - tt; if (ex < 0) ex = 0
            how = named ? "by thread name" : sprintf("by start order (%d unnamed threads, at least %d expected)", unnamed, ne)
            if (!named && unnamed < ne) { how = how ": orderd started other threads than PROFILE_THREAD_ORDER says, groups unknown"; bad = 1 }
            else if (sqltid != "" && group[sqltid] == "writer") how = how "; perf agrees: the thread with the most libsqlite3 samples is the writer"
            else if (sqltid != "") how = how "; CHECK PROFILE_THREAD_ORDER: the thread with the most libsqlite3 samples (" sqltid ") is in group " (sqltid in group ? group[sqltid] : "unknown")
            printf "%.0f\t%.0f\t%.1f\t%.1f\t%.1f", cpu * us, (cpu > 0 ? 100 * (ps1 - ps0) / cpu : 0), ctx / orders, vol / orders, nvol / orders
            split("writer requests dispatcher pool audit other", GN, " ")
            for (i = 1; i <= 6; i++) printf "\t%s", (bad && GN[i] != "pool" ? "-" : sprintf("%.0f", G[GN[i]] * us))
            printf "\t%.0f\t%s\n", ex * us, how
        }' "$1" "$2"
}
# perf_summary DATA OUT: perf's kernel share (samples in [kernel.*] ÷ all of orderd's, %) and sample line on
# stdout as `SHARE<TAB>SAMPLES`, the ten symbols with the most self samples in OUT (`share<TAB>symbol`, Swift
# names demangled by swift-demangle --simplified when it is there). `-` and the reason when perf report fails.
DEMANGLE=$(command -v swift-demangle || ls "$(dirname "${SWIFT:-/opt/swift/usr/bin/swift}")/swift-demangle" 2>/dev/null || true)
perf_summary() {
    local data=$1 out=$2 share samples
    if ! timeout 120 perf report -i "$data" --stdio --no-children --sort dso -n -g none > "$out.dso" 2>"$out.err"; then
        printf -- '-\tperf report failed: %s\n' "$(head -2 "$out.err" | tr '\n' ' ' | cut -c1-200)"; return 0
    fi
    # `  17.52%   274  [kernel.kallsyms]`: share, samples, dso; the header gives the event (cpu-clock where the
    # machine has no hardware counters, e.g. a VM)
    share=$(awk '/^#/ || !/%/ { next } { all += $2; if ($3 ~ /^\[kernel/ || $3 ~ /^\[guest\.kernel/) k += $2 }
        END { if (all > 0) printf "%.0f\t%d", 100 * k / all, all; else printf "-\t0" }' "$out.dso")
    samples="${share#*$'\t'} samples of $(sed -n "s/^# Samples: [^ ]* of event '\([^']*\)'.*/\1/p" "$out.dso" | head -1)"
    share=${share%%$'\t'*}
    timeout 120 perf report -i "$data" --stdio --no-children --sort sym -g none 2>>"$out.err" \
        | awk '/^#/ || !/%/ { next } { p = $1; $1 = ""; sub(/^ +/, ""); printf "%s\t%s\n", p, $0; if (++n == 10) exit }' \
        | { if [ -n "$DEMANGLE" ]; then "$DEMANGLE" --simplified; else cat; fi; } > "$out" 2>>"$out.err" || true
    printf '%s\t%s\n' "$share" "${samples:-? samples}"
}
# metrics_scrape FILE: orderd's GET /metrics (the bench key has the admin scope) into FILE, empty when unreadable.
metrics_scrape() {
    curl -s --max-time 5 -H "$AUTH_HEADER" "http://127.0.0.1:$PORT/metrics" > "$1" 2>/dev/null || : > "$1"
}
# store_commits SCRAPE: `ORDERS ORDER_COMMITS COMMITS` from a metrics_scrape: the sum and count of
# orderd_store_commit_batch_orders (transactions that carried orders, and the orders in them) and the committed
# transactions of orderd_store_commit_duration_seconds (those of outbox changes alone too); `-` when unreadable (a
# binary without the metric, PostgreSQL).
store_commits() {
    awk '
        /^orderd_store_commit_batch_orders_sum / { s = $2 }
        /^orderd_store_commit_batch_orders_count / { c = $2 }
        /^orderd_store_commit_duration_seconds_count\{.*result="committed"/ { t = $2 }
        END { if (s == "" || c == "" || t == "") print "-"; else print s, c, t }' "$1" 2>/dev/null || echo -
}
# writer_buckets SCRAPE: the cumulative counts, by duration, of orderd's committed writer transactions and of the
# WAL checkpoints its writer ran between two (the buckets of orderd_store_commit_duration_seconds and
# orderd_store_checkpoint_duration_seconds{by="writer"}), `commit|checkpoint LE COUNT` per line, from a
# metrics_scrape; nothing when unreadable.
writer_buckets() {
    awk '
        /^orderd_store_commit_duration_seconds_bucket\{/ && /result="committed"/ { what = "commit" }
        /^orderd_store_checkpoint_duration_seconds_bucket\{/ && /by="writer"/ { what = "checkpoint" }
        what != "" { le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le); print what, le, $2; what = "" }' "$1" 2>/dev/null || true
}
# writer_stalls BEFORE AFTER WHAT: from two writer_buckets readings, WHAT (commit or checkpoint) of the run that
# took longer than 25 ms, of how many, and the bucket of the slowest, e.g. "3 of 4458 over 25 ms, slowest 50–100 ms",
# "none of 14 over 25 ms, slowest 5–10 ms"; "not read" without both readings (a binary without the metric).
writer_stalls() {
    awk -v what="$3" '$1 != what { next }
        NR == FNR { before[$2] = $3; next }
        { after[$2] = $3; les[++n] = $2 }
        END {
            if (n == 0 || !("+Inf" in before) || !("0.025" in before)) { print "not read"; exit }
            all = after["+Inf"] - before["+Inf"]
            slow = all - (after["0.025"] - before["0.025"])
            lo = 0; hi = "+Inf"
            for (i = 1; i <= n; i++) {
                if (after[les[i]] - (les[i] in before ? before[les[i]] : 0) < all) lo = les[i]; else { hi = les[i]; break }
            }
            slowest = all == 0 ? "" : sprintf(", slowest %s–%s ms", lo * 1000, (hi == "+Inf" ? "∞" : hi * 1000))
            printf "%s of %d over 25 ms%s\n", (slow > 0 ? slow : "none"), all, slowest
        }' "$1" "$2" 2>/dev/null || echo "not read"
}
# profile_finish LABEL FILES-PREFIX PERF-RC: one row in PROF_ROWS for the run_wrk row just written:
#   label rps orders <profile_groups' 13 fields> perf_kernel_share perf_note top_symbols_file commits
WRITER_BUCKETS=""   # set while an orderd POST row runs: run_wrk reads the writer's durations before it
PROFILE_PID="" PROFILE_NREQ="" PROF_N=0   # PROF_ROWS: set with the perf probe above
profile_finish() {
    local label=$1 prof=$2 rc=$3 rps orders groups perf_share=- perf_note commits
    rps=$(tail -1 "$WRK_ROWS" | cut -f4) orders=$(tail -1 "$WRK_ROWS" | cut -f9)
    local sqltid=""
    if [ "$PERF_OK" != 1 ]; then perf_note="perf unavailable: $PERF_WHY"
    elif [ "$rc" != 0 ] || [ ! -s "$prof.data" ]; then
        perf_note="perf record failed (exit $rc): $(grep -v '^\[ perf record' "$prof.perf.log" 2>/dev/null | head -2 | tr '\n' ' ' | cut -c1-200)"
    else
        IFS=$'\t' read -r perf_share perf_note < <(perf_summary "$prof.data" "$prof.top")
        # a check of the start order: the thread with the most samples in libsqlite3 should be the SQLite writer
        # (`  14.90%   233  31063:orderd  libsqlite3.so.0.8.6`)
        sqltid=$(timeout 120 perf report -i "$prof.data" --stdio --no-children --sort pid,dso -n -g none 2>/dev/null \
            | awk '/^#/ || !/%/ { next } $NF ~ /libsqlite3/ && $2 + 0 > best { best = $2 + 0; t = $3; sub(/:.*/, "", t) } END { print t }' || true)
    fi
    groups=$(profile_groups "$prof.before" "$prof.after" "$PROFILE_NREQ" "$orders" "$sqltid")
    # the writer's commits over the run: orders per transaction that carried orders, and commits per order (all)
    commits=$(awk -v orders="$orders" 'NR == 1 { s0 = $1; c0 = $2; t0 = $3; ok = NF == 3 } NR == 2 && ok && NF == 3 && $2 > c0 && orders > 0 {
            printf "%.1f (%.2f)\n", ($1 - s0) / ($2 - c0), ($3 - t0) / orders; done = 1 }
        END { if (!done) print "-" }' "$prof.commits.before" "$prof.commits.after" 2>/dev/null) || commits=-
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rps" "$orders" "$groups" "$perf_share" "$perf_note" "$prof.top" "${commits:--}" >> "$PROF_ROWS"
}
probe() { # method path expected-status -> 0 if it answers as expected; prints the answer otherwise
    local code body
    if [ "$1" = POST ]; then
        body=$(curl -s --max-time 5 -w '\n%{http_code}' -X POST -H "$AUTH_HEADER" -H 'Content-Type: application/json' \
            -H "Idempotency-Key: bench-probe-$RANDOM$RANDOM" --data-binary @"$ORDER_BODY" "http://127.0.0.1:$PORT$2" || true)
    else
        body=$(curl -s --max-time 5 -w '\n%{http_code}' -H "$AUTH_HEADER" "http://127.0.0.1:$PORT$2" || true)
    fi
    code=${body##*$'\n'}
    [ "$code" = "$3" ] && return 0
    PROBE_ANSWER="HTTP ${code:-none}: $(printf '%s' "${body%$'\n'*}" | head -c 200)"
    return 1
}

run_backend() { # backend scenario keepalive
    local backend=$1 scenario=$2 ka=$3 mode=none path=/healthz lua="" method=GET expect=200 nginx_up=0
    case "$scenario" in
        "POST /orders FULL") mode=full; path=/orders; lua=$REPO/bench/post-order.lua; method=POST; expect=201 ;;
        "POST /orders NORMAL") mode=normal; path=/orders; lua=$REPO/bench/post-order.lua; method=POST; expect=201 ;;
    esac
    if [[ "$backend" == orderd* ]]; then
        if [ ! -x "$ORDERD_BIN" ]; then return 0; fi   # noted once, below
        [ "$mode" = none ] && mode=full
        local variant=same
        [ "$backend" = orderd-shipped ] && variant=shipped
        start_orderd "$mode" "$variant" || { NOTES+=("$backend $scenario keepalive=$ka c=$CONNS: orderd did not start: $(tail -n 5 "$RUN/orderd.log" 2>/dev/null | grep 'cannot start' | tail -1 | sed 's/^.*error=//' | cut -c1-200 || true)"); stop_backend; return 0; }
    elif [ "$backend" = go ] || [ "$backend" = php ]; then
        [ -z "${PEER_SKIP[$backend]:-}" ] || return 0   # noted once, in the report
        local site=""
        if [ "$backend" = php ]; then
            bench_site "$RUN/php-site.conf" "$REPO/bench/php/order.php" || { PEER_SKIP[php]="the nginx site variant for PHP-FPM could not be rendered"; return 0; }
            site=$RUN/php-site.conf
        fi
        "start_$backend" "$mode" || { NOTES+=("$backend $scenario keepalive=$ka c=$CONNS: did not start: $(tail -n 3 "$RUN/$backend.log" "$RUN/php-fpm.log" 2>/dev/null | grep -v '^==' | tr '\n' ' ' | cut -c1-200)"); stop_backend; return 0; }
        if ! NGINX_SITE=$site start_nginx "$ka"; then NOTES+=("$backend $scenario keepalive=$ka c=$CONNS: nginx did not start"); stop_nginx; stop_backend; return 0; fi
        nginx_up=1
    else
        start_c "$mode" || { NOTES+=("C $scenario keepalive=$ka c=$CONNS: responder did not start"); stop_backend; return 0; }
    fi
    if [ "$nginx_up" = 0 ] && ! start_nginx "$ka"; then NOTES+=("$backend $scenario keepalive=$ka c=$CONNS: nginx did not start"); stop_nginx; stop_backend; return 0; fi
    PROBE_ANSWER=""
    local label=$backend
    [ "$backend" = c ] && label=C
    [ "$backend" = go ] && label="Go net/http/fcgi"
    [ "$backend" = php ] && label="PHP-FPM"
    if [ "$backend" = orderd-shipped ]; then
        # the log level of the INI it runs with: info as shipped (commented out), ORDERD_SET may set another
        local level
        level=$(sed -n 's/^level *= *//p' "$RUN/orderd.ini" | tail -1)
        label="orderd as shipped ($(request_threads "$BACKEND_PID" || true) threads, log.level=${level:-info})"
    fi
    if probe "$method" "$path" "$expect"; then
        # the backend's processes for its CPU per request: the one started, and its children (PHP-FPM's pool)
        BACKEND_CPU_PIDS="$BACKEND_PID $( (ps -o pid= --ppid "$BACKEND_PID" 2>/dev/null || true) | tr "\n" " ")"
        # the profile: each orderd variant once, in PROFILE_SCENARIO at the first CONNS without upstream keepalive
        if [ "$PROFILE" = 1 ] && [[ "$backend" == orderd* ]] && [ "$scenario" = "$PROFILE_SCENARIO" ] \
            && [ "$CONNS" = "${CONNS_LIST%% *}" ] && [ "$ka" = off ]; then
            PROFILE_PID=$BACKEND_PID
            # request threads: as started (auto included), else as rendered into the run's INI (a binary from
            # before orderd named its threads)
            PROFILE_NREQ=$(request_threads "$BACKEND_PID")
            [ -n "$PROFILE_NREQ" ] || PROFILE_NREQ=$(sed -n 's/^request_workers *= *\([0-9]*\).*/\1/p' "$RUN/orderd.ini" | tail -1)
        fi
        # orderd's WAL file: its largest size over the row (warm-up and measured run), read twice a second. A WAL
        # that never starts over grows for as long as orders come in; this figure shows it in the report.
        local wal_pid=""
        if [[ "$backend" == orderd* ]] && [ "$method" = POST ]; then
            rm -f "$RUN/wal.peak"
            wal_watch "$RUN/orderd.db-wal" "$RUN/wal.peak" $(((WARMUP + DUR_S + 30) * 2)) &
            wal_pid=$!
        fi
        # and its writer's slow transactions over the measured run (read outside the CPU measure): where a row's
        # p99 stands out, whether the writer stalled in it
        rm -f "$RUN/writer.before" "$RUN/writer.after"
        [[ "$backend" == orderd* ]] && [ "$method" = POST ] && WRITER_BUCKETS=1
        run_wrk "$label" "$scenario" "$ka" "http://127.0.0.1:$PORT$path" "$lua"
        WRITER_BUCKETS=""
        [ -z "$wal_pid" ] || { kill "$wal_pid" 2>/dev/null; wait "$wal_pid" 2>/dev/null || true; }
        BACKEND_CPU_PIDS="" PROFILE_PID=""
    else
        NOTES+=("$backend $scenario keepalive=$ka c=$CONNS skipped: probe $method $path wanted $expect, got $PROBE_ANSWER")
        echo "bench: skip $backend $scenario: $PROBE_ANSWER" >&2
    fi
    stop_nginx
    stop_backend
    if [[ "$backend" == orderd* ]] && [ "$method" = POST ] && [ -f "$RUN/orderd.db" ]; then
        # Durable follow-ups still pending once orderd stopped: work its CPU figure does not contain (the outbox
        # keeps it for the next start). A row with many of them spent less CPU per order than the work costs.
        local fu
        fu=$(sqlite3 "$RUN/orderd.db" "SELECT count(*) FILTER (WHERE state = 'done') || ' done, ' || count(*) FILTER (WHERE state = 'pending') || ' pending' FROM tasks" 2>/dev/null || echo "not read")
        local wal="not read"
        [ -s "$RUN/wal.peak" ] && wal="$(awk '{ printf "%.1f", $1 / 1048576 }' "$RUN/wal.peak") MiB"
        local commits
        commits=$(writer_stalls "$RUN/writer.before" "$RUN/writer.after" commit)
        ORDERD_FOLLOWUPS+=("$label, c=$CONNS, $scenario, keepalive $ka: $fu; WAL peak $wal; writer's commits $commits, its checkpoints $(writer_stalls "$RUN/writer.before" "$RUN/writer.after" checkpoint)")
        # for the tail goals: whether the writer stalled in the row (bench/goals.py)
        [ "$backend" = orderd-shipped ] && printf '%s\t%s\t%s\t%s\n' "$scenario" "$ka" "$CONNS" "$commits" >> "$STALLS"
    fi
    if [ "$backend" = go ]; then
        # what the pattern dropped: the counts it printed on exit (bench/go/main.go), one line per run
        local fu
        fu=$(grep 'follow-ups:' "$RUN/go.log" 2>/dev/null | tail -1 | sed 's/^.*follow-ups: //')
        : > "$RUN/go.log"
        GO_FOLLOWUPS+=("c=$CONNS, $scenario, keepalive $ka: ${fu:-no counts printed (did it exit cleanly?)}")
    fi
}
GO_FOLLOWUPS=() ORDERD_FOLLOWUPS=()

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
start_orderd_followups() { # http|log [--set KEY=VALUE...]: orderd as shipped, the SMS posted to the test gateway (http) or only logged
    rm -f "$SOCK" "$RUN/audit.log"
    fresh_db orderd
    local in=- smsargs=(--set task.sms.driver=log)
    [ -f "$ORDERD_INI" ] && in=$ORDERD_INI
    [ "$1" = http ] && smsargs=(--set task.sms.driver=http --set task.sms.gateway_url="http://127.0.0.1:$GW_PORT/sms")
    scripts/render-ini.sh --in "$in" --out "$RUN/orderd.ini" \
        --set server.listen="$SOCK" --set store.path="$RUN/orderd.db" --set log.level="${ORDERD_LOG_LEVEL:-warning}" \
        "${smsargs[@]}" --set task.audit.path="$RUN/audit.log" --set task.sms.per_recipient=off "${ORDERD_AUTH[@]}" "${@:2}"
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
    curl -s --max-time 5 -H "$AUTH_HEADER" "http://127.0.0.1:$PORT/status" | python3 -c '
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

# run_retention RETENTION: POST /orders through nginx (keepalive off, as shipped, SMS driver=log) with
# outbox.retention = RETENTION; then, orderd still running and idle, count the done task rows every second (at
# most 60 s) until none is left. One row in $RT_ROWS: retention rps p50 p99 non2xx orders done_at_end gone_after_s
RT_ROWS=$RUN/retention.tsv
run_retention() {
    local retention=$1 w orders=- done_end=- gone=- waited=0 left
    if ! start_orderd_followups log --set outbox.retention="$retention"; then
        NOTES+=("retention $retention: orderd did not start (see its log)"); stop_backend; return 0
    fi
    if ! start_nginx off; then NOTES+=("retention $retention: nginx did not start"); stop_backend; return 0; fi
    WRK_ROWS=$RUN/wrk-retention.tsv; : > "$WRK_ROWS"
    run_wrk "orderd, outbox.retention = $retention" "POST /orders" off "http://127.0.0.1:$PORT/orders" "$REPO/bench/post-order.lua"
    WRK_ROWS=$ROWS
    orders=$(db_scalar 'select count(*) from orders')
    done_end=$(db_scalar "select count(*) from tasks where state = 'done'")
    if [ "$retention" != 0s ]; then
        left=$done_end
        while [ "$left" != 0 ] && [ "$waited" -lt 60 ]; do sleep 1; waited=$((waited + 1)); left=$(db_scalar "select count(*) from tasks where state = 'done'"); done
        [ "$left" = 0 ] && gone=$waited || gone="still $left after 60"
    fi
    stop_nginx
    stop_backend
    w=$(head -1 "$RUN/wrk-retention.tsv" | cut -f4-7)
    [ -n "$w" ] || w=$'0\t-\t-\t0'
    printf '%s\t%s\t%s\t%s\t%s\n' "$retention" "$w" "$orders" "$done_end" "$gone" >> "$RT_ROWS"
}

# --- the executor micro-benchmark (bench/executor, product executor-bench) ------------------------
# executor_program NAME OUT WHICH BIN ARGS...: one run of an executor benchmark program, its table to OUT.md, its
# stderr to OUT.err, both into the raw output; false when it failed, with why in PROGRAM_FAILURE.
PROGRAM_FAILURE=""
executor_program() {
    local name=$1 out=$2 which=$3 rc=0
    shift 3
    echo "bench: $name ${*:2} ($which of $EXECUTOR_PAIRS) ..." >&2
    timeout "$EXECUTOR_TIMEOUT" "$@" >"$out.md" 2>"$out.err" || rc=$?
    { echo "## $name ${*:2} ($which)"; cat "$out.md" "$out.err"; echo; } >> "$RAW"
    [ "$rc" = 0 ] && return 0
    PROGRAM_FAILURE="exit $rc: $(tail -3 "$out.err" | tr '\n' ' ' | cut -c1-400)"
    [ "$rc" = 124 ] && PROGRAM_FAILURE="timed out after ${EXECUTOR_TIMEOUT}s"
    return 1
}
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
    # Go's counterpart runs with the same task, run, worker and capacity counts; its figures are what each
    # executor figure is divided by (bench/executor_table.py joins the tables by measure name). The two run in
    # EXECUTOR_PAIRS alternating pairs (the first of a pair alternating too: S G, G S, S G, ...), so that a
    # slow minute of the machine falls on both sides; the table gives the medians and each pair's ratio.
    local go_args=() a prev="" no_go="" pair swift_out=() go_out=() order
    # shellcheck disable=SC2086
    for a in ${EXECUTOR_BENCH_ARGS:-}; do
        case "$prev" in --tasks|--runs|--workers|--capacity) go_args+=("$prev" "$a") ;; esac
        prev=$a
    done
    if [ ! -x "$GO" ]; then no_go="no go toolchain (scripts/deps.sh bench installs golang-go)"
    elif ! go_build "$GO_EXECUTOR" ./executor; then no_go="go build of bench/go/executor failed: $(grep -v '^#' "$RUN/go-build.log" | head -2 | tr '\n' ' ' | cut -c1-300)"
    fi
    for pair in $(seq 1 "$EXECUTOR_PAIRS"); do
        order="swift go"
        [ $((pair % 2)) = 0 ] && order="go swift"
        for a in $order; do
            if [ "$a" = swift ]; then
                # shellcheck disable=SC2086
                if ! executor_program executor-bench "$RUN/executor-$pair" "pair $pair" "$bin" ${EXECUTOR_BENCH_ARGS:-}; then
                    EXECUTOR_MD="executor-bench failed (pair $pair): $PROGRAM_FAILURE"
                    [ -s "$RUN/executor-$pair.md" ] && EXECUTOR_MD+=$'\n\nIts output before that:\n\n'"$(cat "$RUN/executor-$pair.md")"
                    return 0
                fi
                swift_out+=("$RUN/executor-$pair.md")
            elif [ -z "$no_go" ]; then
                if executor_program go-executor "$RUN/go-executor-$pair" "pair $pair" "$GO_EXECUTOR" "${go_args[@]}"; then
                    go_out+=("$RUN/go-executor-$pair.md")
                else
                    no_go="bench/go/executor failed (pair $pair): $PROGRAM_FAILURE"
                    go_out=()
                fi
            fi
        done
    done
    if [ -n "$no_go" ]; then
        EXECUTOR_MD=$(python3 "$REPO/bench/executor_table.py" "${swift_out[@]}" --no-go "$no_go")
    else
        EXECUTOR_MD=$(python3 "$REPO/bench/executor_table.py" "${swift_out[@]}" --go "${go_out[@]}")
    fi
}

# --- the PostgreSQL store: N instances on one database behind one nginx upstream -------------------
PG_ROWS=$RUN/postgres.tsv; : > "$PG_ROWS"
PG_PIDS=()
stop_pg_instances() {
    local pid
    for pid in "${PG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PG_PIDS[@]}"; do wait_gone "$pid" 20; done
    PG_PIDS=()
}
pg_psql() { # SQL: on the server's `orderd` database, as the orderd role
    PGPASSWORD=$(head -1 "$ORDERD_TEST_PG_PASSWORD_FILE") "$ORDERD_TEST_PG_PSQL" "${ORDERD_TEST_PG_URL%%\?*}" -v ON_ERROR_STOP=1 -qAt -c "$1"
}
# run_postgres N: N instances of orderd as shipped (store.driver = postgres, a fresh database), nginx rendered with
# N upstream sockets, POST /orders at every CONNS; rows in $PG_ROWS with backend "N".
run_postgres() {
    local n=$1 i db url sock socks="" in=-
    db=bench_${n}_$$_$RANDOM
    pg_psql "CREATE DATABASE $db" || { NOTES+=("postgres, $n instance(s): CREATE DATABASE failed"); return 0; }
    url=${ORDERD_TEST_PG_URL%%\?*}; url=${url%/*}/$db?${ORDERD_TEST_PG_URL#*\?}
    [ -f "$ORDERD_INI" ] && in=$ORDERD_INI
    for ((i = 1; i <= n; i++)); do
        sock=$RUN/pg-$i.sock
        rm -f "$sock"
        scripts/render-ini.sh --in "$in" --out "$RUN/pg-$i.ini" \
            --set server.listen="$sock" --set store.driver=postgres --set store.url="$url" \
            --set store.password_file="$ORDERD_TEST_PG_PASSWORD_FILE" --set log.level="${ORDERD_LOG_LEVEL:-warning}" \
            --set task.audit.path="$RUN/pg-audit-$i.log" --set task.sms.per_recipient=off "${ORDERD_AUTH[@]}"
        "$ORDERD_BIN" serve --config "$RUN/pg-$i.ini" >>"$RUN/pg-$i.log" 2>&1 &
        PG_PIDS+=($!)
        if ! wait_socket "pg-$i" "$sock" "$!"; then
            NOTES+=("postgres, $n instance(s): instance $i did not start: $(grep -m1 'cannot start' "$RUN/pg-$i.log" | cut -c1-200)")
            stop_pg_instances; return 0
        fi
        socks+="$sock "
    done
    if ! NGINX_SOCKETS=$socks start_nginx off; then NOTES+=("postgres, $n instance(s): nginx did not start"); stop_pg_instances; return 0; fi
    PROBE_ANSWER=""
    if probe POST /orders 201; then
        local c
        for c in $CONNS_LIST; do
            CONNS=$c WRK_ROWS=$PG_ROWS run_wrk "$n" "POST /orders" off "http://127.0.0.1:$PORT/orders" "$REPO/bench/post-order.lua"
        done
    else
        NOTES+=("postgres, $n instance(s) skipped: probe POST /orders got $PROBE_ANSWER")
    fi
    stop_nginx
    stop_pg_instances
}

# --- the runs -----------------------------------------------------------------------------------
START=$(date +%s)
TIMES=()   # "section N s", for the report's header
timed() { TIMES+=("$1 $(( $(date +%s) - T0 )) s"); T0=$(date +%s); }
T0=$START
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
[ -x "$ORDERD_BIN" ] || NOTES+=("orderd skipped: no binary at $ORDERD_BIN (make bench builds it)")
if want backends; then
    for CONNS in $CONNS_LIST; do
        these=$BACKENDS
        [ "$CONNS" = "${CONNS_LIST%% *}" ] || these=$MORE_CONNS_BACKENDS
        if [[ " $BACKENDS " == *" ceiling "* && " $these " == *" ceiling "* ]]; then
            start_nginx off
            run_wrk "nginx return 200" "GET /healthz" "-" "http://127.0.0.1:$CEILING_PORT/healthz"
            stop_nginx
        fi
        for ka in $KEEPALIVE_SET; do
            for scenario in "GET /healthz" "POST /orders FULL" "POST /orders NORMAL"; do
                for backend in c go php orderd orderd-shipped; do
                    [[ " $BACKENDS " == *" $backend "* && " $these " == *" $backend "* ]] || continue
                    run_backend "$backend" "$scenario" "$ka"
                done
            done
        done
    done
    CONNS=${CONNS_LIST%% *}
    timed backends
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
        timed "$(want isolation && echo isolation)$(want isolation && want overflow && echo +)$(want overflow && echo overflow)"
    fi
fi
if want retention; then
    if [ ! -x "$ORDERD_BIN" ]; then
        NOTES+=("retention skipped: it needs orderd")
    else
        : > "$RT_ROWS"
        run_retention 0s
        run_retention 1s
        timed retention
    fi
fi
want executor && { run_executor; timed "executor (incl. its build)"; }
if want postgres; then
    if [ -n "${ORDERD_TEST_PG_SKIP:-}" ]; then
        NOTES+=("postgres skipped: $ORDERD_TEST_PG_SKIP")
    elif [ ! -x "$ORDERD_BIN" ]; then
        NOTES+=("postgres skipped: it needs orderd")
    else
        for n in $PG_INSTANCES; do run_postgres "$n"; done
        timed postgres
    fi
fi
ELAPSED=$(( $(date +%s) - START ))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
for b in "${!PEER_SKIP[@]}"; do NOTES+=("$b skipped: ${PEER_SKIP[$b]}"); done
# The chart beside the report: POST rows at the first CONNS, keepalive off, drawn from this run's rows.
CHART=""
if want backends && [ -s "$ROWS" ]; then
    if python3 "$REPO/bench/chart.py" "$ROWS" "${RESULT_MD%.md}.svg" --conns "${CONNS_LIST%% *}" --keepalive off \
        --title "POST /orders through nginx, ${CONNS_LIST%% *} connections, upstream keepalive off ($DATE, ${DUR_S}s each)" 2>"$RUN/chart.err"; then
        CHART=${RESULT_MD%.md}.svg
    else
        NOTES+=("no chart: $(head -c 300 "$RUN/chart.err")")
    fi
fi

# --- the report ---------------------------------------------------------------------------------
# pkgver PKGCONFIG-NAME DEBIAN-PACKAGE: "2.4.2 (Debian 2.4.2-2+deb12u1)", or what of it is known.
pkgver() {
    local v d
    v=$(pkg-config --modversion "$1" 2>/dev/null || true)
    d=$(dpkg-query -W -f '${Version}' "$2" 2>/dev/null || true)
    echo "${v:-?}${d:+ (Debian $d)}"
}
machine_facts() {
    local cpu swift=${SWIFT:-swift} sv commit
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    command -v "$swift" >/dev/null 2>&1 || swift=/opt/swift/usr/bin/swift
    sv=$("$swift" --version 2>/dev/null | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -1)
    commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$REPO" diff --quiet HEAD 2>/dev/null || commit+=" + uncommitted changes"
    echo "- Machine: ${cpu:-unknown CPU}, $(nproc) cores (shared: other work may run beside the bench), $(uname -srm); load average $LOAD_BEFORE before, $LOAD_AFTER after."
    echo "- Versions: Swift ${sv:-?}, nginx $("$NGINX" -v 2>&1 | sed -n 's|.*nginx/||p'), SQLite $(pkgver sqlite3 libsqlite3-0), libfcgi $(pkgver fcgi libfcgi0ldbl), wrk $(wrk -v 2>&1 | awk 'NR == 1 { v = $2; sub(/^debian\//, "", v); d = v; sub(/-.*/, "", v); print v (d != v ? " (Debian " d ")" : "") }'), gcc $(gcc -dumpfullversion 2>/dev/null) (C responder, -O2), $("$GO" version 2>/dev/null | awk '{ print $3 }' || echo 'no Go') ($(dpkg-query -W -f '${Version}' golang-go 2>/dev/null || echo '?')), PHP-FPM $("${PHP_FPM:-php-fpm}" -v 2>/dev/null | awk 'NR == 1 { print $2 }' || echo '?') (opcache $("${PHP_FPM:-php-fpm}" -m 2>/dev/null | grep -ix 'zend opcache' >/dev/null && echo on || echo off)); orderd at git $commit."
}
# ratio A B: " (A/B×)", or nothing when either is missing or B is 0.
RATIO_AWK='function ratio(a, b,   r) { if (a == "" || a == "-" || b == "" || b == "-" || b + 0 <= 0) return ""; r = a / b; return sprintf(" (%s×)", r < 0.1 ? sprintf("%.3f", r) : sprintf("%.2f", r)) }
function f(v) { return (v == "-" || v == "") ? "-" : sprintf("%.2f", v) }'
{
    echo "# orderd benchmark, $(date '+%Y-%m-%d %H:%M %Z')"
    echo
    echo "\`bench/run.sh\` (\`make bench\`): scenarios $SCENARIOS; DURATION=${DUR_S}s; ${ELAPSED} s in all ($(IFS=,; echo "${TIMES[*]}" | sed 's/,/, /g'))."

    echo
    machine_facts
    echo "- Load: every run is wrk -t$WRK_THREADS -d${DUR_S}s --latency --timeout 5s over loopback$( [ "$WARMUP" != 0 ] && echo ", after ${WARMUP} s of unmeasured warm-up"); nginx 2 workers rendered from nginx/ by scripts/render-nginx.sh, unix socket to the backend;"
    echo "  POST /orders' per-address limits lifted (limit_req by --orders-limit, limit_conn 20 → 10000 in the bench's copy of the site: every"
    echo "  connection comes from 127.0.0.1); for PHP-FPM the same site plus \`fastcgi_param SCRIPT_FILENAME\` (bench/php/order.php)."
    echo "- POST: one order (bench/order.json, $(wc -c < "$ORDER_BODY") bytes) per request, a fresh Idempotency-Key each, its own transaction, SQLite WAL, database on $(df -T "$RUN" | awk 'NR==2 { print $2 }')."
    echo "- Ratios: an orderd figure is followed by (n×) = it ÷ its baseline measured in this same run: the C responder's row"
    echo "  with the same connections, scenario and keepalive (backends; the last column divides by C, Go and PHP-FPM each), the 0 s"
    echo "  gateway run (isolation), RSS idle (overflow), Go's channel (executor, bench/go/executor run right after it). Above 1 is"
    echo "  better for req/s, below 1 for latency, CPU per order and RSS."
    echo "- CPU µs/order: utime + stime of the backend's processes (/proc/PID/stat, all threads; PHP-FPM's master and children),"
    echo "  read just before and after the measured wrk run, in µs (CLK_TCK $CLK_TCK), ÷ the requests wrk completed (on GET rows: per"
    echo "  request). nginx and wrk are not in it; orderd's includes its follow-up work (SMS driver=log, audit file, stats)."
    if want backends; then
        more_conns=""
        for c in ${CONNS_LIST#* }; do [ "$c" = "${CONNS_LIST%% *}" ] || more_conns+="$c "; done
        if [ -n "$more_conns" ]; then
            echo "- Trimmed: at $CONNS connections every backend ($BACKENDS) × 3 scenarios × upstream keepalive ($KEEPALIVE_SET);"
            echo "  at ${more_conns% } connections only $MORE_CONNS_BACKENDS (MORE_CONNS_BACKENDS): the like-for-like orderd (same"
            echo "  $THREADS threads as C) answers the FastCGI-layer question at $CONNS already, and more connections ask only whether the"
            echo "  peers and orderd as shipped hold up. Isolation and overflow run at $CONNS connections."
        fi
    fi
    echo "- Figures move by tens of percent between sittings on a shared machine: compare within one run, by the ratios."
    if want backends && [ -s "$ROWS" ]; then
    # Summary: the backends table pivoted, one row per connections × scenario × keepalive (docs/performance.md copies it).
    echo
    echo "## Summary: orderd against the C libfcgi responder"
    echo
    echo "| conns | scenario | upstream keepalive | C req/s | C p99 ms | orderd req/s (÷ C) | orderd p99 ms (÷ C) | orderd as shipped req/s (÷ C) | orderd as shipped p99 ms (÷ C) |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' "$RATIO_AWK"'
        $1 == "nginx return 200" { ceil[++nc] = sprintf("%d req/s (p99 %s ms) at %d connections", $4, f($6), $10); next }
        $1 != "C" && $1 !~ /^orderd/ { next }   # the other peers: their own table below
        {
            k = $10 SUBSEP $2 SUBSEP $3
            if (!(k in seen)) { seen[k] = 1; key[++n] = k }
            who = ($1 == "C") ? "c" : ($1 ~ /^orderd as shipped/) ? "s" : "o"
            R[k, who] = $4; P[k, who] = $6
        }
        function cell(k, who,   r, p) {
            if (!((k, who) in R)) return "- | -"
            r = R[k, who] ((k, "c") in R ? (R[k, "c"] > 0 ? ratio(R[k, who], R[k, "c"]) : " (C served 0)") : "")
            p = f(P[k, who]) ((k, "c") in R ? ratio(P[k, who], P[k, "c"]) : "")
            return r " | " p
        }
        END {
            for (i = 1; i <= n; i++) {
                k = key[i]; split(k, kk, SUBSEP)
                printf "| %d | %s | %s | %s | %s | %s | %s |\n", kk[1], kk[2], kk[3], ((k, "c") in R ? R[k, "c"] : "-"), ((k, "c") in R ? f(P[k, "c"]) : "-"), cell(k, "o"), cell(k, "s")
            }
            if (nc) {
                printf "\nCeiling, nginx `return 200` alone:"
                for (i = 1; i <= nc; i++) printf "%s %s", (i > 1 ? ";" : ""), ceil[i]
                print "."
            }
        }' "$ROWS"
    fi
    if want backends && [ -s "$ROWS" ]; then
    echo
    echo "## Peers: POST /orders at ${CONNS_LIST%% *} connections, upstream keepalive off"
    echo
    if [ -n "$CHART" ]; then
        echo "![req/s and CPU µs/order per backend, POST /orders, ${CONNS_LIST%% *} connections, keepalive off]($(basename "$CHART"))"
        echo
    fi
    echo "| scenario | backend | req/s | p50 ms | p99 ms | CPU µs/order | non-2xx |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    awk -F'\t' -v c="${CONNS_LIST%% *}" "$RATIO_AWK"'
        $10 == c && $3 == "off" && $2 ~ /^POST \/orders/ { printf "| %s | %s | %d | %s | %s | %s | %d |\n", $2, $1, $4, f($5), f($6), $11, $7 }' "$ROWS"
    fi
    if want backends; then
    echo
    echo "## Backends: GET /healthz and POST /orders through nginx"
    echo
    echo "C = bench/c/responder.c on libfcgi, $THREADS threads serialised on accept, one SQLite transaction per order (FULL: synchronous=full,"
    echo "NORMAL: synchronous=normal), no log. orderd = like for like: $THREADS request threads, log.level=${ORDERD_LOG_LEVEL:-warning} (no line per request)."
    echo "orderd as shipped = config/orderd.ini unchanged (request_workers = $SHIPPED_THREADS, log.level=info: no line per request, log.requests = false as shipped); both with follow-ups as shipped"
    echo "(SMS driver=log, audit file, stats; GET /healthz rows at synchronous=full). Upstream keepalive on: nginx"
    echo "\`keepalive $KEEPALIVE_CONNS\` (per worker) + \`fastcgi_keep_conn on\`. nginx return 200 = the ceiling: nginx answering by itself."
    echo "Go net/http/fcgi = bench/go (Go's standard library FastCGI server, a goroutine per request, the order inserted on it through"
    echo "cgo and libsqlite3 behind one mutex, then a non-blocking send of its follow-up to a channel of $GO_QUEUE drained by $GO_WORKERS goroutines)."
    echo "PHP-FPM = bench/php/order.php in PHP-FPM, \`pm = static\` with $PHP_CHILDREN children, PDO SQLite with a persistent handle per child (each"
    echo "child its own writer on the one file, busy_timeout 5 s). Both parse the JSON and check the required fields (the C responder stores the"
    echo "body unparsed); both answer GET /healthz; their POST rows run at the scenario's synchronous level like C."
    echo
    echo "| conns | backend | scenario | upstream keepalive | req/s (÷ C) | p50 ms (÷ C) | p99 ms (÷ C) | CPU µs/order (÷ C) | non-2xx | socket errors | orderd ÷ C / Go / PHP-FPM: req/s; CPU µs/order |"
    echo "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' "$RATIO_AWK"'
        function bare(a, b,   r) { r = ratio(a, b); gsub(/[ ()]/, "", r); return r == "" ? "-" : r }
        { B[NR] = $1; S[NR] = $2; K[NR] = $3; R[NR] = $4; P50[NR] = $5; P99[NR] = $6; N[NR] = $7; E[NR] = $8; C[NR] = $10; U[NR] = $11
          peer = ($1 == "C") ? "c" : ($1 ~ /^Go /) ? "go" : ($1 == "PHP-FPM") ? "php" : ""
          if (peer != "") { pr[peer, $10, $2, $3] = $4; pu[peer, $10, $2, $3] = $11; have[peer, $10, $2, $3] = 1 }
          if ($1 == "C") { cr[$10, $2, $3] = $4; c50[$10, $2, $3] = $5; c99[$10, $2, $3] = $6; cu[$10, $2, $3] = $11 } }
        END {
            for (i = 1; i <= NR; i++) {
                k = C[i] SUBSEP S[i] SUBSEP K[i]; r = r50 = r99 = ru = ""; peers = "-"
                if (B[i] ~ /^orderd/ && (k in cr)) {
                    r = ratio(R[i], cr[k]); r50 = ratio(P50[i], c50[k]); r99 = ratio(P99[i], c99[k]); ru = ratio(U[i], cu[k])
                    if (cr[k] == 0) r = " (C served 0)"
                }
                if (B[i] ~ /^orderd/) {
                    a = b = ""
                    split("c go php", pp, " ")
                    for (j = 1; j <= 3; j++) {
                        q = pp[j]
                        a = a (j > 1 ? " / " : "") (((q, k) in have) ? bare(R[i], pr[q, k]) : "-")
                        b = b (j > 1 ? " / " : "") (((q, k) in have) ? bare(U[i], pu[q, k]) : "-")
                    }
                    peers = a "; " b
                }
                printf "| %d | %s | %s | %s | %d%s | %s%s | %s%s | %s%s | %d | %d | %s |\n", C[i], B[i], S[i], K[i], R[i], r, f(P50[i]), r50, f(P99[i]), r99, U[i], ru, N[i], E[i], peers
            }
        }' "$ROWS"
    echo
    echo "The last column: each orderd row's req/s, then its CPU µs/order, divided by those of C / Go / PHP-FPM in the row with the same"
    echo "connections, scenario and keepalive (- where that peer did not run)."
    # bullets INTRO ITEM...: an introduced list, nothing when there are no items
    bullets() { [ $# -gt 1 ] || return 0; printf '\n%s\n\n' "$1"; shift; printf -- '- %s\n' "$@"; }
    bullets "Go peer's follow-ups (printed by it on exit; over its whole life: probe, warm-up and measured run). Dropped = the
non-blocking send found the channel of $GO_QUEUE full; lost at exit = still queued when it stopped (the pattern keeps no record of either):" \
        "${GO_FOLLOWUPS[@]}"
    bullets "orderd's durable follow-up tasks (SMS, audit) after each POST row, read from its database once it stopped: done, and
still pending (left in the outbox for the next start, so not in that row's CPU per order); and the largest size its SQLite WAL
file reached during the row (read twice a second: a WAL that starts over stays within a few tens of MiB; one that grows with every row never did);
and how many of the SQLite writer's commits (BEGIN to COMMIT) and of the WAL checkpoints it ran between two took over 25 ms in the
measured run (orderd's store_commit_duration and store_checkpoint_duration histograms, read before and after; the next batch waits
for either): where a row's p99 stands out, whether the writer stalled in it:" "${ORDERD_FOLLOWUPS[@]}"
    # Each goal of orderd as shipped against the peers of this run, met or not (bench/goals.py says which).
    python3 "$REPO/bench/goals.py" "$ROWS" "$STALLS"
    fi
    if [ -s "$PROF_ROWS" ]; then
        echo
        echo "## Where orderd's CPU goes ($PROFILE_SCENARIO, ${CONNS_LIST%% *} connections, upstream keepalive off)"
        echo
        echo "| backend | orders/s | CPU µs/order | kernel share: /proc (perf) | context switches/order (voluntary + involuntary) | SQLite writer µs/order | request threads µs/order | dispatcher µs/order | cooperative pool µs/order | audit writer µs/order | other threads µs/order | exited threads µs/order | orders per order commit (commits per order) |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' '{ printf "| %s | %s | %s | %s%% (%s) | %s (%s + %s) | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $4, $5, ($17 == "-" ? "-" : $17 "%"), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $20 }' "$PROF_ROWS"
        echo
        echo "From /proc over the measured run of that row (the same wrk run as in the tables above, with perf sampling it when it ran):"
        echo "CPU = utime + stime (stat fields 14, 15) of the process, µs ÷ orders wrk completed; kernel share = stime ÷ (utime + stime), and in"
        echo "brackets perf's samples in [kernel.*] ÷ all of orderd's samples; context switches = voluntary_ctxt_switches + nonvoluntary_ctxt_switches"
        echo "(/proc/PID/task/TID/status) summed over the threads alive at the end ÷ orders; each group = the utime + stime of its threads ÷ orders."
        echo "Groups: libdispatch names its worker threads after their root queue (\`oot.default-qos\`, \`-qos.overcommit\`: Swift's cooperative"
        echo "pool, where follow-up tasks run); orderd's own threads by their names (orderd-writer, orderd-req-N, orderd-dispatch, orderd-audit;"
        echo "other = main, checkpointer, sampler, watchdog, ...; a binary from before the names: by start order, PROFILE_THREAD_ORDER: main, WAL"
        echo "checkpointer, SQLite writer, audit writer, outbox dispatcher, status sampler, read-deadline watchdog, then the request threads); exited = the process' CPU that no thread"
        echo "alive at the end accounts for (pool threads that retired mid-run; their context switches are not counted). Orders per order commit:"
        echo "from orderd's GET /metrics just before and after the run, the orders in the SQLite writer's transactions that carried orders ÷ those"
        echo "transactions (orderd_store_commit_batch_orders); in brackets every committed transaction (outbox changes alone too) ÷ orders."
        awk -F'\t' '{ printf "- %s: threads grouped %s.\n", $1, $16 }' "$PROF_ROWS" | sed '1s/^/\n/'
        while IFS=$'\t' read -r label _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ perf_share perf_note top _; do
            echo
            if [ "$perf_share" = - ] || [ ! -s "$top" ]; then
                echo "$label, top symbols: none ($perf_note)."
                continue
            fi
            echo "$label, top symbols (\`perf record -F 499 -g -p PID\` over the measured run, $perf_note; self samples, \`perf report --no-children --sort sym\`; [k] = kernel):"
            echo
            echo "| share | symbol |"
            echo "|---:|---|"
            awk -F'\t' '{ s = $2; gsub(/\|/, "\\|", s); if (length(s) > 140) s = substr(s, 1, 137) "..."; printf "| %s | `%s` |\n", $1, s }' "$top"
        done < "$PROF_ROWS"
        if grep -q 'samples of cpu-clock' "$PROF_ROWS"; then
            echo
            echo "perf sampled cpu-clock (a timer: this machine offers no hardware cycle counter to it), so kernel time spent with interrupts"
            echo "off is charged to where they come back on: finish_task_switch and *_unlock_irqrestore stand for context switches and wake-ups."
        fi
    fi
    if [ -s "$FU_ROWS" ]; then
        echo
        echo "## Post-response work (isolation): POST /orders while the SMS gateway takes $(for d in $GATEWAY_DELAYS; do awk -v d="$d" 'BEGIN { printf (d < 1 && d > 0) ? "%g ms / " : "%g s / ", (d < 1 && d > 0) ? d * 1000 : d }'; done | sed 's| / $||')"
        echo
        echo "orderd as shipped (${ORDERD_INI#$REPO/}: $SHIPPED_THREADS request threads, synchronous=full, executor 5 workers, queue 1024) at log.level=${ORDERD_LOG_LEVEL:-warning},"
        echo "\`task.sms.driver = http\` to ${GATEWAY_SCRIPT#$REPO/} on loopback answering 200 after the delay below, audit file in the run dir,"
        echo "stats on; nginx without upstream keepalive (as shipped); wrk -t$WRK_THREADS -c$CONNS -d${DUR_S}s, ${WARMUP}s warm-up (bench/post-order.lua, a new Idempotency-Key per request)."
        echo "Every order has two durable follow-ups (sms, audit) and one best-effort (stats); 5 workers with a 2 s gateway serve ~2.5 SMS/s,"
        echo "so almost every order's tasks overflow to the outbox (expected: they wait in the database, not in memory)."
        echo
        echo "| SMS gateway delay | gateway RTT ms | req/s (÷ ${GATEWAY_DELAYS%% *} s) | p50 ms (÷ ${GATEWAY_DELAYS%% *} s) | p99 ms (÷ ${GATEWAY_DELAYS%% *} s) | non-2xx | socket errors | outbox pending at end | overflowed to outbox | stats dropped | executor rejected | tasks done at end |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' -v ref="${GATEWAY_DELAYS%% *}" "$RATIO_AWK"'
            FNR == NR { if ($1 != "log" && $1 + 0 == ref + 0 && !have) { have = 1; rr = $2; r50 = $3; r99 = $4 }; next }
            {
                isref = ($1 != "log" && $1 + 0 == ref + 0)
                a = b = c = ""
                if (have && !isref) { a = ratio($2, rr); b = ratio($3, r50); c = ratio($4, r99) }
                printf "| %s | %s | %d%s | %s%s | %s%s | %d | %d | %s | %s | %s | %s | %s |\n", ($1 == "log" ? "none: driver=log" : $1 " s"), $26, $2, a, f($3), b, f($4), c, $5, $6, $8, $10, $11, $12, $13
            }' "$FU_ROWS" "$FU_ROWS"
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
                        printf "- gateway %s s: p99 %.2f× (goal <= 1.2: %s), req/s %.2f× (goal >= 0.9: %s)\n", D[i], p, (p <= 1.2 ? "met" : "MISSED"), r, (r >= 0.9 ? "met" : "MISSED")
                    }
                }
                if (havelog) {
                    print ""
                    printf "The same against the run without outgoing HTTP (driver=log: %d req/s, p99 %.2f ms), for reference (no goal):\n", lr, lp
                    for (i = 1; i <= n; i++) {
                        if (P99[i] == "-") continue
                        printf "- gateway %s s: p99 %.2f×, req/s %.2f×\n", D[i], P99[i] / lp, R[i] / lr
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
            echo "| SMS gateway delay | orders acknowledged: 201s measured / in db | RSS idle MiB | RSS end of load MiB (÷ idle) | RSS drained MiB (÷ idle) | drain s | SMS delivered | SMS requests | duplicates | audit lines | tasks not done | lost durable tasks |"
            echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            awk -F'\t' "$RATIO_AWK"'
                function mib(v) { return (v == "-" || v == "") ? "-" : sprintf("%.1f", v / 1024) }
                $17 != "-" {
                    drain = ($17 == "yes") ? $18 : ("not drained after " $18)
                    printf "| %s s | %d / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $7 - $5, $19, mib($14), mib($15) ratio($15, $14), mib($16) ratio($16, $14), drain, $20, $21, $22, $25, $23, $24
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
    if want retention && [ -s "$RT_ROWS" ]; then
        echo
        echo "## Retention: done tasks deleted under load"
        echo
        echo "orderd as shipped (SMS driver=log, audit, stats), POST /orders through nginx, keepalive off, c=$CONNS, ${DUR_S}s each;"
        echo 'outbox.retention = 0s keeps every done task (the reference), 1s has the writer delete them, 500 rows per statement,'
        echo "while the load runs. Then orderd idles and the done rows are counted every second."
        echo
        echo "| outbox.retention | req/s | p50 ms | p99 ms (÷ 0s) | non-2xx | orders in db | done task rows at the end of the load | done rows gone after (s) |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' "$RATIO_AWK"'
            $1 == "0s" { base = $4 }
            { printf "| %s | %s | %s | %s%s | %s | %s | %s | %s |\n", $1, $2, f($3), f($4), ($1 == "0s" ? "" : ratio($4, base)), $5, $6, $7, $8 }
        ' "$RT_ROWS"
    fi
    if want executor; then
        echo
        echo "## Executor: task throughput and submit latency"
        echo
        echo "bench/executor (product executor-bench${EXECUTOR_BENCH_ARGS:+, arguments: $EXECUTOR_BENCH_ARGS}): BoundedExecutor alone, tasks that do no work and no I/O"
        echo "(in the throughput rows on both sides a closure per task, capturing its own value and adding it to a shared sum);"
        echo "and bench/go/executor, the same measures on a Go buffered channel drained by goroutines, on the same machine, the two run"
        echo "$EXECUTOR_PAIRS times each in alternating pairs (EXECUTOR_PAIRS). The figures of both tables, joined by measure name, each the median of"
        echo "the runs'; the last column divides BoundedExecutor's by Go's, the medians and each pair (tasks/s: above 1"
        echo "is better; latencies: below 1 is better). Go's send is blocking (no retries to count); its last rows have no executor-bench counterpart."
        echo
        echo "$EXECUTOR_MD"
    fi
    if want postgres && [ -s "$PG_ROWS" ]; then
        echo
        echo "## PostgreSQL store: one and several instances"
        echo
        echo "orderd as shipped ($ORDERD_INI: $SHIPPED_THREADS request threads, store.pool_size default) with \`[store] driver = postgres\` on"
        echo "a throwaway PostgreSQL $("$(dirname "$ORDERD_TEST_PG_PSQL")/postgres" --version 2>/dev/null | awk '{ print $3 }') on this same machine"
        echo "(scripts/with-postgres.sh: fsync and synchronous_commit on, defaults otherwise), a fresh database per row group;"
        echo "N instances behind one nginx upstream (nginx/orderd.conf rendered with N sockets), keepalive off; POST /orders with a"
        echo "new Idempotency-Key each (bench/post-order.lua). Every instance, PostgreSQL, nginx and wrk share the same $(nproc) cores."
        echo
        echo "| conns | instances | req/s (÷ 1 instance) | p50 ms | p99 ms | non-2xx | socket errors | ÷ orderd SQLite as shipped, FULL |"
        echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' -v first="${PG_INSTANCES%% *}" "$RATIO_AWK"'
            FILENAME == ARGV[1] { if ($1 ~ /^orderd as shipped/ && $2 == "POST /orders FULL" && $3 == "off") sqlite[$10] = $4; next }
            { if ($1 == first) base[$10] = $4
              r = (($10) in sqlite) ? ratio($4, sqlite[$10]) : ""; gsub(/[ ()]/, "", r)
              printf "| %s | %s | %s%s | %s | %s | %s | %s | %s |\n", $10, $1, $4, ($1 == first ? "" : ratio($4, base[$10])), f($5), f($6), $7, $8, (r == "" ? "-" : r) }
        ' "$ROWS" "$PG_ROWS"
        echo
        echo "The last column divides by the row of orderd as shipped, POST /orders FULL (SQLite), keepalive off, at the same"
        echo "connections in the backends table of this run, when it ran."
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
echo "bench: written $RESULT_MD${CHART:+ and $CHART} (raw wrk output: $RAW)"
