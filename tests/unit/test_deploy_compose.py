"""docker-compose.yml: every long-running service has a health check and a restart policy, and
Redis keeps an append-only file on a volume (it holds the suspension worker's records)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


@pytest.mark.parametrize("name", ["kafka", "redis", "worker", "enforce"])
def test_long_running_services_have_health_checks_and_restart(name):
    service = services()[name]
    assert service["healthcheck"]["test"]
    assert service["restart"] == "unless-stopped"


def test_redis_persists_with_an_append_only_file_on_a_volume():
    redis = services()["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_workers_run_the_built_image_not_the_mounted_checkout():
    for name in ("topics", "worker", "enforce"):
        service = services()[name]
        assert service["build"] == "."
        assert not any(str(v).startswith(".:") for v in service.get("volumes", []))
