"""A trial stamps alerts with stream time and says when each alert's evidence had arrived."""

from __future__ import annotations

from streamwatch.core.timeutil import parse_ts_ms
from streamwatch.generator import GeneratorConfig, generate
from streamwatch.trial import Trial, run_trial

SCENARIOS = ("budget_overrun", "provider_notice", "prepaid_gpu")
HOUR_MS = 3_600_000


def trial() -> Trial:
    return run_trial(
        7, customers=12, days=14, scenarios=SCENARIOS, incident_rate=1.0, delivery="arrival"
    )


def test_alerts_are_stamped_with_stream_time_and_their_evidence_arrived_before() -> None:
    ran = trial()
    config = GeneratorConfig(
        seed=7, customers=12, days=14, incidents=SCENARIOS, incident_rate=1.0, delivery="arrival"
    )
    newest = max(parse_ts_ms(e["ts"]) for e in generate(config).events)
    assert len(ran.alerts) > 50
    assert len(ran.evidence_arrival_ms) == len(ran.alerts)
    known = 0
    for alert, arrived in zip(ran.alerts, ran.evidence_arrival_ms, strict=True):
        happened, raised = parse_ts_ms(alert["event_time"]), parse_ts_ms(alert["detected_at"])
        # Stream time, not the wall clock: never past the newest event of the stream.
        assert happened <= raised <= newest
        if arrived is not None:
            known += 1
            assert happened - HOUR_MS < arrived <= raised
    assert known >= len(ran.alerts) - 2
    # Usage comes 1-24 h late: some evidence arrived hours after it happened.
    assert any(
        a is not None and a - parse_ts_ms(alert["event_time"]) > 4 * HOUR_MS
        for alert, a in zip(ran.alerts, ran.evidence_arrival_ms, strict=True)
    )
    assert trial().alerts == ran.alerts  # deterministic, detected_at included
