#!/usr/bin/env python3
"""Join executor-bench's tables (bench/executor) with bench/go/executor's, both from this bench run, into one
table whose last column divides each BoundedExecutor figure by Go's figure of the same name.

    bench/executor_table.py SWIFT_OUTPUT... [--go GO_OUTPUT... | --no-go REASON]

bench/run.sh runs the two programs in alternating pairs (EXECUTOR_PAIRS), since on a shared machine two runs a few
minutes apart can differ by 2× (measured: Go's channel at 9.75M and 20.51M tasks/s in one hour). With several runs
each side, every figure is the median of the runs' figures (per percentile for the p50 / p99 / p999 rows), each
run's figure stands beside it, and the ratio column gives the ratio of the medians and each pair's own ratio.
The goals are judged on the medians.

Rows are matched by measure name with the numbers left out (task and run counts may differ by argument).
Only each table's first figure column is read. A figure only one side has keeps "–" on the other. Standard
library only.
"""
import re
import statistics
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
    if " / " in value:
        return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", value)][:3]
    m = re.match(r"\s*(\d+(?:\.\d+)?)", value)
    return [float(m.group(1))] if m else []


def unit(value):
    """The suffix of a single figure ("M" of "5.79M (4.8–6.1M)"), so that a median is written as the runs are."""
    m = re.match(r"\s*\d+(?:\.\d+)?([A-Za-z]*)", value)
    return m.group(1) if m else ""


def short(x):
    if x >= 100 or x == int(x):
        return f"{round(x)}"
    return f"{x:.2f}".rstrip("0").rstrip(".")


FIGURE = re.compile(r"\s*\d+(?:\.\d+)?[A-Za-z]*\s*(\([^()]*\))?\s*$")


def combine(values):
    """One cell and the figures to divide, from the same measure's value in each run."""
    if len(values) == 1:
        return values[0], numbers(values[0])
    parsed = [numbers(v) for v in values]
    if all(len(p) == 1 and FIGURE.match(v) for p, v in zip(parsed, values)):
        med = statistics.median(p[0] for p in parsed)
        runs = ", ".join(short(p[0]) + unit(v) for p, v in zip(parsed, values))
        return f"{short(med)}{unit(values[0])} (runs: {runs})", [med]
    if all(len(p) == 3 for p in parsed):
        med = [statistics.median(p[i] for p in parsed) for i in range(3)]
        runs = ", ".join(short(p[1]) for p in parsed)
        return " / ".join(short(x) for x in med) + f" (p99 by run: {runs})", med
    return "; ".join(values), []


def ratio(a, b):
    return "–" if b == 0 else (f"{a / b:.3f}×" if a / b < 0.1 else f"{a / b:.2f}×")


def pair_ratios(mine, theirs, index):
    """Each pair's own ratio of one figure (run i of each side), where both sides ran as often."""
    if len(mine) < 2 or len(mine) != len(theirs):
        return ""
    rs = []
    for a, b in zip(mine, theirs):
        x, y = numbers(a), numbers(b)
        if len(x) > index and len(y) > index and y[index] > 0:
            rs.append(x[index] / y[index])
    return f"; pairs: {', '.join(f'{r:.2f}×' for r in rs)}" if len(rs) == len(mine) else ""


def load_averages(heads):
    found = [re.search(r"load average ([^)]*)\)", " ".join(h)) for h in heads]
    return [m.group(1) for m in found if m]


def main(argv):
    swift_paths, go_paths, why, target = [], [], "", None
    args = iter(argv)
    for a in args:
        if a == "--no-go":
            why = next(args, "no reason given")
        elif a == "--go":
            target = go_paths
        else:
            (target if target is not None else swift_paths).append(a)
    if not swift_paths:
        print(__doc__, file=sys.stderr)
        return 2
    swift_runs = [parse(p) for p in swift_paths]
    go_runs = [parse(p) for p in go_paths]

    for line in swift_runs[0][0] + (go_runs[0][0] if go_runs else []):
        print(line)
    if len(swift_runs) > 1:
        print(f"\n{len(swift_runs)} runs of executor-bench"
              + (f" and {len(go_runs)} of Go's program, alternating in pairs" if go_runs else "")
              + "; each figure is the median of the runs' figures, the runs' own beside it.")
        loads = load_averages([h for h, _ in swift_runs])
        if loads:
            print("Load average around each executor-bench run: " + "; ".join(loads) + ".")
    if why:
        print(f"\nGo not run: {why}; every ratio is left out.")
    print()
    print("| measure | BoundedExecutor | Go channel (this run) | BoundedExecutor ÷ Go |")
    print("|---|---|---|---|")
    swift, go = {}, {}
    for key, (measure, _) in swift_runs[0][1].items():
        values = [rows[key][1] for _, rows in swift_runs if key in rows]
        cell, figures = combine(values)
        swift[key] = (measure, cell, figures, values)
    if go_runs:
        for key, (measure, _) in go_runs[0][1].items():
            values = [rows[key][1] for _, rows in go_runs if key in rows]
            cell, figures = combine(values)
            go[key] = (measure, cell, figures, values)
    for key, (measure, cell, a, values) in swift.items():
        g = go.get(key)
        r = "–"
        if g:
            b = g[2]
            if len(a) == len(b) == 1:
                r = ratio(a[0], b[0]) + pair_ratios(values, g[3], 0) + " (median ÷ median; above 1 is better)"
            elif len(a) == len(b) == 3:
                r = " / ".join(f"{n} {ratio(x, y)}" for n, x, y in zip(("p50", "p99", "p999"), a, b))
                r += pair_ratios(values, g[3], 1).replace("pairs:", "p99 pairs:") + " (below 1 is better)"
        print(f"| {measure} | {cell} | {g[1] if g else '–'} | {r} |")
    for key, (measure, cell, _, _) in go.items():
        if key not in swift:
            print(f"| {measure} (Go only: executor-bench has no such figure) | – | {cell} | – |")
    goals(swift, go)
    return 0


def find(side, *names):
    """The key and figures of the first measure whose name holds every one of `names`; (None, []) when none does."""
    for key, (measure, _, figures, _) in side.items():
        if all(n in measure for n in names):
            return key, figures
    return None, []


def goals(swift, go):
    """The executor's goals, each line saying met or not met: no-op tasks/s at least Go's, trySubmit's p99 with busy
    workers at most Go's send p99, and the wake of a parked worker within 5 µs at p99."""
    def figure(name):
        key, figures = find(swift, name)
        g = go.get(key)
        return figures, (g[2] if g else [])

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
        print("Against the executor's goals" + (" (the medians)" if any(len(v[3]) > 1 for v in swift.values()) else "") + ":")
        print()
        print("\n".join(lines))
    ceiling(swift, go)


def ceiling(swift, go):
    """What the task's shape allows in Swift here: executor-bench's plain pool (no deadline, cancellation or outcome)
    against Go's channel, a closure per task and a value per task, beside BoundedExecutor's own ratio."""
    def median(side, *names):
        _, figures = find(side, *names)
        return figures[0] if len(figures) == 1 else None

    lines = []
    for label, row in (("a closure per task", "no-op tasks/s"), ("a value per task", "each task a value of its own")):
        executor, channel = median(swift, row), median(go, row)
        plain = median(swift, "plain pool", label)
        if executor and plain and channel:
            lines.append(f"- {label}: the plain pool {plain / channel:.2f}× Go's channel, BoundedExecutor "
                         f"{executor / channel:.2f}× ({executor / plain:.2f}× the plain pool)")
    if lines:
        print()
        print("What the task's shape allows in Swift on this machine (executor-bench's plain pool of threads, without "
              "BoundedExecutor's deadlines, cancellation and outcomes), medians against Go's channel:")
        print()
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
