"""The built package carries the topic catalogue and its schemas: ``streamwatch topics list``
works from an installed wheel, run from a folder outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import REPO

pytestmark = pytest.mark.integration


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_topics_list_works_from_an_installed_wheel_outside_the_repository(tmp_path: Path):
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = run(*pip, "wheel", "--no-deps", "-w", str(wheels), str(REPO), cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("streamwatch-*.whl")
    installed = run(*pip, "install", "--no-deps", "--target", str(target), str(wheel), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr

    # The wheel's copy comes first on the path; the dependencies come from this environment.
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("STREAMWATCH_TOPICS_DIR", None)
    where = run(
        sys.executable,
        "-c",
        "import streamwatch; print(streamwatch.__file__)",
        cwd=elsewhere,
        env=env,
    )
    assert where.stdout.startswith(str(target)), where
    listed = run(sys.executable, "-m", "streamwatch", "topics", "list", cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "enforcement-results" in listed.stdout
    prod = run(
        sys.executable,
        "-m",
        "streamwatch",
        "topics",
        "list",
        "--env",
        "prod",
        cwd=elsewhere,
        env=env,
    )
    assert "partitions 12, replication 3" in prod.stdout
    assert (target / "streamwatch/topics/schemas/alert.schema.json").is_file()
