"""``evidence --html``: the pack as one page, self-contained, with every plot and table."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest
from html_parse import bars, external_references, read_page, series_points

from streamwatch import evidence_letter as letter
from streamwatch.cli import main
from streamwatch.reports.evidence_page import render_evidence_page
from streamwatch.reports.series import alerts_by_kind_and_day

sys.path.insert(0, str(Path(__file__).parent.parent))
import test_evidence as fixtures  # the evidence pack's own fixtures


@pytest.fixture(scope="module")
def html() -> str:
    return render_evidence_page(fixtures.pack(), fixtures.decoded_events(fixtures.events()))


def test_page_refers_to_nothing_outside_itself(html: str) -> None:
    page = read_page(html)
    assert external_references(page) == []
    assert page.charts  # the plots are inline SVG


def test_every_plot_is_present_and_draws_the_data(html: str) -> None:
    page = read_page(html)
    assert set(page.charts) == {"spend-1", "money-at-risk", "alerts-by-day"}
    # 96 hours around the crypto-mining alert; no usage in the week before: no baseline.
    assert series_points(page, "spend-1") == {"spend (USD)": 96}
    # Three revisions report money at risk: the mining alert and the collections alert twice.
    assert series_points(page, "money-at-risk") == {"USD": 3}
    assert bars(page, "alerts-by-day") == {
        ("2026-10-01", "crypto_mining"): 1.0,
        ("2026-10-02", "collections"): 1.0,
    }


def test_tables_equal_the_pack(html: str) -> None:
    pack = fixtures.pack()
    tables = read_page(html).tables
    assert tables["money"] == letter.money_table(pack)
    assert tables["timeline"] == letter.timeline_table(pack)
    assert tables["alerts"] == letter.alerts_table(pack)
    assert tables["enforcement"] == letter.enforcement_table(pack)
    assert tables["usage-by-day"] == letter.usage_by_day_table(pack)
    assert tables["top-skus"] == letter.top_table(pack, "sku", "SKU")
    assert tables["invoices"] == letter.invoices_table(pack["payments"])
    assert tables["chargebacks"] == letter.payment_list_table(pack["payments"], "chargebacks")
    header, rows = tables["money-at-risk-table"]
    assert [r[2] for r in rows] == ["100.00", "100.00", "200.00"]
    kinds = alerts_by_kind_and_day(pack["alerts"])
    header, rows = tables["alerts-by-day-table"]
    assert header == ["Day (UTC)", *kinds.counts, "Total"]
    assert [r[0] for r in rows] == kinds.days
    # The window runs 48 hours either side of the alert: it takes in the 5.00 spent before.
    header, rows = tables["spend-table"]
    assert [(r[1], r[2], r[4], r[5]) for r in rows] == [
        ("crypto_mining", "2026-09-29T14:00:00Z", "USD", "235.00")
    ]


def test_outcomes_show_on_the_page(html: str) -> None:
    header, rows = read_page(html).tables["enforcement"]
    assert [r[header.index("Outcome")] for r in rows] == [
        "no outcome recorded",
        "no outcome recorded",
        "done",
    ]


def test_command_writes_the_page_next_to_the_pack(tmp_path: Path) -> None:
    inputs = tmp_path / "all.jsonl"
    docs = [*fixtures.events(), *fixtures.alerts(), *fixtures.requests(), *fixtures.results()]
    inputs.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    out = tmp_path / "pack"
    page_path = tmp_path / "report" / "evidence.html"
    assert main(["evidence", fixtures.CUSTOMER, str(inputs), "--out", str(out),
                 "--html", str(page_path)]) == 0  # fmt: skip
    page = read_page(page_path.read_text(encoding="utf-8"))
    pack = orjson.loads((out / "evidence.json").read_bytes())
    assert page.tables["money"] == letter.money_table(pack)
    assert external_references(page) == []
