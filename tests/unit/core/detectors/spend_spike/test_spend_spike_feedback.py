"""``streamwatch expect`` on the file path, and what the core does with its event in replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from streamwatch.cli import main
from streamwatch.core.codec import event_from_dict
from streamwatch.core.events import ActivityEvent
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import activity, usage

START = parse_ts_ms("2026-10-05T00:00:00Z")  # a Monday
LAUNCH_H = 24 * 14 + 9  # Monday 2026-10-19 09:00
UNTIL_H = LAUNCH_H + 30


def at(h: int, minute: int = 5) -> str:
    return format_ts(START + h * MS_PER_HOUR + minute * 60_000)


def expect(tmp_path: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "feedback.jsonl"
    code = main(
        [
            "expect",
            "cust-1",
            "--until",
            format_ts(START + UNTIL_H * MS_PER_HOUR),
            "--reason",
            "product launch",
            "--owner",
            "alice@example.com",
            "--factor",
            "5",
            "--at",
            at(LAUNCH_H - 15, 0),
            "--out",
            str(out),
            *extra,
        ]
    )
    return code, out


def usage_file(path: Path) -> Path:
    """Two weeks of a 2-then-8-an-hour rhythm, then a launch quadrupling it for two days."""
    docs: list[dict[str, Any]] = [
        activity("customer.signup", "cust-1", ts=format_ts(START), event_id="signup")
    ]
    for h in range(LAUNCH_H + 48):
        daytime = 8 <= h % 24 < 18 and (START // 86_400_000 + h // 24 + 3) % 7 < 5
        cost = 8.0 if daytime else 2.0
        if h >= LAUNCH_H:
            cost *= 4.0
        docs.append(usage("cust-1", ts=at(h), cost=cost, event_id=f"u-{h}"))
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


def replay(tmp_path: Path, *files: Path) -> list[dict[str, Any]]:
    alerts = tmp_path / f"alerts-{len(files)}.jsonl"
    assert main(["replay", *map(str, files), "--alerts", str(alerts)]) == 0
    return [orjson.loads(line) for line in alerts.read_bytes().splitlines()]


def test_expect_appends_one_valid_feedback_event(tmp_path: Path) -> None:
    code, out = expect(tmp_path)
    assert code == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 1
    event = event_from_dict(orjson.loads(lines[0]))
    assert isinstance(event, ActivityEvent)
    assert event.operation == "feedback.expect"
    assert event.actor == "alice@example.com"
    assert event.ts == at(LAUNCH_H - 15, 0)
    assert event.properties == {
        "until": format_ts(START + UNTIL_H * MS_PER_HOUR),
        "reason": "product launch",
        "factor": 5.0,
    }


def test_recording_the_same_feedback_twice_gives_the_same_event_id(tmp_path: Path) -> None:
    expect(tmp_path)
    expect(tmp_path)
    first, second = (
        orjson.loads(x) for x in (tmp_path / "feedback.jsonl").read_bytes().splitlines()
    )
    assert first["event_id"] == second["event_id"]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(["--factor", "0.5"], id="factor-below-one"),
        pytest.param(["--until", "2026-10-01T00:00:00Z"], id="until-before-the-event"),
        pytest.param(["--until", "next week"], id="until-not-a-timestamp"),
        pytest.param(["--reason", " "], id="no-reason"),
    ],
)
def test_expect_refuses_what_it_cannot_record(tmp_path: Path, extra: list[str]) -> None:
    code, out = expect(tmp_path, *extra)
    assert code == 2
    assert not out.exists()


def test_expect_needs_somewhere_to_write(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["expect", "cust-1", "--until", "2030-01-01T00:00:00Z", "--reason", "x"])
    assert code == 2
    assert "--out FILE, --kafka" in capsys.readouterr().err


def test_replay_with_the_feedback_allows_the_planned_growth_until_it_expires(
    tmp_path: Path,
) -> None:
    events = usage_file(tmp_path / "events.jsonl")
    without = [a for a in replay(tmp_path, events) if a["kind"] == "spend_spike"]
    assert without, "the launch alone looks like a spike"
    assert without[0]["event_time"] < format_ts(START + UNTIL_H * MS_PER_HOUR)

    _, feedback = expect(tmp_path)
    allowed = [a for a in replay(tmp_path, events, feedback) if a["kind"] == "spend_spike"]
    assert allowed, "spend still 4x after the allowance expired is a spike"
    assert allowed[0]["event_time"] >= format_ts(START + UNTIL_H * MS_PER_HOUR)
    assert allowed[0]["evidence"]["status"] == "open"
