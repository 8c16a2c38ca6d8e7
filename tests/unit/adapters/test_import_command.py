"""``streamwatch import``: files in, contract events out, a summary of what was refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from streamwatch.cli import main
from streamwatch.core.codec import event_from_dict

SUB = "12345678-9d62-4a85-8fd0-91a87c261bc4"


def item(day: str, total: float, **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "customerId": "tenant-a",
        "subscriptionId": SUB,
        "usageDate": f"{day}T00:00:00Z",
        "meterCategory": "Storage",
        "meterName": "P4 LRS Disk",
        "meterId": "m-1",
        "unitOfMeasure": "1/Month",
        "resourceLocation": "UKWEST",
        "resourceUri": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/"
        "disks/d1",
        "quantity": 0.03,
        "billingPreTaxTotal": total,
        "billingCurrency": "GBP",
        "attributes": {"objectType": "DailyRatedUsageLineItem"},
    }
    doc.update(over)
    return doc


@pytest.fixture
def line_items(tmp_path: Path) -> Path:
    path = tmp_path / "unbilled.json"
    page = {
        "totalCount": 4,
        "items": [
            item("2026-10-03", 0.21),
            item("2026-10-01", 0.20),
            item("2026-10-02", -0.05, chargeType="refund"),
            item("2026-10-02", 0.2, billingCurrency="pounds"),
        ],
    }
    path.write_bytes(orjson.dumps(page))
    return path


def test_import_writes_checked_events_in_time_order_and_counts_refusals(
    line_items: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, refused = tmp_path / "events.jsonl", tmp_path / "refused.jsonl"
    code = main(
        ["import", "partner-usage", str(line_items), "--out", str(out), "--refused", str(refused)]
    )
    assert code == 0
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [e["ts"][:10] for e in events] == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert [e["type"] for e in events] == ["usage", "payment", "usage"]
    for event in events:
        event_from_dict(event)
    printed = capsys.readouterr().out
    assert "records read: 4" in printed
    assert "events written: 3 (1 payment, 2 usage)" in printed
    assert "1 invalid_value" in printed
    (line,) = refused.read_bytes().splitlines()
    assert orjson.loads(line)["code"] == "invalid_value"


def test_import_twice_gives_the_same_ids(line_items: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    main(["import", "partner-usage", str(line_items), "--out", str(first)])
    main(["import", "partner-usage", str(line_items), "--out", str(second)])
    assert first.read_bytes() == second.read_bytes()


def test_customer_table_and_json_summary(
    line_items: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "customers.csv"
    table.write_text(f"key,customer_id\n{SUB.upper()},cust-7\n")
    out = tmp_path / "events.jsonl"
    code = main(
        [
            "import",
            "partner-usage",
            str(line_items),
            "--out",
            str(out),
            "--customers",
            str(table),
            "--json",
        ]
    )
    assert code == 0
    assert {orjson.loads(line)["customer_id"] for line in out.read_bytes().splitlines()} == {
        "cust-7"
    }
    summary = orjson.loads(capsys.readouterr().out)
    assert summary["refused"] == {"invalid_value": 1}


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([], id="no-destination"),
        pytest.param(["--out", "x.jsonl", "--tz", "Mars/Olympus"], id="bad-zone"),
        pytest.param(["--out", "x.jsonl", "--currency", "EUR"], id="currency-without-fx"),
    ],
)
def test_bad_arguments_exit_2(line_items: Path, extra: list[str]) -> None:
    assert main(["import", "partner-usage", str(line_items), *extra]) == 2
