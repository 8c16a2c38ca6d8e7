"""Every setting in one table, the TOML settings file, and the effective settings for display.

Settings are environment variables (``VARIABLES``); a TOML file named by STREAMWATCH_CONFIG
(or ``streamwatch --config FILE``) may hold any of them under their name without the
``STREAMWATCH_`` prefix, in lower case, and the environment overrides the file::

    kafka = "broker-1:9093,broker-2:9093"
    kafka_security_protocol = "SASL_SSL"
    kafka_password_file = "/run/secrets/kafka-password"
    environment = "prod"

``apply_file`` puts the file's values into the environment where it has none, once, at start,
so that every reader of a setting sees the same value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from streamwatch.settings import SettingsError

CONFIG_VARIABLE: Final = "STREAMWATCH_CONFIG"
PREFIX: Final = "STREAMWATCH_"
REDACTED: Final = "<redacted>"


@dataclass(frozen=True, slots=True)
class Variable:
    """One setting: its variable, its default as shown to people, and what it does."""

    name: str
    default: str
    help: str
    secret: bool = False


VARIABLES: Final = (
    Variable("STREAMWATCH_KAFKA", "127.0.0.1:9092", "bootstrap servers, host:port by commas"),
    Variable(
        "STREAMWATCH_KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    ),
    Variable("STREAMWATCH_KAFKA_SASL_MECHANISM", "PLAIN", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
    Variable("STREAMWATCH_KAFKA_USERNAME", "", "SASL user name"),
    Variable("STREAMWATCH_KAFKA_PASSWORD", "", "SASL password", secret=True),
    Variable("STREAMWATCH_KAFKA_PASSWORD_FILE", "", "a file holding the SASL password"),
    Variable("STREAMWATCH_KAFKA_CA_FILE", "system trust store", "CA certificates (PEM)"),
    Variable("STREAMWATCH_KAFKA_CERT_FILE", "", "client certificate (PEM)"),
    Variable("STREAMWATCH_KAFKA_KEY_FILE", "in the certificate file", "its private key"),
    Variable("STREAMWATCH_KAFKA_KEY_PASSWORD", "", "the private key's pass phrase", secret=True),
    Variable("STREAMWATCH_REDIS", "redis://127.0.0.1:6379/0", "Redis URL"),
    Variable("STREAMWATCH_TOPIC_PREFIX", "", "prepended to every topic and Redis key"),
    Variable("STREAMWATCH_APP_ID", "streamwatch", "consumer group and transactional-id stem"),
    Variable("STREAMWATCH_INSTANCE_ID", "", "static group membership id of this worker"),
    Variable("STREAMWATCH_ENVIRONMENT", "dev", "sizing of the topic catalogue"),
    Variable("STREAMWATCH_TOPICS_DIR", "packaged", "the topic catalogue"),
    Variable("STREAMWATCH_POLICY", "packaged", "enforcement policy TOML"),
    Variable("STREAMWATCH_DATA_DIR", ".streamwatch", "the worker's local files"),
    Variable(
        "STREAMWATCH_HTTP",
        "worker 0.0.0.0:9464, enforce 0.0.0.0:9465, notify 0.0.0.0:9466",
        "host:port of /metrics, /health, /ready (off: none)",
    ),
    Variable(
        "STREAMWATCH_SIGNING_KEYS",
        "",
        "id:secret,... that sign (first) and verify requests",
        secret=True,
    ),
    Variable(
        "STREAMWATCH_APPROVER_KEYS",
        "",
        "suspension worker: name:secret,... of the people who may decide",
        secret=True,
    ),
    Variable("STREAMWATCH_APPROVER_KEY", "", "approve/reject: your own name:secret", secret=True),
    Variable("STREAMWATCH_INDICATORS", "packaged", "folder of indicator lists"),
    Variable("STREAMWATCH_WEBHOOK_SECRET", "", "signs the webhook backend's requests", secret=True),
    Variable("STREAMWATCH_ALERTMANAGER", "", "notify: Alertmanager base URLs, by commas"),
    Variable("STREAMWATCH_ALERT_WEBHOOK_URL", "", "notify: a URL each alert is POSTed to"),
    Variable(
        "STREAMWATCH_ALERT_WEBHOOK_SECRET", "", "notify: signs the alert webhook", secret=True
    ),
    Variable("STREAMWATCH_CONSOLE_URL", "", "base URL of the console, for links in alerts"),
    Variable("STREAMWATCH_NOTIFY_RESEND_S", "60", "notify: seconds between re-sends"),
    Variable(
        "STREAMWATCH_MAX_FUTURE_SKEW_S", "86400", "seconds ahead of its partition an event may lie"
    ),
    Variable("STREAMWATCH_FX_RATES", "", "console: dated currency rates (date,currency,rate)"),
    Variable("STREAMWATCH_REPORTING_CURRENCY", "", "console: the currency the rates convert into"),
)
BY_NAME: Final = {variable.name: variable for variable in VARIABLES}


def read_file(path: Path) -> dict[str, str]:
    """The settings of the TOML file at ``path`` as variables; raises SettingsError naming the
    file and the key when it cannot be read, a key is unknown or a value is not a scalar."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{CONFIG_VARIABLE}={path}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{CONFIG_VARIABLE}={path}: not TOML ({exc})") from exc
    values = {}
    for key, value in doc.items():
        name = PREFIX + key.upper()
        if name not in BY_NAME:
            raise SettingsError(f"{path}: unknown setting {key!r} (see streamwatch config)")
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[name] = str(value)
        else:
            raise SettingsError(f"{path}: {key} must be a string or a number")
    return values


def apply_file(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Read the file STREAMWATCH_CONFIG names (if any) and set its values where ``environ``
    (default ``os.environ``) has none; returns the file's values. Raises SettingsError."""
    env = os.environ if environ is None else environ
    path = env.get(CONFIG_VARIABLE, "").strip()
    if not path:
        return {}
    values = read_file(Path(path))
    for name, value in values.items():
        if not env.get(name, "").strip():
            env[name] = value
    return values


@dataclass(frozen=True, slots=True)
class Effective:
    """One setting as a process sees it: its value for display and where it came from."""

    name: str
    value: str
    source: str
    """``environment``, ``file`` or ``default``."""
    help: str


def effective(environ: Mapping[str, str], from_file: Mapping[str, str]) -> list[Effective]:
    """Every setting as ``environ`` (after ``apply_file``) gives it, secrets redacted."""
    out = []
    for variable in VARIABLES:
        raw = environ.get(variable.name, "").strip()
        if not raw:
            out.append(Effective(variable.name, variable.default, "default", variable.help))
            continue
        source = "file" if from_file.get(variable.name) == raw else "environment"
        out.append(Effective(variable.name, redact(variable, raw), source, variable.help))
    return out


def redact(variable: Variable, value: str) -> str:
    """``value`` fit to print: secrets hidden (signing keys keep their ids), a password in a
    URL hidden."""
    if variable.name in (
        "STREAMWATCH_SIGNING_KEYS",
        "STREAMWATCH_APPROVER_KEYS",
        "STREAMWATCH_APPROVER_KEY",
    ):
        ids = [entry.partition(":")[0].strip() for entry in value.split(",") if entry.strip()]
        return ",".join(f"{key_id}:{REDACTED}" for key_id in ids)
    if variable.secret:
        return REDACTED
    if "://" in value:
        parts = urlsplit(value)
        if parts.password:
            netloc = f"{parts.username or ''}:{REDACTED}@{parts.hostname}"
            netloc += f":{parts.port}" if parts.port else ""
            return urlunsplit(parts._replace(netloc=netloc))
    return value
