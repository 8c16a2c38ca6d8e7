"""``write_dataset``: stream a whole generated dataset to files in constant memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamwatch.generator.config import GeneratorConfig
from streamwatch.generator.jsonl import write_jsonl, write_labels
from streamwatch.generator.stream import Collector, iter_records


@dataclass(frozen=True, slots=True)
class DatasetStats:
    """How many of each thing were written."""

    events: int
    duplicates: int
    bad_lines: int
    labels: int


def write_dataset(
    cfg: GeneratorConfig, events_path: str | Path, labels_path: str | Path | None = None
) -> DatasetStats:
    """Write events (with duplicates and bad lines interleaved) and, if asked, labels.

    The events file equals ``write_jsonl(generate(cfg).records(), events_path)``.
    """
    col = Collector()
    write_jsonl(iter_records(cfg, col), events_path)
    labels = col.labels()
    if labels_path is not None:
        write_labels(labels, labels_path)
    return DatasetStats(col.events, col.duplicates, len(col.bad_lines), len(labels))
