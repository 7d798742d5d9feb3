#!/usr/bin/env bash
# Two (or more) orderd binaries against each other in one sitting: the same POST /orders rows of bench/run.sh
# (orderd as shipped, FULL and NORMAL, one CONNS, upstream keepalive off) for each binary in turn, ROUNDS times,
# alternating, so that a slow minute on this shared machine hits every binary alike. Prints one Markdown table:
# every round's req/s, p99 and CPU µs/order per binary, then each binary's mean with its spread (lowest–highest)
# and its mean divided by the first binary's. "Within noise" means the ratios sit inside the rounds' spread.
#
#   bench/compare.sh NAME=BINARY[,key=value...] NAME=BINARY[,key=value...] [...]
#       e.g. before=/tmp/orderd-old after=.build/release/orderd
#       or one binary, two settings: w5=.build/release/orderd w16=.build/release/orderd,executor.workers=16
#
# Then, unless PROFILE=0, bench/run.sh's profile rows (where orderd's CPU goes per thread group, POST /orders
# NORMAL by default) per round and binary, one under the other, so that two binaries' profiles sit side by side.
#
# Environment: ROUNDS=3, DURATION=10s, CONNS=16 (one value), OUT=<file> (also write the table there), and
# whatever bench/run.sh reads (ORDERD_INI, WARMUP, PROFILE, PERF, ...). Each round runs bench/run.sh SCENARIOS=backends
# with BACKENDS=orderd-shipped, its report in a temporary directory (the committed reports are not touched).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "compare: ROUNDS must be a positive count, got '$ROUNDS'" >&2; exit 2; }
[ $# -ge 2 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
for spec in "$@"; do
    [[ "$spec" == *=* ]] || { echo "compare: '$spec' is not NAME=BINARY" >&2; exit 2; }
    bin=${spec#*=}; bin=${bin%%,*}
    [ -x "$bin" ] || { echo "compare: $bin is not an executable" >&2; exit 2; }
done
WORK=$(mktemp -d /tmp/orderd-compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROWS=$WORK/rows.tsv
PROF=$WORK/profile.md   # bench/run.sh's profile rows ("Where orderd's CPU goes"), prefixed with round and binary
: > "$ROWS"; : > "$PROF"

for round in $(seq "$ROUNDS"); do
    for spec in "$@"; do
        name=${spec%%=*} bin=${spec#*=} sets=""
        if [[ "$bin" == *,* ]]; then sets=$(echo "${bin#*,}" | tr ',' ' '); bin=${bin%%,*}; fi
        report=$WORK/$round-$name.md
        echo "compare: round $round/$ROUNDS, $name ($bin)" >&2
        ORDERD_BIN=$bin ORDERD_SET=$sets RESULT_MD=$report BACKENDS=orderd-shipped MORE_CONNS_BACKENDS=orderd-shipped \
            CONNS=${CONNS:-16} KEEPALIVE=off SCENARIOS=backends "$REPO/bench/run.sh" > "$WORK/$round-$name.log" 2>&1 \
            || { echo "compare: bench/run.sh failed for $name, see its output:" >&2; tail -20 "$WORK/$round-$name.log" >&2; exit 1; }
        # | POST /orders FULL | orderd as shipped (...) | req/s | p50 | p99 | CPU µs/order | non-2xx |
        awk -F' *\\| *' -v r="$round" -v n="$name" '$2 ~ /^POST \/orders / && $3 ~ /^orderd as shipped/ {
            sub(/^POST \/orders /, "", $2); print r "\t" n "\t" $2 "\t" $4 "\t" $6 "\t" $7 }' "$report" >> "$ROWS"
        # the profile section: its table's rows (| orderd as shipped (...) | orders/s | ... |), the header kept
        # once, and the first five of each variant's top symbols (| 16.40% | `[k] ...` |) on one line
        awk -v r="$round" -v n="$name" -v head="$PROF.head" -v sym="$PROF.sym" -v havehead="$([ -s "$PROF.head" ] && echo 1 || true)" '
            /^## / { inside = ($0 ~ /^## Where orderd.s CPU goes/); if (inside) { sub(/^## /, ""); title = $0 }; next }
            !inside { next }
            !/^\|/ { if (table) done = 1; table = 0; if (syms != "") print "- round " r ", " n ", " v ": " syms >> sym; syms = ""; k = 0
                     if ($0 ~ /, top symbols/) { v = $0; sub(/, top symbols.*/, "", v) }; next }
            /^\| backend \|/ { table = !done; if (!havehead) { print title > head; sub(/^\| backend /, "| round | binary | backend "); print > head }; next }
            /^\| share \| symbol \|/ || /^\|---/ { if (table && !havehead) { sub(/^\|/, "|---:|---|"); print > head }; next }
            table { print "| " r " | " n " " $0; next }
            { split($0, c, / *\| */); if (++k <= 5) syms = syms (syms == "" ? "" : "; ") c[2] " " c[3] }
            END { if (syms != "") print "- round " r ", " n ", " v ": " syms >> sym }' "$report" >> "$PROF"
        # the durable follow-ups each POST row left pending (work its CPU figure does not contain)
        sed -n "s/^- orderd as shipped.*, c=[0-9]*, POST \/orders \([A-Z]*\), keepalive off: /- round $round, $name, \1: /p" \
            "$report" >> "$WORK/followups"
    done
done

names=$(for spec in "$@"; do printf '%s ' "${spec%%=*}"; done)
{
    echo "orderd binaries compared: $(for spec in "$@"; do printf '%s = `%s`; ' "${spec%%=*}" "${spec#*=}"; done)"
    echo "$ROUNDS rounds, alternating; POST /orders as shipped, ${CONNS:-16} connections, keepalive off, ${DURATION:-10s} each; $(date -Iseconds)."
    echo
    awk -F'\t' -v names="$names" '
        { key = $2 SUBSEP $3; n[key]++; for (i = 4; i <= 6; i++) { v = $i + 0; s[key, i] += v
              if (n[key] == 1 || v < lo[key, i]) lo[key, i] = v; if (n[key] == 1 || v > hi[key, i]) hi[key, i] = v }
          rounds[$1 SUBSEP key] = $4 " / " $5 " / " $6; if (!($3 in seen)) { seen[$3] = 1; sync[++ns] = $3 }; last = $1 }
        END {
            nn = split(names, name, " ")
            print "| sync | binary | each round: req/s / p99 ms / CPU µs per order | mean req/s (lowest–highest) | mean p99 ms | mean CPU µs/order (lowest–highest) | ÷ " name[1] ": req/s, CPU |"
            print "|---|---|---|---|---|---|---|"
            for (j = 1; j <= ns; j++) for (k = 1; k <= nn; k++) {
                key = name[k] SUBSEP sync[j]; if (!n[key]) continue
                each = ""; for (r = 1; r <= last; r++) if ((r SUBSEP key) in rounds) each = each (each == "" ? "" : "; ") rounds[r SUBSEP key]
                base = name[1] SUBSEP sync[j]
                ratio = (k == 1 || !n[base]) ? "-" : sprintf("%.2f×, %.2f×", (s[key,4]/n[key]) / (s[base,4]/n[base]), (s[key,6]/n[key]) / (s[base,6]/n[base]))
                printf "| %s | %s | %s | %.0f (%.0f–%.0f) | %.2f | %.0f (%.0f–%.0f) | %s |\n", sync[j], name[k], each,
                    s[key,4]/n[key], lo[key,4], hi[key,4], s[key,5]/n[key], s[key,6]/n[key], lo[key,6], hi[key,6], ratio
            }
        }' "$ROWS"
    if [ -s "$PROF" ] && [ -s "$PROF.head" ]; then
        echo
        echo "$(head -1 "$PROF.head"), each round: bench/run.sh's profile rows (its report says how each figure is computed)"
        echo
        tail -n +2 "$PROF.head"
        cat "$PROF"
        if [ -s "$PROF.sym" ]; then
            echo
            echo "perf's top five symbols (self samples, share of orderd's), each round:"
            echo
            cat "$PROF.sym"
        fi
    fi
    if [ -s "$WORK/followups" ]; then
        echo
        echo "Durable follow-up tasks after each row, from orderd's database once it stopped (pending: left for the next start):"
        echo
        cat "$WORK/followups"
    fi
} | tee "${OUT:-/dev/null}"
