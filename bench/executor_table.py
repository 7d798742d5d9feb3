#!/usr/bin/env python3
"""Join executor-bench's table (bench/executor) with bench/go/executor's, both from this bench run, into one
table whose last column divides each BoundedExecutor figure by Go's figure of the same name.

    bench/executor_table.py SWIFT_OUTPUT [GO_OUTPUT | --no-go REASON]

Rows are matched by measure name with the numbers left out (task and run counts may differ by argument).
Only each table's first figure column is read. A figure only one side has keeps "–" on the other. Standard
library only.
"""
import re
import sys


def parse(path):
    """The text before the table, and {key: (measure, value)} in order."""
    head, rows = [], {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.startswith("|"):
                if line.strip() and not rows:
                    head.append(line)
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] in ("measure", "") or set(cells[0]) <= set("-:"):
                continue
            rows[re.sub(r"\d+", "#", cells[0])] = (cells[0], cells[1])
    return head, rows


def numbers(value):
    # "2.1M (2.0–2.2M)" -> the median only; "120 / 300 / 900" -> p50, p99, p999
    if "/" in value:
        return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", value)][:3]
    m = re.match(r"\s*(\d+(?:\.\d+)?)", value)
    return [float(m.group(1))] if m else []


def ratio(a, b):
    return "–" if b == 0 else (f"{a / b:.3f}×" if a / b < 0.1 else f"{a / b:.2f}×")


def main():
    swift_head, swift = parse(sys.argv[1])
    go_head, go, why = [], {}, ""
    if len(sys.argv) > 3 and sys.argv[2] == "--no-go":
        why = sys.argv[3]
    elif len(sys.argv) > 2:
        go_head, go = parse(sys.argv[2])
    for line in swift_head + go_head:
        print(line)
    if why:
        print(f"\nGo not run: {why}; every ratio is left out.")
    print()
    print("| measure | BoundedExecutor | Go channel (this run) | BoundedExecutor ÷ Go |")
    print("|---|---|---|---|")
    for key, (measure, value) in swift.items():
        g = go.get(key)
        r = "–"
        if g:
            a, b = numbers(value), numbers(g[1])
            if len(a) == len(b) == 1:
                r = ratio(a[0], b[0]) + " (median ÷ median; above 1 is better)"
            elif len(a) == len(b) == 3:
                r = " / ".join(f"{n} {ratio(x, y)}" for n, x, y in zip(("p50", "p99", "p999"), a, b)) + " (below 1 is better)"
        print(f"| {measure} | {value} | {g[1] if g else '–'} | {r} |")
    for key, (measure, value) in go.items():
        if key not in swift:
            print(f"| {measure} (Go only: executor-bench has no such figure) | – | {value} | – |")
    goals(swift, go)
    return 0


def goals(swift, go):
    """The executor's goals, each line saying met or not met: no-op tasks/s at least Go's, trySubmit's p99 with busy
    workers at most Go's send p99, and the wake of a parked worker within 5 µs at p99."""
    def figure(name):
        for key, (measure, value) in swift.items():
            if name in measure:
                g = go.get(key)
                return numbers(value), (numbers(g[1]) if g else [])
        return [], []

    lines = []
    mine, theirs = figure("no-op tasks/s")
    if len(mine) == len(theirs) == 1 and theirs[0] > 0:
        r = mine[0] / theirs[0]
        lines.append(f"- no-op tasks/s at least Go's: {r:.2f}× ({'met' if r >= 1 else 'not met'})")
    mine, theirs = figure("workers busy")
    if len(mine) == len(theirs) == 3 and theirs[1] > 0:
        r = mine[1] / theirs[1]
        lines.append(f"- trySubmit p99 with busy workers at most Go's send p99: {mine[1]:.0f} ns, {r:.2f}× ({'met' if r <= 1 else 'not met'})")
    mine, _ = figure("wake ns")
    if len(mine) == 3:
        lines.append(f"- the wake of a parked worker within 5 µs at p99: {mine[1] / 1000:.1f} µs ({'met' if mine[1] <= 5000 else 'not met'})")
    if lines:
        print()
        print("Against the executor's goals:")
        print()
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
