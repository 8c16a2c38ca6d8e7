"""Replay signs its enforcement output as the live worker does, when a signing key is set."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streamwatch import testing as build
from streamwatch.cli import main
from streamwatch.config import build_core
from streamwatch.core.codec import encode
from streamwatch.core.engine import Fleet
from streamwatch.core.signing import request_message, verify
from streamwatch.replay.files import JsonlSink

KEYS = {"k2": b"current-secret", "k1": b"previous-secret"}


def write_events(path: Path) -> None:
    notice = build.provider_notice("aup.crypto_mining", ts="2026-10-01T02:00:00Z")
    path.write_bytes(build.raw(notice) + b"\n")


def replay(tmp_path: Path) -> list[dict[str, object]]:
    events = tmp_path / "events.jsonl"
    write_events(events)
    out = tmp_path / "enforcement.jsonl"
    assert main(["replay", str(events), "--enforcement", str(out)]) == 0
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_replay_signs_requests_with_the_first_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMWATCH_SIGNING_KEYS", "k2:current-secret,k1:previous-secret")
    requests = replay(tmp_path)
    assert [r["action"] for r in requests] == ["suspend", "notify"]
    for request in requests:
        assert str(request["signature"]).startswith("v1:k2:")
        assert verify(request, KEYS) is None
        assert verify(request, {"k2": b"another-secret"}) is not None


def test_replay_without_a_key_writes_unsigned_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREAMWATCH_SIGNING_KEYS", raising=False)
    requests = replay(tmp_path)
    assert requests
    assert all("signature" not in r for r in requests)


def test_replay_refuses_malformed_signing_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMWATCH_SIGNING_KEYS", "no-secret-here")
    events = tmp_path / "events.jsonl"
    write_events(events)
    assert main(["replay", str(events)]) == 2
    assert "STREAMWATCH_SIGNING_KEYS" in capsys.readouterr().err


def test_replay_file_holds_the_bytes_the_worker_sends(tmp_path: Path) -> None:
    decisions = Fleet(build_core()).run(
        [build.decoded(build.provider_notice(ts="2026-10-01T02:00:00Z"))], lambda: 0
    )
    key = ("k2", KEYS["k2"])
    out = tmp_path / "enforcement.jsonl"
    with JsonlSink(None, out, None, signing_key=key) as sink:
        for request in decisions.requests:
            sink.request(request)
    # What Processor._send puts on the enforcement topic for the same requests:
    live = [encode(request_message(r, key)) for r in decisions.requests]
    assert out.read_bytes().splitlines() == live
