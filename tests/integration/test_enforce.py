"""``streamwatch enforce`` against the real Kafka and Redis: signed requests act once, however
often they are delivered and whenever the worker is killed; bad signatures are refused and bad
messages dead-lettered; approvals, rejections and withdrawals go through the CLI; a rule's
hourly cap holds under a burst."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from enforce_support import (
    KEY,
    KEY_ID,
    POLICY,
    EnforceProcess,
    approver_env,
    approver_key,
    as_messages,
    by_request,
    enforce_env,
    request,
    run_cli,
    sign,
    wait_committed,
)
from redis.asyncio import Redis

from streamwatch import exits
from streamwatch.core.signing import signed
from streamwatch.core.timeutil import MS_PER_HOUR
from streamwatch.enforce.messages import decision_message, withdrawal_id
from streamwatch.enforce.store import RequestStore
from streamwatch.settings import ENFORCEMENT_DECISIONS, DeploymentSettings

pytestmark = pytest.mark.integration

RESULTS = "enforcement-results"


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def env(settings: DeploymentSettings, policy_path: Path) -> dict[str, str]:
    return enforce_env(settings, policy_path)


@pytest.fixture
def enforce(
    env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., EnforceProcess]]:
    """``enforce(*args, **env)`` starts an enforce worker; teardown stops every one."""
    workers: list[EnforceProcess] = []

    def start(*args: str, **extra_env: str) -> EnforceProcess:
        log_path = tmp_path / f"enforce-{len(workers) + 1}.log"
        worker = EnforceProcess({**env, **extra_env}, log_path, list(args)).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        for worker in workers:
            tail = "\n".join(worker.log_text().splitlines()[-150:])
            print(f"\n===== {worker.log_path.name} (last 150 lines) =====\n{tail}")


@pytest.fixture
async def store(settings: DeploymentSettings) -> AsyncIterator[RequestStore]:
    client = Redis.from_url(settings.redis)
    yield RequestStore(client, settings.redis_prefix)
    await client.aclose()


def group(settings: DeploymentSettings) -> str:
    return f"{settings.app_id}-enforce"


async def results(kafka: Any, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    records = await kafka.read_topic(RESULTS, until_count=count, timeout=timeout, settle=1.0)
    return [record.json() for record in records]


async def all_results(kafka: Any) -> list[dict[str, Any]]:
    return [record.json() for record in await kafka.read_to_end(RESULTS)]


async def consumed(settings: DeploymentSettings, name: str | None = None) -> None:
    await wait_committed(
        settings,
        name or group(settings),
        [settings.topics.enforcement, settings.topics.enforcement_decisions],
    )


async def metric(store: RequestStore, name: str, want: int, timeout: float = 10.0) -> int:
    """The counter once it reaches ``want`` (metrics follow the commit by a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        value = (await store.metrics()).get(name, 0)
        if value >= want or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_request_delivered_twice_acts_once_and_dry_run_is_not_applied(
    kafka, enforce, settings, store
):
    worker = enforce()
    once = sign(request("c-1"))
    dry = sign(request("c-2", dry_run=True))
    await kafka.produce(as_messages([once, once, dry, once]))
    await consumed(settings)

    grouped = by_request(await all_results(kafka))
    assert [r["outcome"] for r in grouped[once["request_id"]]] == ["done"]
    assert grouped[once["request_id"]][0]["attempt"] == 1
    assert grouped[once["request_id"]][0]["backend"] == "log"
    (dry_result,) = grouped[dry["request_id"]]
    assert (dry_result["outcome"], dry_result["dry_run"]) == ("done", True)
    assert "dry run" in dry_result["reason"]
    assert [a["request_id"] for a in worker.applied()] == [once["request_id"]]
    assert await metric(store, "repeats", 2) == 2
    assert await metric(store, "dry_run", 1) == 1


async def test_unsigned_forged_and_altered_requests_are_refused_and_nothing_applied(
    kafka, enforce, settings, store
):
    worker = enforce()
    genuine = sign(request("c-0"), key_id="old", key=b"retired-secret")  # a rotated-out key
    unsigned = request("c-1")
    forged = sign(request("c-2"), key=b"guessed-secret")
    altered = sign(request("c-3"))
    altered["action"] = "suspend"
    unknown_key = sign(request("c-4"), key_id="k9")
    twin = {**genuine, "action": "resume"}  # a genuine request's id and signature, altered
    await kafka.produce(as_messages([genuine]))
    await results(kafka, 1)
    await kafka.produce(as_messages([unsigned, forged, altered, unknown_key, twin]))
    await consumed(settings)

    grouped = by_request(await all_results(kafka))
    reasons = {}
    for doc in (unsigned, forged, altered, unknown_key):
        (result,) = grouped[doc["request_id"]]
        assert result["outcome"] == "refused"
        assert result["attempt"] == 0
        assert await store.load(doc["request_id"]) is None, "a refused request is not recorded"
        reasons[doc["customer_id"]] = result["reason"]
    assert "(unsigned)" in reasons["c-1"]
    assert "forged or altered" in reasons["c-2"]
    assert "forged or altered" in reasons["c-3"]
    assert "unknown key id 'k9'" in reasons["c-4"]
    assert [r["outcome"] for r in grouped[genuine["request_id"]]] == ["done", "refused"]
    found = await store.load(genuine["request_id"])
    assert found is not None
    assert found[0].state == "done"
    assert found[0].request.action == "notify", "the forged twin did not touch the record"
    assert [a["customer_id"] for a in worker.applied()] == ["c-0"]
    assert await metric(store, "refused_signature", 5) == 5


async def test_bad_messages_are_dead_lettered_counted_and_the_worker_carries_on(
    kafka, enforce, settings, store
):
    enforce()
    no_action = sign({k: v for k, v in request("c-1").items() if k != "action"})
    known = sign(request("c-2", policy="notice-suspend", action="suspend", requires_approval=True))
    await kafka.produce(as_messages([known]))
    await results(kafka, 1)
    forged_approval = signed(
        decision_message(known["request_id"], "c-2", "approve", "mallory", "", 0),
        KEY_ID,
        b"guessed-secret",
    )
    unknown_request = signed(
        decision_message("0" * 32, "c-9", "approve", "alice", "", 0), *approver_key("alice")
    )
    await kafka.produce(
        [
            ("enforcement", b"c-1", b"{not json"),
            ("enforcement", b"c-1", b"[1, 2]"),
            *as_messages([no_action]),
            (ENFORCEMENT_DECISIONS, b"c-2", orjson.dumps(forged_approval)),
            (ENFORCEMENT_DECISIONS, b"c-9", orjson.dumps(unknown_request)),
            *as_messages([sign(request("c-3"))]),
        ]
    )
    await consumed(settings)

    dead = [r.json() for r in await kafka.read_to_end("dead-letter")]
    assert Counter(d["code"] for d in dead) == {
        "invalid_json": 1,
        "not_an_object": 1,
        "missing_field": 1,
        "invalid_signature": 1,
        "invalid_value": 1,
    }
    assert {d["source"]["topic"] for d in dead} == {
        settings.topics.enforcement,
        settings.topics.enforcement_decisions,
    }
    grouped = by_request(await all_results(kafka))
    assert [r["outcome"] for r in grouped[known["request_id"]]] == ["awaiting_approval"]
    assert [r["outcome"] for r in grouped[request("c-3")["request_id"]]] == ["done"]
    found = await store.load(known["request_id"])
    assert found is not None
    assert found[0].state == "awaiting_approval"
    assert await metric(store, "dead_letter", 5) == 5


async def test_approve_reject_and_withdraw_through_the_cli(kafka, enforce, settings, env):
    worker = enforce()
    docs = {
        name: sign(
            request(f"c-{name}", policy="notice-suspend", action="suspend", requires_approval=True)
        )
        for name in ("a", "b", "c")
    }
    ids = {name: doc["request_id"] for name, doc in docs.items()}
    await kafka.produce(as_messages(list(docs.values())))
    held = await results(kafka, 3)
    assert {r["outcome"] for r in held} == {"awaiting_approval"}
    assert all(f"streamwatch approve {r['request_id']}" in r["reason"] for r in held)

    listing = run_cli(env, "approve", "--list")
    assert listing.returncode == 0, listing.stderr
    assert all(request_id in listing.stdout for request_id in ids.values())
    assert worker.applied() == [], "nothing is applied before approval"

    approved = run_cli(
        env, "approve", ids["a"], "--by", "alice", "--note", "confirmed", "--wait", "60"
    )
    assert approved.returncode == 0, approved.stderr
    assert "done: suspend applied" in approved.stdout
    rejected = run_cli(
        env, "reject", ids["b"], "--by", "bob", "--note", "false positive", "--wait", "60"
    )
    assert rejected.returncode == 0, rejected.stderr
    assert "refused: rejected by bob: false positive" in rejected.stdout
    assert run_cli(env, "approve", ids["c"], "--by", "alice", "--wait", "60").returncode == 0
    withdrawn = run_cli(
        env, "reject", ids["c"], "--by", "carol", "--note", "customer paid", "--wait", "60"
    )
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert "withdrawal of the approved suspend" in withdrawn.stdout
    assert "resume applied" in withdrawn.stdout

    unknown = run_cli(env, "approve", "0" * 32, "--by", "alice")
    assert unknown.returncode == 1
    assert "no enforcement request '00000000000000000000000000000000'" in unknown.stderr
    again = run_cli(env, "approve", ids["a"], "--by", "alice")
    assert again.returncode == 1
    assert "already done (approved by alice)" in again.stderr
    assert run_cli(env, "approve", ids["b"], "--by", "alice").returncode == 1
    assert run_cli(env, "approve", "--list").stdout.strip() == (
        "no enforcement request is awaiting approval"
    )
    await consumed(settings)

    grouped = by_request(await all_results(kafka))
    a, b, c = (grouped[ids[name]] for name in ("a", "b", "c"))
    assert [r["outcome"] for r in a] == ["awaiting_approval", "done"]
    assert (a[1]["approved_by"], a[1]["attempt"]) == ("alice", 1)
    assert [r["outcome"] for r in b] == ["awaiting_approval", "refused"]
    assert (b[1]["rejected_by"], b[1]["note"]) == ("bob", "false positive")
    assert [(r["outcome"], r["action"]) for r in c] == [
        ("awaiting_approval", "suspend"),
        ("done", "suspend"),
        ("done", "resume"),
    ]
    assert (c[2]["reverses"], c[2]["rejected_by"], c[2]["note"]) == (
        "suspend",
        "carol",
        "customer paid",
    )
    assert [(x["customer_id"], x["action"], x["idempotency_key"]) for x in worker.applied()] == [
        ("c-a", "suspend", ids["a"]),
        ("c-c", "suspend", ids["c"]),
        ("c-c", "resume", withdrawal_id(ids["c"])),
    ]


async def _outside_an_hour_edge(margin_s: float = 30.0) -> None:
    """The cap counts per wall-clock hour; keep a burst from straddling two hours."""
    into_hour_ms = time.time_ns() // 1_000_000 % MS_PER_HOUR
    if into_hour_ms > MS_PER_HOUR - margin_s * 1000:
        await asyncio.sleep((MS_PER_HOUR - into_hour_ms) / 1000 + 1)


async def test_hourly_cap_holds_a_burst_for_approval(kafka, enforce, settings, env, store):
    worker = enforce()
    await _outside_an_hour_edge()
    burst = [
        sign(request(f"m-{n:02d}", policy="mining-suspend", action="suspend")) for n in range(20)
    ]
    await kafka.produce(as_messages(burst))
    first = await results(kafka, 20)
    outcomes = Counter(r["outcome"] for r in first)
    assert outcomes == {"done": 5, "awaiting_approval": 15}
    held = [r for r in first if r["outcome"] == "awaiting_approval"]
    assert all("cap of 5 customers" in r["reason"] for r in held)
    assert all("max_customers_per_hour" in r["reason"] for r in held)
    admitted = sorted(r["customer_id"] for r in first if r["outcome"] == "done")
    assert sorted(a["customer_id"] for a in worker.applied()) == admitted

    # The cap counts customers, not requests: an admitted customer's next request passes.
    again = sign(request(admitted[0], policy="mining-suspend", action="suspend", alert="b"))
    newcomer = sign(request("m-99", policy="mining-suspend", action="suspend"))
    await kafka.produce(as_messages([again, newcomer]))
    await consumed(settings)
    grouped = by_request(await all_results(kafka))
    assert [r["outcome"] for r in grouped[again["request_id"]]] == ["done"]
    assert [r["outcome"] for r in grouped[newcomer["request_id"]]] == ["awaiting_approval"]
    assert await metric(store, "held_cap", 16) == 16

    # A person may approve past the cap.
    overridden = held[0]["request_id"]
    approved = run_cli(env, "approve", overridden, "--by", "alice", "--wait", "60")
    assert approved.returncode == 0, approved.stderr
    assert "done" in approved.stdout
    assert len(worker.applied()) == 7


class Progress:
    """How many requests the enforce group has committed."""

    def __init__(self, settings: DeploymentSettings) -> None:
        self.settings = settings
        self.admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)

    async def __aenter__(self) -> Progress:
        await self.admin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.admin.close()

    async def committed(self) -> int:
        offsets = await self.admin.list_consumer_group_offsets(group(self.settings))
        topic = self.settings.topics.enforcement
        return sum(o.offset for tp, o in offsets.items() if tp.topic == topic)


async def test_killed_and_restarted_worker_acts_once_per_request(kafka, enforce, settings, store):
    total = 150
    docs = [sign(request(f"r-{n:03d}")) for n in range(total)]
    worker = enforce()

    async def trickle() -> None:
        for i in range(0, total, 5):
            await kafka.produce(as_messages(docs[i : i + 5]))
            await asyncio.sleep(0.1)

    producing = asyncio.create_task(trickle())
    kills = []
    async with Progress(settings) as progress:
        for fraction in (0.2, 0.5):
            deadline = time.monotonic() + 120
            while (done := await progress.committed()) < fraction * total:
                assert time.monotonic() < deadline, "the enforce worker made no progress"
                await asyncio.sleep(0.05)
            worker.kill()
            kills.append(done)
            worker.start()
    await producing
    assert all(0 < done < total for done in kills), kills
    await consumed(settings)

    grouped = by_request(await all_results(kafka))
    assert set(grouped) == {doc["request_id"] for doc in docs}
    applied = Counter(a["request_id"] for a in worker.applied())
    for request_id, seen in grouped.items():
        done = {r["result_id"]: r for r in seen if r["outcome"] == "done"}
        assert len(done) == 1, f"{request_id} has {len(done)} distinct done results"
        (result,) = done.values()
        # Applied once; twice only if a kill fell between recording "applying" and recording
        # the answer, and then under the same idempotency key, as the result's attempt shows.
        assert 1 <= applied[request_id] <= result["attempt"], request_id
    assert sum(applied.values()) <= total + len(kills)

    # Every request redelivered from the start, to a new consumer group: none acts again.
    before = len(worker.applied())
    count = len(await all_results(kafka))
    replay = enforce(STREAMWATCH_APP_ID=f"{settings.app_id}-again", STREAMWATCH_INSTANCE_ID="")
    await consumed(settings, f"{settings.app_id}-again-enforce")
    assert replay.applied() == []
    assert len(worker.applied()) == before
    assert len(await all_results(kafka)) == count
    assert await metric(store, "repeats", total) >= total


@pytest.mark.parametrize(
    ("args", "env_change", "says"),
    [
        ([], {"STREAMWATCH_SIGNING_KEYS": ""}, "STREAMWATCH_SIGNING_KEYS is not set"),
        (["--backend", "webhook"], {}, "--backend webhook needs --webhook-url URL"),
        (
            ["--backend", "webhook", "--webhook-url", "http://127.0.0.1:9/hook"],
            {"STREAMWATCH_WEBHOOK_SECRET": ""},
            "needs STREAMWATCH_WEBHOOK_SECRET",
        ),
        (["--policy", "/nonexistent/policy.toml"], {}, "cannot read it"),
    ],
    ids=["no-keys", "webhook-without-url", "webhook-without-secret", "missing-policy"],
)
def test_enforce_refuses_to_start_when_misconfigured(env, args, env_change, says):
    result = run_cli({**env, **env_change}, "enforce", *args, timeout=30)
    assert result.returncode == exits.USAGE
    assert says in result.stderr


def test_enforce_without_its_topics_exits_with_advice(env):
    result = run_cli(env, "enforce", timeout=60)
    assert result.returncode == exits.UNAVAILABLE
    assert "streamwatch topics apply" in result.stderr


def test_decisions_need_the_approvers_own_key(env):
    result = run_cli({**env, "STREAMWATCH_APPROVER_KEY": ""}, "approve", "0" * 32)
    assert result.returncode == exits.USAGE
    assert "STREAMWATCH_APPROVER_KEY is not set" in result.stderr
    posing = run_cli(
        {**env, "STREAMWATCH_APPROVER_KEY": approver_env("bob")},
        "approve",
        "0" * 32,
        "--by",
        "alice",
    )
    assert posing.returncode == exits.USAGE
    assert "--by alice but STREAMWATCH_APPROVER_KEY is the key of 'bob'" in posing.stderr


async def test_only_an_approvers_own_key_decides_and_it_cannot_sign_requests(
    kafka, enforce, settings, store
):
    worker = enforce()
    held = sign(request("c-h", policy="notice-suspend", action="suspend", requires_approval=True))
    await kafka.produce(as_messages([held]))
    await results(kafka, 1)

    def approval(by: str, key: tuple[str, bytes]) -> tuple[str, bytes, bytes]:
        doc = signed(decision_message(held["request_id"], "c-h", "approve", by, "", 0), *key)
        return (ENFORCEMENT_DECISIONS, b"c-h", orjson.dumps(doc))

    # A request signed with a person's key, not the detector workers'.
    by_a_person = signed(request("c-p", alert="p"), *approver_key("alice"))
    await kafka.produce(
        [
            approval("alice", (KEY_ID, KEY)),  # the workers' signing key is no approver key
            approval("alice", approver_key("bob")),  # bob's key, in alice's name
            *as_messages([by_a_person]),
        ]
    )
    await consumed(settings)
    dead = [r.json() for r in await kafka.read_to_end("dead-letter")]
    assert [d["code"] for d in dead] == ["invalid_signature", "invalid_signature"]
    assert "unknown key id 'test-1'" in dead[0]["reason"]
    assert "signed with the key of 'bob', not of 'alice'" in dead[1]["reason"]
    grouped = by_request(await all_results(kafka))
    assert [r["outcome"] for r in grouped[held["request_id"]]] == ["awaiting_approval"]
    (refused,) = grouped[by_a_person["request_id"]]
    assert refused["outcome"] == "refused"
    assert "unknown key id 'alice'" in refused["reason"]
    assert worker.applied() == []

    await kafka.produce([approval("alice", approver_key("alice"))])
    done = await kafka.read_topic(RESULTS, until_count=3, timeout=60)
    final = [r.json() for r in done if r.json()["request_id"] == held["request_id"]][-1]
    assert (final["outcome"], final["approved_by"]) == ("done", "alice")
