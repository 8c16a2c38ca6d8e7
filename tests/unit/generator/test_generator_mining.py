"""The crypto-mining scenarios and their look-alikes: what each puts into the stream."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

import pytest

from streamwatch.generator import GenerationResult, GeneratorConfig, generate
from streamwatch.generator.scenarios.mining_kit import (
    ORDINARY_ENDPOINTS,
    POOL_ENDPOINTS,
    POOL_SITE,
    sku,
)
from streamwatch.generator.stream import build_plans
from streamwatch.indicators import load_indicators

MINERS = ("crypto_mining", "crypto_mining_compromised", "crypto_mining_stealthy")
LOOK_ALIKES = ("gpu_training", "hpc_batch", "new_region")
CONFIG = GeneratorConfig(
    seed=17, customers=60, days=30, incidents=MINERS + LOOK_ALIKES, incident_rate=1.0
)
LISTS = load_indicators()


@cache
def result() -> GenerationResult:
    return generate(CONFIG)


@cache
def by_customer() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in result().events:
        out[event["customer_id"]].append(event)
    return out


@cache
def scenario_of() -> dict[str, str]:
    return {p.customer_id: p.scenarios[0] for p in build_plans(CONFIG)}


def customers(*scenarios: str) -> list[str]:
    return sorted(c for c, s in scenario_of().items() if s in scenarios)


def operations(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("operation") == name]


def home_region(events: list[dict[str, Any]]) -> str | None:
    subs = operations(events, "subscription.create")
    return subs[0]["region"] if subs else None


def test_every_miner_is_labelled_once_at_its_first_heavy_vm_create() -> None:
    labels = [lab for lab in result().labels if lab["kind"] == "crypto_mining"]
    assert sorted(lab["customer_id"] for lab in labels) == customers(*MINERS)
    for lab in labels:
        events = by_customer()[lab["customer_id"]]
        creates = operations(events, "vm.create")
        heavy = [e for e in creates if e["properties"]["gpus"] or e["properties"]["vcpus"] >= 16]
        assert heavy[0]["ts"] == lab["start"] == lab["end"]
        assert lab["benign"] is False
        assert lab["scenario"] == scenario_of()[lab["customer_id"]]
        regions = {e["region"] for e in heavy}
        assert regions == set(lab["detail"]["regions"])
        assert sum(e["properties"]["count"] for e in heavy) == lab["detail"]["machines"]


def test_miners_run_in_regions_the_customer_never_used() -> None:
    for cid in customers(*MINERS):
        events = by_customer()[cid]
        heavy = operations(events, "vm.create")
        first = heavy[0]["ts"]
        before = {e["region"] for e in events if e["ts"] < first and e.get("region")}
        assert not {e["region"] for e in heavy} & before, cid


def test_stealthy_miners_are_small_throttled_single_region_and_silent() -> None:
    for cid in customers("crypto_mining_stealthy"):
        events = by_customer()[cid]
        creates = operations(events, "vm.create")
        assert len({e["region"] for e in creates}) == 1
        assert sum(e["properties"]["count"] for e in creates) <= 3
        assert not operations(events, "network.flow")
        assert not operations(events, "provider.notice")
        heavy = {e["resource_id"] for e in creates}
        utils = [
            e.get("gpu_util", e.get("cpu_util"))
            for e in events
            if e["type"] == "usage" and e["resource_id"] in heavy
        ]
        assert utils
        assert all(0.4 <= u <= 0.8 for u in utils)


def test_loud_miners_run_flat_out_and_talk_to_real_pools() -> None:
    talking = 0
    for cid in customers("crypto_mining", "crypto_mining_compromised"):
        events = by_customer()[cid]
        heavy = {e["resource_id"] for e in operations(events, "vm.create")}
        utils = [
            e.get("gpu_util", e.get("cpu_util"))
            for e in events
            if e["type"] == "usage" and e["resource_id"] in heavy
        ]
        assert min(utils) >= 0.85
        flows = operations(events, "network.flow")
        talking += bool(flows)
        for flow in flows:
            props = flow["properties"]
            match = LISTS.judge(props["dst_host"], props["dst_port"])
            assert match is not None
            assert match.strength == "pool"
    assert talking >= 3


@pytest.mark.parametrize("endpoint", POOL_ENDPOINTS, ids=str)
def test_pool_endpoints_are_real_entries_of_the_lists(endpoint: tuple[str, int]) -> None:
    match = LISTS.judge(*endpoint)
    assert match is not None
    assert match.strength == "pool"


def test_ordinary_endpoints_are_not_pools_and_the_pool_site_is_a_host_match() -> None:
    assert all(LISTS.judge(*endpoint) is None for endpoint in ORDINARY_ENDPOINTS)
    assert any(port in LISTS.miner_ports for _, port in ORDINARY_ENDPOINTS)
    site = LISTS.judge(*POOL_SITE)
    assert site is not None
    assert site.strength == "host"


def test_compromised_accounts_are_established_and_signed_into_from_abroad() -> None:
    for cid in customers("crypto_mining_compromised"):
        events = by_customer()[cid]
        assert not operations(events, "customer.signup"), "signed up before the stream"
        assert any(e.get("kind") == "payment.succeeded" for e in events)
        first = operations(events, "vm.create")[0]["ts"]
        signins = [e for e in operations(events, "signin") if e["ts"] < first]
        home = signins[0]["properties"]["ip_country"]
        foreign = [e for e in signins if e["properties"]["ip_country"] != home]
        assert foreign, cid


def test_new_account_miners_drop_the_archetype_and_start_within_hours() -> None:
    for cid in customers("crypto_mining"):
        events = by_customer()[cid]
        signup = operations(events, "customer.signup")[0]["ts"]
        creates = operations(events, "vm.create")
        assert all(e["properties"]["gpus"] or e["properties"]["vcpus"] >= 16 for e in creates)
        assert creates[0]["ts"] > signup
        assert home_region(events) not in {e["region"] for e in creates}


def test_look_alikes_have_no_mining_labels() -> None:
    quiet = set(customers(*LOOK_ALIKES))
    assert quiet
    assert not [
        lab
        for lab in result().labels
        if lab["customer_id"] in quiet and lab["kind"] == "crypto_mining"
    ]


def test_gpu_training_runs_jobs_with_gaps() -> None:
    for cid in customers("gpu_training"):
        hours = sorted(
            {
                e["ts"]
                for e in by_customer()[cid]
                if e["type"] == "usage" and e["meter"] == "gpu" and "vmss-train" in e["resource_id"]
            }
        )
        assert 10 < len(hours) < 24 * 30 * 0.8, "training runs, not round the clock"


def test_hpc_jobs_are_created_in_the_home_region_and_deleted() -> None:
    for cid in customers("hpc_batch"):
        events = by_customer()[cid]
        creates = operations(events, "vm.create")
        assert len(creates) >= 5
        assert len({e["region"] for e in creates}) == 1
        assert all((sku(e["properties"]["sku"]).vcpus or 0) >= 16 for e in creates)
        assert len(operations(events, "vm.delete")) >= len(creates) - 1


def test_new_region_look_alike_uses_ordinary_machines_only() -> None:
    for cid in customers("new_region"):
        events = by_customer()[cid]
        home = home_region(events)
        added = [e for e in operations(events, "vm.create") if e["region"] != home]
        assert added
        assert all(e["properties"]["gpus"] == 0 for e in added)
        assert all(e["properties"]["vcpus"] <= 8 for e in added)


def test_the_same_config_gives_the_same_stream() -> None:
    small = GeneratorConfig(seed=3, customers=12, days=10, incidents=MINERS + LOOK_ALIKES)
    first, second = generate(small), generate(small)
    assert first.events == second.events
    assert first.labels == second.labels
