#!/usr/bin/env bash
# Rewrites the `enum` of `CurrencyCode` in openapi.yaml from the validator's table,
# Sources/OrderdOrders/ISO4217.swift, so generated clients refuse what the server refuses.
# `CurrencyEnumTests` fails when the two differ; run this after changing the table.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python3 - "$REPO" <<'PY'
import re, sys
repo = sys.argv[1]
codes = sorted(set(re.findall(r'"([A-Z]{3})"', open(f"{repo}/Sources/OrderdOrders/ISO4217.swift").read())))
rows = ["        " + ", ".join(codes[i:i + 16]) + "," for i in range(0, len(codes), 16)]
rows[-1] = rows[-1].rstrip(",")
enum = "      enum: [\n" + "\n".join(rows) + "]"
spec = open(f"{repo}/openapi.yaml").read()
spec, n = re.subn(r"(    CurrencyCode:\n(?:        .*\n|      description: \|\n)*      type: string\n)      enum: \[[^\]]*\]", lambda m: m.group(1) + enum, spec)
if n != 1:
    sys.exit("openapi-currencies: CurrencyCode's enum not found in openapi.yaml")
open(f"{repo}/openapi.yaml", "w").write(spec)
print(f"openapi-currencies: {len(codes)} codes")
PY
