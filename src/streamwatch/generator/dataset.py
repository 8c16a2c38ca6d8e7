"""``write_dataset``: stream a whole generated dataset to files in constant memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streamwatch.generator.config import GeneratorConfig
from streamwatch.generator.jsonl import write_jsonl, write_labels
from streamwatch.generator.stream import Collector, Record, iter_records
from streamwatch.progress import Progress


@dataclass(frozen=True, slots=True)
class DatasetStats:
    """How many of each thing were written."""

    events: int
    duplicates: int
    bad_lines: int
    labels: int


def write_dataset(
    cfg: GeneratorConfig,
    events_path: str | Path,
    labels_path: str | Path | None = None,
    progress: Progress | None = None,
) -> DatasetStats:
    """Write events (with duplicates and bad lines interleaved) and, if asked, labels.

    The events file equals ``write_jsonl(generate(cfg).records(), events_path)``. A
    ``progress`` is advanced in seconds of event time, out of ``cfg.days`` days, and finished.
    """
    col = Collector()
    records = iter_records(cfg, col)
    write_jsonl(records if progress is None else _watched(records, col, cfg, progress), events_path)
    if progress is not None:
        progress.finish()
    labels = col.labels()
    if labels_path is not None:
        write_labels(labels, labels_path)
    return DatasetStats(col.events, col.duplicates, len(col.bad_lines), len(labels))


def _watched(
    records: Iterator[Record], col: Collector, cfg: GeneratorConfig, progress: Progress
) -> Iterator[Record]:
    """``records``, telling ``progress`` how far in event time the stream has come."""
    start_s = cfg.start_s
    for record in records:
        yield record
        if col.last is not None:
            progress.update(col.last[0] - start_s)
