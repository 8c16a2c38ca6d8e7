"""Connection options of every Kafka client streamwatch makes, from the deployment settings.

Each aiokafka client (consumer, producer, admin) is built with ``**client_options(settings)``;
the Faust worker gets the same through ``faust_credentials``. ``check_connection`` connects
once to each bootstrap server and turns a refusal into ``KafkaUnavailable`` with the cause
named: aiokafka itself logs a failed authentication and reports only "Unable to bootstrap", and
Faust retries forever, so the entry points call it before they start anything.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Final

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.metadata import MetadataRequest

from streamwatch.settings import DeploymentSettings, KafkaSecurity, SettingsError

CONNECT_TIMEOUT_S: Final = 10.0
"""How long ``check_connection`` waits for one server: a TLS listener spoken to in plain text
(or the reverse) answers nothing at all."""


class KafkaUnavailable(RuntimeError):
    """No bootstrap server accepted a connection; the message names the cause and the setting
    to look at (address, security protocol, credentials, CA file)."""


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext | None:
    """The TLS context for ``security`` (None without TLS): the broker's certificate verified
    against the CA file or the system's trust store, its host name checked, the client
    certificate loaded when one is set. Raises SettingsError if a file cannot be loaded."""
    if not security.uses_tls:
        return None
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(security.ca_file) if security.ca_file else None,
            certfile=str(security.cert_file) if security.cert_file else None,
            keyfile=str(security.key_file) if security.key_file else None,
            password=security.key_password,
        )
    except (OSError, ssl.SSLError) as exc:
        raise SettingsError(
            "cannot load the Kafka TLS files (STREAMWATCH_KAFKA_CA_FILE, _CERT_FILE, "
            f"_KEY_FILE, _KEY_PASSWORD): {exc}"
        ) from exc
    return context


def security_options(security: KafkaSecurity) -> dict[str, Any]:
    """aiokafka's security keyword arguments for ``security``."""
    options: dict[str, Any] = {"security_protocol": security.protocol}
    context = ssl_context(security)
    if context is not None:
        options["ssl_context"] = context
    if security.uses_sasl:
        options.update(
            sasl_mechanism=security.sasl_mechanism,
            sasl_plain_username=security.username,
            sasl_plain_password=security.password,
        )
    return options


def client_options(settings: DeploymentSettings) -> dict[str, Any]:
    """Keyword arguments every aiokafka client of the deployment takes: the bootstrap servers
    and the security options. Raises SettingsError if the TLS files cannot be loaded."""
    return {
        "bootstrap_servers": settings.bootstrap_servers,
        **security_options(settings.kafka_security),
    }


def faust_credentials(security: KafkaSecurity) -> Any:
    """Faust's ``broker_credentials`` for ``security`` (None for PLAINTEXT)."""
    import faust  # noqa: PLC0415 (the commands that do not run Faust need not import it)

    context = ssl_context(security)
    if security.uses_sasl:
        return faust.SASLCredentials(
            username=security.username,
            password=security.password,
            mechanism=security.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


async def check_connection(
    settings: DeploymentSettings, timeout_s: float = CONNECT_TIMEOUT_S
) -> None:
    """Connect (and authenticate) to each bootstrap server until one accepts; raises
    KafkaUnavailable naming why none did, SettingsError if the TLS files cannot be loaded."""
    security = settings.kafka_security
    options = security_options(security)
    problems = []
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        try:
            async with asyncio.timeout(timeout_s):
                conn = await create_conn(
                    host.strip("[]"), int(port), request_timeout_ms=int(timeout_s * 1000), **options
                )
                try:
                    # A request proves the listener speaks the protocol the client does.
                    await conn.send(MetadataRequest([]))
                finally:
                    conn.close()
        except (
            SaslAuthenticationFailed,
            AuthenticationFailedError,
            UnsupportedSaslMechanismError,
        ) as exc:
            raise KafkaUnavailable(
                f"Kafka at {server} refused the credentials of user {security.username!r} "
                f"with {security.sasl_mechanism}: {exc}. Check STREAMWATCH_KAFKA_USERNAME, "
                "STREAMWATCH_KAFKA_PASSWORD and STREAMWATCH_KAFKA_SASL_MECHANISM."
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise KafkaUnavailable(
                f"Kafka at {server}: its TLS certificate is not trusted ({exc.verify_message}). "
                "Check STREAMWATCH_KAFKA_CA_FILE and that the server name is the one in the "
                "certificate."
            ) from exc
        except TimeoutError:
            problems.append(
                f"{server}: no answer within {timeout_s:.0f}s (is "
                f"STREAMWATCH_KAFKA_SECURITY_PROTOCOL={security.protocol} what this listener "
                "speaks?)"
            )
        except (OSError, KafkaError, ValueError) as exc:
            problems.append(f"{server}: {type(exc).__name__}: {exc}")
        else:
            return
    raise KafkaUnavailable(
        "Kafka is not reachable: "
        + "; ".join(problems)
        + f". Check STREAMWATCH_KAFKA and that the listener speaks {security.protocol} "
        "(STREAMWATCH_KAFKA_SECURITY_PROTOCOL)."
    )
