"""A one-line progress bar on stderr for long commands (replay, generate, import).

Drawn only when its stream is a terminal (and ``TERM`` is not ``dumb``) and the caller did not
turn it off: a bar must never reach a pipe, a log file or a machine reading ``--json``, so the
commands build it with ``enabled=not args.json`` and the terminal check does the rest. Work is
counted in any unit (bytes read, seconds of event time, files); the bar is redrawn at most 200
times, so feeding it every line costs an addition and a comparison.
"""

from __future__ import annotations

import io
import os
import sys
from typing import IO, Final

WIDTH: Final = 40
"""Characters of the bar itself."""


class Progress:
    """``advance(n)`` as work is done, ``finish()`` once at the end (draws 100% and a newline,
    so the command's own output starts on a line of its own)."""

    def __init__(
        self,
        total: float,
        label: str,
        stream: IO[str] | None = None,
        *,
        enabled: bool = True,
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done: float = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and is_terminal(self.stream)
        self._next_draw: float = 0

    def advance(self, amount: float) -> None:
        """Count ``amount`` more units of work done; redraw when 0.5% more is done."""
        self.done += amount
        if self.enabled and self.done >= self._next_draw:
            self._next_draw = self.done + self.total / 200
            self.draw()

    def update(self, done: float) -> None:
        """Set the work done so far (for work measured as a position, e.g. event time)."""
        self.advance(done - self.done)

    def draw(self) -> None:
        self.stream.write(f"\r{render(self.label, self.done, self.total)}")
        self.stream.flush()

    def stop(self) -> None:
        """End the bar's line where it is (work abandoned), so an error starts a line."""
        if self.enabled and self.done > 0:
            self.stream.write("\n")
            self.stream.flush()

    def finish(self) -> None:
        """Draw 100% and end the line."""
        if self.enabled:
            self.done = self.total
            self.draw()
            self.stream.write("\n")
            self.stream.flush()


def render(label: str, done: float, total: float) -> str:
    """The bar's text for ``done`` of ``total`` (clamped to 0-100%), e.g.
    ``replay [##########------------------------------]  25.0%``."""
    fraction = min(max(done / total if total > 0 else 1.0, 0.0), 1.0)
    filled = int(fraction * WIDTH)
    return f"{label} [{'#' * filled}{'-' * (WIDTH - filled)}] {fraction * 100:5.1f}%"


def is_terminal(stream: IO[str]) -> bool:
    """True when ``stream`` is an interactive terminal that can redraw a line."""
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (ValueError, io.UnsupportedOperation):
        return False
