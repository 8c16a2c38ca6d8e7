"""Replay gives exactly the stored alerts of every golden stream (see tests/golden/streams.py)."""

from __future__ import annotations

import pytest

from golden.streams import STREAMS, expected_alerts, load_expected


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_replay_gives_the_golden_alerts(name: str) -> None:
    expected = load_expected(name)
    assert expected, "a golden stream without alerts proves nothing"
    assert expected_alerts(STREAMS[name]()) == expected
