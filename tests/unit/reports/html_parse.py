"""Reading a report page back in tests: its tables, its charts, and what it refers to."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

EXTERNAL_TAGS = {"script", "link", "img", "iframe", "object", "embed", "image", "use", "base"}


@dataclass
class Page:
    """What a page holds: tables by id (header, rows), charts by id (their elements' attrs),
    every tag name, every attribute value, and the text of its style elements."""

    tables: dict[str, tuple[list[str], list[list[str]]]] = field(default_factory=dict)
    charts: dict[str, list[tuple[str, dict[str, str]]]] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    attribute_values: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self._chart: str | None = None
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.page.tags.add(tag)
        self.page.attribute_values.extend(values.values())
        self.page.handlers.extend(k for k in values if k.startswith("on"))
        if tag == "table":
            self._table = values.get("id", "")
            self.page.tables[self._table] = ([], [])
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "svg":
            self._chart = values.get("id", "")
            self.page.charts[self._chart] = []
        elif self._chart is not None:
            self.page.charts[self._chart].append((tag, values))
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            header, rows = self.page.tables[self._table]
            if self._in_head:
                header.extend(self._row)
            else:
                rows.append(self._row)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table":
            self._table = None
        elif tag == "svg":
            self._chart = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_style:
            self.page.styles.append(data)


def read_page(html: str) -> Page:
    """Parse ``html`` (a report page)."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def external_references(page: Page) -> list[str]:
    """Anything that would make the page load something from elsewhere or run a script."""
    found = sorted(page.tags & EXTERNAL_TAGS) + page.handlers
    for value in page.attribute_values:
        lowered = value.lower().strip()
        if lowered.startswith(("http:", "https:", "//", "javascript:", "data:", "file:")):
            found.append(value)
    for style in page.styles:
        if "url(" in style or "@import" in style:
            found.append(style)
    return found


def series_points(page: Page, chart_id: str) -> dict[str, int]:
    """The number of data points of each line of a chart, by series name."""
    return {
        attrs["data-name"]: int(attrs["data-points"])
        for tag, attrs in page.charts[chart_id]
        if tag == "polyline" and attrs.get("class") == "series"
    }


def bars(page: Page, chart_id: str) -> dict[tuple[str, str], float]:
    """The value of each bar of a chart, by (category, series)."""
    return {
        (attrs["data-category"], attrs["data-series"]): float(attrs["data-value"])
        for tag, attrs in page.charts[chart_id]
        if tag == "rect" and attrs.get("class") == "bar"
    }
