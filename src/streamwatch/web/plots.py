"""Small SVG charts drawn on the server, so the console needs no chart library and no internet.

``line_chart`` draws one or more series over the same x positions (hours), with a y axis from 0
to the largest value, the first and last x labels, and a legend; a value of None leaves a gap.
``bar_chart`` draws signed bars (e.g. money paid up, failed down). Both return one ``<svg>``
element as text, every label escaped. Pure and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

WIDTH: Final = 720
HEIGHT: Final = 200
PAD_LEFT: Final = 56
PAD_RIGHT: Final = 12
PAD_TOP: Final = 24
PAD_BOTTOM: Final = 28


@dataclass(frozen=True, slots=True)
class Series:
    """One named line (or bar set) and its colour."""

    name: str
    values: Sequence[float | None]
    colour: str
    dashed: bool = False


def _scale(top: float) -> float:
    """A round upper bound at or above ``top`` (1, 2 or 5 times a power of ten)."""
    if top <= 0:
        return 1.0
    power = 10.0 ** len(str(int(top)))
    for step in (0.1, 0.2, 0.25, 0.5, 1.0):
        if top <= power * step:
            return power * step
    return power


def _frame(title: str, labels: Sequence[str], top: float, bottom: float = 0.0) -> list[str]:
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}" '
        'class="chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="{PAD_LEFT}" y="14" class="chart-title">{escape(title)}</text>',
        f'<rect x="{PAD_LEFT}" y="{PAD_TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#bbb"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = PAD_TOP + plot_h * (1 - frac)
        value = bottom + (top - bottom) * frac
        parts.append(
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{value:,.4g}</text>"
        )
    if labels:
        parts.append(
            f'<text x="{PAD_LEFT}" y="{HEIGHT - 8}" class="axis">{escape(labels[0])}</text>'
        )
        parts.append(
            f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 8}" text-anchor="end" class="axis">'
            f"{escape(labels[-1])}</text>"
        )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    parts = []
    x = WIDTH - PAD_RIGHT
    for s in reversed(series):
        x -= 8 + 7 * len(s.name) + 18
        parts.append(
            f'<rect x="{x}" y="6" width="12" height="8" fill="{escape(s.colour)}"/>'
            f'<text x="{x + 16}" y="14" class="legend">{escape(s.name)}</text>'
        )
    return parts


def _x(i: int, n: int) -> float:
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    return PAD_LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    """Lines of ``series`` over ``labels`` (one value per label); see the module doc."""
    values = [v for s in series for v in s.values if v is not None]
    top = _scale(max(values, default=0.0))
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = _frame(title, labels, top)
    n = len(labels)
    for s in series:
        runs: list[list[str]] = [[]]
        for i, v in enumerate(s.values[:n]):
            if v is None:
                runs.append([])
                continue
            y = PAD_TOP + plot_h * (1 - max(v, 0.0) / top)
            runs[-1].append(f"{_x(i, n):.1f},{y:.1f}")
        dash = ' stroke-dasharray="5,4"' if s.dashed else ""
        name = escape(s.name)
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(
                    f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{escape(s.colour)}" '
                    f'data-series="{name}"/>'
                )
            elif run:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" '
                    f'stroke="{escape(s.colour)}" stroke-width="2"{dash} data-series="{name}"/>'
                )
    parts.extend(_legend(series))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, labels: Sequence[str], up: Series, down: Series) -> str:
    """Bars of ``up`` above the axis and of ``down`` below it (one value of each per label)."""
    ups = [v or 0.0 for v in up.values]
    downs = [v or 0.0 for v in down.values]
    top = _scale(max([*ups, *downs, 0.0]))
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = _frame(title, labels, top, -top)
    middle = PAD_TOP + plot_h / 2
    n = len(labels)
    width = max(2.0, (WIDTH - PAD_LEFT - PAD_RIGHT) / max(n, 1) * 0.6)
    parts.append(
        f'<line x1="{PAD_LEFT}" y1="{middle}" x2="{WIDTH - PAD_RIGHT}" y2="{middle}" '
        'stroke="#888"/>'
    )
    for i in range(n):
        x = _x(i, n) - width / 2
        for value, s, sign in ((ups[i], up, -1), (downs[i], down, 1)):
            if value > 0:
                h = plot_h / 2 * value / top
                y = middle - h if sign < 0 else middle
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                    f'fill="{escape(s.colour)}" data-series="{escape(s.name)}">'
                    f"<title>{escape(labels[i])}: {value:,.2f}</title></rect>"
                )
    parts.extend(_legend([up, down]))
    parts.append("</svg>")
    return "".join(parts)
