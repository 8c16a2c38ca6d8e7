"""Source files into documents and rows, for ``streamwatch import`` (the only I/O of adapters).

JSON sources may be one document (an object or an array), JSON lines (Event Hub captures,
storage blobs written since 2018), or a whole HTTP response as documentation and proxies save
it (status line and headers, a blank line, the body; without the blank line, the body starts
at the first line that is not a header). A part that does not parse is yielded
as a ``Refused`` (``invalid_json``) and counted; the rest of the file is still read.

Files compressed with gzip (``.json.gz`` blobs of Partner Center's usage export) are
decompressed first. A file named ``*.csv`` (or ``*.csv.gz``) is read as CSV whatever the
format's usual input, so that formats published both ways read both ways.

CSV sources are read with their header (a UTF-8 byte-order mark, as Azure exports write it, is
dropped); each row is a dict of column -> cell text.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from streamwatch.adapters.base import Refused


def json_documents(data: bytes) -> Iterator[Any]:
    """The JSON documents in ``data`` (see the module docstring); bad parts as Refused."""
    body = _strip_http(data)
    try:
        yield orjson.loads(body)
        return
    except orjson.JSONDecodeError as exc:
        whole_error = str(exc)
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].lstrip().startswith(b"{") and lines[0].rstrip().endswith(b"}"):
        for number, line in enumerate(lines, 1):
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Refused("invalid_json", f"line {number} is not JSON ({exc})")
        return
    yield Refused("invalid_json", f"the document is not JSON ({whole_error})")


def _strip_http(data: bytes) -> bytes:
    """The body of a saved HTTP response: after the blank line that ends the headers or, when
    the saved text has none (some documentation pages drop it), after the last header line."""
    if not data.startswith(b"HTTP/"):
        return data
    for separator in (b"\r\n\r\n", b"\n\n"):
        _head, found, body = data.partition(separator)
        if found:
            return body
    lines = data.splitlines(keepends=True)
    start = 1  # the status line
    while start < len(lines) and _HEADER.match(lines[start]):
        start += 1
    return b"".join(lines[start:])


_HEADER = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:")
"""A header line: a field name (RFC 9110's token) and a colon."""


def csv_rows(data: bytes) -> Iterator[Any]:
    """The rows of a CSV file with a header; a row with more cells than the header is Refused."""
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        if None in row:
            yield Refused("malformed_row", f"line {reader.line_num} has more cells than the header")
            continue
        yield {k: v for k, v in row.items() if k is not None}


def is_csv(path: Path, kind: str) -> bool:
    """Whether ``path`` is read as CSV: the format's usual input, or a ``.csv`` name."""
    return kind == "csv" or path.name.lower().removesuffix(".gz").endswith(".csv")


def read_source(path: Path, kind: str) -> Iterator[Any]:
    """The documents (JSON) or rows (CSV) of one file; ``kind`` is the format's usual input."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            yield Refused("invalid_gzip", f"{path.name} is not a whole gzip file ({exc})")
            return
    if is_csv(path, kind):
        yield from csv_rows(data)
    else:
        yield from json_documents(data)
