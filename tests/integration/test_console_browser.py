"""The web console in a real browser (headless Chromium through chromedriver) against a running
worker and suspension worker on the real broker and Redis: the risk list, a customer's page
with its plots, approving a held suspension (and seeing it applied), and a suppression added
in the console that then holds back the matching alert. Screenshots go to out/console/.

The browser comes from deploy/browser.sh (Debian's chromium and chromium-driver), which the
test command runs; without it the test fails, it does not skip.
"""

from __future__ import annotations

import dataclasses
import urllib.request
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from endpoints import port_of
from enforce_support import KEY, KEY_ID, EnforceProcess, approver_key, enforce_env
from processes import REPO, wait_for
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from streamwatch import testing as build
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts
from streamwatch.settings import DeploymentSettings

pytestmark = pytest.mark.integration

SHOTS = REPO / "out" / "console"
BIG, SMALL = "cust-web-big", "cust-web-small"


@pytest.fixture
def settings(settings: DeploymentSettings) -> DeploymentSettings:
    """The test's settings with the key the suspension worker trusts."""
    return dataclasses.replace(settings, signing_keys=((KEY_ID, KEY),))


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def usage_history(customer: str, cost: float, start_ms: int, hours: int) -> list[dict[str, Any]]:
    return [
        build.usage(
            customer,
            ts=format_ts(start_ms + h * MS_PER_HOUR),
            cost=cost,
            event_id=f"{customer}-u{h}",
            gpus=4,
            gpu_util=0.95,
            cpu_util=0.3,
        )
        for h in range(hours)
    ]


def api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/console/api{path}", timeout=10) as r:
        return orjson.loads(r.read())


def shot(driver: webdriver.Chrome, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SHOTS / f"{name}.png"))


def submit(driver: webdriver.Chrome, form: Any, values: dict[str, str]) -> str:
    """Fill and submit a console form; the message the API answered."""
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_visible_text(value)
        else:
            field.clear()
            field.send_keys(value)
    form.find_element(By.TAG_NAME, "button").click()
    message = driver.find_element(By.ID, "message")
    WebDriverWait(driver, 30).until(lambda _d: message.text.strip())
    return str(message.text)


async def test_the_console_in_a_browser_shows_risk_approves_and_suppresses(
    kafka, run_worker, settings, tmp_path, browser
):
    policy = REPO / "src/streamwatch/config/policy.toml"
    env = enforce_env(settings, policy)
    start = now_ms() - 12 * MS_PER_HOUR
    start -= start % MS_PER_HOUR
    notice = build.provider_notice(
        "aup.crypto_mining", customer_id=BIG, ts=format_ts(start + 10 * MS_PER_HOUR + 60_000)
    )
    small_notice = build.provider_notice(
        "aup.crypto_mining",
        customer_id=SMALL,
        ts=format_ts(start + 10 * MS_PER_HOUR + 120_000),
        notice_id="N-small",
        action_required="none",
    )
    events = [
        *usage_history(BIG, 40.0, start, 10),
        *usage_history(SMALL, 2.0, start, 10),
        notice,
        small_notice,
    ]
    worker = run_worker()
    enforcer = EnforceProcess(env, tmp_path / "enforce.log", []).start()
    try:
        port = await port_of(worker)
        base = f"http://127.0.0.1:{port}/console"
        await kafka.produce(events)
        held = await kafka.read_topic("enforcement-results", until_count=3, timeout=120)
        suspend = next(r.json() for r in held if r.json()["action"] == "suspend")
        assert suspend["outcome"] == "awaiting_approval"
        await wait_for(
            lambda: len(api(port, "/risk")["by_currency"].get("USD", [])) >= 2,
            "both customers in the risk view",
        )

        # The risk list, most money at risk first (one currency: no rates needed).
        browser.get(base + "/")
        rows = browser.find_elements(By.CSS_SELECTOR, "table.risk tbody tr")
        assert [r.find_element(By.TAG_NAME, "a").text for r in rows][:2] == [BIG, SMALL]
        shot(browser, "1-risk")

        # The alert list, filtered by kind and severity in the page's form.
        await wait_for(lambda: len(api(port, "/alerts")) >= 2, "the alerts read from the topic")
        browser.get(base + "/alerts")
        filters = browser.find_element(By.ID, "filters")
        Select(filters.find_element(By.NAME, "kind")).select_by_visible_text("provider_notice")
        Select(filters.find_element(By.NAME, "severity")).select_by_visible_text("high")
        filters.find_element(By.TAG_NAME, "button").click()
        WebDriverWait(browser, 30).until(lambda d: "kind=provider_notice" in d.current_url)
        listed = browser.find_elements(By.CSS_SELECTOR, "table.alerts tbody tr")
        assert sorted(r.find_element(By.TAG_NAME, "a").text for r in listed) == [BIG, SMALL]
        assert all("provider_notice" in r.text for r in listed)
        shot(browser, "1b-alerts")

        # A customer's page, from the risk list: its plots and its timeline.
        browser.get(base + "/")
        browser.find_element(By.CSS_SELECTOR, "table.risk tbody tr a").click()
        assert browser.find_element(By.TAG_NAME, "h1").text == f"Customer {BIG}"
        charts = browser.find_elements(By.CSS_SELECTOR, "#plots svg")
        assert len(charts) == 3
        spend = charts[0].find_elements(By.CSS_SELECTOR, "polyline[data-series='spend']")
        assert spend, "the spend line is drawn"
        points = spend[0].get_attribute("points") or ""
        assert len(points.split()) == 10, "one point per hour of usage"
        assert charts[1].find_elements(By.CSS_SELECTOR, "[data-series='gpu']")
        await wait_for(
            lambda: any(r["what"] == "request" for r in api(port, f"/customers/{BIG}")["timeline"]),
            "the suspension request in the timeline",
        )
        browser.refresh()
        timeline = browser.find_element(By.CSS_SELECTOR, "table.timeline").text
        assert "suspend requested by rule" in timeline
        shot(browser, "2-customer")

        # The approvals queue: alice approves with her own key, and it is applied.
        browser.get(base + "/approvals")
        form = browser.find_element(By.CSS_SELECTOR, "table.approvals form.decide")
        name, secret = approver_key("alice")
        said = submit(
            browser,
            form,
            {"by": name, "key": secret.decode(), "note": "seen", "decision": "approve"},
        )
        assert "approval of the suspend" in said, said
        shot(browser, "3-approved")
        results = await kafka.read_topic("enforcement-results", until_count=4, timeout=90)
        final = [r.json() for r in results if r.json()["request_id"] == suspend["request_id"]]
        assert [r["outcome"] for r in final] == ["awaiting_approval", "done"]
        assert final[-1]["approved_by"] == "alice"
        assert "suspend" in [r["action"] for r in enforcer.applied()]
        await wait_for(
            lambda: any(
                "approved by alice" in r["title"]
                for r in api(port, f"/customers/{BIG}")["timeline"]
            ),
            "the applied suspension in the customer's timeline",
        )
        browser.get(f"{base}/customers/{BIG}")
        assert "suspend: done (approved by alice)" in browser.page_source

        # A suppression added in the console holds back the matching alert.
        browser.get(base + "/suppressions")
        until_ts = format_ts(now_ms() + 30 * 24 * MS_PER_HOUR)
        said = submit(
            browser,
            browser.find_element(By.ID, "suppress"),
            {
                "customer_id": BIG,
                "kind": "provider_notice",
                "match": "category=aup.spam",
                "until": until_ts,
                "owner": "ops@example.com",
                "reason": "mail campaign we run",
            },
        )
        assert "suppression sent" in said, said
        await wait_for(lambda: api(port, f"/suppressions?customer={BIG}"), "the suppression held")
        browser.refresh()
        assert (
            "mail campaign we run"
            in browser.find_element(By.CSS_SELECTOR, "table.suppressions").text
        )
        shot(browser, "4-suppressions")
        later = now_ms() + 120_000
        spam = build.provider_notice(
            "aup.spam",
            customer_id=BIG,
            ts=format_ts(later),
            notice_id="N-spam",
            action_required="none",
        )
        ddos = build.provider_notice(
            "aup.ddos",
            customer_id=BIG,
            ts=format_ts(later + 1000),
            notice_id="N-ddos",
            action_required="none",
        )
        await kafka.produce([spam, ddos])
        alerts = await kafka.read_topic("alerts", until_count=3, timeout=90)
        categories = [
            a.json()["evidence"].get("category") for a in alerts if a.json()["customer_id"] == BIG
        ]
        assert "aup.ddos" in categories, "the control went out"
        assert "aup.spam" not in categories, "the suppressed alert did not"
        view = await wait_for(
            lambda: [a for a in api(port, f"/customers/{BIG}")["alerts"] if a["suppressed"]],
            "the suppressed alert in the view",
        )
        assert len(view) == 1
        browser.get(f"{base}/customers/{BIG}")
        assert "(suppressed by" in browser.find_element(By.CSS_SELECTOR, "table.alerts").text
        shot(browser, "5-suppressed")
    finally:
        enforcer.stop()
