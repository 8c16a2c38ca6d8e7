"""Running an adapter over source records: unwrap containers, map, check, count. Pure.

``records_of`` takes one decoded JSON document as sources deliver it and yields the records
inside: an array, ``{"records": [...]}`` (diagnostic-settings exports), ``{"value": [...]}``
(Azure REST lists), ``{"items": [...]}`` (Partner Center collections), ``{"data": [...]}``
(Stripe lists), an Azure REST API example (``responses.200.body``), or one record by itself.

``Run`` maps records one at a time and checks every event it is given against the contract
(``core.codec.event_from_dict``): what an adapter cannot map, or maps into something the core
would dead-letter, is refused with its reason and counted, never raised.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from streamwatch.adapters.base import Context, Refused
from streamwatch.core.codec import DecodeError, event_from_dict

MapRecord = Callable[[Mapping[str, Any], Context], list[dict[str, Any]]]

_LIST_KEYS: Final = ("records", "value", "items", "data")
EXAMPLES_KEPT: Final = 3


def records_of(document: Any) -> Iterator[Any]:
    """The records inside one source document (see the module docstring); anything that is
    not an object is yielded as it is, for the mapping to refuse."""
    if isinstance(document, list):
        for item in document:
            yield from records_of(item)  # a list of exports: [{"records": [...]}, ...]
        return
    if isinstance(document, Mapping):
        body = _example_body(document)
        if body is not None:
            yield from records_of(body)
            return
        for key in _LIST_KEYS:
            inner = document.get(key)
            if isinstance(inner, list) and (key != "data" or document.get("object") == "list"):
                yield from inner
                return
    yield document


def _example_body(document: Mapping[str, Any]) -> Any:
    responses = document.get("responses")
    if isinstance(responses, Mapping) and "parameters" in document:
        for status in ("200", "201"):
            answer = responses.get(status)
            if isinstance(answer, Mapping) and "body" in answer:
                return answer["body"]
    return None


@dataclass(slots=True)
class Summary:
    """What one run read, wrote and refused, by reason (a refusal's ``code``)."""

    records: int = 0
    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    last: Refused | None = None
    """The latest refusal, for callers that record each refused record."""

    def refuse(self, refusal: Refused) -> None:
        """Count one refused record."""
        self.last = refusal
        self.refused[refusal.code] += 1
        kept = self.examples.setdefault(refusal.code, [])
        if len(kept) < EXAMPLES_KEPT and refusal.message not in kept:
            kept.append(refusal.message)

    def lines(self) -> list[str]:
        """The summary as lines a person reads."""
        out = [
            f"records read: {self.records}",
            f"events written: {self.events}"
            + (
                " (" + ", ".join(f"{n} {t}" for t, n in sorted(self.by_type.items())) + ")"
                if self.by_type
                else ""
            ),
            f"records refused: {sum(self.refused.values())}",
        ]
        for code, count in sorted(self.refused.items(), key=lambda kv: (-kv[1], kv[0])):
            example = self.examples.get(code, [""])[0]
            out.append(f"  {count} {code}" + (f" (e.g. {example})" if example else ""))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "records": self.records,
            "events": self.events,
            "by_type": dict(sorted(self.by_type.items())),
            "refused": dict(sorted(self.refused.items())),
            "examples": {k: list(v) for k, v in sorted(self.examples.items())},
        }


@dataclass(slots=True)
class Run:
    """One adapter applied to records, with the running ``Summary``."""

    map_record: MapRecord
    ctx: Context
    summary: Summary = field(default_factory=Summary)

    def record(self, record: Any) -> list[dict[str, Any]]:
        """The checked contract events of one record; a refusal is counted and gives []."""
        self.summary.records += 1
        try:
            if isinstance(record, Refused):
                raise record
            if not isinstance(record, Mapping):
                raise Refused("not_an_object", f"a record must be an object, not {record!r:.40}")
            events = self.map_record(record, self.ctx)
            if not events:
                raise Refused("no_events", "the record maps to no event")
            for event in events:
                try:
                    event_from_dict(event)
                except DecodeError as exc:
                    raise Refused(f"contract_{exc.code}", exc.message) from exc
        except Refused as refusal:
            self.summary.refuse(refusal)
            return []
        except Exception as exc:
            self.summary.refuse(Refused("mapping_error", f"{type(exc).__name__}: {exc}"))
            return []
        self.summary.events += len(events)
        for event in events:
            self.summary.by_type[str(event.get("type"))] += 1
        return events

    def document(self, document: Any) -> list[dict[str, Any]]:
        """The events of every record inside one source document."""
        out: list[dict[str, Any]] = []
        for record in records_of(document):
            out.extend(self.record(record))
        return out
