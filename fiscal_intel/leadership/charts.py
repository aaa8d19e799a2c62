"""Inline SVG charts for the leadership report: no JavaScript, no web fonts, no network.

Why hand-written SVG: the report must be one file that opens offline on any machine (an email
attachment, a USB stick at the council), so no charting library from a CDN; and SVG stays sharp
when printed. Two shapes cover the report: columns per category (bars grouped or stacked, lines,
points with an interval) and horizontal bars for ranked categories.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# Okabe-Ito: distinguishable with the common colour-vision deficiencies, and in grey print.
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999",
)  # fmt: skip
INK, MUTED, GRID = "#222222", "#555555", "#DDDDDD"

Number = float | int | None
Formatter = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One series of a column chart, one value per category (None: no value)."""

    label: str
    values: Sequence[Number]
    color: str
    kind: str = "bar"  # bar, line or point
    axis: str = "left"  # left (amounts) or right (rates)
    lower: Sequence[Number] | None = None  # interval around a point
    upper: Sequence[Number] | None = None
    dashed: bool = False


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values spanning [lo, hi] (lo is usually 0)."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t < hi + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        f'class="chart"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, s: str, *, anchor: str = "middle", size: int = 12,
          color: str = MUTED, weight: str = "normal") -> str:  # fmt: skip
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{color}" font-weight="{weight}">{escape(s)}</text>'
    )


def _legend(series: Sequence[Series], x0: float, y: float, width: float) -> list[str]:
    out, x = [], x0
    for s in series:
        label_w = 7 * len(s.label) + 28
        if x + label_w > x0 + width:
            x, y = x0, y + 18
        if s.kind == "line":
            dash = ' stroke-dasharray="5 3"' if s.dashed else ""
            out.append(
                f'<line x1="{x}" y1="{y - 4}" x2="{x + 16}" y2="{y - 4}" stroke="{s.color}" '
                f'stroke-width="2.5"{dash}/>'
            )
        elif s.kind == "point":
            out.append(f'<circle cx="{x + 8}" cy="{y - 4}" r="4.5" fill="{s.color}"/>')
        else:
            out.append(f'<rect x="{x}" y="{y - 11}" width="16" height="12" fill="{s.color}"/>')
        out.append(_text(x + 22, y, s.label, anchor="start", size=12, color=INK))
        x += label_w
    return out


def column_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    left_format: Formatter,
    right_format: Formatter | None = None,
    stacked: bool = False,
    width: int = 980,
    height: int = 320,
) -> str:
    """Bars (grouped, or stacked), lines and points with intervals over shared categories."""
    left = [s for s in series if s.axis == "left"]
    right = [s for s in series if s.axis == "right"]
    top, bottom, margin_l = 46, 44, 78
    margin_r = 62 if right else 18
    plot_w, plot_h = width - margin_l - margin_r, height - top - bottom
    n = max(len(categories), 1)
    band = plot_w / n

    def extent(group: Sequence[Series], stack: bool) -> tuple[float, float]:
        values: list[float] = [0.0]
        bars = [s for s in group if s.kind == "bar"]
        if stack and bars:
            for i in range(n):
                pos = sum(max(v, 0) for s in bars if (v := s.values[i]) is not None)
                neg = sum(min(v, 0) for s in bars if (v := s.values[i]) is not None)
                values += [pos, neg]
        for s in group:
            if s.kind == "bar" and stack:
                continue
            for seq in (s.values, s.upper or [], s.lower or []):
                values += [v for v in seq if v is not None and math.isfinite(v)]
        return min(values), max(values)

    body = [_text(margin_l, 18, title, anchor="start", size=14, color=INK, weight="bold")]
    body += _legend(series, margin_l, 38, plot_w)
    lo, hi = extent(left, stacked)
    lticks = nice_ticks(lo, hi)
    l_lo, l_hi = lticks[0], lticks[-1]

    def ly(v: float) -> float:
        return top + plot_h - (v - l_lo) / (l_hi - l_lo) * plot_h

    for t in lticks:
        body.append(
            f'<line x1="{margin_l}" y1="{ly(t):.1f}" x2="{margin_l + plot_w}" y2="{ly(t):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(margin_l - 6, ly(t) + 4, left_format(t), anchor="end", size=11))
    ry = ly
    if right:
        r_lo, r_hi = extent(right, False)
        rticks = nice_ticks(min(r_lo, 0), r_hi)
        rr_lo, rr_hi = rticks[0], rticks[-1]

        def ry(v: float) -> float:
            return top + plot_h - (v - rr_lo) / (rr_hi - rr_lo) * plot_h

        fmt = right_format or left_format
        for t in rticks:
            body.append(_text(margin_l + plot_w + 6, ry(t) + 4, fmt(t), anchor="start", size=11))

    # Category labels; thinned when they would overlap.
    every = max(1, math.ceil(n * 7 * max((len(c) for c in categories), default=1) / plot_w))
    for i, c in enumerate(categories):
        if i % every == 0:
            body.append(_text(margin_l + band * (i + 0.5), top + plot_h + 18, c, size=11))

    bars = [s for s in left if s.kind == "bar"]
    if bars:
        group_w = band * 0.72
        for i in range(n):
            x0 = margin_l + band * i + (band - group_w) / 2
            base_pos = base_neg = 0.0
            for k, s in enumerate(bars):
                v = s.values[i]
                if v is None or not math.isfinite(v):
                    continue
                if stacked:
                    start = base_pos if v >= 0 else base_neg
                    end = start + v
                    if v >= 0:
                        base_pos = end
                    else:
                        base_neg = end
                    x, w = x0, group_w
                else:
                    start, end = 0.0, v
                    w = group_w / len(bars)
                    x = x0 + k * w
                y1, y2 = sorted((ly(start), ly(end)))
                body.append(
                    f'<rect x="{x:.1f}" y="{y1:.1f}" width="{max(w - 1, 1):.1f}" '
                    f'height="{max(y2 - y1, 0.5):.1f}" fill="{s.color}">'
                    f"<title>{escape(s.label)} {escape(categories[i])}: "
                    f"{escape(left_format(v))}</title></rect>"
                )
    for s in series:
        y_of, fmt = (ry, right_format or left_format) if s.axis == "right" else (ly, left_format)
        if s.kind == "line":
            points: list[str] = []
            segments: list[list[str]] = []
            for i, v in enumerate(s.values):
                if v is None or not math.isfinite(v):
                    if points:
                        segments.append(points)
                    points = []
                    continue
                points.append(f"{margin_l + band * (i + 0.5):.1f},{y_of(v):.1f}")
            if points:
                segments.append(points)
            dash = ' stroke-dasharray="6 4"' if s.dashed else ""
            for seg in segments:
                body.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{s.color}" '
                    f'stroke-width="2.5"{dash}/>'
                )
                for p in seg:
                    cx, cy = p.split(",")
                    body.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{s.color}"/>')
        elif s.kind == "point":
            # Several point series sit side by side within a category.
            points_series = [p for p in series if p.kind == "point"]
            offset = band * 0.2 * (points_series.index(s) - (len(points_series) - 1) / 2)
            for i, v in enumerate(s.values):
                if v is None or not math.isfinite(v):
                    continue
                cx = margin_l + band * (i + 0.5) + offset
                lo_v = s.lower[i] if s.lower else None
                hi_v = s.upper[i] if s.upper else None
                if lo_v is not None and hi_v is not None:
                    body.append(
                        f'<line x1="{cx:.1f}" y1="{y_of(lo_v):.1f}" x2="{cx:.1f}" '
                        f'y2="{y_of(hi_v):.1f}" stroke="{s.color}" stroke-width="2"/>'
                    )
                    for w in (lo_v, hi_v):
                        body.append(
                            f'<line x1="{cx - 6:.1f}" y1="{y_of(w):.1f}" x2="{cx + 6:.1f}" '
                            f'y2="{y_of(w):.1f}" stroke="{s.color}" stroke-width="2"/>'
                        )
                body.append(
                    f'<circle cx="{cx:.1f}" cy="{y_of(v):.1f}" r="5" fill="{s.color}">'
                    f"<title>{escape(s.label)} {escape(categories[i])}: {escape(fmt(v))}"
                    f"</title></circle>"
                )
    body.append(
        f'<line x1="{margin_l}" y1="{ly(0) if l_lo <= 0 <= l_hi else top + plot_h:.1f}" '
        f'x2="{margin_l + plot_w}" y2="{ly(0) if l_lo <= 0 <= l_hi else top + plot_h:.1f}" '
        f'stroke="{MUTED}" stroke-width="1"/>'
    )
    return _svg(width, height, title, body)


def bar_list(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    value_format: Formatter,
    colors: Sequence[str] | None = None,
    width: int = 980,
    label_width: int = 280,
) -> str:
    """Horizontal bars, one per label, in the order given, each with its value written."""
    row, top = 24, 32
    height = top + row * max(len(values), 1) + 12
    body = [_text(0, 18, title, anchor="start", size=14, color=INK, weight="bold")]
    vmax = max([v for v in values if v is not None and v > 0], default=1.0)
    plot_w = width - label_width - 110
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = top + row * i
        body.append(_text(label_width - 8, y + 15, label, anchor="end", size=12, color=INK))
        if v is None:
            continue
        w = max(plot_w * max(v, 0) / vmax, 1)
        color = colors[i] if colors else BLUE
        body.append(
            f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 7}" '
            f'fill="{color}"><title>{escape(label)}: {escape(value_format(v))}</title></rect>'
        )
        body.append(_text(label_width + w + 6, y + 15, value_format(v), anchor="start", size=11))
    return _svg(width, height, title, body)
