#!/usr/bin/env bash
# Check systemd/orderd.socket + systemd/orderd.service offline (no running systemd needed):
#   1. `systemd-analyze verify` must print nothing and exit 0;
#   2. `systemd-analyze security --offline=true` must score orderd.service at most MAX_SCORE (2.0).
#
#   scripts/check-units.sh            (make check-units)
#
# verify checks that ExecStart's binary exists, so the units are rendered into a temp dir first with
# /usr/local/bin/orderd replaced by a real file: $ORDERD_BIN if set, else .build/release/orderd or
# .build/debug/orderd if built, else a stub script (said so in the output).
# Output ends with one summary line the Swift test parses:
#   check-units: verify=clean|dirty score=X.Y max=2.0 result=PASS|FAIL
# Exit: 0 pass, 1 fail, 77 skipped (systemd-analyze not installed).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MAX_SCORE=${MAX_SCORE:-2.0}

ANALYZE=$(command -v systemd-analyze || true)
if [ -z "$ANALYZE" ]; then
    echo "check-units: SKIP: systemd-analyze not installed (apt-get install systemd)"
    exit 77
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

BIN=${ORDERD_BIN:-}
if [ -z "$BIN" ]; then
    for c in "$REPO/.build/release/orderd" "$REPO/.build/debug/orderd"; do
        if [ -x "$c" ]; then BIN=$c; break; fi
    done
fi
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    [ -z "$BIN" ] || echo "check-units: ORDERD_BIN=$BIN is not executable"
    BIN="$TMP/bin/orderd"
    mkdir -p "$TMP/bin"
    printf '#!/bin/sh\nexit 0\n' > "$BIN"
    chmod 0755 "$BIN"
    echo "check-units: no orderd binary built: ExecStart points at a stub ($BIN)"
else
    echo "check-units: ExecStart -> $BIN"
fi
case "$BIN" in *[[:space:]]*) echo "check-units: binary path must not contain spaces: $BIN"; exit 1 ;; esac

mkdir -p "$TMP/units"
for u in orderd.socket orderd.service; do
    sed "s|/usr/local/bin/orderd|$BIN|g" "$REPO/systemd/$u" > "$TMP/units/$u"
done

echo "== systemd-analyze verify"
set +e
VERIFY_OUT=$(cd "$TMP/units" && SYSTEMD_LOG_COLOR=0 timeout 60 "$ANALYZE" verify --man=no "$TMP/units/orderd.socket" "$TMP/units/orderd.service" 2>&1)
VERIFY_RC=$?
set -e
if [ "$VERIFY_RC" -eq 0 ] && [ -z "$VERIFY_OUT" ]; then
    VERIFY=clean
    echo "(no output, exit 0)"
else
    VERIFY=dirty
    printf '%s\n' "$VERIFY_OUT"
    echo "(exit $VERIFY_RC)"
fi

echo "== systemd-analyze security --offline=true orderd.service"
set +e
SEC_OUT=$(cd "$TMP/units" && SYSTEMD_LOG_COLOR=0 timeout 60 "$ANALYZE" security --offline=true --no-pager "$TMP/units/orderd.service" 2>&1)
SEC_RC=$?
set -e
printf '%s\n' "$SEC_OUT" | grep -E '^✗|Overall exposure level' || printf '%s\n' "$SEC_OUT"
SCORE=$(printf '%s\n' "$SEC_OUT" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9]*\.[0-9]*\).*/\1/p' | tail -1)
if [ -z "$SCORE" ]; then
    echo "check-units: could not read the exposure score (security exit $SEC_RC)"
    SCORE=none
fi

RESULT=PASS
[ "$VERIFY" = clean ] || RESULT=FAIL
if [ "$SCORE" = none ] || ! awk -v s="$SCORE" -v m="$MAX_SCORE" 'BEGIN { exit !(s + 0 <= m + 0) }'; then RESULT=FAIL; fi
echo "check-units: verify=$VERIFY score=$SCORE max=$MAX_SCORE result=$RESULT"
[ "$RESULT" = PASS ]
