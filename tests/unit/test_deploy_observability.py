"""The alert rules and the dashboard in deploy/ speak of metrics the workers expose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from streamwatch import metric_defs

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
EXPOSED = (
    set(metric_defs.WORKER_METRICS)
    | set(metric_defs.ENFORCE_METRICS)
    | set(metric_defs.NOTIFY_METRICS)
)
SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def referenced(text: str) -> set[str]:
    """The streamwatch metric families a PromQL text names."""
    names = set()
    for found in re.findall(r"\bstreamwatch_[a-z_]+", text):
        family = next(
            (found.removesuffix(s) for s in SUFFIXES if found.removesuffix(s) in EXPOSED), found
        )
        names.add(family)
    return names


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana/streamwatch.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param((DEPLOY / "prometheus/rules.yml").read_text(), id="rules"),
        pytest.param("\n".join(dashboard_exprs()), id="dashboard"),
    ],
)
def test_only_exposed_metrics_are_queried(text):
    names = referenced(text)
    assert names
    assert names <= EXPOSED, names - EXPOSED


def test_the_dashboard_shows_every_metric():
    assert referenced("\n".join(dashboard_exprs())) == EXPOSED
