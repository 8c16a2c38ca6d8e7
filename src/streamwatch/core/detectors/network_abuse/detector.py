"""``network_abuse``: spam, scanning and DDoS from a customer's network flows and egress meter.

Three patterns, each measured per window against the customer's own recent peak:

* ``spam``: outbound SMTP (ports 25, 465, 587) to many distinct mail servers within half an
  hour to an hour (the current and the previous half-hour bucket: a sliding hour that needs no
  more state than two sketches);
* ``scan``: many distinct destinations (host and port) or many distinct ports within ten to
  twenty minutes (the current and the previous ten-minute bucket), SMTP aside;
* ``ddos``: egress (the ``egress`` usage meter, GB, summed over the customer's resources per
  hour; a record longer than an hour counts at its hourly rate, ``core.metering``) far above
  the customer's own peak.

Distinct destinations are counted with a small HyperLogLog per window (``sketch``), ports in a
capped list; nothing grows with the traffic. The limit of a window is ``FACTOR`` times the
customer's peak (a maximum over past windows that decays slowly, so a mail service sending to a
steady hundred servers an hour or a nightly backup sets its own bar), and never below ``MIN``.
Windows that crossed the limit are not learned from; nor, once the customer is warmed up, are
egress hours above ``SUSPECT_FACTOR`` times the peak while they last (a short run is learned
once it ends, a run of ``ABSORB_H`` hours is the customer's new level), and other hours raise
the peak by at most ``MAX_RISE`` an hour: a flood ramping up over a day or two must not raise
its own bar. Weekly
jobs (a Sunday backup, a weekly newsletter): a spam window or egress hour over its limit is
noted by local hour of the week (``core.weekly``); once the same hour crossed in consecutive
weeks, it may reach 1.5 times the level it had before it counts (it is still not learned). A
customer first seen less than ``WARMUP_MS`` ago has no peak yet: a new account (its sign-up
seen within the last 30 days) is judged against ``MIN`` alone (what new accounts may do), an
established one is only learned from, since its history before the stream is unknown.

**Late egress.** Billing exports deliver egress hours late, in batches per subscription,
after later hours. While a customer's egress comes in order, an egress hour closes when a later
one arrives. Once egress arrives for an hour already closed, later hours are held open as long
as its egress has been seen to lag (at most ``LATE_H`` hours): each closes, and teaches the
peak, only with all its egress, and one that crosses the line closes the hours before it at
once and is judged. Egress for an hour already closed is counted (``egress_too_late``).

One incident per pattern and episode (windows crossing the line within ``EPISODE_GAP_MS`` of
each other); the alert is amended when its worst window doubles, the episode spans 4, 8,
16... windows or it becomes ``sustained`` (over the line, on and off, for more than a day:
evidence ``hours`` and ``sustained``), at most ``MAX_REVISIONS`` times (and once more if it
becomes sustained after that, since the policy acts on it). Evidence ``standing``
is "untrusted" for an account younger than 30 days, else "established", for the policy.
Deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.abuse_common import ratio_score, severity_of, text
from streamwatch.core.detectors.base import Capability, Finding, Setup, named
from streamwatch.core.detectors.network_abuse import sketch
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import ActivityEvent, Event, UsageEvent, subscription_of
from streamwatch.core.feedback import NotAnomaly
from streamwatch.core.metering import hourly_share, hours_covered
from streamwatch.core.severity import within
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts
from streamwatch.core.weekly import WeeklyMemory, zone_name

SMTP_PORTS: Final = frozenset({25, 465, 587})
SPAM_MIN: Final = 40
"""Distinct mail servers in an hour that no account without a higher peak should reach."""
SCAN_MIN_ENDPOINTS: Final = 60
SCAN_MIN_PORTS: Final = 24
EGRESS_MIN_GB: Final = 50.0
SUSPECT_FACTOR: Final = 2.0
"""An egress hour above this many times the peak is suspicious: not learned (see the module
docstring)."""
SUSPECT_MIN_GB: Final = 5.0
"""Egress hours below this are never suspicious (a peak near zero is not a bar)."""
LATE_H: Final = 48
"""Hours after an hour during which its egress may still arrive (see **Late egress**)."""
ABSORB_H: Final = 72
"""Suspicious egress hours in a row after which they are learned after all."""
SHORT_RUN_H: Final = 4
"""A run of suspicious egress hours this short that stayed under the line is learned once it
ends (a backup)."""
MAX_RISE: Final = 1.02
"""Once warmed up, a learned egress hour raises the peak by at most this factor (about 1.6x
a day; a level that lasts is learned in full after ``ABSORB_H`` hours)."""
FACTOR: Final[dict[str, float]] = {"spam": 3.0, "scan": 4.0, "ddos": 5.0}
SPAM_BUCKET_MS: Final = 30 * 60 * 1000
SCAN_BUCKET_MS: Final = 10 * 60 * 1000
HOURLY_DECAY: Final = 0.998
"""Peaks decay by this per hour (about a third a week) without a window as high."""
SPAM_DECAY: Final = HOURLY_DECAY ** (SPAM_BUCKET_MS / MS_PER_HOUR)
SCAN_DECAY: Final = HOURLY_DECAY ** (SCAN_BUCKET_MS / MS_PER_HOUR)
LAG: Final[dict[str, int]] = {"spam": 4, "scan": 6, "ddos": 3}
"""Buckets (half hours, ten minutes, hours) a window waits before it may raise the peak."""
WARMUP_MS: Final = 36 * MS_PER_HOUR
NEW_ACCOUNT_MS: Final = 30 * MS_PER_DAY
EPISODE_GAP_MS: Final = 6 * MS_PER_HOUR
MAX_REVISIONS: Final = 12
SUSTAINED_H: Final = 24
"""An episode over the line for more hours than this is ``sustained`` (evidence, for the
policy: the default restricts an established customer's sustained abuse once approved)."""
PORTS_KEPT: Final = 64
EXAMPLES_KEPT: Final = 5
SUBSCRIPTIONS_KEPT: Final = 4
SCORE_FLOOR: Final = 0.7
"""Score of a window just at its limit ("high"); each doubling past it adds 0.15."""


@dataclass(slots=True)
class Episode:
    """Consecutive windows of one pattern over the line: one alert."""

    start_ms: int
    last_ms: int
    limit: float
    worst: float = 0.0
    windows: int = 0
    last_window: int = -1
    closed: float = 0.0
    """The sum of the worst values of the episode's finished windows."""
    current: float = 0.0
    signature: str = ""
    revisions: int = 0
    subscriptions: list[str] = field(default_factory=list)

    @property
    def hours(self) -> int:
        """Hours from the episode's first window over the line to the end of the last hour its
        latest window's evidence covers, gaps included."""
        return (self.last_ms - self.start_ms) // MS_PER_HOUR + 1

    @property
    def sustained(self) -> bool:
        """Over the line, on and off, for more than a day (``SUSTAINED_H``): a flood or a
        campaign, not a night's backup or a morning's newsletter."""
        return self.hours > SUSTAINED_H


@dataclass(slots=True)
class Peak:
    """The customer's own bar for one measure: a maximum over past windows that decays, learned
    with a lag. A closed window's value waits in ``pending`` for ``lag`` buckets and is dropped
    if a window crosses the line meanwhile, so that the start of an attack (its first, partial
    window below the line) does not raise the bar for the rest of it."""

    value: float = 0.0
    pending: float = 0.0
    since: int = -1
    """The bucket from which ``pending`` collects (-1: nothing pending)."""

    def close(
        self, bucket: int, following: int, observed: float | None, decay: float, lag: int
    ) -> None:
        """Bucket ``bucket`` closed with ``observed`` (None: it crossed the line) and the next
        one seen is ``following``."""
        self.value *= decay ** (following - bucket)
        if observed is None:
            self.pending, self.since = 0.0, -1
            return
        if self.since < 0:
            self.since = bucket
        self.pending = max(self.pending, observed)
        if following - self.since >= lag:
            self.value = max(self.value, self.pending)
            self.pending, self.since = 0.0, -1


@dataclass(slots=True)
class Window:
    """Flows of one pattern over the current bucket and the one before (a sliding window of
    one to two buckets), and the customer's peak for it."""

    bucket: int = -1
    sketch: bytearray | None = None
    """Distinct destinations of the current bucket."""
    flows: int = 0
    ports: list[int] = field(default_factory=list)
    prev: bytearray | None = None
    """The previous bucket's sketch, when it is the one just before."""
    prev_flows: int = 0
    prev_ports: list[int] = field(default_factory=list)
    flagged: bool = False
    """Whether the window crossed the line during the current bucket (then not learned)."""
    examples: list[str] = field(default_factory=list)
    peak: Peak = field(default_factory=Peak)
    """The most distinct destinations a window had."""
    port_peak: Peak = field(default_factory=Peak)

    def distinct(self) -> int:
        """Distinct destinations in the window."""
        if self.sketch is None:
            return 0 if self.prev is None else sketch.estimate(self.prev)
        both = self.sketch if self.prev is None else sketch.merged(self.sketch, self.prev)
        return sketch.estimate(both)

    def distinct_ports(self) -> list[int]:
        """Distinct ports in the window, in order."""
        return sorted(set(self.ports) | set(self.prev_ports))


@dataclass(slots=True)
class NetState:
    """Current windows, peaks and episodes of one customer."""

    first_ms: int | None = None
    signup_ms: int | None = None
    smtp: Window = field(default_factory=Window)
    scan: Window = field(default_factory=Window)
    egress_hour: int = -1
    egress_gb: float = 0.0
    egress_flagged: bool = False
    egress_peak: Peak = field(default_factory=Peak)
    egress_suspect: int = 0
    """Suspicious egress hours in a row (see ``SUSPECT_FACTOR``)."""
    egress_run_peak: float = 0.0
    """The most egress in an hour of that run (-1: the run crossed the line)."""
    egress_span_h: int = 1
    """Hours covered by the longest record counted in ``egress_hour`` (24 for a daily row)."""
    egress_late_h: int = 0
    """How many hours behind the newest egress hour the customer's egress has been seen to
    arrive (at most ``LATE_H``): later hours are held that long before they close (0: egress
    comes in order; see **Late egress**)."""
    egress_ahead: list[list[Any]] = field(default_factory=list)
    """Egress held for hours after ``egress_hour``, in hour order: [hour, GB, hours covered
    by its longest record, latest event time, a subscription]."""
    egress_too_late: int = 0
    """Egress records for an hour already closed, not counted in any hour."""
    tz: str | None = None
    """The IANA time zone of the sign-up's ``timezone`` property (weekly rhythms)."""
    top_hour: int = -1
    top: list[Any] | None = None
    """The flow with the most bytes out in ``top_hour``: [host, port, protocol, bytes]; a flood's
    alert names it during that hour and the next (usage is stamped at the hour's start)."""
    episodes: dict[str, Episode] = field(default_factory=dict)
    weekly: dict[str, WeeklyMemory] = field(default_factory=dict)
    """Windows over the line by local hour of the week, per pattern (``spam``, ``ddos``)."""

    def rhythm(self, pattern: str) -> WeeklyMemory:
        """The weekly memory of ``pattern`` (created empty)."""
        memory = self.weekly.get(pattern)
        if memory is None:
            memory = self.weekly[pattern] = WeeklyMemory()
        return memory


_WINDOW_FIELDS: Final = tuple(f.name for f in fields(Window))
_SKETCHES: Final = frozenset({"sketch", "prev"})
_PEAKS: Final = frozenset({"peak", "port_peak", "egress_peak"})
_FIELDS: Final = tuple(
    f.name for f in fields(NetState) if f.name not in ("episodes", "smtp", "scan", "weekly")
)
_EPISODE_FIELDS: Final = tuple(f.name for f in fields(Episode))
_ADDED: Final = frozenset(
    {
        "egress_suspect",
        "egress_run_peak",
        "tz",
        "egress_span_h",
        "egress_late_h",
        "egress_ahead",
        "egress_too_late",
    }
)
"""Fields added after state version 2 was first written: a dump may lack them."""
_LATE_FIELDS: Final = ("egress_late_h", "egress_ahead", "egress_too_late")


@register(rank=90)
class NetworkAbuseDetector:
    """Spam fan-out, scanning and egress floods; see the module docstring."""

    name: ClassVar[str] = "network_abuse"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage", "activity"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.LEARNS})
    kinds: ClassVar[frozenset[str]] = frozenset({"network_abuse"})
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    @classmethod
    def from_setup(cls, setup: Setup) -> NetworkAbuseDetector:  # noqa: ARG003
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls()

    def new_state(self) -> NetState:
        return NetState()

    def observe(self, state: NetState, event: Event) -> list[Finding]:
        if state.first_ms is None and not _is_signup(event):
            # Not a sign-up: one back-filled from years ago says nothing of the traffic seen.
            state.first_ms = event.ts_ms
        if type(event) is UsageEvent:
            return self._egress(state, event) if event.meter == "egress" else []
        if not isinstance(event, ActivityEvent):
            return []
        if event.operation == "network.flow":
            return self._flow(state, event)
        if event.operation == "customer.signup":
            if state.signup_ms is None or event.ts_ms < state.signup_ms:
                state.signup_ms = event.ts_ms
            tz = zone_name(event.properties.get("timezone"))
            if tz is not None:
                state.tz = tz
        return []

    def dump(self, state: NetState) -> dict[str, Any]:
        out: dict[str, Any] = {name: _copy(getattr(state, name)) for name in _FIELDS}
        out["smtp"] = _dump_window(state.smtp)
        out["scan"] = _dump_window(state.scan)
        out["episodes"] = {
            k: {f: _copy(getattr(e, f)) for f in _EPISODE_FIELDS} for k, e in state.episodes.items()
        }
        out["weekly"] = {k: w.dump() for k, w in sorted(state.weekly.items())}
        if not (state.egress_late_h or state.egress_too_late):
            for name in _LATE_FIELDS:  # egress in order (most customers): nothing to keep
                del out[name]
        return out

    def load(self, data: dict[str, Any]) -> NetState:
        values: dict[str, Any] = {
            name: _load_peak(data[name]) if name in _PEAKS else _copy(data[name])
            for name in _FIELDS
            if name in data or name not in _ADDED
        }
        episodes = {
            k: Episode(**{f: _copy(v) for f, v in named(e, _EPISODE_FIELDS).items()})
            for k, e in data["episodes"].items()
        }
        return NetState(
            **values,
            smtp=_load_window(data["smtp"]),
            scan=_load_window(data["scan"]),
            episodes=episodes,
            weekly={k: WeeklyMemory.load(w) for k, w in (data.get("weekly") or {}).items()},
        )

    def learn_normal(self, state: NetState, feedback: NotAnomaly) -> None:
        """ "Not an anomaly": the pattern's peak takes in the alert's worst window (evidence
        ``pattern`` and ``worst``; for a scan also its distinct ports), so the limit becomes
        ``FACTOR`` times that level and the same traffic no longer crosses it (for a scan, its
        distinct destinations and ports). A customer still
        judged by the new-account floor alone keeps that floor."""
        evidence = feedback.evidence
        pattern, worst = evidence.get("pattern"), evidence.get("worst")
        if isinstance(worst, bool) or not isinstance(worst, int | float):
            return
        level = min(max(float(worst), 0.0), 1e12)
        if pattern == "spam":
            state.smtp.peak.value = max(state.smtp.peak.value, level)
        elif pattern == "scan":
            endpoints, ports = evidence.get("distinct_endpoints"), evidence.get("distinct_ports")
            if isinstance(endpoints, int) and not isinstance(endpoints, bool):
                level = min(max(float(endpoints), 0.0), 1e12)
            state.scan.peak.value = max(state.scan.peak.value, level)
            if isinstance(ports, int) and not isinstance(ports, bool):
                peak = state.scan.port_peak
                peak.value = max(peak.value, float(min(max(ports, 0), PORTS_KEPT)))
        elif pattern == "ddos":
            state.egress_peak.value = max(state.egress_peak.value, level)

    # -- limits -----------------------------------------------------------------------------

    def _limit(
        self, state: NetState, ts_ms: int, peak: float, minimum: float, pattern: str
    ) -> float | None:
        """The window limit at ``ts_ms``, or None while an established customer is learned."""
        first = state.first_ms
        if first is not None and ts_ms - first >= WARMUP_MS:
            return max(minimum, FACTOR[pattern] * peak)
        if state.signup_ms is not None and ts_ms - state.signup_ms <= NEW_ACCOUNT_MS:
            return minimum
        return None

    # -- egress -----------------------------------------------------------------------------

    def _egress(self, state: NetState, event: UsageEvent) -> list[Finding]:
        hour = event.ts_ms // MS_PER_HOUR
        # A daily egress row is judged at its hourly rate, not as one hour (core.metering).
        gb = max(0.0, hourly_share(event.quantity, event.interval_s))
        span = hours_covered(event.interval_s)
        if hour < state.egress_hour:
            self._egress_lag(state, hour)
            state.egress_too_late += 1
            return []
        if hour > state.egress_hour:
            if state.egress_late_h:
                return self._egress_hold(state, hour, gb, span, event)
            self._egress_roll(state, hour)
        return self._egress_add(state, gb, span, event.ts_ms, event.subscription_id)

    def _egress_roll(self, state: NetState, hour: int) -> None:
        """Close the current egress hour (learn it) and open ``hour``."""
        if state.egress_hour >= 0:
            observed = self._egress_learned(state)
            state.egress_peak.close(state.egress_hour, hour, observed, HOURLY_DECAY, LAG["ddos"])
        state.egress_hour, state.egress_gb, state.egress_flagged = hour, 0.0, False
        state.egress_span_h = 1

    def _egress_lag(self, state: NetState, hour: int) -> None:
        """Egress for ``hour`` arrived: keep later hours open at least as long as it lagged."""
        newest = state.egress_ahead[-1][0] if state.egress_ahead else state.egress_hour
        state.egress_late_h = max(state.egress_late_h, min(newest - hour, LATE_H))

    def _egress_hold(
        self, state: NetState, hour: int, gb: float, span: int, event: UsageEvent
    ) -> list[Finding]:
        """Egress for an hour after the current one while the customer's egress arrives late
        (see **Late egress**): held for its hour until that settles, unless it crosses the line
        at once."""
        ahead = state.egress_ahead
        held = next((h for h in ahead if h[0] == hour), None)
        if held is None:
            held = [hour, 0.0, 1, event.ts_ms, event.subscription_id]
            ahead.append(held)
            ahead.sort(key=lambda h: h[0])
        held[1] += gb
        held[2] = max(held[2], span)
        held[3] = max(held[3], event.ts_ms)
        self._egress_lag(state, hour)
        findings: list[Finding] = []
        limit = self._limit(state, event.ts_ms, state.egress_peak.value, EGRESS_MIN_GB, "ddos")
        if limit is not None and held[1] >= limit:
            findings += self._egress_advance(state, hour)
        settled = ahead[-1][0] - state.egress_late_h if ahead else state.egress_hour
        if settled > state.egress_hour:
            findings += self._egress_advance(state, settled)
        return findings

    def _egress_advance(self, state: NetState, until: int) -> list[Finding]:
        """Close the egress hours before ``until`` in order, each with what was held for it,
        and make ``until`` the current hour."""
        findings: list[Finding] = []
        ahead = state.egress_ahead
        while state.egress_hour < until:
            hour = min(ahead[0][0], until) if ahead else until
            self._egress_roll(state, hour)
            if ahead and ahead[0][0] == hour:
                _, gb, span, ts_ms, sub = ahead.pop(0)
                findings += self._egress_add(state, gb, span, ts_ms, sub)
        return findings

    def _egress_add(
        self, state: NetState, gb: float, span: int, ts_ms: int, subscription: str | None
    ) -> list[Finding]:
        """Count ``gb`` into the current egress hour and judge it."""
        hour = state.egress_hour
        state.egress_gb += gb
        state.egress_span_h = max(state.egress_span_h, span)
        limit = self._limit(state, ts_ms, state.egress_peak.value, EGRESS_MIN_GB, "ddos")
        if limit is None or state.egress_gb < limit:
            return []
        state.egress_flagged = True
        if self._weekly_job(state, "ddos", hour * MS_PER_HOUR, state.egress_gb):
            return []
        # A daily row's evidence lasts its day: the next day's row continues the episode.
        through_ms = (hour + state.egress_span_h - 1) * MS_PER_HOUR
        line = (limit, state.egress_peak.value)
        return self._episode(
            state, "ddos", ts_ms, hour, state.egress_gb, line, subscription, through_ms
        )

    def _egress_learned(self, state: NetState) -> float | None:
        """What the closing egress hour teaches the peak (None: nothing).

        Once warmed up, an hour over the line or above ``SUSPECT_FACTOR`` times the peak is
        suspicious and not learned, while the run of such hours lasts: a flood ramping up
        over a day or two never raises its own bar. A short run (``SHORT_RUN_H`` hours at
        most, never over the line) is learned once egress is back down: a nightly backup
        sets its own bar. A run lasting ``ABSORB_H`` hours below the line is the customer's
        new level and is learned. Other hours raise the peak by at most ``MAX_RISE``."""
        gb = state.egress_gb
        flagged = state.egress_flagged
        peak = state.egress_peak.value
        first = state.first_ms
        warmed = first is not None and state.egress_hour * MS_PER_HOUR - first >= WARMUP_MS
        if flagged or (warmed and gb >= max(SUSPECT_MIN_GB, SUSPECT_FACTOR * peak)):
            run = state.egress_suspect
            state.egress_suspect = run + 1
            tainted = flagged or (run > 0 and state.egress_run_peak < 0.0)
            state.egress_run_peak = -1.0 if tainted else max(state.egress_run_peak, gb)
            return gb if not flagged and state.egress_suspect > ABSORB_H else None
        run, run_peak = state.egress_suspect, state.egress_run_peak
        state.egress_suspect, state.egress_run_peak = 0, 0.0
        learned = min(gb, max(SUSPECT_MIN_GB, peak * MAX_RISE)) if warmed else gb
        if 0 < run <= SHORT_RUN_H and run_peak > 0.0:
            learned = max(learned, run_peak)
        return learned

    def _weekly_job(self, state: NetState, pattern: str, ts_ms: int, value: float) -> bool:
        """Note a window over the line by its hour of the week; whether a weekly job seen at
        that hour in the weeks before covers it (then it is not alerted on)."""
        hour = ts_ms - ts_ms % MS_PER_HOUR
        memory = state.rhythm(pattern)
        covered = value < memory.allowance(hour, state.tz)
        memory.note(hour, state.tz, value)
        return covered

    # -- flows ------------------------------------------------------------------------------

    def _flow(self, state: NetState, event: ActivityEvent) -> list[Finding]:
        props = event.properties
        host = text(props.get("dst_host"))
        port = _port(props.get("dst_port"))
        if host is None:
            return []
        host = host.lower().rstrip(".")
        ts_ms = event.ts_ms
        sent = props.get("bytes_out")
        if isinstance(sent, int | float) and not isinstance(sent, bool) and math.isfinite(sent):
            hour = ts_ms // MS_PER_HOUR
            top = state.top
            if hour > state.top_hour or (hour == state.top_hour and (top is None or sent > top[3])):
                protocol = text(props.get("protocol")) or "?"
                state.top_hour, state.top = hour, [host, port, protocol, int(sent)]
        subscription = subscription_of(event.resource_id)
        if port in SMTP_PORTS:
            return self._window(state, "spam", ts_ms, host, None, subscription)
        return self._window(state, "scan", ts_ms, f"{host}:{port}", port, subscription)

    def _window(
        self,
        state: NetState,
        pattern: str,
        ts_ms: int,
        destination: str,
        port: int | None,
        subscription: str | None,
    ) -> list[Finding]:
        """Count a flow into the pattern's window and judge the window."""
        spam = pattern == "spam"
        window = state.smtp if spam else state.scan
        bucket = ts_ms // (SPAM_BUCKET_MS if spam else SCAN_BUCKET_MS)
        if bucket < window.bucket:
            return []  # late: its window was judged already
        if bucket > window.bucket:
            _roll(window, bucket, SPAM_DECAY if spam else SCAN_DECAY, LAG[pattern])
        registers = window.sketch
        if registers is None:
            registers = window.sketch = sketch.empty()
        sketch.add(registers, destination)
        window.flows += 1
        if port is not None and port not in window.ports and len(window.ports) < PORTS_KEPT:
            window.ports.append(port)
        example = destination.rsplit(":", 1)[0] if not spam else destination
        if example not in window.examples and len(window.examples) < EXAMPLES_KEPT:
            window.examples.append(example)
        minimum = SPAM_MIN if spam else SCAN_MIN_ENDPOINTS
        limit = self._limit(state, ts_ms, window.peak.value, minimum, pattern)
        if limit is None:
            return []
        port_limit = math.inf
        if not spam:
            port_limit = (
                self._limit(state, ts_ms, window.port_peak.value, SCAN_MIN_PORTS, pattern)
                or math.inf
            )
        if window.flows + window.prev_flows < min(limit, port_limit):
            return []
        distinct = window.distinct()
        ports = len(window.distinct_ports())
        if distinct < limit and ports < port_limit:
            return []
        window.flagged = True
        value, line = float(distinct), (limit, window.peak.value)
        if ports / port_limit > distinct / limit:
            value, line = float(ports), (port_limit, window.port_peak.value)
        if spam and self._weekly_job(state, pattern, ts_ms, value):
            return []
        return self._episode(state, pattern, ts_ms, bucket, value, line, subscription)

    # -- episodes and findings --------------------------------------------------------------

    def _episode(
        self,
        state: NetState,
        pattern: str,
        ts_ms: int,
        window: int,
        value: float,
        line: tuple[float, float],
        subscription: str | None,
        through_ms: int | None = None,
    ) -> list[Finding]:
        """Count a window over the line into the pattern's episode; a finding when the episode
        is new or has grown enough to amend its alert. ``line``: the window's limit and the
        peak it was drawn from. ``through_ms``: the start of the last hour the window's
        evidence covers, when later than ``ts_ms`` (a daily egress row)."""
        limit = line[0]
        episode = state.episodes.get(pattern)
        if episode is None or ts_ms - episode.last_ms > EPISODE_GAP_MS:
            episode = state.episodes[pattern] = Episode(ts_ms, ts_ms, limit)
        episode.last_ms = max(episode.last_ms, ts_ms, through_ms or ts_ms)
        if window != episode.last_window:
            episode.windows += 1
            episode.last_window = window
            episode.closed += episode.current
            episode.current = value
        else:
            episode.current = max(episode.current, value)
        episode.worst = max(episode.worst, value)
        subscriptions = episode.subscriptions
        if subscription and subscription not in subscriptions:
            subscriptions.append(subscription)
            del subscriptions[SUBSCRIPTIONS_KEPT:]
        score = ratio_score(episode.worst, episode.limit, floor=SCORE_FLOOR)
        severity = severity_of(score) or "high"
        doublings = int(math.log2(max(1.0, episode.worst / episode.limit)))
        spans = max(0, episode.windows.bit_length() - 2)  # 4, 8, 16... windows
        sustained = "|sustained" if episode.sustained else ""
        signature = f"{severity}|{spans}|{doublings}{sustained}"
        if signature == episode.signature:
            return []
        if episode.revisions >= MAX_REVISIONS and (
            not sustained or episode.signature.endswith(sustained)
        ):
            # Past the cap, only becoming sustained is still said: the policy acts on it.
            return []
        episode.signature = signature
        episode.revisions += 1
        return [_finding(self.name, state, pattern, episode, ts_ms, value, line, score)]


def _finding(
    kind: str,
    state: NetState,
    pattern: str,
    episode: Episode,
    ts_ms: int,
    value: float,
    line: tuple[float, float],
    score: float,
) -> Finding:
    limit, peak = line
    age_ms = None if state.signup_ms is None else ts_ms - state.signup_ms
    untrusted = age_ms is not None and age_ms < NEW_ACCOUNT_MS
    warmed = state.first_ms is not None and ts_ms - state.first_ms >= WARMUP_MS
    basis, drawn_from = _basis(warmed, limit, peak, pattern)
    window_start = min(episode.start_ms, ts_ms)
    window_end = ts_ms
    evidence: dict[str, Any] = {
        "pattern": pattern,
        "standing": "untrusted" if untrusted else "established",
        "limit": round(limit, 1),
        "basis": drawn_from,
        "windows": episode.windows,
        "worst": round(episode.worst, 1),
        "hours": episode.hours,
        "sustained": "yes" if episode.sustained else "no",
    }
    if pattern == "spam":
        window = state.smtp
        distinct = window.distinct()
        flows = window.flows + window.prev_flows
        since = window.bucket * SPAM_BUCKET_MS - (SPAM_BUCKET_MS if window.prev else 0)
        evidence.update(
            distinct_mail_servers=distinct,
            smtp_flows=flows,
            since=format_ts(since),
            peak=round(window.peak.value, 1),
            examples=list(window.examples),
        )
        window_start = min(window_start, since)
        lead = (
            f"Outbound mail to about {distinct} distinct mail servers since {format_ts(since)} "
            f"({flows} SMTP connections), over the limit of {limit:.0f} an hour, {basis}."
        )
        more = f"Recipients include {', '.join(window.examples)}."
    elif pattern == "scan":
        window = state.scan
        ports = window.distinct_ports()
        count = window.distinct()
        since = window.bucket * SCAN_BUCKET_MS - (SCAN_BUCKET_MS if window.prev else 0)
        evidence.update(
            distinct_endpoints=count,
            distinct_ports=len(ports),
            since=format_ts(since),
            ports_sample=ports[:12],
            examples=list(window.examples),
            peak_endpoints=round(window.peak.value, 1),
            peak_ports=round(window.port_peak.value, 1),
        )
        window_start = min(window_start, since)
        lead = (
            f"Connections to about {count} distinct destinations on {len(ports)} distinct ports "
            f"since {format_ts(since)}, over the limit of {limit:.0f}, {basis}: a network scan."
        )
        more = (
            f"Ports include {', '.join(str(p) for p in ports[:12])}; hosts include "
            f"{', '.join(window.examples)}."
        )
    else:
        evidence.update(
            egress_gb=round(value, 1),
            peak_gb=round(state.egress_peak.value, 1),
            total_gb=round(episode.closed + episode.current, 1),
        )
        top = state.top if 0 <= ts_ms // MS_PER_HOUR - state.top_hour <= 1 else None
        if top is not None:
            evidence["top_flow"] = {
                "dst_host": top[0],
                "dst_port": top[1],
                "protocol": top[2],
                "bytes_out": top[3],
            }
        hour_start = ts_ms - ts_ms % MS_PER_HOUR
        span = state.egress_span_h
        if span > 1:
            evidence["record_hours"] = span
            window_end = max(window_end, hour_start + span * MS_PER_HOUR)
            measured = (
                f"Egress at {value:,.1f} GB an hour from {format_ts(hour_start)}, reading the "
                f"{span}-hour record ({value * span:,.0f} GB) at its hourly rate"
            )
        else:
            measured = f"Egress of {value:,.0f} GB in the hour from {format_ts(hour_start)}"
        lead = f"{measured}, over the limit of {limit:,.0f} GB an hour, {basis}."
        more = (
            f"Largest flow: {top[3]:,} bytes to {top[0]}:{top[1]} ({top[2]})."
            if top is not None
            else "No flow records for the hour."
            if span == 1
            else "No flow record of that day seen yet."
        )
    reasons = [lead, more]
    if episode.windows > 1:
        began = format_ts(episode.start_ms)
        reasons.append(f"{episode.windows} windows over the line since {began}.")
    if episode.sustained:
        last = format_ts(episode.last_ms - episode.last_ms % MS_PER_HOUR)
        reasons.append(
            f"Over the line on and off for {episode.hours} hours, from "
            f"{format_ts(episode.start_ms)} through the hour from {last}: more than a day."
        )
    if untrusted:
        reasons.append("The account is less than 30 days old.")
    return Finding(
        incident=f"{pattern}:{format_ts(episode.start_ms)}",
        kind=kind,
        severity=severity_of(score) or "high",
        score=within(severity_of(score) or "high", score),
        event_time_ms=ts_ms,
        window_start_ms=window_start,
        window_end_ms=window_end,
        reasons=tuple(reasons),
        evidence=evidence,
        subscription_ids=tuple(episode.subscriptions),
    )


def _basis(warmed: bool, limit: float, peak: float, pattern: str) -> tuple[str, str]:
    """What drew a window's ``limit``, in words and as the evidence's ``basis``: ``FACTOR``
    times the customer's own ``peak`` ("baseline"), the floor for every account when that is
    higher ("floor"), or, before the customer is learned, the floor for new accounts."""
    if not warmed:
        return "the floor for new accounts (no history of its own yet)", "new-account floor"
    factor = FACTOR[pattern]
    digits = 1 if pattern == "ddos" else 0
    own = f"{factor:g} times its own peak of {peak:,.{digits}f}"
    if factor * peak >= limit:
        return own, "baseline"
    return f"the floor for every account ({own} is lower)", "floor"


def _is_signup(event: Event) -> bool:
    return isinstance(event, ActivityEvent) and event.operation == "customer.signup"


def _roll(window: Window, bucket: int, decay: float, lag: int) -> None:
    """Close the current bucket: learn the window's peaks from it unless flagged, and keep it as
    the previous bucket if it is the one just before ``bucket``."""
    if window.bucket >= 0:
        flagged = window.flagged
        distinct = None if flagged else float(window.distinct())
        ports = None if flagged else float(len(window.distinct_ports()))
        window.peak.close(window.bucket, bucket, distinct, decay, lag)
        window.port_peak.close(window.bucket, bucket, ports, decay, lag)
    if bucket == window.bucket + 1 and window.sketch is not None:
        window.prev, window.prev_flows, window.prev_ports = (
            window.sketch,
            window.flows,
            window.ports,
        )
    else:
        window.prev, window.prev_flows, window.prev_ports = None, 0, []
    window.bucket = bucket
    window.sketch, window.flows, window.ports = None, 0, []
    window.flagged = False
    window.examples = []


def _dump_window(window: Window) -> dict[str, Any]:
    out = {}
    for name in _WINDOW_FIELDS:
        value = getattr(window, name)
        if name in _SKETCHES:
            value = None if value is None else sketch.dump(value)
        out[name] = _copy(value)
    return out


def _dump_peak(peak: Peak) -> dict[str, Any]:
    return {"value": peak.value, "pending": peak.pending, "since": peak.since}


def _load_peak(values: list[Any] | dict[str, Any]) -> Peak:
    return Peak(**named(values, ("value", "pending", "since")))


def _load_window(values: list[Any] | dict[str, Any]) -> Window:
    """A window from its dump: by name, or the positional list of state version 1."""
    loaded: dict[str, Any] = {}
    for name, value in named(values, _WINDOW_FIELDS).items():
        if name in _SKETCHES:
            loaded[name] = None if value is None else sketch.load(value)
        elif name in _PEAKS:
            loaded[name] = _load_peak(value)
        else:
            loaded[name] = _copy(value)
    return Window(**loaded)


def _port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value < 65536:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) < 65536:
        return int(value)
    return None


def _copy(value: Any) -> Any:
    if isinstance(value, Peak):
        return _dump_peak(value)
    if isinstance(value, list):
        return [list(v) if isinstance(v, list) else v for v in value]
    return value
