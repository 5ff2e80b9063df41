#!/usr/bin/env python3
"""Plot an `ncore sweep --json` result as three SVG files.

    plot_sweep.py SWEEP.json OUTDIR [--prefix NAME]

writes, in OUTDIR, NAME_throughput.svg (inferences/s against cores, a line
per mode), NAME_latency.svg (p50 solid and p99 dashed against cores, a line
per mode) and NAME_dram.svg (DRAM bytes per inference, bars per cores and
mode, log scale when the bars span more than 10x). NAME defaults to the JSON
file's base name. Points that failed are listed under each chart.

Standard library only: the SVG is written by hand, as bench/plot_compare.py
does, so no plotting package is needed.
"""
import json
import math
import os
import sys
from xml.sax.saxutils import escape

COLOURS = {"pipeline": "#4878d0", "data-parallel": "#ee854a", "single": "#6acc64"}
W, H = 640, 420
LEFT, RIGHT, TOP, BOTTOM = 80, 150, 56, 90  # margins around the plot area


def nice_ticks(hi, n=5):
    """Linear ticks from 0 to at least hi at a 1-2-5 step."""
    if hi <= 0:
        return [0, 1]
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return [k * step for k in range(int(math.ceil(hi / step - 1e-9)) + 1)]


def log_ticks(lo, hi):
    """Ticks from the power of ten below lo to the one above hi: 1-2-5 steps
    when that is at most three decades, else powers of ten."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    b = max(b, a + 1)
    mults = (1, 2, 5) if b - a <= 3 else (1,)
    return [m * 10.0 ** e for e in range(a, b + 1) for m in mults if m * 10.0 ** e <= 10.0 ** b]


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 1e6 and abs(v) < 1e9 or abs(v) < 1e-2:
        return f"{v:.3g}"
    return f"{v:,.6g}"


def fmt_bytes(b):
    for unit, s in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if b >= s:
            return f"{b / s:.3g} {unit}"
    return f"{b:.0f} B"


class Chart:
    def __init__(self, title, subtitle, ylabel, xlabel):
        self.s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
                  f'font-family="sans-serif" font-size="11">',
                  f'<rect width="{W}" height="{H}" fill="white"/>',
                  f'<text x="{LEFT}" y="20" font-size="14">{escape(title)}</text>',
                  f'<text x="{LEFT}" y="36" fill="#555">{escape(subtitle)}</text>',
                  f'<text x="{LEFT + (W - LEFT - RIGHT) / 2:.0f}" y="{H - BOTTOM + 34}" '
                  f'text-anchor="middle">{escape(xlabel)}</text>',
                  f'<text x="16" y="{TOP + (H - TOP - BOTTOM) / 2:.0f}" text-anchor="middle" '
                  f'transform="rotate(-90 16 {TOP + (H - TOP - BOTTOM) / 2:.0f})">{escape(ylabel)}</text>']
        self.x0, self.x1, self.y0, self.y1 = LEFT, W - RIGHT, TOP, H - BOTTOM

    def yaxis(self, ticks, y, label=fmt):
        for t in ticks:
            yy = y(t)
            self.s.append(f'<line x1="{self.x0}" x2="{self.x1}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
            self.s.append(f'<text x="{self.x0 - 6}" y="{yy + 4:.1f}" text-anchor="end">{escape(label(t))}</text>')
        self.s.append(f'<line x1="{self.x0}" x2="{self.x0}" y1="{self.y0}" y2="{self.y1}" stroke="#000"/>')
        self.s.append(f'<line x1="{self.x0}" x2="{self.x1}" y1="{self.y1}" y2="{self.y1}" stroke="#000"/>')

    def legend(self, items):
        y = self.y0 + 4
        for label, colour, dash in items:
            if dash == "box":
                self.s.append(f'<rect x="{self.x1 + 16}" y="{y - 5}" width="14" height="10" fill="{colour}"/>')
            else:
                d = f' stroke-dasharray="{dash}"' if dash else ""
                self.s.append(f'<line x1="{self.x1 + 12}" x2="{self.x1 + 36}" y1="{y}" y2="{y}" '
                              f'stroke="{colour}" stroke-width="2"{d}/>')
            self.s.append(f'<text x="{self.x1 + 40}" y="{y + 4}">{escape(label)}</text>')
            y += 18

    def notes(self, lines):
        y = H - BOTTOM + 52
        for line in lines[:3]:
            self.s.append(f'<text x="{LEFT}" y="{y}" fill="#a33">{escape(line)}</text>')
            y += 14

    def write(self, path):
        self.s.append("</svg>")
        with open(path, "w") as f:
            f.write("\n".join(self.s) + "\n")
        print(f"wrote {path}")


def modes_of(points):
    out = []
    for p in points:
        if p["mode"] not in out:
            out.append(p["mode"])
    return out


def failed_notes(points):
    by_mode = {}
    for p in points:
        if not p["ok"]:
            by_mode.setdefault(p["mode"], []).append(str(p["cores"]))
    return [f"not run: {m} over {', '.join(c)} core{'s' if c != ['1'] else ''} (errors in the JSON)"
            for m, c in by_mode.items()]


def subtitle(data):
    arr = data["arrival"] + (f" at {data['rate_per_s']:g}/s" if "rate_per_s" in data else "")
    return (f"{os.path.basename(data['model'])} on {os.path.basename(data['target'])}, "
            f"{data['requests']} requests per point, {arr} (simulated)")


def cores_axis(chart, cores):
    """x: cores on a log2 scale (1, 2, 4, ... equally spaced); returns x(c)."""
    lo, hi = min(cores), max(cores)
    span = math.log2(hi / lo) if hi > lo else 1.0
    pad = 0.06 * (chart.x1 - chart.x0)

    def x(c):
        return chart.x0 + pad + (chart.x1 - chart.x0 - 2 * pad) * (math.log2(c / lo) / span if hi > lo else 0.5)

    for c in cores:
        xx = x(c)
        chart.s.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{chart.y1}" y2="{chart.y1 + 4}" stroke="#000"/>')
        chart.s.append(f'<text x="{xx:.1f}" y="{chart.y1 + 16}" text-anchor="middle">{c}</text>')
    return x


def y_scale(c, pos, top, log_ratio):
    """Ticks, the value -> y function of chart c and whether it is
    logarithmic: so when the positive values span more than log_ratio, else
    linear from 0 to top."""
    if pos and max(pos) / min(pos) > log_ratio:
        ticks = log_ticks(min(pos), max(pos))
        lo, hi = math.log10(ticks[0]), math.log10(ticks[-1])

        def y(v):
            return c.y1 - (c.y1 - c.y0) * (math.log10(max(v, ticks[0])) - lo) / (hi - lo)
    else:
        ticks = nice_ticks(top)

        def y(v):
            return c.y1 - (c.y1 - c.y0) * v / ticks[-1]
    return ticks, y, bool(pos) and max(pos) / min(pos) > log_ratio


def line_chart(data, path, title, ylabel, series):
    """series: [(label, mode, dash, value(point))]; a line per entry over the ok points."""
    pts = data["points"]
    ok = [p for p in pts if p["ok"]]
    cores = sorted({p["cores"] for p in pts})
    vals = [f(p) for _, m, _, f in series for p in ok if p["mode"] == m]
    c = Chart(title, subtitle(data), ylabel, "NeuronCores")
    pos = [v for v in vals if v > 0]
    ticks, y, logy = y_scale(c, pos, max(vals) if vals else 1, 50)
    c.yaxis(ticks, y)
    x = cores_axis(c, cores)
    legend = []
    for label, mode, dash, f in reversed(series):  # the first mode drawn last, on top
        mp = sorted((p for p in ok if p["mode"] == mode), key=lambda p: p["cores"])
        if not mp:
            continue
        colour = COLOURS.get(mode, "#888")
        xy = " ".join(f"{x(p['cores']):.1f},{y(f(p)):.1f}" for p in mp)
        d = f' stroke-dasharray="{dash}"' if dash else ""
        c.s.append(f'<polyline points="{xy}" fill="none" stroke="{colour}" stroke-width="2"{d}/>')
        for p in mp:
            c.s.append(f'<circle cx="{x(p["cores"]):.1f}" cy="{y(f(p)):.1f}" r="3" fill="{colour}">'
                       f'<title>{escape(label)}, {p["cores"]} cores: {fmt(f(p))}</title></circle>')
        legend.append((label, colour, dash))
    c.legend(legend[::-1])
    c.notes(failed_notes(pts) + (["log scale"] if logy else []))
    c.write(path)


def dram_chart(data, path):
    pts = data["points"]
    ok = [p for p in pts if p["ok"]]
    modes = modes_of(pts)
    cores = sorted({p["cores"] for p in ok}) or [1]
    val = {(p["mode"], p["cores"]): p["per_inference"]["dram_bytes"] for p in ok}
    top_v = max(val.values(), default=1)
    unit, scale = next(((u, s) for u, s in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)) if top_v >= s),
                       ("B", 1))
    c = Chart("DRAM bytes per inference by mode (lower is better)", subtitle(data), f"{unit} per inference",
              "NeuronCores")
    pos = [v / scale for v in val.values() if v > 0]
    ticks, y, logy = y_scale(c, pos, max(pos) if pos else 1, 10)
    c.yaxis(ticks, y)
    gw = (c.x1 - c.x0) / len(cores)
    bw = min(40, (gw - 12) / max(1, len(modes)))
    for i, n in enumerate(cores):
        here = [m for m in modes if (m, n) in val]  # bars side by side, centred on the group
        gx = c.x0 + (i + 0.5) * gw - bw * len(here) / 2
        for k, m in enumerate(here):
            v = val[(m, n)]
            top = y(v / scale) if v > 0 else c.y1
            xx = gx + k * bw
            c.s.append(f'<rect x="{xx:.1f}" y="{top:.1f}" width="{bw - 2:.1f}" height="{max(c.y1 - top, 1):.1f}" '
                       f'fill="{COLOURS.get(m, "#888")}"><title>{escape(m)}, {n} cores: '
                       f'{fmt_bytes(v)}</title></rect>')
            c.s.append(f'<text x="{xx + (bw - 2) / 2:.1f}" y="{top - 3:.1f}" text-anchor="middle" '
                       f'font-size="9">{v / scale:.3g}</text>')
        c.s.append(f'<text x="{c.x0 + (i + 0.5) * gw:.1f}" y="{c.y1 + 16}" text-anchor="middle">{n}</text>')
    c.legend([(m, COLOURS.get(m, "#888"), "box") for m in modes])
    c.notes(failed_notes(pts) + (["log scale"] if logy else []))
    c.write(path)


def main():
    args = sys.argv[1:]
    prefix = None
    if "--prefix" in args:
        i = args.index("--prefix")
        if i + 1 >= len(args):
            sys.exit(__doc__)
        prefix = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or args[0].startswith("-"):
        sys.exit(__doc__)
    with open(args[0]) as f:
        data = json.load(f)
    if data.get("kind") != "sweep" or not isinstance(data.get("points"), list):
        sys.exit(f"{args[0]}: not an `ncore sweep --json` result")
    os.makedirs(args[1], exist_ok=True)
    name = prefix or os.path.splitext(os.path.basename(args[0]))[0]
    out = os.path.join(args[1], name)
    line_chart(data, out + "_throughput.svg", "Throughput against cores (higher is better)", "inferences/s",
               [(m, m, None, lambda p: p["throughput_per_s"]) for m in modes_of(data["points"])])
    series = []
    for m in modes_of(data["points"]):
        series.append((f"{m} p50", m, None, lambda p: p["latency_us"]["p50"] / 1e3))
        series.append((f"{m} p99", m, "5,3", lambda p: p["latency_us"]["p99"] / 1e3))
    line_chart(data, out + "_latency.svg", "Latency against cores (lower is better)", "latency (ms)", series)
    dram_chart(data, out + "_dram.svg")


if __name__ == "__main__":
    main()
