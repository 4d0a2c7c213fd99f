#!/usr/bin/env python3
"""Medians, ratios and a chart from scripts/load.sh's TSV.

usage: chart.py LOAD_TSV OUT_SVG

Prints a Markdown table (median requests/s per body size and server, and the ratios to
the bare handler) and writes an SVG line chart of requests/s by body size, drawn by hand
so that nothing beyond python3 is needed.
"""
import math
import statistics
import sys
from collections import defaultdict

MODES = ["bare", "verify", "scan", "typed", "hookguard", "naive"]
COLOURS = {
    "bare": "#555555",
    "verify": "#2ca02c",
    "scan": "#9467bd",
    "typed": "#ff7f0e",
    "hookguard": "#1f77b4",
    "naive": "#d62728",
}


def size_label(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size:,} B"


def read(path):
    """The notes, and requests/s by (size, mode) and run."""
    notes, runs = [], defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                notes.append(line[1:].strip())
            elif line and not line.startswith("size"):
                size, mode, run, rps, _p50, _p99 = line.split("\t")
                runs[(int(size), mode)][run] = float(rps)
    return notes, runs


def table(notes, runs):
    """Medians per size and server, their ratios to bare, and the spread of the
    hookguard / bare ratio between runs (the servers take turns within a run)."""
    sizes = sorted({size for size, _ in runs})
    modes = [m for m in MODES if any(mode == m for _, mode in runs)]
    others = [m for m in modes if m != "bare"]
    out = [f"<!-- {note} -->" for note in notes]
    header = ["body"] + [f"{m} req/s" for m in modes] + [f"{m} / bare" for m in others]
    paired = "hookguard" in modes and "bare" in modes
    if paired:
        header.append("hookguard / bare, each run")
    header.append("runs")
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---:|" * len(header))
    medians = {}
    for size in sizes:
        row = {m: statistics.median(runs[(size, m)].values()) for m in modes if runs.get((size, m))}
        medians[size] = row
        bare = row.get("bare")
        cells = [size_label(size)]
        cells += [f"{row[m]:,.0f}" if m in row else "-" for m in modes]
        cells += [f"{row[m] / bare:.2f}x" if bare and m in row else "-" for m in others]
        if paired:
            each = [
                rps / runs[(size, "bare")][run]
                for run, rps in sorted(runs.get((size, "hookguard"), {}).items())
                if run in runs.get((size, "bare"), {})
            ]
            cells.append(f"{min(each):.2f}–{max(each):.2f}" if each else "-")
        cells.append(str(len(runs.get((size, "bare"), {}))))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out), medians


def svg(medians, path):
    width, height = 720, 420
    left, right, top, bottom = 80, 150, 30, 60
    sizes = sorted(medians)
    values = [v for row in medians.values() for v in row.values()]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    xs = {s: left + (width - left - right) * (i / max(1, len(sizes) - 1)) for i, s in enumerate(sizes)}

    def y(v):
        return top + (height - top - bottom) * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14">'
        "Requests/s by body size over loopback (median; log scales)</text>",
    ]
    decade = lo
    while decade <= hi:
        for m in (1, 2, 5):
            v = decade * m
            if lo <= v <= hi:
                parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
                parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
        decade *= 10
    for s in sizes:
        parts.append(f'<line x1="{xs[s]:.1f}" x2="{xs[s]:.1f}" y1="{top}" y2="{height - bottom}" stroke="#eee"/>')
        parts.append(f'<text x="{xs[s]:.1f}" y="{height - bottom + 18}" text-anchor="middle">{size_label(s)}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 15}" text-anchor="middle">body size</text>')
    parts.append(f'<text x="18" y="{(top + height - bottom) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 18 {(top + height - bottom) / 2})">requests/s</text>')
    drawn = [m for m in MODES if any(m in row for row in medians.values())]
    for i, mode in enumerate(drawn):
        points = [(xs[s], y(medians[s][mode])) for s in sizes if mode in medians[s]]
        if not points:
            continue
        colour = COLOURS[mode]
        parts.append('<polyline fill="none" stroke-width="2" stroke="{}" points="{}"/>'.format(
            colour, " ".join(f"{px:.1f},{py:.1f}" for px, py in points)))
        for px, py in points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
        ly = top + 20 + 20 * i
        parts.append(f'<line x1="{width - right + 15}" x2="{width - right + 40}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 45}" y="{ly + 4}">{mode}</text>')
    parts.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts) + "\n")


def main():
    notes, runs = read(sys.argv[1])
    text, medians = table(notes, runs)
    print(text)
    svg(medians, sys.argv[2])


if __name__ == "__main__":
    main()
