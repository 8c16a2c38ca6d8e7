"""Every client over the broker's SASL_SSL listener (the one ``deploy/kafka.sh`` starts with a
throwaway CA and SCRAM users): the worker and the suspension worker end to end with
SCRAM-SHA-512, ``topics apply`` and ``replay --from-kafka``; each mechanism, a client
certificate; and credentials or a CA that the broker refuses fail fast, naming the cause."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from enforce_support import KEY, KEY_ID, EnforceProcess, enforce_env, run_cli
from processes import REPO

from streamwatch import exits
from streamwatch import testing as build
from streamwatch.kafka_clients import KafkaUnavailable, check_connection, client_options
from streamwatch.settings import DeploymentSettings, KafkaSecurity

pytestmark = pytest.mark.integration

SERVICES_DIR = Path(os.environ.get("SERVICES_DIR") or REPO / ".services")


@dataclasses.dataclass(frozen=True)
class SaslListener:
    """Where the SASL_SSL listener is, and the credentials the tooling gave it."""

    kafka: str
    username: str
    password: str
    tls_dir: Path

    def security(self, mechanism: str = "SCRAM-SHA-512", **fields: object) -> KafkaSecurity:
        base = KafkaSecurity(
            protocol="SASL_SSL",
            sasl_mechanism=mechanism,
            username=self.username,
            password=self.password,
            ca_file=self.tls_dir / "ca.pem",
        )
        return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sasl(services: object) -> SaslListener:
    """The listener of ``deploy/kafka.sh`` (STREAMWATCH_SASL_KAFKA, default 127.0.0.1:9094);
    the test FAILS if its CA is missing (the broker was started without the tooling)."""
    listener = SaslListener(
        kafka=os.environ.get("STREAMWATCH_SASL_KAFKA") or "127.0.0.1:9094",
        username=os.environ.get("KAFKA_SASL_USER") or "streamwatch",
        password=os.environ.get("KAFKA_SASL_PASSWORD") or "streamwatch-secret",
        tls_dir=Path(os.environ.get("STREAMWATCH_SASL_TLS_DIR") or SERVICES_DIR / "kafka/tls"),
    )
    if not (listener.tls_dir / "ca.pem").is_file():
        pytest.fail(
            f"no test CA in {listener.tls_dir}: start Kafka with deploy/kafka.sh start "
            "(or set STREAMWATCH_SASL_TLS_DIR)",
            pytrace=False,
        )
    return listener


@pytest.fixture
def settings(settings: DeploymentSettings, sasl: SaslListener) -> DeploymentSettings:
    """The test's settings, over SASL_SSL with SCRAM-SHA-512 and the key the suspension
    worker trusts."""
    return dataclasses.replace(
        settings, kafka=sasl.kafka, kafka_security=sasl.security(), signing_keys=((KEY_ID, KEY),)
    )


async def test_worker_and_suspension_worker_run_end_to_end_over_sasl_ssl(
    kafka, run_worker, cli, settings, tmp_path
):
    assert settings.kafka_security.protocol == "SASL_SSL"
    checked = cli("topics", "apply", "--check")
    assert checked.returncode == 0, checked.stderr
    policy = REPO / "src/streamwatch/config/policy.toml"
    notice = build.provider_notice(
        "aup.crypto_mining", customer_id="cust-sasl", ts="2026-10-01T02:30:00Z"
    )
    run_worker()
    enforcer = EnforceProcess(enforce_env(settings, policy), tmp_path / "enforce.log", []).start()
    try:
        await kafka.produce([notice])
        results = await kafka.read_topic("enforcement-results", until_count=2, timeout=90)
        outcomes = {r.json()["action"]: r.json()["outcome"] for r in results}
        assert outcomes == {"notify": "done", "suspend": "awaiting_approval"}
        alerts = await kafka.read_topic("alerts", until_count=1, timeout=30)
        assert alerts[0].json()["kind"] == "provider_notice"
    finally:
        enforcer.stop()

    now = datetime.now(UTC)
    replayed = cli(
        "replay",
        "--from-kafka",
        "--start",
        (now - timedelta(hours=1)).isoformat(),
        "--end",
        (now + timedelta(hours=1)).isoformat(),
        "--alerts",
        str(tmp_path / "alerts.jsonl"),
    )
    assert replayed.returncode == 0, replayed.stderr
    lines = (tmp_path / "alerts.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["kind"] for line in lines] == ["provider_notice"]


@pytest.mark.parametrize(
    ("mechanism", "client_certificate"),
    [
        pytest.param("PLAIN", False, id="plain"),
        pytest.param("SCRAM-SHA-256", False, id="scram-sha-256"),
        pytest.param("SCRAM-SHA-512", True, id="scram-sha-512-with-client-certificate"),
    ],
)
async def test_each_mechanism_connects_and_administers(
    sasl: SaslListener, mechanism: str, client_certificate: bool
):
    extra = (
        {"cert_file": sasl.tls_dir / "client.pem", "key_file": sasl.tls_dir / "client.key"}
        if client_certificate
        else {}
    )
    settings = DeploymentSettings(
        kafka=sasl.kafka, kafka_security=sasl.security(mechanism, **extra)
    )
    await check_connection(settings)
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=10_000)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    assert cluster["brokers"]


@pytest.mark.parametrize("command", ["worker", "enforce", "topics"])
def test_a_wrong_password_fails_fast_naming_the_cause(
    command: str, settings: DeploymentSettings, tmp_path: Path
):
    wrong = dataclasses.replace(
        settings,
        kafka_security=dataclasses.replace(settings.kafka_security, password="not-the-password"),
    )
    env = enforce_env(wrong, REPO / "src/streamwatch/config/policy.toml")
    args = ["topics", "apply"] if command == "topics" else [command]
    started = time.monotonic()
    done = run_cli(env, *args, timeout=60)
    assert done.returncode == exits.UNAVAILABLE
    assert time.monotonic() - started < 30
    said = done.stdout + done.stderr
    assert "refused the credentials of user 'streamwatch' with SCRAM-SHA-512" in said
    assert "not-the-password" not in said


async def test_a_broker_certificate_from_an_unknown_ca_is_refused_by_name(sasl: SaslListener):
    # Without the CA file the system's trust store is used, which does not know the test CA.
    settings = DeploymentSettings(kafka=sasl.kafka, kafka_security=sasl.security(ca_file=None))
    with pytest.raises(KafkaUnavailable, match="TLS certificate is not trusted"):
        await check_connection(settings)
