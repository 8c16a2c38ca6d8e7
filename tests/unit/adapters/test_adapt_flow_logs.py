"""NSG v2 and VNet v4 flow logs: outbound tuples summed per minute and destination."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.adapters import flow_logs
from streamwatch.adapters.base import Context, Refused
from streamwatch.adapters.run import Run
from streamwatch.core.codec import event_from_dict

SUB = "c088dc46-d692-42ad-a4b6-9a542d28ad2a"
NSG = (
    f"/SUBSCRIPTIONS/{SUB.upper()}/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/"
    "NETWORKSECURITYGROUPS/NSG1"
)
NIC = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1"
T0 = 1_790_000_040  # 2026-09-21T14:14:00Z, a minute boundary


def nsg_v2(tuples: list[str], rule: str = "DefaultRule_AllowInternetOutBound") -> dict[str, Any]:
    return {
        "time": "2026-09-21T13:35:06.894Z",
        "macAddress": "6045BDEC2532",
        "category": "NetworkSecurityGroupFlowEvent",
        "resourceId": NSG,
        "operationName": "NetworkSecurityGroupFlowEvents",
        "properties": {
            "Version": 2,
            "flows": [{"rule": rule, "flows": [{"mac": "6045BDEC2532", "flowTuples": tuples}]}],
        },
    }


def vnet_v4(tuples: list[str]) -> dict[str, Any]:
    return {
        "time": "2026-09-21T13:35:37.757Z",
        "flowLogGUID": "guid-1",
        "macAddress": "000D3A359573",
        "category": "FlowLogFlowEvent",
        "targetResourceID": NIC,
        "flowLogVersion": 4,
        "operationName": "FlowLogFlowEvent",
        "flowRecords": {
            "flows": [
                {
                    "aclID": "acl-1",
                    "flowGroups": [
                        {"rule": "DefaultRule_AllowInternetOutBound", "flowTuples": tuples}
                    ],
                }
            ]
        },
    }


def test_v2_tuples_of_one_flow_in_a_minute_are_one_event_with_summed_bytes() -> None:
    record = nsg_v2(
        [
            f"{T0 + 1},10.1.0.4,20.42.73.216,51236,443,T,O,A,B,,,,",
            f"{T0 + 5},10.1.0.4,20.42.73.216,51236,443,T,O,A,C,9,4817,7,900",
            f"{T0 + 9},10.1.0.4,20.42.73.216,51246,443,T,O,A,E,8,4076,0,0",
            f"{T0 + 70},10.1.0.4,20.42.73.216,51246,443,T,O,A,E,1,74,0,0",
        ]
    )
    events = flow_logs.map_record(record, Context())
    assert [e["ts"] for e in events] == ["2026-09-21T14:14:00Z", "2026-09-21T14:15:00Z"]
    first = events[0]["properties"]
    assert (first["dst_host"], first["dst_port"], first["protocol"]) == ("20.42.73.216", 443, "tcp")
    assert (first["bytes_out"], first["packets_out"], first["bytes_in"]) == (4817 + 4076, 17, 900)
    assert first["flows"] == 3
    assert events[0]["status"] == "succeeded"
    assert events[0]["customer_id"] == SUB
    assert events[0]["actor"] == "10.1.0.4"
    for event in events:
        event_from_dict(event)


def test_v4_tuples_with_protocol_numbers_and_denied_state() -> None:
    ms = T0 * 1000
    record = vnet_v4(
        [
            f"{ms + 100},10.1.0.4,40.119.6.228,123,123,17,O,E,NX,27347,2461230,27343,3609276",
            f"{ms + 200},10.1.0.4,198.51.100.25,40000,25,6,O,D,NX,0,0,0,0",
        ]
    )
    events = flow_logs.map_record(record, Context())
    by_port = {e["properties"]["dst_port"]: e for e in events}
    assert by_port[123]["properties"]["protocol"] == "udp"
    assert by_port[123]["properties"]["bytes_out"] == 2461230
    assert by_port[25]["status"] == "failed"
    assert by_port[25]["properties"]["decision"] == "deny"
    assert by_port[25]["resource_id"] == NIC.lower()


def test_inbound_scanners_are_not_the_customer_traffic() -> None:
    record = nsg_v2(
        [
            f"{T0},35.203.211.209,10.1.0.4,55740,38405,T,I,D,B,,,,",
            f"{T0 + 3},162.216.150.90,10.1.0.4,54750,22083,T,I,D,B,,,,",
        ],
        rule="DefaultRule_DenyAllInBound",
    )
    with pytest.raises(Refused) as caught:
        flow_logs.map_record(record, Context())
    assert caught.value.code == "inbound_only"


def test_redelivered_record_gets_the_same_ids() -> None:
    record = nsg_v2([f"{T0},10.1.0.4,20.98.192.237,35620,443,T,O,A,E,1,74,0,0"])
    first = [e["event_id"] for e in flow_logs.map_record(record, Context())]
    again = [e["event_id"] for e in flow_logs.map_record(record, Context())]
    assert first == again


def test_bad_tuples_are_counted_and_all_bad_refused() -> None:
    record = nsg_v2(["garbage", f"{T0},10.1.0.4,1.1.1.1,1,53,U,O,A,E,1,60,1,90"])
    (event,) = flow_logs.map_record(record, Context())
    assert event["properties"]["malformed_tuples"] == 1
    run = Run(flow_logs.map_record, Context())
    assert run.record(nsg_v2(["garbage", "1,2,3"])) == []
    assert run.summary.refused == {"malformed_tuples": 1}
