"""The settings table, the TOML settings file under the environment, and redaction."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streamwatch.settings import SettingsError
from streamwatch.settings_file import (
    BY_NAME,
    CONFIG_VARIABLE,
    REDACTED,
    apply_file,
    effective,
    read_file,
    redact,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "streamwatch"


def test_every_variable_the_code_reads_is_in_the_table():
    read = {
        name
        for path in SRC.rglob("*.py")
        for name in re.findall(r"STREAMWATCH_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8"))
    }
    assert read - {CONFIG_VARIABLE} <= set(BY_NAME), read - set(BY_NAME)


def test_the_environment_overrides_the_file(tmp_path):
    config = tmp_path / "streamwatch.toml"
    config.write_text('kafka = "file:9092"\nenvironment = "prod"\nkafka_password = "p"\n')
    env = {CONFIG_VARIABLE: str(config), "STREAMWATCH_KAFKA": "env:9092"}
    from_file = apply_file(env)
    assert env["STREAMWATCH_KAFKA"] == "env:9092"
    assert env["STREAMWATCH_ENVIRONMENT"] == "prod"
    rows = {row.name: row for row in effective(env, from_file)}
    assert (rows["STREAMWATCH_KAFKA"].value, rows["STREAMWATCH_KAFKA"].source) == (
        "env:9092",
        "environment",
    )
    assert rows["STREAMWATCH_ENVIRONMENT"].source == "file"
    assert rows["STREAMWATCH_KAFKA_PASSWORD"].value == REDACTED
    assert rows["STREAMWATCH_APP_ID"].source == "default"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('kafak = "x"', "unknown setting 'kafak'", id="unknown-key"),
        pytest.param("kafka = [1]", "string or a number", id="not-scalar"),
        pytest.param("kafka = ", "not TOML", id="not-toml"),
    ],
)
def test_a_bad_file_is_refused_naming_the_key(tmp_path, text, message):
    config = tmp_path / "streamwatch.toml"
    config.write_text(text)
    with pytest.raises(SettingsError, match=message):
        read_file(config)


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        pytest.param("STREAMWATCH_KAFKA_PASSWORD", "s3cret", REDACTED, id="secret"),
        pytest.param(
            "STREAMWATCH_SIGNING_KEYS", "k2:a, k1:b", f"k2:{REDACTED},k1:{REDACTED}", id="keys"
        ),
        pytest.param(
            "STREAMWATCH_REDIS",
            "rediss://user:pw@redis.example:6380/0",
            f"rediss://user:{REDACTED}@redis.example:6380/0",
            id="url-password",
        ),
        pytest.param("STREAMWATCH_KAFKA", "k1:9092", "k1:9092", id="plain"),
    ],
)
def test_secrets_are_redacted(name, value, shown):
    assert redact(BY_NAME[name], value) == shown
