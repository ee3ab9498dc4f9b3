"""Static inline SVG charts for the report (no JavaScript, no external resources).

Every function returns an ``<svg>`` string; all text is HTML-escaped. Colours: real data blue,
synthetic data orange.
"""

from __future__ import annotations

import math
from html import escape

REAL = "#3b6fb6"
SYNTH = "#e0823d"
GRID = "#d9dee5"
INK = "#26313d"
MUTED = "#6b7785"


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4g}"


def score_colour(score: float | None) -> str:
    """Red → amber → green along 0–10."""
    if score is None:
        return "#9aa5b1"
    if score < 4:
        return "#c8453b"
    if score < 6:
        return "#e09b2d"
    if score < 8:
        return "#8bb04a"
    return "#2f9e5b"


def gauge(score: float | None, label: str, grade: str | None, size: int = 200) -> str:
    """A half-circle gauge with the score in the middle."""
    w, h = size, int(size * 0.62)
    cx, cy, r = w / 2, h * 0.86, size * 0.4
    stroke = size * 0.09

    def arc(frac: float) -> str:
        ang = math.pi * (1 - frac)
        x, y = cx + r * math.cos(ang), cy - r * math.sin(ang)
        return f"M {cx - r:.1f} {cy:.1f} A {r:.1f} {r:.1f} 0 0 1 {x:.1f} {y:.1f}"

    frac = 0.0 if score is None else max(0.0, min(1.0, score / 10))
    value = "n/a" if score is None else f"{score:.1f}"
    parts = [
        f'<svg class="gauge" role="img" aria-label="{escape(label)} {value}" width="{w}" height="{h + 34}" '
        f'viewBox="0 0 {w} {h + 34}" xmlns="http://www.w3.org/2000/svg">',
        f'<path d="{arc(1.0)}" fill="none" stroke="{GRID}" stroke-width="{stroke:.1f}" stroke-linecap="round"/>',
    ]
    if frac > 0:
        parts.append(
            f'<path d="{arc(frac)}" fill="none" stroke="{score_colour(score)}" stroke-width="{stroke:.1f}" '
            'stroke-linecap="round"/>'
        )
    parts += [
        f'<text x="{cx}" y="{cy - 4:.1f}" text-anchor="middle" font-size="{size * 0.2:.0f}" font-weight="700" '
        f'fill="{INK}">{value}</text>',
        f'<text x="{cx}" y="{h + 12}" text-anchor="middle" font-size="13" font-weight="600" fill="{INK}">'
        f"{escape(label)}</text>",
        f'<text x="{cx}" y="{h + 28}" text-anchor="middle" font-size="12" fill="{MUTED}">{escape(grade or "")}</text>',
        "</svg>",
    ]
    return "".join(parts)


def score_bar(score: float | None, width: int = 160) -> str:
    """A small horizontal 0–10 bar."""
    frac = 0.0 if score is None else max(0.0, min(1.0, score / 10))
    return (
        f'<svg width="{width}" height="12" viewBox="0 0 {width} 12" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="0" y="2" width="{width}" height="8" rx="4" fill="{GRID}"/>'
        f'<rect x="0" y="2" width="{width * frac:.1f}" height="8" rx="4" fill="{score_colour(score)}"/></svg>'
    )


def legend(width: int = 260, labels: tuple[str, str] = ("training (real)", "synthetic")) -> str:
    """Real/synthetic colour legend."""
    return (
        f'<svg width="{width}" height="18" viewBox="0 0 {width} 18" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="0" y="4" width="12" height="10" fill="{REAL}"/>'
        f'<text x="17" y="13" font-size="12" fill="{INK}">{escape(labels[0])}</text>'
        f'<rect x="{width / 2:.0f}" y="4" width="12" height="10" fill="{SYNTH}"/>'
        f'<text x="{width / 2 + 17:.0f}" y="13" font-size="12" fill="{INK}">{escape(labels[1])}</text></svg>'
    )


def paired_bars(
    labels: list[str],
    a: list[float],
    b: list[float],
    *,
    width: int = 340,
    height: int = 170,
    rotate_labels: bool = True,
    x_caption: str | None = None,
) -> str:
    """Grouped bars of two share vectors (real vs synthetic) over the same categories or bins."""
    n = max(len(labels), 1)
    left, right, top = 34, 6, 8
    bottom = 58 if rotate_labels else 24
    pw, ph = width - left - right, height - top - bottom
    vmax = max([*a, *b, 1e-9])
    slot = pw / n
    bw = max(slot * 0.4, 0.6)
    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        'class="chart">'
    ]
    for k in range(3):
        y = top + ph * k / 2
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" fill="{MUTED}">'
            f"{vmax * (1 - k / 2):.0%}</text>"
        )
    for i in range(len(labels)):
        x0 = left + i * slot + (slot - 2 * bw) / 2
        for j, (vals, colour) in enumerate(((a, REAL), (b, SYNTH))):
            v = vals[i] if i < len(vals) else 0.0
            bh = ph * v / vmax
            out.append(
                f'<rect x="{x0 + j * bw:.1f}" y="{top + ph - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                f'fill="{colour}"><title>{escape(labels[i])}: {v:.1%}</title></rect>'
            )
        if rotate_labels:
            lx, ly = left + (i + 0.5) * slot, top + ph + 8
            out.append(
                f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" fill="{INK}" text-anchor="end" '
                f'transform="rotate(-40 {lx:.1f} {ly:.1f})">{escape(labels[i][:18])}</text>'
            )
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + ph}" y2="{top + ph}" stroke="{MUTED}"/>')
    if x_caption:
        out.append(
            f'<text x="{left + pw / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="10" fill="{MUTED}">'
            f"{escape(x_caption)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def histogram(
    edges: list[float], a: list[float], b: list[float], *, width: int = 340, height: int = 150
) -> str:
    """Two histograms (shares per bin) on shared bins, with the range as the caption."""
    labels = [f"{_fmt(edges[i])}–{_fmt(edges[i + 1])}" for i in range(len(edges) - 1)]
    caption = f"{_fmt(edges[0])} … {_fmt(edges[-1])}" if edges else None
    return paired_bars(labels, a, b, width=width, height=height, rotate_labels=False, x_caption=caption)


def _diverging(v: float) -> str:
    v = max(-1.0, min(1.0, v))
    if v >= 0:
        r, g, bl = 255 - int(200 * v), 255 - int(140 * v), 255 - int(60 * v)
    else:
        r, g, bl = 255 - int(40 * -v), 255 - int(170 * -v), 255 - int(190 * -v)
    return f"rgb({r},{g},{bl})"


def _sequential(v: float) -> str:
    v = max(0.0, min(1.0, v))
    return f"rgb({255 - int(60 * v)},{255 - int(200 * v)},{255 - int(210 * v)})"


def heatmap(
    matrix: list[list[float]],
    names: list[str],
    title: str,
    *,
    diverging: bool = True,
    cell: int | None = None,
) -> str:
    """A correlation heatmap with column labels; values in a tooltip per cell."""
    n = len(names)
    cell = cell or max(6, min(22, 420 // max(n, 1)))
    pad = 8 + min(max((len(s) for s in names), default=4), 16) * 6
    top = 20 + pad
    width = pad + n * cell + 6
    height = top + n * cell + 6
    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" class="chart">',
        f'<text x="{width / 2:.0f}" y="13" text-anchor="middle" font-size="12" font-weight="600" fill="{INK}">'
        f"{escape(title)}</text>",
    ]
    for i in range(n):
        for j in range(n):
            v = matrix[i][j]
            colour = _diverging(v) if diverging else _sequential(v)
            out.append(
                f'<rect x="{pad + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" fill="{colour}">'
                f"<title>{escape(names[i])} / {escape(names[j])}: {v:.3f}</title></rect>"
            )
    fs = max(7, min(11, cell - 2))
    for i, name in enumerate(names):
        label = escape(name[:16])
        out.append(
            f'<text x="{pad - 3}" y="{top + i * cell + cell * 0.75:.1f}" text-anchor="end" font-size="{fs}" '
            f'fill="{INK}">{label}</text>'
        )
        tx, ty = pad + i * cell + cell * 0.7, top - 3
        out.append(
            f'<text x="{tx:.1f}" y="{ty}" font-size="{fs}" fill="{INK}" transform="rotate(-60 {tx:.1f} {ty})">'
            f"{label}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def density(
    grid: list[list[float]],
    x_range: list[float],
    y_range: list[float],
    title: str,
    colour: str,
    *,
    size: int = 260,
) -> str:
    """Binned 2-D density as circles (area ∝ share per cell)."""
    n = len(grid)
    pad = 28
    cell = (size - pad) / max(n, 1)
    vmax = max((v for row in grid for v in row), default=0) or 1.0
    out = [
        f'<svg width="{size}" height="{size + 18}" viewBox="0 0 {size} {size + 18}" '
        'xmlns="http://www.w3.org/2000/svg" class="chart">',
        f'<text x="{size / 2:.0f}" y="13" text-anchor="middle" font-size="12" font-weight="600" fill="{INK}">'
        f"{escape(title)}</text>",
        f'<rect x="{pad}" y="18" width="{size - pad}" height="{size - pad}" fill="none" stroke="{GRID}"/>',
    ]
    for i in range(n):
        for j in range(len(grid[i])):
            v = grid[i][j]
            if v <= 0:
                continue
            rad = 0.5 * cell * math.sqrt(v / vmax) * 1.1
            cx = pad + (i + 0.5) * cell
            cy = 18 + (size - pad) - (j + 0.5) * cell
            out.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{rad:.2f}" fill="{colour}" fill-opacity="0.75"/>'
            )
    out.append(
        f'<text x="{pad + (size - pad) / 2:.0f}" y="{size + 14}" text-anchor="middle" font-size="10" fill="{MUTED}">'
        f"PC1 ({_fmt(x_range[0])} … {_fmt(x_range[1])})</text>"
    )
    out.append(
        f'<text x="10" y="{18 + (size - pad) / 2:.0f}" font-size="10" fill="{MUTED}" text-anchor="middle" '
        f'transform="rotate(-90 10 {18 + (size - pad) / 2:.0f})">PC2</text>'
    )
    out.append("</svg>")
    return "".join(out)


def hbars(
    items: list[tuple[str, float | None]], *, width: int = 420, vmax: float = 10.0, fmt: str = "{:.1f}"
) -> str:
    """Horizontal bars, one per (label, value); colour by 0–10 score."""
    row = 18
    lw = 150
    height = row * max(len(items), 1) + 6
    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" class="chart">'
    ]
    for i, (label, v) in enumerate(items):
        y = 3 + i * row
        out.append(
            f'<text x="{lw - 6}" y="{y + 12}" text-anchor="end" font-size="11" fill="{INK}">{escape(label[:24])}</text>'
        )
        bw = 0 if v is None else (width - lw - 44) * max(0.0, min(1.0, v / vmax))
        out.append(f'<rect x="{lw}" y="{y + 2}" width="{width - lw - 44}" height="12" fill="{GRID}" rx="2"/>')
        out.append(
            f'<rect x="{lw}" y="{y + 2}" width="{bw:.1f}" height="12" fill="{score_colour(v if vmax == 10 else None)}" rx="2"/>'
        )
        out.append(
            f'<text x="{width - 38}" y="{y + 12}" font-size="11" fill="{INK}">{"n/a" if v is None else fmt.format(v)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def stacked_bar(parts: list[tuple[str, float, str]], *, width: int = 420) -> str:
    """One 100% bar split into labelled shares (label, share, colour)."""
    out = [
        f'<svg width="{width}" height="44" viewBox="0 0 {width} 44" xmlns="http://www.w3.org/2000/svg" class="chart">'
    ]
    x = 0.0
    for label, share, colour in parts:
        w = width * share
        if w <= 0:
            continue
        out.append(
            f'<rect x="{x:.1f}" y="2" width="{w:.1f}" height="18" fill="{colour}"><title>{escape(label)}: {share:.0%}</title></rect>'
        )
        if w > 60:
            out.append(
                f'<text x="{x + 4:.1f}" y="15" font-size="11" fill="#fff">{escape(label)} {share:.0%}</text>'
            )
        x += w
    legend_x = 0
    for label, _share, colour in parts:
        out.append(f'<rect x="{legend_x}" y="28" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{legend_x + 13}" y="37" font-size="10" fill="{INK}">{escape(label)}</text>')
        legend_x += 13 + 7 * len(label) + 12
    out.append("</svg>")
    return "".join(out)
