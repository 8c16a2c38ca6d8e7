"""The options every Kafka client is built with, from the deployment's security settings."""

from __future__ import annotations

import ssl

import faust
import pytest

from streamwatch.kafka_clients import client_options, faust_credentials, security_options
from streamwatch.settings import DeploymentSettings, KafkaSecurity, SettingsError


def sasl(protocol: str = "SASL_SSL", **fields: object) -> KafkaSecurity:
    values: dict[str, object] = {
        "protocol": protocol,
        "sasl_mechanism": "SCRAM-SHA-256",
        "username": "user",
        "password": "secret",
        **fields,
    }
    return KafkaSecurity(**values)  # type: ignore[arg-type]


def test_plaintext_clients_get_only_the_servers_and_protocol():
    settings = DeploymentSettings(kafka="k1:9092,k2:9092")
    assert client_options(settings) == {
        "bootstrap_servers": ["k1:9092", "k2:9092"],
        "security_protocol": "PLAINTEXT",
    }
    assert faust_credentials(settings.kafka_security) is None


def test_sasl_ssl_clients_verify_the_broker_and_authenticate():
    options = security_options(sasl())
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "user",
        "sasl_plain_password": "secret",
    }


def test_sasl_without_tls_has_no_ssl_context():
    assert "ssl_context" not in security_options(sasl("SASL_PLAINTEXT"))


@pytest.mark.parametrize(
    ("security", "protocol", "kind"),
    [
        pytest.param(sasl(), "SASL_SSL", faust.SASLCredentials, id="sasl-ssl"),
        pytest.param(sasl("SASL_PLAINTEXT"), "SASL_PLAINTEXT", faust.SASLCredentials, id="sasl"),
        pytest.param(KafkaSecurity(protocol="SSL"), "SSL", faust.SSLCredentials, id="ssl"),
    ],
)
def test_faust_gets_the_same_protocol(security, protocol, kind):
    credentials = faust_credentials(security)
    assert isinstance(credentials, kind)
    assert credentials.protocol.value == protocol


def test_an_unreadable_ca_file_is_a_settings_error(tmp_path):
    security = sasl(ca_file=tmp_path / "missing.pem")
    with pytest.raises(SettingsError, match="STREAMWATCH_KAFKA_CA_FILE"):
        security_options(security)
