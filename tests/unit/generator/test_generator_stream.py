"""Determinism, streaming, duplicates, bad lines, truncation and the JSONL helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from streamwatch.generator import (
    BAD_KINDS,
    Collector,
    GeneratorConfig,
    bad_samples,
    generate,
    iter_events,
    iter_records,
    write_dataset,
    write_jsonl,
    write_labels,
)

SMALL = GeneratorConfig(seed=7, customers=12, days=20)


def small(**changes: Any) -> GeneratorConfig:
    return dataclasses.replace(SMALL, **changes)


def digest(events: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(events, sort_keys=True).encode()).hexdigest()


def test_same_config_gives_identical_events_and_labels() -> None:
    first, second = generate(small()), generate(small())
    assert first.events == second.events
    assert first.labels == second.labels


def test_different_seeds_give_different_streams() -> None:
    a, b = generate(small(seed=1)), generate(small(seed=2))
    assert a.events != b.events
    assert [e["customer_id"] for e in a.events] != [e["customer_id"] for e in b.events]


def test_output_does_not_depend_on_the_hash_seed() -> None:
    code = (
        "import hashlib, json\n"
        "from streamwatch.generator import GeneratorConfig, generate\n"
        "r = generate(GeneratorConfig(seed=7, customers=5, days=5))\n"
        "print(hashlib.sha256(json.dumps([r.events, r.labels], sort_keys=True).encode())"
        ".hexdigest())\n"
    )
    src = str(Path(__file__).resolve().parents[3] / "src")
    outs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": src}
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outs.add(proc.stdout)
    assert len(outs) == 1


def test_adding_customers_leaves_existing_customers_unchanged() -> None:
    base = small(incident_rate=0.0)
    few = generate(base).events
    more = generate(dataclasses.replace(base, customers=20)).events
    assert [e for e in more if e["customer_id"] < "cust-00012"] == few


def test_iter_events_yields_the_same_events_as_generate() -> None:
    assert list(iter_events(small())) == generate(small()).events


def test_iter_records_emits_events_one_at_a_time() -> None:
    col = Collector()
    stream = iter_records(GeneratorConfig(seed=1, customers=50, days=60), col)
    first = next(stream)
    assert isinstance(first, dict)
    assert col.events == 1


def test_duplicates_repeat_an_event_right_after_itself() -> None:
    result = generate(small(duplicate_rate=0.1))
    assert result.duplicates > 0
    events = result.events
    repeats = [
        i for i in range(1, len(events)) if events[i]["event_id"] == events[i - 1]["event_id"]
    ]
    assert len(repeats) == result.duplicates
    assert all(events[i] == events[i - 1] for i in repeats)
    assert all(events[i] is not events[i - 1] for i in repeats)


def test_duplicates_keep_events_and_labels_unchanged() -> None:
    clean, dup = generate(small()), generate(small(duplicate_rate=0.2))
    assert dup.labels == clean.labels
    deduped = [
        e
        for i, e in enumerate(dup.events)
        if i == 0 or e["event_id"] != dup.events[i - 1]["event_id"]
    ]
    assert deduped == clean.events


def test_bad_lines_keep_events_and_labels_unchanged() -> None:
    clean, bad = generate(small()), generate(small(bad_rate=0.05))
    assert len(bad.bad_lines) > 10
    assert bad.events == clean.events
    assert bad.labels == clean.labels


def test_bad_lines_cover_every_kind_with_few_oversized_ones() -> None:
    result = generate(small(bad_rate=0.2))
    big = [b for b in result.bad_lines if len(b) > 1_000_000]
    assert len(big) == 2
    assert len(result.bad_lines) > 100


def test_records_interleave_bad_lines_where_the_stream_put_them() -> None:
    cfg = small(bad_rate=0.05, duplicate_rate=0.05)
    assert list(generate(cfg).records()) == list(iter_records(cfg))


def test_bad_samples_give_one_line_of_each_kind() -> None:
    samples = bad_samples()
    assert tuple(samples) == BAD_KINDS
    assert len(BAD_KINDS) == 10
    assert all(isinstance(v, bytes) and b"\n" not in v for v in samples.values())
    assert bad_samples() == samples


def nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


def test_each_bad_sample_breaks_the_contract_its_own_way() -> None:
    s = bad_samples()
    with pytest.raises(json.JSONDecodeError):
        json.loads(s["truncated_json"])
    assert isinstance(json.loads(s["json_array"]), list)
    assert json.loads(s["wrong_type"])["quantity"] == "ten"
    assert "customer_id" not in json.loads(s["missing_field"])
    assert json.loads(s["negative_cost"])["cost"] < 0
    assert json.loads(s["unknown_type"])["type"] == "telemetry"
    with pytest.raises(ValueError, match=r"must be in|out of range"):
        datetime.fromisoformat(json.loads(s["bad_timestamp"])["ts"])
    with pytest.raises(UnicodeDecodeError):
        s["invalid_utf8"].decode("utf-8")
    assert len(s["oversized"]) > 2 * 1024 * 1024
    assert nesting(json.loads(s["deeply_nested"])["properties"]) == 100


def test_max_events_cuts_the_stream_and_its_labels() -> None:
    full = generate(small())
    cut = generate(small(max_events=len(full.events) // 2))
    assert cut.events == full.events[: len(full.events) // 2]
    assert cut.labels == full.labels[: len(cut.labels)]
    last = cut.events[-1]["ts"]
    assert all(lab["start"] <= last for lab in cut.labels)
    assert [lab for lab in full.labels if lab["start"] < last] == [
        lab for lab in cut.labels if lab["start"] < last
    ]


def test_max_events_zero_gives_nothing() -> None:
    result = generate(small(max_events=0))
    assert result.events == []
    assert result.labels == []


def test_collector_counts_what_the_stream_emitted() -> None:
    col = Collector()
    n = sum(
        1
        for rec in iter_records(small(duplicate_rate=0.1, bad_rate=0.1), col)
        if not isinstance(rec, bytes)
    )
    assert col.events == n
    assert col.duplicates > 0
    assert len(col.bad_lines) == len(col.bad_positions) > 0


def test_write_jsonl_writes_compact_lines_and_raw_bad_lines(tmp_path: Path) -> None:
    result = generate(small(bad_rate=0.01))
    path = tmp_path / "events.jsonl"
    lines = write_jsonl(result.records(), path)
    raw = path.read_bytes().split(b"\n")
    assert raw[-1] == b""
    assert lines == len(raw) - 1 == len(result.events) + len(result.bad_lines)
    good = [json.loads(line) for line in raw[:-1] if line not in result.bad_lines]
    assert good == result.events
    assert b'": ' not in raw[0]
    assert b", " not in raw[0]


def test_write_dataset_equals_generate_then_write(tmp_path: Path) -> None:
    cfg = small(bad_rate=0.02, duplicate_rate=0.02)
    result = generate(cfg)
    write_jsonl(result.records(), tmp_path / "a.jsonl")
    write_labels(result.labels, tmp_path / "a-labels.jsonl")
    stats = write_dataset(cfg, tmp_path / "b.jsonl", tmp_path / "b-labels.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a-labels.jsonl").read_bytes() == (tmp_path / "b-labels.jsonl").read_bytes()
    assert stats.events == len(result.events)
    assert stats.labels == len(result.labels)
    assert stats.bad_lines == len(result.bad_lines)
    assert stats.duplicates == result.duplicates


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"days": 0}, "days", id="no-days"),
        pytest.param({"customers": -1}, "customers", id="negative-customers"),
        pytest.param({"duplicate_rate": 1.5}, "duplicate_rate", id="rate-above-one"),
        pytest.param({"start": "2026-10-01T00:00:00"}, "offset", id="naive-start"),
        pytest.param({"max_events": -1}, "max_events", id="negative-max-events"),
    ],
)
def test_config_rejects_out_of_range_values(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        small(**changes)


def test_unknown_incident_name_is_rejected_with_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"unknown scenario 'nope'.*budget_overrun"):
        generate(small(incidents=("nope",)))


def test_closing_the_stream_early_keeps_labels_of_emitted_events_only() -> None:
    full = generate(small())
    col = Collector()
    stream = iter_records(small(), col)
    taken = [
        rec
        for _, rec in zip(range(len(full.events) // 3), stream, strict=False)
        if isinstance(rec, dict)
    ]
    stream.close()
    assert taken == full.events[: len(taken)]
    assert col.cut
    assert col.labels() == full.labels[: len(col.labels())]
    assert all(lab["start"] <= taken[-1]["ts"] for lab in col.labels())


def test_write_jsonl_places_bad_lines_at_their_positions(tmp_path: Path) -> None:
    result = generate(small(bad_rate=0.03))
    write_jsonl(result.records(), tmp_path / "a.jsonl")
    write_jsonl(
        result.events,
        tmp_path / "b.jsonl",
        bad_lines=result.bad_lines,
        bad_positions=result.bad_positions,
    )
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_write_jsonl_spreads_bad_lines_evenly_without_positions(tmp_path: Path) -> None:
    events = [{"n": i} for i in range(6)]
    write_jsonl(iter(events), tmp_path / "e.jsonl", bad_lines=[b"{bad", b"[1]"])
    lines = (tmp_path / "e.jsonl").read_bytes().splitlines()
    assert lines == [
        b'{"n":0}',
        b'{"n":1}',
        b"{bad",
        b'{"n":2}',
        b'{"n":3}',
        b"[1]",
        b'{"n":4}',
        b'{"n":5}',
    ]
