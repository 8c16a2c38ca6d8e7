"""Deployment settings shared by the worker, the suspension worker and the commands, read once
from the environment.

Every topic name in code is one of ``TOPIC_NAMES`` (the catalogue in ``streamwatch/topics/``
names the same eight; a unit test keeps them equal) with ``STREAMWATCH_TOPIC_PREFIX`` in front,
so that tests and parallel deployments stay apart on one broker. Redis keys carry the same
prefix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Final

from streamwatch.pipeline.ordering import DEFAULT_MAX_SKEW_MS

DEFAULT_KAFKA: Final = "127.0.0.1:9092"
DEFAULT_REDIS: Final = "redis://127.0.0.1:6379/0"
DEFAULT_APP_ID: Final = "streamwatch"
DEFAULT_DATA_DIR: Final = ".streamwatch"
DEFAULT_ENVIRONMENT: Final = "dev"
DEFAULT_NOTIFY_RESEND_S: Final = 60
"""How often ``streamwatch notify`` re-sends the open alerts to Alertmanager."""
DEFAULT_MAX_FUTURE_SKEW_S: Final = DEFAULT_MAX_SKEW_MS // 1000

USAGE: Final = "usage"
ACTIVITY: Final = "activity"
PAYMENTS: Final = "payments"
ALERTS: Final = "alerts"
ENFORCEMENT: Final = "enforcement"
DEAD_LETTER: Final = "dead-letter"
ENFORCEMENT_DECISIONS: Final = "enforcement-decisions"
ENFORCEMENT_RESULTS: Final = "enforcement-results"

INPUT_TOPICS: Final = (USAGE, ACTIVITY, PAYMENTS)
"""Co-partitioned by customer_id: one worker sees all of a customer's events."""
OUTPUT_TOPICS: Final = (ALERTS, ENFORCEMENT, DEAD_LETTER)
ENFORCE_TOPICS: Final = (ENFORCEMENT_DECISIONS, ENFORCEMENT_RESULTS)
"""The suspension worker's own topics (``streamwatch enforce``): approvals in, outcomes out."""
TOPIC_NAMES: Final = INPUT_TOPICS + OUTPUT_TOPICS + ENFORCE_TOPICS


ALL_INTERFACES: Final = "0.0.0.0"  # noqa: S104 (the probes and metrics are scraped from outside)
SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SettingsError(ValueError):
    """An environment variable has a value the worker cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How every Kafka client of the deployment authenticates and encrypts.

    ``protocol`` is Kafka's ``security.protocol``. With ``SASL_*`` a user name and password are
    required (Azure Event Hubs: PLAIN, user ``$ConnectionString``, the connection string as the
    password; Confluent Cloud: PLAIN with an API key; MSK: SCRAM-SHA-512). With ``SSL`` and
    ``SASL_SSL`` the broker's certificate is verified against ``ca_file``, or the system's trust
    store when it is unset, and its host name is checked; ``cert_file`` (with ``key_file`` when
    the key is kept apart) presents a client certificate. Secrets never appear in ``repr``.
    """

    protocol: str = "PLAINTEXT"
    """STREAMWATCH_KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    sasl_mechanism: str = "PLAIN"
    """STREAMWATCH_KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."""
    username: str | None = None
    """STREAMWATCH_KAFKA_USERNAME."""
    password: str | None = field(default=None, repr=False)
    """STREAMWATCH_KAFKA_PASSWORD, or the content of the file STREAMWATCH_KAFKA_PASSWORD_FILE
    names (a mounted secret), without its trailing newline."""
    ca_file: Path | None = None
    """STREAMWATCH_KAFKA_CA_FILE: PEM certificates of the CAs that sign the brokers'."""
    cert_file: Path | None = None
    """STREAMWATCH_KAFKA_CERT_FILE: the client certificate (PEM), for brokers that ask for one."""
    key_file: Path | None = None
    """STREAMWATCH_KAFKA_KEY_FILE: its private key, if not in the certificate file."""
    key_password: str | None = field(default=None, repr=False)
    """STREAMWATCH_KAFKA_KEY_PASSWORD: the private key's pass phrase, if it has one."""

    def __post_init__(self) -> None:
        if self.protocol not in SECURITY_PROTOCOLS:
            raise SettingsError(
                f"STREAMWATCH_KAFKA_SECURITY_PROTOCOL={self.protocol!r}: "
                f"use one of {', '.join(SECURITY_PROTOCOLS)}"
            )
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise SettingsError(
                f"STREAMWATCH_KAFKA_SASL_MECHANISM={self.sasl_mechanism!r}: "
                f"use one of {', '.join(SASL_MECHANISMS)}"
            )
        if self.uses_sasl and not (self.username and self.password):
            raise SettingsError(
                f"STREAMWATCH_KAFKA_SECURITY_PROTOCOL={self.protocol} needs "
                "STREAMWATCH_KAFKA_USERNAME and STREAMWATCH_KAFKA_PASSWORD "
                "(or STREAMWATCH_KAFKA_PASSWORD_FILE)"
            )
        if not self.uses_tls and (self.ca_file or self.cert_file or self.key_file):
            raise SettingsError(
                f"STREAMWATCH_KAFKA_CA_FILE, _CERT_FILE and _KEY_FILE need TLS, but "
                f"STREAMWATCH_KAFKA_SECURITY_PROTOCOL is {self.protocol} (use SSL or SASL_SSL)"
            )
        if self.key_file and not self.cert_file:
            raise SettingsError(
                "STREAMWATCH_KAFKA_KEY_FILE is set without STREAMWATCH_KAFKA_CERT_FILE"
            )

    @property
    def uses_sasl(self) -> bool:
        """True when clients authenticate with a user name and password."""
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        """True when connections are encrypted and the broker's certificate verified."""
        return self.protocol in ("SSL", "SASL_SSL")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaSecurity:
        """The STREAMWATCH_KAFKA_* security variables of ``env``; raises SettingsError."""

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def path(name: str) -> Path | None:
            value = get(name)
            return Path(value) if value else None

        password = env.get("STREAMWATCH_KAFKA_PASSWORD") or None
        password_file = path("STREAMWATCH_KAFKA_PASSWORD_FILE")
        if password_file is not None:
            if password is not None:
                raise SettingsError(
                    "set STREAMWATCH_KAFKA_PASSWORD or STREAMWATCH_KAFKA_PASSWORD_FILE, not both"
                )
            try:
                password = password_file.read_text(encoding="utf-8").rstrip("\r\n") or None
            except OSError as exc:
                raise SettingsError(
                    f"STREAMWATCH_KAFKA_PASSWORD_FILE={password_file}: cannot read it "
                    f"({exc.strerror})"
                ) from exc
        return cls(
            protocol=(get("STREAMWATCH_KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper(),
            sasl_mechanism=(get("STREAMWATCH_KAFKA_SASL_MECHANISM") or "PLAIN").upper(),
            username=get("STREAMWATCH_KAFKA_USERNAME"),
            password=password,
            ca_file=path("STREAMWATCH_KAFKA_CA_FILE"),
            cert_file=path("STREAMWATCH_KAFKA_CERT_FILE"),
            key_file=path("STREAMWATCH_KAFKA_KEY_FILE"),
            key_password=env.get("STREAMWATCH_KAFKA_KEY_PASSWORD") or None,
        )


@dataclass(frozen=True, slots=True)
class TopicNames:
    """The eight catalogue topics with the deployment's prefix applied."""

    usage: str
    activity: str
    payments: str
    alerts: str
    enforcement: str
    dead_letter: str
    enforcement_decisions: str
    enforcement_results: str

    @classmethod
    def with_prefix(cls, prefix: str) -> TopicNames:
        """The catalogue names, each prefixed by ``prefix``."""
        return cls(
            usage=prefix + USAGE,
            activity=prefix + ACTIVITY,
            payments=prefix + PAYMENTS,
            alerts=prefix + ALERTS,
            enforcement=prefix + ENFORCEMENT,
            dead_letter=prefix + DEAD_LETTER,
            enforcement_decisions=prefix + ENFORCEMENT_DECISIONS,
            enforcement_results=prefix + ENFORCEMENT_RESULTS,
        )

    @property
    def inputs(self) -> tuple[str, str, str]:
        """The three input topics the worker consumes."""
        return (self.usage, self.activity, self.payments)

    @property
    def all(self) -> tuple[str, ...]:
        """All eight topics: inputs, then alerts, enforcement and dead-letter, then the
        suspension worker's decisions and results."""
        return (
            *self.inputs,
            self.alerts,
            self.enforcement,
            self.dead_letter,
            self.enforcement_decisions,
            self.enforcement_results,
        )


@dataclass(frozen=True, slots=True)
class DeploymentSettings:
    """Where the live path finds Kafka, Redis, its policy and its local files.

    Build with ``DeploymentSettings.from_env()``; the defaults match ``deploy/services.sh``.
    """

    kafka: str = DEFAULT_KAFKA
    """Bootstrap servers, ``host:port`` separated by commas (STREAMWATCH_KAFKA)."""
    redis: str = DEFAULT_REDIS
    """Redis URL (STREAMWATCH_REDIS)."""
    topic_prefix: str = ""
    """Prepended to every topic name and Redis key (STREAMWATCH_TOPIC_PREFIX)."""
    app_id: str = DEFAULT_APP_ID
    """Faust app id, also the consumer group and transactional-id stem (STREAMWATCH_APP_ID)."""
    policy_path: Path | None = None
    """Enforcement policy TOML; None means the packaged default (STREAMWATCH_POLICY)."""
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    """Faust's local data directory (STREAMWATCH_DATA_DIR)."""
    topics_dir: Path | None = None
    """The topic catalogue (STREAMWATCH_TOPICS_DIR); None means the one in the package."""
    environment: str = DEFAULT_ENVIRONMENT
    """Which sizing of the catalogue applies (STREAMWATCH_ENVIRONMENT: ``dev``, ``staging``,
    ``prod``, or one the catalogue's ``environments.json`` adds)."""
    instance_id: str | None = None
    """Static group membership (STREAMWATCH_INSTANCE_ID, optional): a worker restarted with the
    same id takes its partitions back at once instead of after the session timeout. Give each
    worker of a group its own, stable id (e.g. the pod name); leave unset otherwise."""
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    """How clients authenticate to Kafka and encrypt (STREAMWATCH_KAFKA_SECURITY_PROTOCOL and
    the other STREAMWATCH_KAFKA_* variables of ``KafkaSecurity``)."""
    http: str | None = None
    """``host:port`` of the ``/metrics``, ``/health`` and ``/ready`` endpoints (STREAMWATCH_HTTP;
    port 0 picks a free one, ``off`` serves none); None means the command's default (worker
    ``0.0.0.0:9464``, suspension worker ``0.0.0.0:9465``, notify ``0.0.0.0:9466``)."""
    signing_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    """Keys that sign enforcement requests (STREAMWATCH_SIGNING_KEYS, ``id:secret`` separated
    by commas): the first signs, all verify, so a key can be rotated without a gap."""
    approver_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    """The suspension worker's list of people who may approve or reject, each with their own
    key (STREAMWATCH_APPROVER_KEYS, ``name:secret`` by commas): a decision counts only if
    signed with the key of the person it names. Ids must differ from the signing keys'."""
    approver_key: tuple[str, bytes] | None = field(default=None, repr=False)
    """The key of the person running ``streamwatch approve``/``reject``
    (STREAMWATCH_APPROVER_KEY, ``name:secret``): their identity and their signature."""
    alertmanager_urls: tuple[str, ...] = ()
    """``streamwatch notify``: the Alertmanagers to send alerts to (STREAMWATCH_ALERTMANAGER,
    base URLs by commas, e.g. ``http://alertmanager:9093``): every one of them, as Alertmanager
    expects of its clients when it runs as a cluster."""
    alert_webhook_url: str | None = None
    """``streamwatch notify``: a URL that gets each alert as a JSON POST
    (STREAMWATCH_ALERT_WEBHOOK_URL)."""
    alert_webhook_secret: bytes | None = field(default=None, repr=False)
    """The secret that signs those POSTs (STREAMWATCH_ALERT_WEBHOOK_SECRET), required with the
    URL."""
    console_url: str | None = None
    """Base URL of the web console (STREAMWATCH_CONSOLE_URL): alerts link to
    ``<console_url>/customers/<customer_id>``."""
    notify_resend_s: int = DEFAULT_NOTIFY_RESEND_S
    """Seconds between re-sends of the open alerts to Alertmanager
    (STREAMWATCH_NOTIFY_RESEND_S); each is sent valid for four such periods."""
    fx_rates: Path | None = None
    """Dated currency rates (STREAMWATCH_FX_RATES: CSV ``date,currency,rate``, one unit of
    ``currency`` is ``rate`` units of the reporting currency from ``date`` on): the console
    orders customers across currencies by their money at risk converted through it, and says
    so; without it, it orders them within each currency only. Read at each request."""
    reporting_currency: str | None = None
    """The currency the rates of ``fx_rates`` convert into (STREAMWATCH_REPORTING_CURRENCY,
    e.g. ``USD``); required with it."""
    max_future_skew_s: int = DEFAULT_MAX_FUTURE_SKEW_S
    """Seconds an event may lie ahead of its topic partition's event time before it is judged
    a clock gone wrong and held aside as ``future_event`` (STREAMWATCH_MAX_FUTURE_SKEW_S;
    ``streamwatch replay`` takes the same value as its ``--max-skew`` default, so both decide
    alike)."""
    topics: TopicNames = field(init=False)

    def __post_init__(self) -> None:
        if not self.app_id:
            raise SettingsError("STREAMWATCH_APP_ID must not be empty")
        if not self.bootstrap_servers:
            raise SettingsError("STREAMWATCH_KAFKA must name at least one host:port")
        if self.http is not None:
            self.http_address(0)  # raises SettingsError naming the variable
        shared = {key_id for key_id, _ in self.approver_keys} & set(self.verify_keys)
        if shared:
            raise SettingsError(
                f"STREAMWATCH_APPROVER_KEYS and STREAMWATCH_SIGNING_KEYS share key ids "
                f"{sorted(shared)}: a person's key must not look like the workers' key"
            )
        for url in (*self.alertmanager_urls, self.alert_webhook_url, self.console_url):
            if url is not None and not url.startswith(("http://", "https://")):
                raise SettingsError(
                    f"{url!r} (STREAMWATCH_ALERTMANAGER, STREAMWATCH_ALERT_WEBHOOK_URL or "
                    "STREAMWATCH_CONSOLE_URL) must start with http:// or https://"
                )
        if self.alert_webhook_url and not self.alert_webhook_secret:
            raise SettingsError(
                "STREAMWATCH_ALERT_WEBHOOK_URL needs STREAMWATCH_ALERT_WEBHOOK_SECRET: the "
                "secret that signs each POST (X-Streamwatch-Signature), shared with the receiver"
            )
        _check_skew(self.max_future_skew_s)
        if self.notify_resend_s < 1:
            raise SettingsError("STREAMWATCH_NOTIFY_RESEND_S must be a whole number >= 1")
        if (self.fx_rates is None) != (self.reporting_currency is None):
            raise SettingsError(
                "STREAMWATCH_FX_RATES and STREAMWATCH_REPORTING_CURRENCY go together: the rates "
                "file and the currency its rates convert into"
            )
        currency = self.reporting_currency
        if currency is not None and not (len(currency) == 3 and currency.isalpha()):
            raise SettingsError(
                f"STREAMWATCH_REPORTING_CURRENCY={currency!r}: use a currency code such as USD"
            )
        object.__setattr__(self, "topics", TopicNames.with_prefix(self.topic_prefix))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeploymentSettings:
        """Settings from ``environ`` (default ``os.environ``); unset or empty means default."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        policy = get("STREAMWATCH_POLICY")
        topics_dir = get("STREAMWATCH_TOPICS_DIR")
        fx_rates = get("STREAMWATCH_FX_RATES")
        return cls(
            kafka=get("STREAMWATCH_KAFKA") or DEFAULT_KAFKA,
            redis=get("STREAMWATCH_REDIS") or DEFAULT_REDIS,
            topic_prefix=env.get("STREAMWATCH_TOPIC_PREFIX", ""),
            app_id=get("STREAMWATCH_APP_ID") or DEFAULT_APP_ID,
            policy_path=Path(policy) if policy else None,
            data_dir=Path(get("STREAMWATCH_DATA_DIR") or DEFAULT_DATA_DIR),
            topics_dir=Path(topics_dir) if topics_dir else None,
            environment=get("STREAMWATCH_ENVIRONMENT") or DEFAULT_ENVIRONMENT,
            instance_id=get("STREAMWATCH_INSTANCE_ID"),
            kafka_security=KafkaSecurity.from_env(env),
            http=get("STREAMWATCH_HTTP"),
            signing_keys=parse_signing_keys(get("STREAMWATCH_SIGNING_KEYS") or ""),
            approver_keys=parse_signing_keys(
                get("STREAMWATCH_APPROVER_KEYS") or "", "STREAMWATCH_APPROVER_KEYS"
            ),
            approver_key=_one_key(get("STREAMWATCH_APPROVER_KEY")),
            alertmanager_urls=tuple(
                url.strip().rstrip("/")
                for url in (get("STREAMWATCH_ALERTMANAGER") or "").split(",")
                if url.strip()
            ),
            alert_webhook_url=get("STREAMWATCH_ALERT_WEBHOOK_URL"),
            alert_webhook_secret=(get("STREAMWATCH_ALERT_WEBHOOK_SECRET") or "").encode() or None,
            console_url=(get("STREAMWATCH_CONSOLE_URL") or "").rstrip("/") or None,
            notify_resend_s=_whole(
                get("STREAMWATCH_NOTIFY_RESEND_S"),
                "STREAMWATCH_NOTIFY_RESEND_S",
                DEFAULT_NOTIFY_RESEND_S,
            ),
            fx_rates=Path(fx_rates) if fx_rates else None,
            max_future_skew_s=max_future_skew_s(env),
            reporting_currency=(get("STREAMWATCH_REPORTING_CURRENCY") or "").upper() or None,
        )

    def prepare_data_dir(self) -> Path:
        """Create ``data_dir`` (Faust creates only its own folders inside it) with a
        .gitignore, so that local state never lands in a commit; return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ignore = self.data_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by streamwatch: local state, never committed.\n*\n")
        return self.data_dir

    def http_address(self, default_port: int) -> tuple[str, int] | None:
        """(host, port) to serve the HTTP endpoints on, ``default_port`` on all interfaces when
        unset; None when switched off. Raises SettingsError if STREAMWATCH_HTTP is malformed."""
        if self.http is None:
            return ALL_INTERFACES, default_port
        text = self.http.strip()
        if text.lower() == "off":
            return None
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise SettingsError(f"STREAMWATCH_HTTP={self.http!r}: use host:port, or off")
        return host.strip("[]") or ALL_INTERFACES, int(port)

    @property
    def signing_key(self) -> tuple[str, bytes] | None:
        """(key id, secret) that signs outgoing requests, or None when none is configured."""
        return self.signing_keys[0] if self.signing_keys else None

    @property
    def verify_keys(self) -> dict[str, bytes]:
        """Every configured key by id, for verifying requests."""
        return dict(self.signing_keys)

    def topic(self, name: str) -> str:
        """Catalogue topic ``name`` (one of ``TOPIC_NAMES``) as named on the broker."""
        return self.topic_prefix + name

    @property
    def bootstrap_servers(self) -> list[str]:
        """``kafka`` split into a list of ``host:port``."""
        return [part.strip() for part in self.kafka.split(",") if part.strip()]

    @property
    def redis_prefix(self) -> str:
        """The prefix of every Redis key this deployment writes."""
        return f"{self.topic_prefix}streamwatch:"

    def policy_text(self) -> str:
        """The policy TOML: the file at ``policy_path``, or the packaged default."""
        if self.policy_path is not None:
            try:
                return self.policy_path.read_text(encoding="utf-8")
            except OSError as exc:
                raise SettingsError(
                    f"STREAMWATCH_POLICY={self.policy_path}: cannot read it ({exc.strerror})"
                ) from exc
        return (resources.files("streamwatch") / "config" / "policy.toml").read_text(
            encoding="utf-8"
        )


def max_future_skew_s(environ: Mapping[str, str] | None = None) -> int:
    """STREAMWATCH_MAX_FUTURE_SKEW_S from ``environ`` (default ``os.environ``), or its default:
    read alone by ``streamwatch replay``, which needs no other deployment setting."""
    env = os.environ if environ is None else environ
    name = "STREAMWATCH_MAX_FUTURE_SKEW_S"
    return _check_skew(_whole(env.get(name, "").strip() or None, name, DEFAULT_MAX_FUTURE_SKEW_S))


def _check_skew(seconds: int) -> int:
    if seconds < 60:
        raise SettingsError("STREAMWATCH_MAX_FUTURE_SKEW_S must be a whole number >= 60")
    return seconds


def _whole(text: str | None, variable: str, default: int) -> int:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{variable}={text!r}: use a whole number") from None


def _one_key(text: str | None) -> tuple[str, bytes] | None:
    keys = parse_signing_keys(text or "", "STREAMWATCH_APPROVER_KEY")
    if len(keys) > 1:
        raise SettingsError("STREAMWATCH_APPROVER_KEY holds one key (name:secret), yours")
    return keys[0] if keys else None


def parse_signing_keys(
    text: str, variable: str = "STREAMWATCH_SIGNING_KEYS"
) -> tuple[tuple[str, bytes], ...]:
    """``id:secret,id2:secret2`` as ((id, secret bytes), ...); raises SettingsError naming the
    ``variable`` when an entry lacks an id or a secret, or an id repeats."""
    keys: list[tuple[str, bytes]] = []
    for entry in text.split(","):
        if not entry.strip():
            continue
        key_id, sep, secret = entry.strip().partition(":")
        if not sep or not key_id or not secret or ":" in key_id:
            raise SettingsError(f"{variable} entries must read id:secret")
        if any(key_id == known for known, _ in keys):
            raise SettingsError(f"{variable} names key id {key_id!r} twice")
        keys.append((key_id, secret.encode()))
    return tuple(keys)
