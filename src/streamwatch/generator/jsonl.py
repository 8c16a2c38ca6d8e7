"""JSON Lines out: compact separators, UTF-8, one object (or one raw bad line) per line.

Encoding uses orjson when it is installed (it is a dependency of streamwatch, ten times faster)
and the stdlib ``json`` otherwise. Both write floats in a shortest form that round-trips, so a
reader gets exactly the costs the generator summed; the bytes differ only in exponent spelling
(stdlib ``9.8e-05``, orjson ``0.000098``), never in values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

BUFFER_BYTES = 1 << 20

_STDLIB = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)


def _stdlib_encode(obj: dict[str, Any]) -> bytes:
    return _STDLIB.encode(obj).encode("utf-8")


encode: Callable[[dict[str, Any]], bytes]
"""One JSON object as compact UTF-8 bytes, without a newline."""

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is installed with streamwatch
    encode = _stdlib_encode
else:
    encode = orjson.dumps


def write_jsonl(
    records: Iterable[dict[str, Any] | bytes],
    path: str | Path,
    *,
    bad_lines: Sequence[bytes] = (),
    bad_positions: Sequence[int] | None = None,
) -> int:
    """Write records to ``path``, one per line; returns the number of lines written.

    Dicts are encoded as JSON; ``bytes`` are written as they are (the generator's deliberately
    malformed lines), each followed by a newline. Streams: holds one record at a time.

    ``bad_lines`` are extra raw lines to interleave: ``bad_positions[i]`` records go before
    ``bad_lines[i]`` (as in ``GenerationResult.bad_positions``). Without positions they are
    spread evenly, which needs the number of records (an iterator is then read into a list).
    ``write_jsonl(result.records(), path)`` writes the stream exactly as generated.
    """
    if bad_lines and bad_positions is None:
        items = records if isinstance(records, Sequence) else list(records)
        n, k = len(items), len(bad_lines)
        records, bad_positions = items, [(j + 1) * n // (k + 1) for j in range(k)]
    if bad_positions is not None and len(bad_positions) != len(bad_lines):
        raise ValueError("bad_positions must give one position per bad line")
    lines = 0
    enc = encode
    pending = list(zip(bad_positions or (), bad_lines, strict=True))[::-1]
    with Path(path).open("wb", buffering=BUFFER_BYTES) as out:
        write = out.write
        for index, rec in enumerate(records):
            while pending and pending[-1][0] <= index:
                write(pending.pop()[1])
                write(b"\n")
                lines += 1
            write(rec if isinstance(rec, bytes) else enc(rec))
            write(b"\n")
            lines += 1
        for _, line in reversed(pending):
            write(line)
            write(b"\n")
            lines += 1
    return lines


def write_labels(labels: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write labels to ``path`` as JSON Lines; returns the number written."""
    return write_jsonl(labels, path)
