"""``generate``: the whole stream in memory, with its labels and bad lines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from streamwatch.generator.config import GeneratorConfig
from streamwatch.generator.labels import JsonDict
from streamwatch.generator.stream import Collector, Record, iter_records


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """Events in stream order (duplicates included), labels, and malformed lines.

    ``bad_positions[i]`` is how many events precede ``bad_lines[i]`` in the stream;
    ``records()`` interleaves them again, exactly as ``iter_records`` yields them.
    """

    config: GeneratorConfig
    events: list[JsonDict]
    labels: list[JsonDict]
    bad_lines: list[bytes]
    bad_positions: list[int]
    duplicates: int

    def records(self) -> Iterator[Record]:
        """Events and bad lines in stream order, for ``write_jsonl``."""
        b = 0
        n_bad = len(self.bad_lines)
        for i, event in enumerate(self.events):
            while b < n_bad and self.bad_positions[b] <= i:
                yield self.bad_lines[b]
                b += 1
            yield event
        yield from self.bad_lines[b:]


def generate(cfg: GeneratorConfig) -> GenerationResult:
    """Generate the stream described by ``cfg`` into memory. Deterministic.

    For streams too large for memory use ``iter_records``/``write_dataset`` instead.
    Raises ValueError for an unknown scenario name in ``cfg.incidents``.
    """
    col = Collector()
    events = [rec for rec in iter_records(cfg, col) if not isinstance(rec, bytes)]
    return GenerationResult(
        config=cfg,
        events=events,
        labels=col.labels(),
        bad_lines=col.bad_lines,
        bad_positions=col.bad_positions,
        duplicates=col.duplicates,
    )
