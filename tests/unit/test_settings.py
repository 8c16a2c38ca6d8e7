"""DeploymentSettings from the environment, and topic names that match the catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamwatch.core.policy import parse_policy
from streamwatch.live.catalogue import load_catalogue
from streamwatch.settings import (
    DEFAULT_KAFKA,
    DEFAULT_REDIS,
    INPUT_TOPICS,
    TOPIC_NAMES,
    DeploymentSettings,
    KafkaSecurity,
    SettingsError,
    TopicNames,
)


def test_topic_names_in_code_equal_the_catalogue():
    catalogue = {spec.name for spec in load_catalogue()}
    assert set(TOPIC_NAMES) == catalogue
    assert set(TopicNames.with_prefix("").all) == catalogue


def test_input_topics_are_co_partitioned_in_the_catalogue():
    specs = {spec.name: spec for spec in load_catalogue()}
    assert len({specs[name].partitions for name in INPUT_TOPICS}) == 1
    assert all(specs[name].key == "customer_id" for name in TOPIC_NAMES)


def test_defaults_when_environment_is_empty():
    settings = DeploymentSettings.from_env({})
    assert settings.kafka == DEFAULT_KAFKA
    assert settings.bootstrap_servers == ["127.0.0.1:9092"]
    assert settings.redis == DEFAULT_REDIS
    assert settings.topic_prefix == ""
    assert settings.app_id == "streamwatch"
    assert settings.policy_path is None
    assert settings.data_dir == Path(".streamwatch")
    assert settings.topics_dir is None
    assert settings.environment == "dev"
    assert settings.instance_id is None
    assert settings.topics.dead_letter == "dead-letter"


def test_environment_overrides_every_setting(tmp_path):
    settings = DeploymentSettings.from_env(
        {
            "STREAMWATCH_KAFKA": "k1:9092, k2:9093",
            "STREAMWATCH_REDIS": "redis://r:6380/2",
            "STREAMWATCH_TOPIC_PREFIX": "t1.",
            "STREAMWATCH_APP_ID": "sw-test",
            "STREAMWATCH_POLICY": str(tmp_path / "p.toml"),
            "STREAMWATCH_DATA_DIR": str(tmp_path / "data"),
            "STREAMWATCH_TOPICS_DIR": str(tmp_path / "topics"),
            "STREAMWATCH_ENVIRONMENT": "prod",
            "STREAMWATCH_INSTANCE_ID": "worker-0",
        }
    )
    assert settings.bootstrap_servers == ["k1:9092", "k2:9093"]
    assert settings.redis == "redis://r:6380/2"
    assert settings.app_id == "sw-test"
    assert settings.policy_path == tmp_path / "p.toml"
    assert settings.data_dir == tmp_path / "data"
    assert settings.topics_dir == tmp_path / "topics"
    assert settings.environment == "prod"
    assert settings.instance_id == "worker-0"


def test_prefix_applies_to_every_topic_and_redis_key():
    settings = DeploymentSettings(topic_prefix="it-1.")
    assert settings.topics.inputs == ("it-1.usage", "it-1.activity", "it-1.payments")
    assert settings.topics.all[3:] == (
        "it-1.alerts",
        "it-1.enforcement",
        "it-1.dead-letter",
        "it-1.enforcement-decisions",
        "it-1.enforcement-results",
    )
    assert settings.topic("usage") == "it-1.usage"
    assert settings.redis_prefix == "it-1.streamwatch:"


def test_packaged_policy_is_the_default_and_parses():
    policy = parse_policy(DeploymentSettings().policy_text())
    assert {rule.id for rule in policy.rules} >= {"provider-aup-suspend"}


def test_policy_file_overrides_the_default(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('version = "7"\n')
    assert parse_policy(DeploymentSettings(policy_path=path).policy_text()).version == "7"


def test_unreadable_policy_names_the_variable(tmp_path):
    with pytest.raises(SettingsError, match="STREAMWATCH_POLICY"):
        DeploymentSettings(policy_path=tmp_path / "missing.toml").policy_text()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STREAMWATCH_KAFKA": " , "}, "STREAMWATCH_KAFKA"),
    ],
    ids=["no-bootstrap-server"],
)
def test_unusable_environment_is_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        DeploymentSettings.from_env(env)


def test_signing_keys_are_read_first_signs_all_verify() -> None:
    settings = DeploymentSettings.from_env(
        {"STREAMWATCH_SIGNING_KEYS": "k2:new-secret, k1:old:colon"}
    )
    assert settings.signing_key == ("k2", b"new-secret")
    assert settings.verify_keys == {"k2": b"new-secret", "k1": b"old:colon"}
    assert DeploymentSettings.from_env({}).signing_key is None
    for bad in ("nosecret", ":x", "k1:a,k1:b"):
        with pytest.raises(SettingsError, match="STREAMWATCH_SIGNING_KEYS"):
            DeploymentSettings.from_env({"STREAMWATCH_SIGNING_KEYS": bad})


def test_kafka_security_defaults_to_plaintext():
    security = DeploymentSettings.from_env({}).kafka_security
    assert security == KafkaSecurity()
    assert not security.uses_sasl
    assert not security.uses_tls


def test_kafka_security_is_read_from_the_environment(tmp_path):
    ca = tmp_path / "ca.pem"
    security = KafkaSecurity.from_env(
        {
            "STREAMWATCH_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "STREAMWATCH_KAFKA_SASL_MECHANISM": "scram-sha-512",
            "STREAMWATCH_KAFKA_USERNAME": "$ConnectionString",
            "STREAMWATCH_KAFKA_PASSWORD": "Endpoint=sb://x/;SharedAccessKey=k=",
            "STREAMWATCH_KAFKA_CA_FILE": str(ca),
        }
    )
    assert security.protocol == "SASL_SSL"
    assert security.sasl_mechanism == "SCRAM-SHA-512"
    assert security.username == "$ConnectionString"
    assert security.password == "Endpoint=sb://x/;SharedAccessKey=k="
    assert security.ca_file == ca
    assert security.uses_sasl
    assert security.uses_tls


def test_kafka_password_is_read_from_a_file_without_its_newline(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    security = KafkaSecurity.from_env(
        {
            "STREAMWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "STREAMWATCH_KAFKA_USERNAME": "u",
            "STREAMWATCH_KAFKA_PASSWORD_FILE": str(secret),
        }
    )
    assert security.password == "s3cret"


def test_secrets_are_not_in_the_settings_repr():
    settings = DeploymentSettings.from_env(
        {
            "STREAMWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "STREAMWATCH_KAFKA_USERNAME": "u",
            "STREAMWATCH_KAFKA_PASSWORD": "kafka-secret",
            "STREAMWATCH_SIGNING_KEYS": "k1:signing-secret",
        }
    )
    assert "kafka-secret" not in repr(settings)
    assert "signing-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        pytest.param(
            {"STREAMWATCH_KAFKA_SECURITY_PROTOCOL": "TLS"},
            "STREAMWATCH_KAFKA_SECURITY_PROTOCOL",
            id="unknown-protocol",
        ),
        pytest.param(
            {"STREAMWATCH_KAFKA_SASL_MECHANISM": "GSSAPI"},
            "STREAMWATCH_KAFKA_SASL_MECHANISM",
            id="unknown-mechanism",
        ),
        pytest.param(
            {"STREAMWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "STREAMWATCH_KAFKA_USERNAME": "u"},
            "STREAMWATCH_KAFKA_PASSWORD",
            id="sasl-without-password",
        ),
        pytest.param(
            {"STREAMWATCH_KAFKA_CA_FILE": "ca.pem"},
            "STREAMWATCH_KAFKA_CA_FILE",
            id="ca-without-tls",
        ),
        pytest.param(
            {"STREAMWATCH_KAFKA_SECURITY_PROTOCOL": "SSL", "STREAMWATCH_KAFKA_KEY_FILE": "k.pem"},
            "STREAMWATCH_KAFKA_CERT_FILE",
            id="key-without-certificate",
        ),
        pytest.param(
            {
                "STREAMWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "STREAMWATCH_KAFKA_USERNAME": "u",
                "STREAMWATCH_KAFKA_PASSWORD_FILE": "/nonexistent/password",
            },
            "STREAMWATCH_KAFKA_PASSWORD_FILE",
            id="unreadable-password-file",
        ),
    ],
)
def test_unusable_kafka_security_names_the_variable(env, names):
    with pytest.raises(SettingsError, match=names):
        DeploymentSettings.from_env(env)


def test_approver_keys_are_read_apart_from_the_signing_keys():
    settings = DeploymentSettings.from_env(
        {
            "STREAMWATCH_SIGNING_KEYS": "k1:workers",
            "STREAMWATCH_APPROVER_KEYS": "alice:a-secret,bob:b-secret",
            "STREAMWATCH_APPROVER_KEY": "alice:a-secret",
        }
    )
    assert settings.approver_keys == (("alice", b"a-secret"), ("bob", b"b-secret"))
    assert settings.approver_key == ("alice", b"a-secret")
    assert "a-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"STREAMWATCH_SIGNING_KEYS": "k1:x", "STREAMWATCH_APPROVER_KEYS": "k1:y"},
            "share key ids",
            id="shared-id",
        ),
        pytest.param(
            {"STREAMWATCH_APPROVER_KEY": "alice:a,bob:b"}, "holds one key", id="two-own-keys"
        ),
        pytest.param(
            {"STREAMWATCH_APPROVER_KEYS": "alice"},
            "STREAMWATCH_APPROVER_KEYS entries must read id:secret",
            id="no-secret",
        ),
    ],
)
def test_unusable_approver_keys_are_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        DeploymentSettings.from_env(env)


def test_currency_rates_for_the_console_are_read_with_their_currency(tmp_path):
    path = tmp_path / "fx.csv"
    env = {"STREAMWATCH_FX_RATES": str(path), "STREAMWATCH_REPORTING_CURRENCY": "usd"}
    settings = DeploymentSettings.from_env(env)
    assert (settings.fx_rates, settings.reporting_currency) == (path, "USD")
    plain = DeploymentSettings.from_env({})
    assert (plain.fx_rates, plain.reporting_currency) == (None, None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STREAMWATCH_FX_RATES": "fx.csv"}, "go together"),
        ({"STREAMWATCH_REPORTING_CURRENCY": "USD"}, "go together"),
        (
            {"STREAMWATCH_FX_RATES": "fx.csv", "STREAMWATCH_REPORTING_CURRENCY": "dollars"},
            "STREAMWATCH_REPORTING_CURRENCY='DOLLARS'",
        ),
    ],
    ids=["rates-alone", "currency-alone", "not-a-currency"],
)
def test_currency_rates_without_their_currency_are_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        DeploymentSettings.from_env(env)


def test_the_future_skew_defaults_to_a_day_and_is_read_from_the_environment() -> None:
    assert DeploymentSettings.from_env({}).max_future_skew_s == 86400
    settings = DeploymentSettings.from_env({"STREAMWATCH_MAX_FUTURE_SKEW_S": "3600"})
    assert settings.max_future_skew_s == 3600
    for value in ("59", "a day"):
        with pytest.raises(SettingsError, match="STREAMWATCH_MAX_FUTURE_SKEW_S"):
            DeploymentSettings.from_env({"STREAMWATCH_MAX_FUTURE_SKEW_S": value})
