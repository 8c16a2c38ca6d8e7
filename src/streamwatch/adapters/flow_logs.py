"""Azure NSG flow logs (v1/v2) and VNet flow logs (v4) -> ``network.flow`` activity events.

One record is one NSG's (``resourceId``) or one flow-logged target's (``targetResourceID``)
flows over about a minute, as lists of comma-separated flow tuples:

* NSG v2: ``epochSeconds,srcIP,dstIP,srcPort,dstPort,T|U,I|O,A|D,B|C|E,pktsS2D,bytesS2D,
  pktsD2S,bytesD2S`` (``B`` tuples have empty counters; v1 stops after ``A|D``);
* VNet v4: ``epochMillis,srcIP,dstIP,srcPort,dstPort,protocolNumber,I|O,B|C|E|D,encryption,
  pktsS2D,bytesS2D,pktsD2S,bytesD2S`` (state ``D``: denied).

Only outbound tuples are the customer's own traffic; inbound ones (scanners knocking on the
customer's machines) say nothing of what the customer does, and a record with nothing else is
refused as ``inbound_only``. Outbound tuples are aggregated per minute, source, destination
(address and port), protocol and decision, so that a busy machine is a few events a minute,
not one per packet: ``dst_host``, ``dst_port``, ``protocol``, ``bytes_out`` (source to
destination, summed: the counters are per update), ``packets_out``, ``bytes_in``, ``flows``
(tuples seen), ``src_ip``, ``rule``; status ``failed`` when the rule denied the flow. Tuples
that do not parse are skipped and counted in ``malformed_tuples`` of the record's events.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from streamwatch.adapters.base import (
    Context,
    Refused,
    event_id,
    opt_text,
    resource_of,
    subscription_in,
    ts,
    when,
)

NAME: Final = "flow-logs"
INPUT: Final = "json"

MINUTE_MS: Final = 60_000
PROTOCOLS: Final = {"t": "tcp", "u": "udp", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmp"}
_V2_MIN_FIELDS: Final = 8


@dataclass(slots=True)
class _Flow:
    bytes_out: int = 0
    packets_out: int = 0
    bytes_in: int = 0
    tuples: int = 0


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The per-minute outbound flow summaries of one flow-log record."""
    resource = resource_of(opt_text(record, "targetResourceID") or opt_text(record, "resourceId"))
    if not resource:
        raise Refused("missing_field", "field 'resourceId/targetResourceID' is missing")
    subscription = subscription_in(resource)
    if not subscription:
        raise Refused("no_subscription", f"resource {resource[:60]} names no subscription")
    record_ms = when(record.get("time"), "time", ctx.tz)
    customer = ctx.customer_for(subscription)
    groups = list(_tuple_groups(record))
    if not groups:
        raise Refused("no_flows", "the record holds no flow tuples")
    flows: dict[tuple[int, str, str, int, str, str, str], _Flow] = {}
    bad = inbound = 0
    for rule, tuples in groups:
        for raw in tuples:
            parsed = _parse(raw)
            if parsed is None:
                bad += 1
                continue
            minute, src, dst, port, protocol, outbound, denied, out_p, out_b, in_b = parsed
            if not outbound:
                inbound += 1
                continue
            key = (minute, src, dst, port, protocol, "deny" if denied else "allow", rule)
            flow = flows.setdefault(key, _Flow())
            flow.bytes_out += out_b
            flow.packets_out += out_p
            flow.bytes_in += in_b
            flow.tuples += 1
    if not flows:
        if inbound:
            raise Refused("inbound_only", f"{inbound} inbound tuples and no outbound traffic")
        raise Refused("malformed_tuples", f"none of {bad} flow tuples parse")
    events = []
    for (minute, src, dst, port, protocol, decision, rule), flow in sorted(flows.items()):
        properties: dict[str, Any] = {
            "dst_host": dst,
            "dst_port": port,
            "protocol": protocol,
            "bytes_out": flow.bytes_out,
            "packets_out": flow.packets_out,
            "bytes_in": flow.bytes_in,
            "flows": flow.tuples,
            "src_ip": src,
            "rule": rule,
            "decision": decision,
        }
        if bad:
            properties["malformed_tuples"] = bad
        events.append(
            {
                "event_id": event_id(
                    "nfl", resource, record_ms, minute, src, dst, port, protocol, decision, rule
                ),
                "type": "activity",
                "customer_id": customer,
                "ts": ts(minute),
                "operation": "network.flow",
                "actor": src,
                "status": "failed" if decision == "deny" else "succeeded",
                "resource_id": resource,
                "properties": properties,
            }
        )
    return events


def _tuple_groups(record: Mapping[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """(rule, tuples) of either version's nesting."""
    v4 = record.get("flowRecords")
    if isinstance(v4, Mapping):
        for acl in v4.get("flows") or []:
            for group in (acl.get("flowGroups") or []) if isinstance(acl, Mapping) else []:
                if isinstance(group, Mapping) and isinstance(group.get("flowTuples"), list):
                    yield str(group.get("rule") or ""), group["flowTuples"]
        return
    props = record.get("properties")
    if not isinstance(props, Mapping):
        return
    for rule in props.get("flows") or []:
        if not isinstance(rule, Mapping):
            continue
        for per_mac in rule.get("flows") or []:
            if isinstance(per_mac, Mapping) and isinstance(per_mac.get("flowTuples"), list):
                yield str(rule.get("rule") or ""), per_mac["flowTuples"]


def _parse(
    raw: Any,
) -> tuple[int, str, str, int, str, bool, bool, int, int, int] | None:
    """(minute_ms, src, dst, dst_port, protocol, outbound, denied, pkts_out, bytes_out,
    bytes_in) of one tuple of either version, or None."""
    if not isinstance(raw, str):
        return None
    cells = raw.split(",")
    if len(cells) < _V2_MIN_FIELDS or not cells[0].isdigit() or not cells[4].isdigit():
        return None
    stamp = int(cells[0])
    ms = stamp if stamp >= 10**11 else stamp * 1000
    protocol = PROTOCOLS.get(cells[5].lower(), cells[5].lower())
    direction = cells[6].upper()
    if direction not in {"I", "O"}:
        return None
    # Field 8 is the decision in v1/v2 (A|D) and the state in v4 (B|C|E|D): D is denied in
    # both; the counters (absent in v1 and on v2 B tuples) are fields 10 to 13 in both.
    denied = cells[7].upper() == "D"
    counters = cells[9:13]
    numbers = [int(c) if c.isdigit() else 0 for c in counters] + [0, 0, 0, 0]
    port = int(cells[4])
    if port > 65_535:
        return None
    return (
        ms - ms % MINUTE_MS,
        cells[1],
        cells[2],
        port,
        protocol,
        direction == "O",
        denied,
        numbers[0],
        numbers[1],
        numbers[3],
    )
