"""The plain-text tables the commands print: a header, a rule, the rows, a rule, a total row.

The first column (a name) is left-aligned and the others (figures) right-aligned, each as wide
as its widest cell, two spaces apart; the rules are as wide as the header line. Shared by
``streamwatch.evaluate`` and ``streamwatch.kind_summary`` so that every table a person reads
from streamwatch has one look.
"""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[str]], total: Sequence[str]) -> list[str]:
    """The table's lines (no newlines). Raises ValueError when a row's length differs from the
    header's."""
    cells = [list(header), *(list(r) for r in rows), list(total)]
    if any(len(row) != len(header) for row in cells):
        raise ValueError(f"every row needs {len(header)} cells")
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        return "  ".join((first, *rest)).rstrip()

    rule = "-" * len(line(cells[0]))
    return [line(cells[0]), rule, *(line(r) for r in cells[1:-1]), rule, line(cells[-1])]
