"""Whether what a revision of an alert says is true of that revision's evidence window.

An alert is amended many times; each revision carries its own ``window_start`` and
``window_end``, and a reader takes every sentence of it as a statement about that window. A
revision that names a start before its window, or a duration longer than its window, says
something that was not true (a revision for the hour 2026-11-29T23:00 once said "the spike
started at 2026-11-11T05:00:00Z and has lasted 24 hours so far"). ``problems`` lists such
sentences; the tests and ``bench/alert_truth.py`` run it over every revision of generated
streams.

Rules, for every sentence of ``reasons``:

* a time it names lies within the window, unless it names a time ahead (``until``, ``by``,
  ``due``, ``expires``, ``expired``: an allowance's expiry, an invoice's due date);
* a duration in hours it states ("lasted N hours", "N of the M hours since its start", "ran
  for N hours", "gone on for N hours") is at most the window's length, N never above M;
* a limit it says was drawn from the customer's own peak ("over the limit of L, F times its own
  peak of P") is F x P, up to the rounding of the figures printed; one it says is a floor
  because F x P "is lower" is not below F x P (network_abuse's limits);
* with ``strict_money``, money it says was spent "so far" is the evidence's ``excess_so_far``
  and the hour's spend is the evidence's ``spend`` (the figures of spend_spike).

Pure; the alert is its JSON form (``Alert.to_dict()`` or a line of an alerts file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from streamwatch.core.timeutil import MS_PER_HOUR, parse_ts_ms

_TS: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z")
_AHEAD: Final = ("until ", "by ", "due ", "expires ", "expired ", "due on ")
_HOURS: Final = (
    re.compile(r"lasted (\d+) hours?"),
    re.compile(r"ran for (\d+) hours?"),
    re.compile(r"gone on for (\d+) hours?"),
)
_PART: Final = re.compile(r"(\d+) of the (\d+) hours since")
_SO_FAR: Final = re.compile(r"Money at risk: [^\d]*([\d,]+\.\d\d)[^ ]* above baseline so far")
_SPEND: Final = re.compile(r"^Hourly spend [^\d]*([\d,]+\.\d\d)")
_LIMIT: Final = re.compile(
    r"over the limit of ([\d,]+)[^,]*, (the floor for every account \()?"
    r"([\d.]+) times its own peak of ([\d,]+(?:\.(\d+))?)( is lower\))?"
)


def problems(alert: dict[str, Any], *, strict_money: bool = False) -> list[str]:
    """What in ``alert``'s reasons is not true of its window (empty when all is)."""
    start = parse_ts_ms(alert["window_start"])
    end = parse_ts_ms(alert["window_end"])
    hours = -(-(end - start) // MS_PER_HOUR)
    found: list[str] = []
    for sentence in alert["reasons"]:
        for match in _TS.finditer(sentence):
            before = sentence[: match.start()]
            if before.endswith(_AHEAD):
                continue
            at = parse_ts_ms(match.group())
            if not start <= at <= end:
                found.append(f"names {match.group()} outside its window: {sentence!r}")
        for pattern in _HOURS:
            for match in pattern.finditer(sentence):
                if int(match.group(1)) > hours:
                    found.append(f"states {match.group(0)!r} in a {hours}-hour window")
        for match in _PART.finditer(sentence):
            part, whole = int(match.group(1)), int(match.group(2))
            if part > whole or whole > hours:
                found.append(f"states {match.group(0)!r} in a {hours}-hour window")
        found.extend(_limit_problems(sentence))
        if strict_money:
            found.extend(_money_problems(sentence, alert.get("evidence") or {}))
    return found


def _limit_problems(sentence: str) -> Iterable[str]:
    for match in _LIMIT.finditer(sentence):
        limit = float(match.group(1).replace(",", ""))
        factor = float(match.group(3))
        own = factor * float(match.group(4).replace(",", ""))
        # The limit is printed whole, the peak to its last digit: each off by half a unit.
        slack = 0.5 + factor * 0.5 * 10.0 ** -len(match.group(5) or "")
        floor = match.group(2) is not None and match.group(6) is not None
        if floor and limit + slack < own:
            yield f"calls a limit of {limit:g} a floor above {own:g}: {sentence!r}"
        elif not floor and abs(limit - own) > slack:
            yield f"draws a limit of {limit:g} from {own:g}: {sentence!r}"


def _money_problems(sentence: str, evidence: dict[str, Any]) -> Iterable[str]:
    so_far = _SO_FAR.search(sentence)
    if so_far and "excess_so_far" in evidence:
        said = float(so_far.group(1).replace(",", ""))
        if abs(said - evidence["excess_so_far"]) > 0.005:
            yield f"says {said} so far, evidence {evidence['excess_so_far']}"
    spend = _SPEND.search(sentence)
    if spend and "spend" in evidence:
        said = float(spend.group(1).replace(",", ""))
        if abs(said - evidence["spend"]) > 0.005:
            yield f"says the hour's spend is {said}, evidence {evidence['spend']}"
