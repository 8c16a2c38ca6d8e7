"""The demo shows what it promises: every registered alert kind, over two months of traffic."""

from __future__ import annotations

import re
from pathlib import Path

from streamwatch.commands import demo
from streamwatch.core.detectors.registry import registered_kinds
from streamwatch.generator.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parents[2]


def test_the_default_demo_raises_every_registered_alert_kind():
    run = demo.run_demo(clock=lambda: 0)
    assert registered_kinds() - run.kinds() == set()
    assert run.kinds() <= registered_kinds()
    assert run.report.total.true_positives > 0


def test_the_demos_incidents_are_registered_scenarios():
    assert set(demo.INCIDENTS) <= set(SCENARIOS)


def test_readme_and_script_give_the_demos_length_as_it_runs():
    assert demo.DAYS == 60
    script = (REPO / "scripts" / "demo").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "two months" in script
    assert "a month" not in script
    assert re.search(rf"{demo.CUSTOMERS}\s+customers over {demo.DAYS} days", readme)
