"""The installed package carries the topic catalogue and its schemas: ``streamwatch topics
list`` works after ``pip install .`` in a fresh virtual environment, from a folder outside the
repository."""

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


def test_topics_list_works_after_pip_install_in_a_fresh_venv(tmp_path: Path):
    """``pip install .`` into a new virtual environment (dependencies from the package index,
    as a user gets them), then ``streamwatch topics list`` from a folder outside the
    repository, with no catalogue path set."""
    venv, elsewhere = tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = run(sys.executable, "-m", "venv", str(venv), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    installed = run(*pip, "install", str(REPO), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr

    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMWATCH_")}
    env.pop("PYTHONPATH", None)
    streamwatch = str(venv / "bin" / "streamwatch")
    where = run(
        str(venv / "bin" / "python"),
        "-c",
        "import streamwatch; print(streamwatch.__file__)",
        cwd=elsewhere,
        env=env,
    )
    assert where.stdout.startswith(str(venv)), where
    listed = run(streamwatch, "topics", "list", cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "enforcement-results" in listed.stdout
    prod = run(streamwatch, "topics", "list", "--env", "prod", cwd=elsewhere, env=env)
    assert "partitions 12, replication 3" in prod.stdout
    schemas = list(venv.glob("lib/python*/site-packages/streamwatch/topics/schemas"))
    assert schemas
    assert (schemas[0] / "alert.schema.json").is_file()
