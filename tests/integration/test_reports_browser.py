"""The HTML reports in a real browser (headless Chromium): ``replay --report`` and ``evidence
--html`` on a generated stream with crypto-mining incidents render their plots and tables with
nothing fetched from elsewhere. Screenshots go to out/reports/.

The browser comes from deploy/browser.sh, as for the console's test; without it the test fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from processes import REPO
from selenium import webdriver
from selenium.webdriver.common.by import By

pytestmark = pytest.mark.integration

SHOTS = REPO / "out" / "reports"


def render(driver: webdriver.Chrome, page: Path, name: str) -> dict[str, Any]:
    """Open ``page``, keep a screenshot, and say what the browser drew."""
    driver.get(page.resolve().as_uri())
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SHOTS / f"{name}.png"))
    svgs = driver.find_elements(By.CSS_SELECTOR, "svg")
    return {
        "title": driver.title,
        "headings": [h.text for h in driver.find_elements(By.CSS_SELECTOR, "h1, h2")],
        "plots": len(svgs),
        # A plot that drew nothing has no visible size or no marks.
        "drawn": [
            svg.size["width"] > 0
            and svg.size["height"] > 0
            and bool(svg.find_elements(By.CSS_SELECTOR, "path, polyline, rect, circle, line"))
            for svg in svgs
        ],
        "rows": len(driver.find_elements(By.CSS_SELECTOR, "table tr")),
        # Everything the page loaded besides itself (it must be self-contained).
        "fetched": driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        ),
    }


def test_replay_report_and_evidence_page_render_in_a_browser(cli, browser, tmp_path):
    events, alerts = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    made = cli(
        "generate", "--customers", "12", "--days", "14", "--incidents", "crypto_mining",
        "--incident-rate", "0.4", "--out", str(events), timeout=300,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    report = tmp_path / "report.html"
    replayed = cli(
        "replay", str(events), "--alerts", str(alerts), "--report", str(report), timeout=300
    )
    assert replayed.returncode == 0, replayed.stderr
    found = [orjson.loads(line) for line in alerts.read_bytes().splitlines()]
    miners = sorted({a["customer_id"] for a in found if a["kind"] == "crypto_mining"})
    assert miners, "the premise: the stream has a crypto-mining incident"
    page = tmp_path / "evidence.html"
    pack = cli(
        "evidence", miners[0], str(events), str(alerts), "--out", str(tmp_path / "pack"),
        "--html", str(page), timeout=300,
    )  # fmt: skip
    assert pack.returncode == 0, pack.stderr

    seen = {name: render(browser, path, name) for name, path in
            (("replay-report", report), ("evidence", page))}  # fmt: skip
    for name, drew in seen.items():
        assert drew["plots"] >= 2, (name, drew)
        assert all(drew["drawn"]), (name, drew)
        assert drew["rows"] > 2, (name, drew)
        assert drew["fetched"] == [], (name, drew)
        assert drew["headings"], (name, drew)
    evidence = seen["evidence"]
    assert miners[0] in evidence["title"] + " ".join(evidence["headings"])
