"""The command line's conventions: --version, and help when no command is given."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import orjson
import pytest

from streamwatch import __version__, exits
from streamwatch import testing as build
from streamwatch.cli import COMMANDS, build_parser, main


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"streamwatch {__version__}"


def test_no_command_prints_the_help_listing_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: streamwatch")
    assert all(name in out for name in COMMANDS)


def test_replay_and_evaluate_report_as_json(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    lines = [
        orjson.dumps(build.budget_set(100.0, customer_id="c-1")),
        orjson.dumps(build.usage("c-1", cost=60.0)),
        b"not json",
    ]
    events.write_bytes(b"\n".join(lines) + b"\n")
    alerts = tmp_path / "alerts.jsonl"
    assert main(["replay", str(events), "--alerts", str(alerts), "--json"]) == 0
    summary = orjson.loads(capsys.readouterr().out)
    assert (summary["lines"], summary["events"]) == (3, 2)
    assert summary["dead_letters"] == {"invalid_json": 1}
    assert summary["alerts"] == len(alerts.read_bytes().splitlines()) >= 1

    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(b"")
    assert main(["evaluate", str(labels), str(alerts), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["total"]["alerts"] == summary["alerts"]


def test_every_option_has_help_naming_its_default():
    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif action.option_strings and not isinstance(
                action, argparse._HelpAction | argparse._VersionAction
            ):
                text = action.help or ""
                has_default = action.default not in (None, False, argparse.SUPPRESS)
                if not text or (has_default and "default" not in text):
                    missing.append(f"{path} {action.option_strings[0]}")

    walk(build_parser(), "streamwatch")
    assert missing == []


def test_help_and_readme_list_the_exit_codes(capsys):
    assert main([]) == exits.OK
    out = " ".join(capsys.readouterr().out.split())
    assert out.endswith(" ".join(exits.EPILOG.split()))
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    codes = {exits.OK, exits.NOTHING_FOUND, exits.USAGE, exits.DRIFT, exits.UNAVAILABLE}
    assert all(f"\n| {code} | " in readme for code in codes)
    assert exits.NO_OUTCOME == exits.DRIFT


def test_commands_take_their_exit_codes_from_one_module():
    src = Path(__file__).resolve().parents[2] / "src" / "streamwatch"
    own = [
        f"{path.relative_to(src)}: {line.strip()}"
        for path in src.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*(EXIT_\w+|return [1-9]\d*$)", line) and "commands" in path.parts
    ]
    assert own == []


def test_an_unusable_settings_file_is_a_usage_error(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "streamwatch.toml"
    bad.write_text('no_such_setting = "x"\n', encoding="utf-8")
    monkeypatch.setenv("STREAMWATCH_CONFIG", str(bad))  # what --config sets, undone after
    assert main(["config"]) == exits.USAGE
    assert "unknown setting 'no_such_setting'" in capsys.readouterr().err


@pytest.mark.parametrize(("skew", "held"), [(None, 0), ("3600", 1)])
def test_replay_holds_aside_events_further_ahead_than_the_worker_s_skew(
    tmp_path, capsys, monkeypatch, skew, held
):
    if skew is None:
        monkeypatch.delenv("STREAMWATCH_MAX_FUTURE_SKEW_S", raising=False)
    else:
        monkeypatch.setenv("STREAMWATCH_MAX_FUTURE_SKEW_S", skew)
    events = tmp_path / "events.jsonl"
    times = ["2026-10-01T00:00:00Z", "2026-10-01T03:00:00Z", "2026-10-01T00:30:00Z"]
    lines = [
        orjson.dumps(build.usage("c-1", ts=at, event_id=f"u-{n}")) for n, at in enumerate(times)
    ]
    events.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["replay", str(events), "--json"]) == 0
    summary = orjson.loads(capsys.readouterr().out)
    assert summary["dead_letters"] == ({"future_event": 1} if held else {})
