"""Planned growth: the ``feedback.expect`` activity (written by ``streamwatch expect``) read
into the allowance it records (see the detector's module docstring, **Feedback**)."""

from __future__ import annotations

from streamwatch.core.detectors.spend_spike.state import TEXT_CHARS, Expectation
from streamwatch.core.events import ActivityEvent
from streamwatch.core.timeutil import MS_PER_HOUR, parse_ts_ms


class NotFeedback(ValueError):
    """A ``feedback.expect`` without a usable ``until`` or ``factor``: it changes nothing."""


def expectation_of(event: ActivityEvent) -> Expectation | None:
    """The allowance a ``feedback.expect`` event records from the hour of its event time, or
    None when it clears the allowance (``factor`` 1 or an ``until`` not after the event).
    Raises NotFeedback when the properties are unusable."""
    props = event.properties
    until = props.get("until")
    factor = props.get("factor", 2.0)
    reason = props.get("reason", "")
    if not isinstance(until, str) or isinstance(factor, bool):
        raise NotFeedback("no 'until' text, or a boolean 'factor'")
    if not isinstance(factor, int | float) or not factor >= 1.0:
        raise NotFeedback("'factor' is not a number of at least 1")
    try:
        until_ms = parse_ts_ms(until)
    except ValueError as exc:
        raise NotFeedback("'until' is not an RFC 3339 time") from exc
    if factor == 1.0 or until_ms <= event.ts_ms:
        return None
    return Expectation(
        float(factor),
        until_ms,
        event.actor[:TEXT_CHARS],
        reason[:TEXT_CHARS] if isinstance(reason, str) else "",
        event.ts_ms - event.ts_ms % MS_PER_HOUR,
    )
