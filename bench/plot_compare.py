#!/usr/bin/env python3
"""Plot bench/compare's ratios as SVG, or print them as a Markdown table.

    plot_compare.py COMPARE.json OUT.svg    bar chart of ncore/ORT median latency
    plot_compare.py --table COMPARE.json    the table of docs/PERFORMANCE.md

Standard library only: the SVG is written by hand (a few rects and lines),
so no plotting package is needed on the benchmark machine.
"""
import json
import math
import sys
from xml.sax.saxutils import escape

# Colours per (threads, batch) configuration.
CONFIGS = [(1, 1, "#4878d0"), (2, 1, "#ee854a"), (1, 8, "#6acc64"), (2, 8, "#d65f5f")]


def load(path):
    with open(path) as f:
        return json.load(f)


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def table(data):
    m = data["machine"]
    print(f"Machine: {m['cpu']}, {m['cores']} cores; measured FMA peak "
          f"{m['fma_peak_gflops']} GFLOP/s ({m['fma_isa']}, 1 core). "
          f"ncore {data['ncore_version']}, ONNX Runtime {data['ort_version']}, {data['date']}.")
    print()
    print("| model | threads | batch | ncore ms (p50 / p90) | ORT ms (p50 / p90) | ratio | "
          "ncore / ORT inf/s | ncore GFLOP/s (% peak) | load ms ncore / ORT | "
          "peak RSS MiB ncore / ORT |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in data["results"]:
        if "skipped" in r:
            continue
        if "error" in r:
            print(f"| {r['model']} | {r['threads']} | {r['batch']} | error: "
                  f"{r['error'][:80]} | | | | | | |")
            continue
        n, o = r["ncore"], r["ort"]
        g = n["gflops_per_s"]
        pk = f" ({100 * g / m['fma_peak_gflops']:.0f}%)" if g and m["fma_peak_gflops"] else ""
        print(f"| {r['model']} | {r['threads']} | {r['batch']} "
              f"| {fmt(n['median_ms'], '.2f')} / {fmt(n['p90_ms'], '.2f')} "
              f"| {fmt(o['median_ms'], '.2f')} / {fmt(o['p90_ms'], '.2f')} "
              f"| **{fmt(r['ratio_median'], '.2f')}** "
              f"| {fmt(n['throughput_per_s'], '.1f')} / {fmt(o['throughput_per_s'], '.1f')} "
              f"| {fmt(g, '.1f')}{pk} "
              f"| {fmt(n['load_ms'], '.0f')} / {fmt(o['load_ms'], '.0f')} "
              f"| {fmt(n['peak_rss_mib'], '.0f')} / {fmt(o['peak_rss_mib'], '.0f')} |")
    skipped = [r for r in data["results"] if "skipped" in r]
    if skipped:
        print()
        for r in skipped:
            print(f"- {r['model']} at batch {r['batch']}: not run ({r['skipped']})")


def plot(data, out):
    rows = [r for r in data["results"] if "ratio_median" in r and r["ratio_median"]]
    models = []
    for r in rows:
        if r["model"] not in models:
            models.append(r["model"])
    ratio = {(r["model"], r["threads"], r["batch"]): r["ratio_median"] for r in rows}
    # Log scale: ratios span 0.3x to 20x and equal factors should look equal.
    lo = min([0.5] + list(ratio.values()))
    hi = max([2.0] + list(ratio.values()))
    lo, hi = 2 ** math.floor(math.log2(lo)), 2 ** math.ceil(math.log2(hi))
    left, top, plot_h, group_w, bar_w = 70, 50, 320, 22 * len(CONFIGS) + 18, 22
    right = left + group_w * max(1, len(models))  # plot area ends here; labels beyond
    width = right + 100
    height = top + plot_h + 110

    def y(v):
        return top + plot_h * (math.log2(hi) - math.log2(v)) / (math.log2(hi) - math.log2(lo))

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'font-family="sans-serif" font-size="11">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{left}" y="20" font-size="14">ncore / ONNX Runtime {escape(data["ort_version"])}'
         f' median latency (lower is better; below 1 = ncore faster)</text>',
         f'<text x="{left}" y="36" fill="#555">{escape(data["machine"]["cpu"])}, '
         f'{data["machine"]["cores"]} cores, {escape(data["date"])}</text>']
    v = lo
    while v <= hi * 1.0001:
        yy = y(v)
        s.append(f'<line x1="{left}" x2="{right}" y1="{yy:.1f}" y2="{yy:.1f}" '
                 f'stroke="#ddd"/>')
        s.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:g}</text>')
        v *= 2
    for ref, colour, label in ((1.0, "#000", "parity"), (0.75, "#888", "CNN target")):
        if lo <= ref <= hi:
            yy = y(ref)
            s.append(f'<line x1="{left}" x2="{right}" y1="{yy:.1f}" y2="{yy:.1f}" '
                     f'stroke="{colour}" stroke-dasharray="4,3"/>')
            s.append(f'<text x="{right + 4}" y="{yy + 4:.1f}" fill="{colour}">{label}</text>')
    base = y(1.0) if lo <= 1.0 <= hi else top + plot_h
    for i, m in enumerate(models):
        gx = left + i * group_w + 9
        for k, (t, b, colour) in enumerate(CONFIGS):
            r = ratio.get((m, t, b))
            if r is None:
                continue
            yy = y(r)
            y0, y1 = min(yy, base), max(yy, base)
            x = gx + k * bar_w
            s.append(f'<rect x="{x}" y="{y0:.1f}" width="{bar_w - 3}" height="{max(y1 - y0, 1):.1f}" '
                     f'fill="{colour}"><title>{escape(m)} t={t} b={b}: {r:.2f}</title></rect>')
        lx, ly = gx + group_w / 2 - 9, top + plot_h + 12
        s.append(f'<text x="{lx:.0f}" y="{ly}" text-anchor="end" '
                 f'transform="rotate(-35 {lx:.0f} {ly})">{escape(m)}</text>')
    lx = left
    for t, b, colour in CONFIGS:
        s.append(f'<rect x="{lx}" y="{height - 18}" width="12" height="10" fill="{colour}"/>')
        s.append(f'<text x="{lx + 16}" y="{height - 9}">{t} thread{"s" if t > 1 else ""}, '
                 f'batch {b}</text>')
        lx += 130
    s.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(s) + "\n")
    print(f"wrote {out}")


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--table":
        table(load(args[1]))
    elif len(args) == 2 and not args[0].startswith("-"):
        plot(load(args[0]), args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
