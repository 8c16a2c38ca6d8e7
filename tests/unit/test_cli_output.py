"""What the reporting commands print for a person and for a machine: replay's and evaluate's
alerts-by-kind table and its ``--json`` form, ``generate --list-scenarios``, and no progress
bar on a pipe."""

from __future__ import annotations

import orjson

from streamwatch import exits
from streamwatch import testing as build
from streamwatch.cli import main
from streamwatch.generator.scenarios import SCENARIOS


def write_events(path):
    lines = [
        orjson.dumps(build.budget_set(100.0, customer_id="c-1")),
        orjson.dumps(build.usage("c-1", cost=60.0)),
        b"not json",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_replay_prints_alerts_by_kind_as_a_table(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    write_events(events)
    alerts = tmp_path / "alerts.jsonl"
    assert main(["replay", str(events), "--alerts", str(alerts)]) == exits.OK
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("kind "))
    written = [orjson.loads(line) for line in alerts.read_bytes().splitlines()]
    kinds = {a["kind"] for a in written}
    rows = lines[header + 2 : header + 2 + len(kinds)]
    assert {row.split()[0] for row in rows} == kinds
    assert lines[header + 3 + len(kinds)].split()[:3] == [
        "TOTAL",
        str(len(written)),
        str(len(written)),
    ]
    assert captured.err == ""  # captured stderr is no terminal: no progress bar


def test_replay_json_carries_the_table_and_no_bar(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    write_events(events)
    assert main(["replay", str(events), "--json"]) == exits.OK
    captured = capsys.readouterr()
    summary = orjson.loads(captured.out)
    by_kind = summary["by_kind"]
    assert sum(row["revisions"] for row in by_kind["kinds"]) == summary["alerts"] >= 1
    assert by_kind["total"]["customers"] == 1
    assert by_kind["total"]["money_at_risk"]["USD"] > 0
    assert captured.err == ""


def test_evaluate_prints_the_alerts_table_then_the_scores(tmp_path, capsys):
    events, alerts = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    write_events(events)
    assert main(["replay", str(events), "--alerts", str(alerts)]) == exits.OK
    capsys.readouterr()
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(b"")
    assert main(["evaluate", str(labels), str(alerts)]) == exits.OK
    out = capsys.readouterr().out
    assert out.index("revisions") < out.index("precision")
    assert main(["evaluate", str(labels), str(alerts), "--json"]) == exits.OK
    report = orjson.loads(capsys.readouterr().out)
    assert report["by_kind"]["total"]["alerts"] == report["total"]["alerts"]


def test_evaluate_names_a_bad_alerts_file_instead_of_a_traceback(tmp_path, capsys):
    labels, alerts = tmp_path / "labels.jsonl", tmp_path / "alerts.jsonl"
    labels.write_bytes(b"")
    alerts.write_bytes(b"[1, 2]\n")
    assert main(["evaluate", str(labels), str(alerts)]) == exits.USAGE
    assert "alerts.jsonl:1: not a JSON object" in capsys.readouterr().err


def test_generate_lists_every_scenario_with_what_it_does(capsys):
    assert main(["generate", "--list-scenarios"]) == exits.OK
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(SCENARIOS)
    assert all(len(line.split()) > 2 for line in lines)  # a description, not just the name
    assert not any("module docstring" in line for line in lines)


def test_generate_without_out_asks_for_it(capsys):
    assert main(["generate"]) == exits.USAGE
    assert "--out" in capsys.readouterr().err


def test_generate_writes_without_drawing_on_a_pipe(tmp_path, capsys):
    out = tmp_path / "events.jsonl"
    assert main(["generate", "--customers", "2", "--days", "2", "--out", str(out)]) == exits.OK
    captured = capsys.readouterr()
    assert out.stat().st_size > 0
    assert captured.err == ""
