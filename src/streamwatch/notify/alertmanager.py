"""Alerts in Alertmanager's terms, and the book of what Alertmanager was told. Pure.

Alertmanager (API v2, ``POST /api/v2/alerts``) identifies an alert by its label set, keeps it
firing until its ``endsAt``, and expects clients to re-send firing alerts before then (as
Prometheus does: every evaluation, valid for four resend periods). So:

- labels are what routing, grouping, silences and inhibition match on, and stay the same
  across an alert's revisions as long as its severity does: ``alertname`` (``streamwatch_`` and
  the kind), ``customer``, ``kind``, ``severity``, ``detector``, and ``alert_id`` (one customer
  may have two alerts of one kind, e.g. two unpaid invoices);
- annotations carry what a person reads: ``summary`` (the first reason), ``reasons`` (all, one
  a line), ``money_at_risk`` (``1,234.56 USD``), ``score``, ``revision``, ``console`` (the
  console's page of the customer, when ``STREAMWATCH_CONSOLE_URL`` is set; also the
  ``generatorURL``);
- an open alert is sent with ``endsAt`` four resend periods ahead and re-sent every period;
- a resolved revision is sent with ``endsAt`` = now under the labels Alertmanager knows it by
  (its open form's, although the resolved revision is severity ``info``), so the incident
  resolves there;
- an amendment that changes the severity changes the label set: the old set is resolved and
  the new one fires.

The book holds, per alert id, the form last sent (``Entry``); ``on_alert`` and ``due`` say what
to post. Times are wall-clock epoch milliseconds passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import quote

from streamwatch.core.timeutil import format_ts, parse_ts_ms
from streamwatch.notify.alert import is_resolved

VALID_FOR_RESENDS: Final = 4
"""An open alert's ``endsAt`` lies this many resend periods ahead."""
MAX_OPEN_MS: Final = 7 * 24 * 3_600_000
"""An open alert not amended for this long (wall clock) is no longer re-sent, and so ends in
Alertmanager four resend periods later: many kinds (a budget threshold, a chargeback) have no
resolved revision, and must not fire for ever."""


@dataclass(frozen=True, slots=True)
class Entry:
    """What Alertmanager was last told of one alert: its labels, annotations, start, link, the
    revision, and whether it was resolved (kept until that is delivered)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    generator_url: str
    revision: int
    resolved: bool
    sent_ms: int
    """Wall clock when this revision was first sent."""

    def posting(self, ends_at_ms: int) -> dict[str, Any]:
        """This alert as one element of the ``POST /api/v2/alerts`` body."""
        out: dict[str, Any] = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at,
            "endsAt": format_ts(ends_at_ms),
        }
        if self.generator_url:
            out["generatorURL"] = self.generator_url
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the book kept in Redis."""
        return {
            "labels": self.labels,
            "annotations": self.annotations,
            "starts_at": self.starts_at,
            "generator_url": self.generator_url,
            "revision": self.revision,
            "resolved": self.resolved,
            "sent_ms": self.sent_ms,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Entry:
        """The inverse of ``to_dict``; raises KeyError or TypeError on another shape."""
        return cls(
            labels={str(k): str(v) for k, v in doc["labels"].items()},
            annotations={str(k): str(v) for k, v in doc["annotations"].items()},
            starts_at=str(doc["starts_at"]),
            generator_url=str(doc["generator_url"]),
            revision=int(doc["revision"]),
            resolved=bool(doc["resolved"]),
            sent_ms=int(doc["sent_ms"]),
        )


def console_link(console_url: str | None, customer_id: str) -> str:
    """The console's page of ``customer_id``, or "" without a console URL."""
    if not console_url:
        return ""
    return f"{console_url.rstrip('/')}/customers/{quote(customer_id, safe='')}"


def labels_of(alert: Mapping[str, Any]) -> dict[str, str]:
    """The label set Alertmanager knows this revision by."""
    return {
        "alertname": f"streamwatch_{alert['kind']}",
        "customer": str(alert["customer_id"]),
        "kind": str(alert["kind"]),
        "severity": str(alert["severity"]),
        "detector": str(alert["detector"].get("name", "")),
        "alert_id": str(alert["alert_id"]),
    }


def annotations_of(alert: Mapping[str, Any], console_url: str | None) -> dict[str, str]:
    """What a person reads of this revision (see the module docstring)."""
    reasons = [str(r) for r in alert["reasons"]] or [str(alert["kind"])]
    money = alert.get("money_at_risk")
    out = {
        "summary": reasons[0],
        "reasons": "\n".join(reasons),
        "money_at_risk": (
            f"{float(money['amount']):,.2f} {money['currency']}"
            if isinstance(money, Mapping)
            else "unknown"
        ),
        "score": f"{float(alert.get('score', 0.0)):.2f}",
        "revision": str(alert["revision"]),
    }
    link = console_link(console_url, str(alert["customer_id"]))
    if link:
        out["console"] = link
    return out


def entry_of(
    alert: Mapping[str, Any], console_url: str | None, starts_at: str, now_ms: int
) -> Entry:
    """The book entry for this revision, sent at ``now_ms``."""
    return Entry(
        labels=labels_of(alert),
        annotations=annotations_of(alert, console_url),
        starts_at=starts_at,
        generator_url=console_link(console_url, str(alert["customer_id"])),
        revision=int(alert["revision"]),
        resolved=is_resolved(dict(alert)),
        sent_ms=now_ms,
    )


@dataclass(frozen=True, slots=True)
class Update:
    """What one alert revision does: ``postings`` to send now, and the book's new ``entry``
    for the alert (None: leave the book as it was, the revision is older than what was sent)."""

    postings: list[dict[str, Any]]
    entry: Entry | None


def on_alert(
    known: Entry | None,
    alert: Mapping[str, Any],
    *,
    now_ms: int,
    resend_s: int,
    console_url: str | None,
) -> Update:
    """The postings for a new revision of an alert whose last sent form is ``known``."""
    if known is not None and int(alert["revision"]) < known.revision:
        return Update([], None)  # a redelivered older revision: Alertmanager knows better
    starts_at = known.starts_at if known is not None else _starts_at(alert)
    entry = entry_of(alert, console_url, starts_at, now_ms)
    postings = []
    if entry.resolved:
        if known is not None:
            entry = replace(entry, labels=known.labels)  # resolve what Alertmanager knows
        return Update([entry.posting(now_ms)], entry)
    if known is not None and known.labels != entry.labels and not known.resolved:
        postings.append(known.posting(now_ms))  # the old severity's label set ends
    postings.append(entry.posting(now_ms + VALID_FOR_RESENDS * resend_s * 1000))
    return Update(postings, entry)


@dataclass(frozen=True, slots=True)
class Resend:
    """A periodic re-send: the ``postings``, and the alert ids to take out of the book (open
    alerts unchanged for ``MAX_OPEN_MS``, left to end in Alertmanager)."""

    postings: list[dict[str, Any]]
    expired: list[str]


def due(book: Mapping[str, Entry], *, now_ms: int, resend_s: int) -> Resend:
    """Every alert of the book to re-send, in alert-id order: open ones valid for four more
    periods, resolved ones (not yet delivered as resolved) ending now."""
    ends_open = now_ms + VALID_FOR_RESENDS * resend_s * 1000
    postings, expired = [], []
    for alert_id in sorted(book):
        entry = book[alert_id]
        if entry.resolved:
            postings.append(entry.posting(now_ms))
        elif now_ms - entry.sent_ms > MAX_OPEN_MS:
            expired.append(alert_id)
        else:
            postings.append(entry.posting(ends_open))
    return Resend(postings, expired)


def _starts_at(alert: Mapping[str, Any]) -> str:
    """When the alert began firing: the event time of the first revision delivered (a
    window's start can be a budget month's, long before anything fired)."""
    return format_ts(parse_ts_ms(alert["event_time"]))
