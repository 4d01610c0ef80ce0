"""Charts drawn on the server as SVG: a series of values over time with the rule thresholds
drawn in. No script and no style attribute (the console's CSP allows neither inline); the
lines take their look from classes in console.css."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 14, 26


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float
    label: str


@dataclass(frozen=True, slots=True)
class Series:
    """One chart: its points (time, value) oldest first, its scale and its thresholds."""

    title: str
    points: Sequence[tuple[datetime, float]]
    low: float
    high: float
    thresholds: Sequence[Threshold] = ()
    unit: str = ""


def _fmt(value: float) -> str:
    return f"{value:g}"


def svg_chart(series: Series) -> Markup:
    """The series as an inline SVG; an empty series says so instead of drawing axes."""
    if not series.points:
        return Markup('<p class="muted">No {} recorded.</p>').format(series.title.lower())
    times = [t.timestamp() for t, _ in series.points]
    first, last = min(times), max(times)
    span = (last - first) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    scale = (series.high - series.low) or 1.0

    def x(at: float) -> float:
        return LEFT + (plot_w / 2 if last == first else (at - first) / span * plot_w)

    def y(value: float) -> float:
        clamped = min(max(value, series.low), series.high)
        return TOP + plot_h - (clamped - series.low) / scale * plot_h

    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-label="{escape(series.title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(series.title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}"'
        f' y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
    ]
    for value in (series.low, series.high):
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
            f"{escape(_fmt(value))}</text>"
        )
    for threshold in series.thresholds:
        ty = y(threshold.value)
        parts.append(
            f'<line class="threshold" x1="{LEFT}" y1="{ty:.1f}"'
            f' x2="{WIDTH - RIGHT}" y2="{ty:.1f}"/>'
            f'<text class="threshold-label" x="{WIDTH - RIGHT - 2}" y="{ty - 4:.1f}"'
            f' text-anchor="end">{escape(threshold.label)}</text>'
        )
    coords = [(x(t.timestamp()), y(v)) for t, v in series.points]
    if len(coords) > 1:
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(f'<polyline class="series" points="{path}"/>')
    for (cx, cy), (at, value) in zip(coords, series.points, strict=True):
        label = f"{at:%Y-%m-%d %H:%M} UTC: {_fmt(value)}{series.unit}"
        parts.append(
            f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="3.5">'
            f"<title>{escape(label)}</title></circle>"
        )
    start, end = series.points[0][0], series.points[-1][0]
    parts.append(
        f'<text class="tick" x="{LEFT}" y="{HEIGHT - 8}">{start:%b %d}</text>'
        f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end">'
        f"{end:%b %d}</text></svg>"
    )
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number
