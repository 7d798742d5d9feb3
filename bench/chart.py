#!/usr/bin/env python3
"""Draw the bench's chart: horizontal bars of req/s and of CPU µs/order per backend, from one run's rows.

    bench/chart.py ROWS.tsv OUT.svg --conns 16 --keepalive off --title "..."

ROWS.tsv is bench/run.sh's rows file (tab-separated: backend scenario keepalive rps p50 p99 non2xx errors
total conns cpu_us). Only the POST /orders rows at the given connections and keepalive are drawn, in the
order they ran. Standard library only; the SVG is self-contained (no fonts or scripts fetched). Exits 1
when no row matches, so the caller can say there is no chart rather than link an empty one.
"""
import argparse
import html
import sys

COLORS = {"C": "#4c72b0", "Go": "#55a868", "PHP-FPM": "#8172b2", "orderd as shipped": "#c44e52", "orderd": "#dd8452"}


def color(backend):
    for prefix, c in COLORS.items():
        if backend.startswith(prefix):
            return c
    return "#777777"


def short(backend):
    # "orderd as shipped (16 threads, log.level=info)" is too long for a bar label
    return backend.split(" (")[0]


def panel(rows, key, unit, better, y0, width):
    label_w, value_w, bar_h, gap = 300, 90, 18, 6
    out = [f'<text x="10" y="{y0 + 16}" font-size="14" font-weight="bold">{html.escape(unit)}'
           f' <tspan font-weight="normal" fill="#555">({better})</tspan></text>']
    values = [r[key] for r in rows if r[key] is not None]
    top = max(values) if values else 1
    scale = (width - label_w - value_w - 20) / (top or 1)
    y = y0 + 28
    for r in rows:
        v = r[key]
        name = f'{short(r["backend"])} · {r["scenario"].replace("POST /orders ", "")}'
        out.append(f'<text x="{label_w - 8}" y="{y + 13}" font-size="12" text-anchor="end">{html.escape(name)}</text>')
        if v is None:
            out.append(f'<text x="{label_w + 4}" y="{y + 13}" font-size="12" fill="#999">no figure</text>')
        else:
            w = max(1.0, v * scale)
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color(r["backend"])}"/>')
            out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 13}" font-size="12">{v:,.0f}</text>')
        y += bar_h + gap
    return out, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows")
    ap.add_argument("out")
    ap.add_argument("--conns", default="16")
    ap.add_argument("--keepalive", default="off")
    ap.add_argument("--title", default="orderd benchmark")
    a = ap.parse_args()

    rows = []
    with open(a.rows, encoding="utf-8") as f:
        for line in f:
            c = line.rstrip("\n").split("\t")
            if len(c) < 11 or c[9] != a.conns or c[2] != a.keepalive or not c[1].startswith("POST /orders"):
                continue
            num = lambda s: None if s in ("", "-") else float(s)
            rows.append({"backend": c[0], "scenario": c[1], "rps": num(c[3]), "cpu": num(c[10])})
    if not rows:
        print(f"chart: no POST /orders rows at {a.conns} connections, keepalive {a.keepalive} in this run", file=sys.stderr)
        return 1

    width = 900
    body = [f'<text x="10" y="22" font-size="16" font-weight="bold">{html.escape(a.title)}</text>']
    part, y = panel(rows, "rps", "req/s", "higher is better", 34, width)
    body += part
    part, y = panel(rows, "cpu", "CPU µs/order", "backend processes' utime + stime ÷ requests; lower is better", y + 14, width)
    body += part
    height = y + 10
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
           f' font-family="DejaVu Sans, Arial, sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
           + "\n".join(body) + "\n</svg>\n")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
