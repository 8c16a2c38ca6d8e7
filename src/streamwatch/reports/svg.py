"""Small SVG charts, drawn here rather than with a plotting library: two chart types are all the
reports need, and pure string output keeps them deterministic and free of dependencies.

Every chart is an ``<svg>`` element with an ``id``, a ``<title>`` and a ``<desc>`` (what a
screen reader says and what a test can find), ``class="series"`` on each data line and
``class="bar"`` on each bar, with ``data-`` attributes giving the values drawn. Pure and
deterministic: the same input gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

WIDTH: Final = 760
HEIGHT: Final = 280
MARGIN_LEFT: Final = 70
MARGIN_RIGHT: Final = 44
MARGIN_TOP: Final = 34
MARGIN_BOTTOM: Final = 56
PALETTE: Final = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


@dataclass(frozen=True, slots=True)
class Series:
    """One line: ``points`` are (x, y) in data units, x increasing; ``step`` draws a value that
    holds until the next point (money at risk), ``dashed`` a reference line (a baseline)."""

    name: str
    points: Sequence[tuple[float, float]]
    step: bool = False
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Mark:
    """A labelled vertical line at ``x`` (an incident's first evidence)."""

    x: float
    label: str


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten apart) covering
    [low, high]; [low] alone when the range is empty."""
    if not high > low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    x_label: Callable[[float], str],
    y_title: str,
    marks: Sequence[Mark] = (),
    x_ticks: Sequence[float] | None = None,
    x_end: float | None = None,
) -> str:
    """Lines over a shared x axis; y starts at 0. ``x_label`` formats an x tick, ``x_ticks``
    overrides where they go (default: five spread over the data). ``x_end`` extends the axis
    to that x, and each step line holds its last value up to it (a value still in force)."""
    xs = [x for s in series for x, _ in s.points] + [m.x for m in marks]
    if x_end is not None and xs:
        xs.append(x_end)
    ys = [y for s in series for _, y in s.points]
    if not xs:
        return _empty(chart_id, title)
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    y_ticks = nice_ticks(0.0, max(ys, default=0.0) or 1.0)
    y_hi = y_ticks[-1]
    frame = _Frame(x_lo, x_hi, 0.0, y_hi)
    ticks = (
        list(x_ticks) if x_ticks is not None else [x_lo + (x_hi - x_lo) * i / 4 for i in range(5)]
    )
    parts = _axes(frame, y_ticks, [(x, x_label(x)) for x in ticks], y_title)
    for mark in marks:
        x = frame.x(mark.x)
        parts.append(
            f'<line class="mark" x1="{x:.1f}" y1="{MARGIN_TOP}" x2="{x:.1f}" '
            f'y2="{HEIGHT - MARGIN_BOTTOM}" stroke="#555" stroke-dasharray="2 3"/>'
            f'<text x="{x + 3:.1f}" y="{MARGIN_TOP + 10}" font-size="10" fill="#555">'
            f"{escape(mark.label)}</text>"
        )
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        drawn = list(s.points)
        if s.step and drawn and drawn[-1][0] < x_hi:
            drawn.append((x_hi, drawn[-1][1]))
        path = _path(frame, drawn, step=s.step)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<polyline class="series" data-name="{escape(s.name)}" '
            f'data-points="{len(s.points)}" fill="none" stroke="{colour}" stroke-width="1.6"'
            f'{dash} points="{path}"/>'
        )
        if s.step:  # where each value was reported
            parts.extend(
                f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.5" fill="{colour}"/>'
                for x, y in s.points
            )
    parts.append(_legend([(s.name, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]))
    return _svg(chart_id, title, f"{len(series)} series over {len(set(xs))} points", parts)


def stacked_bars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    stacks: Sequence[tuple[str, Sequence[float]]],
    *,
    y_title: str,
    label_every: int = 1,
) -> str:
    """One bar per category, stacked by the named series of ``stacks`` (each as long as
    ``categories``); every category's label is shown when ``label_every`` is 1."""
    if not categories or not stacks:
        return _empty(chart_id, title)
    totals = [sum(values[i] for _, values in stacks) for i in range(len(categories))]
    y_ticks = [t for t in nice_ticks(0.0, max(*totals, 5.0)) if t == int(t)]  # counts
    frame = _Frame(0.0, float(len(categories)), 0.0, y_ticks[-1])
    labels = [(i + 0.5, name) for i, name in enumerate(categories) if i % max(label_every, 1) == 0]
    parts = _axes(frame, y_ticks, labels, y_title)
    slot = frame.x(1.0) - frame.x(0.0)
    width = max(slot * 0.8, 1.0)
    for i, category in enumerate(categories):
        base = 0.0
        for n, (name, values) in enumerate(stacks):
            value = values[i]
            if value <= 0:
                continue
            top = frame.y(base + value)
            height = frame.y(base) - top
            parts.append(
                f'<rect class="bar" data-category="{escape(category)}" '
                f'data-series="{escape(name)}" data-value="{value:g}" '
                f'x="{frame.x(float(i)) + slot * 0.1:.1f}" y="{top:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="{PALETTE[n % len(PALETTE)]}">'
                f"<title>{escape(category)} {escape(name)}: {value:g}</title></rect>"
            )
            base += value
    parts.append(_legend([(name, PALETTE[n % len(PALETTE)]) for n, (name, _) in enumerate(stacks)]))
    return _svg(chart_id, title, f"{len(categories)} bars, {len(stacks)} series", parts)


@dataclass(frozen=True, slots=True)
class _Frame:
    """Data ranges mapped onto the plotting area."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float

    def x(self, value: float) -> float:
        span = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        return MARGIN_LEFT + (value - self.x_lo) / (self.x_hi - self.x_lo) * span

    def y(self, value: float) -> float:
        span = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
        return HEIGHT - MARGIN_BOTTOM - (value - self.y_lo) / (self.y_hi - self.y_lo) * span


def _path(frame: _Frame, points: Sequence[tuple[float, float]], *, step: bool) -> str:
    out: list[str] = []
    previous: float | None = None
    for x, y in points:
        if step and previous is not None:
            out.append(f"{frame.x(x):.1f},{frame.y(previous):.1f}")
        out.append(f"{frame.x(x):.1f},{frame.y(y):.1f}")
        previous = y
    return " ".join(out)


def _axes(
    frame: _Frame, y_ticks: Sequence[float], x_labels: Sequence[tuple[float, str]], y_title: str
) -> list[str]:
    bottom, right = HEIGHT - MARGIN_BOTTOM, WIDTH - MARGIN_RIGHT
    parts = [
        f'<line x1="{MARGIN_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>',
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{bottom}" '
        'stroke="#333"/>',
        f'<text x="14" y="{(MARGIN_TOP + bottom) / 2:.0f}" font-size="11" '
        f'transform="rotate(-90 14 {(MARGIN_TOP + bottom) / 2:.0f})" text-anchor="middle">'
        f"{escape(y_title)}</text>",
    ]
    for tick in y_ticks:
        y = frame.y(tick)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{tick:,.10g}</text>"
        )
    for value, label in x_labels:
        x = frame.x(value)
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" font-size="10" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return parts


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    out = []
    x = MARGIN_LEFT
    for name, colour in entries:
        out.append(
            f'<rect x="{x}" y="{HEIGHT - 22}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 13}" font-size="11">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return "".join(out)


def _svg(chart_id: str, title: str, desc: str, parts: Sequence[str]) -> str:
    return (
        f'<svg id="{escape(chart_id)}" class="chart" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f"<desc>{escape(desc)}</desc>"
        f'<text x="{MARGIN_LEFT}" y="20" font-size="13" font-weight="bold">{escape(title)}</text>'
        + "".join(parts)
        + "</svg>"
    )


def _empty(chart_id: str, title: str) -> str:
    return _svg(
        chart_id,
        title,
        "no data",
        [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No data to plot.</text>'],
    )
