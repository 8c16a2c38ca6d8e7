"""The generator's configuration: one frozen value that fully determines the output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from streamwatch.generator.arrival import DEFAULT_REDELIVERY_RATE
from streamwatch.generator.timefmt import parse_ts

Delivery = Literal["event_time", "arrival"]
DELIVERIES: Final[tuple[Delivery, ...]] = ("event_time", "arrival")


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """What to generate. The same config always gives byte-identical events and labels.

    ``start`` is an RFC 3339 UTC timestamp; the stream covers ``[start, start + days)``.
    ``incidents`` names scenarios from the registry (``streamwatch.generator.SCENARIOS``);
    ``round(incident_rate * customers)`` customers get one each, round-robin over the names.
    ``duplicate_rate`` is the chance that an event is re-emitted (same ``event_id``) right after
    itself; ``bad_rate`` the chance that a malformed raw line follows an event.
    ``max_events`` stops the stream after that many emitted events (duplicates included);
    labels are then cut to the events emitted.

    ``delivery`` is the order lines are written in: ``event_time`` (each customer's events by
    ts; localised tenants' usage up to ``usage_delay_s`` late), or ``arrival``, usage in the
    order a billing system delivers it, per subscription and hour in batches 1-24 h late, a
    ``redelivery_rate`` share of batches sent twice (``generator.arrival``). The events are
    the same either way; only their order differs (and the re-delivered copies). With
    ``max_events`` and arrival delivery, labels are cut by the last line's arrival time, so a
    label of usage not yet delivered may be kept.

    Raises ValueError from the constructor when a field is out of range.
    """

    seed: int = 7
    customers: int = 50
    days: int = 30
    start: str = "2026-10-01T00:00:00Z"
    incidents: tuple[str, ...] = ("budget_overrun", "provider_notice")
    incident_rate: float = 0.2
    duplicate_rate: float = 0.0
    bad_rate: float = 0.0
    max_events: int | None = None
    delivery: Delivery = "event_time"
    redelivery_rate: float = DEFAULT_REDELIVERY_RATE

    def __post_init__(self) -> None:
        if self.customers < 0:
            raise ValueError(f"customers must be >= 0, not {self.customers}")
        if self.days <= 0:
            raise ValueError(f"days must be > 0, not {self.days}")
        if self.delivery not in DELIVERIES:
            raise ValueError(
                f"delivery must be one of {', '.join(DELIVERIES)}, not {self.delivery!r}"
            )
        for name in ("incident_rate", "duplicate_rate", "bad_rate", "redelivery_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], not {rate}")
        if self.max_events is not None and self.max_events < 0:
            raise ValueError(f"max_events must be >= 0 or None, not {self.max_events}")
        if isinstance(self.incidents, str):
            raise TypeError("incidents must be a tuple of scenario names, not a string")
        parse_ts(self.start)

    @property
    def start_s(self) -> int:
        """``start`` as epoch seconds."""
        return parse_ts(self.start)

    @property
    def end_s(self) -> int:
        """End of the stream (exclusive) as epoch seconds."""
        return self.start_s + self.days * 86_400
