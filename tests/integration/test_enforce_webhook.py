"""The webhook backend against a real HTTP server on 127.0.0.1: what it sends (body, idempotency
key, signature), how it retries, how it fails; and ``streamwatch enforce --backend webhook``
end to end, including a kill between the POST and the record of its answer."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from enforce_support import (
    POLICY,
    WEBHOOK_SECRET,
    EnforceProcess,
    as_messages,
    by_request,
    enforce_env,
    request,
    run_cli,
    sign,
    wait_committed,
)
from redis.asyncio import Redis

from streamwatch.core.signing import verify
from streamwatch.enforce.store import RequestStore
from streamwatch.enforce.webhook import (
    DELIVERY_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    WebhookBackend,
    verify_signature,
)
from streamwatch.settings import DeploymentSettings

pytestmark = pytest.mark.integration

SECRET = WEBHOOK_SECRET.encode()


@dataclass
class Post:
    """One POST the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def doc(self) -> dict[str, Any]:
        return orjson.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers[IDEMPOTENCY_HEADER]


@dataclass
class Receiver:
    """A provisioning system's webhook: records every POST, answers as scripted per customer,
    acts once per idempotency key, and can hold a customer's first POST unanswered."""

    url: str = ""
    posts: list[Post] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    delay_s: float = 0.0
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    got_held: asyncio.Event = field(default_factory=asyncio.Event)
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def handle(self, http: web.Request) -> web.Response:
        post = Post(dict(http.headers), await http.read())
        self.posts.append(post)
        customer = post.doc["customer_id"]
        release = self.held.get(customer)
        if release is not None and not release.is_set():
            self.got_held.set()
            await release.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        statuses = self.script.get(customer)
        status = statuses.pop(0) if statuses else 200
        if 200 <= status < 300:
            self.effects.setdefault(post.key, post.doc)  # an idempotent receiver acts once
        text = "unknown customer" if status == 422 else ""
        return web.Response(status=status, text=text)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    found.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    yield found
    for event in found.held.values():
        event.set()
    await runner.cleanup()


def backend(receiver: Receiver, **options: Any) -> WebhookBackend:
    options = {"backoff_s": 0.01, **options}
    return WebhookBackend(receiver.url, SECRET, **options)


async def test_webhook_posts_the_signed_request_with_its_idempotency_key(receiver):
    doc = sign(request("c-1", action="suspend"))
    hook = backend(receiver)
    try:
        answer = await hook.apply(doc, doc["request_id"])
    finally:
        await hook.close()
    assert (answer.ok, answer.detail) == (True, "webhook answered 200 OK")
    (post,) = receiver.posts
    assert post.key == doc["request_id"]
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers[DELIVERY_HEADER] == "1"
    assert post.doc == doc
    assert verify(post.doc, {"test-1": b"test-signing-secret"}) is None
    header = post.headers[SIGNATURE_HEADER]
    assert verify_signature(SECRET, post.body, header, int(time.time()))
    assert not verify_signature(b"other", post.body, header, int(time.time()))
    assert not verify_signature(SECRET, post.body + b" ", header, int(time.time()))
    assert not verify_signature(SECRET, post.body, header, int(time.time()) + 3600)


async def test_webhook_retries_5xx_with_the_same_key_until_it_succeeds(receiver):
    receiver.script["c-1"] = [503, 502, 200]
    doc = sign(request("c-1"))
    hook = backend(receiver)
    try:
        answer = await hook.apply(doc, doc["request_id"])
    finally:
        await hook.close()
    assert answer.ok
    assert answer.detail == "webhook answered 200 OK after 3 tries"
    assert [p.headers[DELIVERY_HEADER] for p in receiver.posts] == ["1", "2", "3"]
    assert {p.key for p in receiver.posts} == {doc["request_id"]}
    assert {p.body for p in receiver.posts} == {orjson.dumps(doc)}


async def test_webhook_4xx_fails_at_once_with_the_status_in_the_reason(receiver):
    receiver.script["c-1"] = [422, 200]
    hook = backend(receiver)
    try:
        answer = await hook.apply(sign(request("c-1")), "k")
    finally:
        await hook.close()
    assert not answer.ok
    assert answer.detail == "webhook answered 422 Unprocessable Entity: unknown customer"
    assert len(receiver.posts) == 1


async def test_webhook_gives_up_after_its_retries(receiver):
    receiver.script["c-1"] = [500] * 5
    hook = backend(receiver, retries=2)
    try:
        answer = await hook.apply(sign(request("c-1")), "k")
    finally:
        await hook.close()
    assert not answer.ok
    assert answer.detail == "webhook answered 500 Internal Server Error, after 3 tries"
    assert len(receiver.posts) == 3


async def test_webhook_timeout_and_unreachable_url_fail_after_retries(receiver):
    receiver.delay_s = 1.0
    hook = backend(receiver, timeout_s=0.2, retries=1)
    try:
        slow = await hook.apply(sign(request("c-1")), "k")
    finally:
        await hook.close()
    assert not slow.ok
    assert slow.detail == "webhook did not answer within 0.2 s, after 2 tries"

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    nowhere = WebhookBackend(f"http://127.0.0.1:{port}/hook", SECRET, retries=1, backoff_s=0.01)
    try:
        down = await nowhere.apply(sign(request("c-1")), "k")
    finally:
        await nowhere.close()
    assert not down.ok
    assert down.detail.startswith("webhook unreachable (ClientConnectorError")
    assert down.detail.endswith("after 2 tries")


# --- the worker with the webhook backend -----------------------------------------------------


@pytest.fixture
def env(settings: DeploymentSettings, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return enforce_env(settings, path)


@pytest.fixture
def enforce(
    env: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., EnforceProcess]]:
    workers: list[EnforceProcess] = []

    def start(*args: str) -> EnforceProcess:
        worker = EnforceProcess(env, tmp_path / f"enforce-{len(workers) + 1}.log", list(args))
        workers.append(worker.start())
        return worker

    yield start
    for worker in workers:
        worker.stop()
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        for worker in workers:
            tail = "\n".join(worker.log_text().splitlines()[-150:])
            print(f"\n===== {worker.log_path.name} (last 150 lines) =====\n{tail}")


def webhook_args(receiver: Receiver) -> list[str]:
    return ["--backend", "webhook", "--webhook-url", receiver.url, "--webhook-backoff", "0.05"]


async def results_of(kafka: Any) -> dict[str, list[dict[str, Any]]]:
    return by_request([r.json() for r in await kafka.read_to_end("enforcement-results")])


async def test_worker_reports_webhook_success_and_4xx_and_retries_a_failure_on_approval(
    kafka, enforce, settings, receiver, env
):
    enforce(*webhook_args(receiver))
    receiver.script["c-2"] = [503, 403]
    ok, refused = sign(request("c-1", action="suspend")), sign(request("c-2", action="suspend"))
    await kafka.produce(as_messages([ok, refused]))
    group = f"{settings.app_id}-enforce"
    await wait_committed(settings, group, [settings.topics.enforcement])

    grouped = await results_of(kafka)
    (done,) = grouped[ok["request_id"]]
    assert (done["outcome"], done["backend"]) == ("done", "webhook")
    assert done["reason"] == "suspend applied through the webhook backend (webhook answered 200 OK)"
    (failed,) = grouped[refused["request_id"]]
    assert failed["outcome"] == "failed"
    assert "webhook answered 403 Forbidden after 2 tries" in failed["reason"]
    assert {p.key for p in receiver.posts} == {ok["request_id"], refused["request_id"]}

    # A person retries the failed request once the receiver accepts it. (The CLI runs in a
    # thread: the receiver answers on this test's event loop.)
    retried = await asyncio.to_thread(
        run_cli, env, "approve", refused["request_id"], "--by", "alice", "--wait", "60"
    )
    assert retried.returncode == 0, retried.stderr
    last = (await results_of(kafka))[refused["request_id"]][-1]
    assert (last["outcome"], last["attempt"], last["approved_by"]) == ("done", 2, "alice")
    assert set(receiver.effects) == {ok["request_id"], refused["request_id"]}


async def test_kill_between_the_post_and_its_record_retries_under_the_same_key(
    kafka, enforce, settings, receiver
):
    worker = enforce(*webhook_args(receiver))
    receiver.held["slow"] = asyncio.Event()
    doc = sign(request("slow", action="suspend"))
    await kafka.produce(as_messages([doc]))
    await asyncio.wait_for(receiver.got_held.wait(), timeout=60)
    worker.kill()  # the POST reached the receiver; its answer is never recorded
    receiver.held["slow"].set()

    client = Redis.from_url(settings.redis)
    try:
        found = await RequestStore(client, settings.redis_prefix).load(doc["request_id"])
        assert found is not None
        assert found[0].state == "applying"
        worker.start()
        await wait_committed(settings, f"{settings.app_id}-enforce", [settings.topics.enforcement])
        metrics = await RequestStore(client, settings.redis_prefix).metrics()
    finally:
        await client.aclose()

    (result,) = (await results_of(kafka))[doc["request_id"]]
    assert (result["outcome"], result["attempt"]) == ("done", 2)
    assert [p.key for p in receiver.posts] == [doc["request_id"]] * 2
    assert receiver.posts[0].body == receiver.posts[1].body
    assert list(receiver.effects) == [doc["request_id"]], "the receiver acted once"
    assert metrics.get("retries") == 1
