"""bench/adapter_samples.py's own logic: which dataset files are records, and its table."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import pytest

from adapter_samples import not_a_record, table

REAL = "real-formats"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(f"{REAL}/stripe-payments/openapi-fixtures3/charge.json", False, id="json"),
        pytest.param("focus-billing-sample/focus_sample.csv", False, id="csv"),
        pytest.param(
            f"{REAL}/azure-activity-log/rest-eventdata/docs.policy.as-published-invalid-json.txt",
            False,
            id="published-invalid-json-is-a-record",
        ),
        pytest.param(
            f"{REAL}/partner-center-fraud-events/update-status.request.body.invalid-json.txt",
            False,
            id="invalid-json-body-is-a-record",
        ),
        pytest.param(f"{REAL}/azure-cost-details/doc-pages/focus-mapping.md", True, id="doc"),
        pytest.param(f"{REAL}/azure-cost-details/schemas/focuscost_1.0.json", True, id="schema"),
        pytest.param(f"{REAL}/azure-cost-details/LICENSE.finops-toolkit.txt", True, id="licence"),
        pytest.param("focus-billing-sample/license.md", True, id="licence-md"),
        pytest.param("focus-billing-sample/README.upstream.md", True, id="readme"),
        pytest.param(f"{REAL}/partner-center-utilization/SOURCE.txt", True, id="source"),
    ],
)
def test_documentation_is_not_read_as_records(path: str, expected: bool) -> None:
    assert not_a_record(PurePosixPath(path)) is expected


def result(name: str, files: int, records: int, **counts: Any) -> dict[str, Any]:
    return {
        "format": name,
        "files": files,
        "records": records,
        "events": sum(counts.get("by_type", {}).values()),
        "by_type": counts.get("by_type", {}),
        "refused": counts.get("refused", {}),
    }


def test_table_counts_types_and_reasons_and_totals_them() -> None:
    lines = table(
        [
            result("stripe", 3, 5, by_type={"payment": 2}, refused={"b_code": 1, "a_code": 2}),
            result("focus", 1, 1000, by_type={"usage": 987, "payment": 13}),
        ]
    )
    assert lines == [
        "format  files  records  events  by type                refused  by reason",
        "------  -----  -------  ------  ---------------------  -------  ------------------",
        "stripe      3        5       2  2 payment                    3  2 a_code, 1 b_code",
        "focus       1     1000    1000  13 payment, 987 usage        0  -",
        "------  -----  -------  ------  ---------------------  -------  ------------------",
        "total       4     1005    1002  15 payment, 987 usage        3  2 a_code, 1 b_code",
    ]


def test_reasons_are_listed_most_frequent_first() -> None:
    (_header, _rule, row, _rule2, _total) = table([result("x", 1, 4, refused={"aaa": 1, "zzz": 3})])
    assert row.endswith("3 zzz, 1 aaa")
