#!/usr/bin/env python3
"""The performance goals of orderd as shipped, judged from one bench run's backends rows (bench/run.sh's rows.tsv),
each a ratio to a peer measured in the same run, each line saying met or not met.

    bench/goals.py ROWS_TSV [STALLS_TSV]

ROWS_TSV: one wrk run per line, tab-separated: backend label, scenario, upstream keepalive (off/on), req/s, p50 ms,
p99 ms, non-2xx, socket errors, requests, connections, CPU µs per request ("-" when not read).
STALLS_TSV: one line per POST row of orderd as shipped: scenario, keepalive, connections, and bench/run.sh's
writer_stalls reading of its commits ("3 of 3900 over 25 ms, slowest 50–100 ms"); each tail line then says whether
the writer stalled in that row, and a missed one what held it.

The goals (docs/performance.md says where they come from):
- CPU per order at most Go's and PHP-FPM's, and at most 1.5× C's at FULL (each POST row orderd as shipped ran);
- durable throughput (orderd as shipped, synchronous=full) at least 1.5× C's one commit per order at FULL, and
  non-durable (orderd as shipped at synchronous=normal) at least 0.8× C's at NORMAL; C taken at its best upstream
  keepalive setting for those connections (keepalive starves it), so a keepalive row never flatters orderd;
- p99 at most 1.5× C's in the same row, every POST row without upstream keepalive where C served.
Rows a peer did not serve (0 req/s) are left out. Standard library only.
"""
import re
import sys

C, GO, PHP = "C", "Go net/http/fcgi", "PHP-FPM"
FULL, NORMAL = "POST /orders FULL", "POST /orders NORMAL"


def read(path):
    """{(backend, scenario, keepalive, conns): (req/s, p99, cpu or None)} and the shipped rows in run order."""
    rows, shipped = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            cells = line.rstrip("\n").split("\t")
            if len(cells) < 11 or not cells[1].startswith("POST /orders"):
                continue
            backend = "shipped" if cells[0].startswith("orderd as shipped") else cells[0]
            try:
                rps, p99 = float(cells[3]), float(cells[5])
            except ValueError:
                continue
            cpu = None if cells[10] in ("", "-") else float(cells[10])
            key = (cells[1], cells[2], int(cells[9]))
            rows[(backend,) + key] = (rps, p99, cpu)
            if backend == "shipped":
                shipped.append(key)
    return rows, shipped


def read_stalls(path):
    """{(scenario, keepalive, conns): the writer's slow commits as bench/run.sh wrote them}; empty without a file."""
    stalls = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                cells = line.rstrip("\n").split("\t")
                if len(cells) == 4 and cells[2].isdigit():
                    stalls[(cells[0], cells[1], int(cells[2]))] = cells[3]
    except OSError:
        pass
    return stalls


def slowest_commit_ms(stall):
    """The lower bound of the slowest commit's bucket in a writer_stalls reading, e.g. 50 for "slowest 50–100 ms"."""
    match = re.search(r"slowest ([0-9.]+)–", stall)
    return float(match.group(1)) if match else None


def verdict(ok):
    return "met" if ok else "not met"


def main():
    rows, shipped = read(sys.argv[1])
    stalls = read_stalls(sys.argv[2]) if len(sys.argv) > 2 else {}
    tally = [0, 0]

    def judge(ok):
        tally[0] += ok
        tally[1] += 1
        return verdict(ok)

    def served(backend, key):
        row = rows.get((backend,) + key)
        return row if row and row[0] > 0 else None

    def best_c(scenario, conns):
        """C's row with the most req/s for this scenario and connections, and its keepalive."""
        best = None
        for ka in ("off", "on"):
            row = served(C, (scenario, ka, conns))
            if row and (best is None or row[0] > best[0][0]):
                best = (row, ka)
        return best

    if not shipped:
        return 0
    print()
    print("## Against the goals")
    print()
    print("orderd as shipped, each figure divided by the peer's in this run (a peer that did not run or served nothing is left out).")
    print()

    lines = []
    for key in shipped:
        scenario, ka, conns = key
        rps, _, cpu = rows[("shipped",) + key]
        if cpu is None:
            continue
        parts = []
        for peer, limit in ((C, 1.5 if scenario == FULL else None), (GO, 1.0), (PHP, 1.0)):
            row = served(peer, key)
            if not row or not row[2] or limit is None:
                continue
            r = cpu / row[2]
            parts.append(f"{r:.2f}× {peer} ({row[2]:.0f} µs; {judge(r <= limit)})")
        if parts:
            lines.append(f"  - {conns} connections, keepalive {ka}, {scenario.split()[-1]}: {cpu:.0f} µs, " + ", ".join(parts))
    if lines:
        print("- CPU per order (at most 1.0× Go's and PHP-FPM's; at most 1.5× C's at FULL):")
        print("\n".join(lines))

    lines = []
    for scenario, goal, what in ((FULL, 1.5, "durable, FULL"), (NORMAL, 0.8, "non-durable, NORMAL")):
        for key in shipped:
            if key[0] != scenario:
                continue
            best = best_c(scenario, key[2])
            if not best:
                continue
            (c_rps, _, _), c_ka = best
            r = rows[("shipped",) + key][0] / c_rps
            lines.append(
                f"  - {what}, {key[2]} connections, keepalive {key[1]}: {rows[('shipped',) + key][0]:.0f} req/s, "
                f"{r:.2f}× C ({c_rps:.0f}, keepalive {c_ka}; at least {goal}×: {judge(r >= goal)})")
    if lines:
        print("- Throughput (durable at least 1.5× C's at FULL, non-durable at least 0.8× C's at NORMAL; C at its best keepalive setting):")
        print("\n".join(lines))

    lines = []
    for key in shipped:
        if key[1] != "off":
            continue
        c = served(C, key)
        if not c or c[1] <= 0:
            continue
        p99 = rows[("shipped",) + key][1]
        r = p99 / c[1]
        line = f"  - {key[2]} connections, {key[0].split()[-1]}: {p99:.2f} ms, {r:.2f}× C's {c[1]:.2f} ({judge(r <= 1.5)})"
        stall = stalls.get(key)
        if stall:
            line += f"; the writer's commits: {stall}"
            slowest = slowest_commit_ms(stall)
            if r > 1.5 and slowest is not None:
                # Measured (docs/performance.md): every row with a commit of 50 ms or more had a long p99, and those
                # commits wait in the kernel's write path (fsync, journal), not on orderd's CPU.
                line += (" — held by the disk: commits of 50 ms or more hold every order of their batch" if slowest >= 50
                         else " — not the writer (no commit of 50 ms or more): the CPU or the scheduler")
        lines.append(line)
    if lines:
        beside = "; the writer's commits over 25 ms beside each" if stalls else ""
        print(f"- Tail, keepalive off (p99 at most 1.5× C's in the same row{beside}):")
        print("\n".join(lines))

    print(f"\n{tally[0]} of {tally[1]} met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
