"""streamwatch.alert_truth's rule for limits: a limit said to be drawn from the customer's own
peak must be that multiple of it, and one called a floor must not be below it."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.alert_truth import problems


def alert(sentence: str) -> dict[str, Any]:
    return {
        "reasons": [sentence],
        "window_start": "2026-11-01T05:00:00Z",
        "window_end": "2026-11-01T05:00:00Z",
        "evidence": {},
    }


@pytest.mark.parametrize(
    "sentence",
    [
        "Egress of 400 GB in the hour from 2026-11-01T05:00:00Z, over the limit of 150 GB an"
        " hour, 5 times its own peak of 30.0.",
        "Egress of 4,000 GB in the hour from 2026-11-01T05:00:00Z, over the limit of 1,234 GB"
        " an hour, 5 times its own peak of 246.8.",
        "Outbound mail to about 300 distinct mail servers since 2026-11-01T05:00:00Z (310 SMTP"
        " connections), over the limit of 50 an hour, 3 times its own peak of 17.",
        "Egress of 120 GB in the hour from 2026-11-01T05:00:00Z, over the limit of 50 GB an"
        " hour, the floor for every account (5 times its own peak of 1.0 is lower).",
        "Connections to about 90 distinct destinations on 3 distinct ports since"
        " 2026-11-01T05:00:00Z, over the limit of 60, the floor for new accounts (no history of"
        " its own yet): a network scan.",
    ],
)
def test_true_limits_pass(sentence: str) -> None:
    assert problems(alert(sentence)) == []


@pytest.mark.parametrize(
    ("sentence", "complaint"),
    [
        (
            "Egress of 120 GB in the hour from 2026-11-01T05:00:00Z, over the limit of 50 GB an"
            " hour, 5 times its own peak of 0.0.",
            "draws a limit of 50 from 0",
        ),
        (
            "Outbound mail to about 300 distinct mail servers since 2026-11-01T05:00:00Z (310"
            " SMTP connections), over the limit of 40 an hour, the floor for every account (3"
            " times its own peak of 20 is lower).",
            "calls a limit of 40 a floor above 60",
        ),
    ],
)
def test_false_limits_are_named(sentence: str, complaint: str) -> None:
    [found] = problems(alert(sentence))
    assert complaint in found
