"""Running adapters: containers unwrapped, files read, every event checked and every refusal
counted; reference tables parsed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streamwatch.adapters import FORMATS
from streamwatch.adapters.base import Context, Refused
from streamwatch.adapters.rates import TableError, parse_customers, parse_fx, parse_rates
from streamwatch.adapters.read import csv_rows, json_documents
from streamwatch.adapters.run import Run, records_of


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"records": [{"a": 1}, {"a": 2}]}, id="diagnostic-export"),
        pytest.param({"value": [{"a": 1}, {"a": 2}], "nextLink": "x"}, id="rest-list"),
        pytest.param({"totalCount": 2, "items": [{"a": 1}, {"a": 2}]}, id="partner-center"),
        pytest.param({"object": "list", "data": [{"a": 1}, {"a": 2}]}, id="stripe-list"),
        pytest.param([{"a": 1}, {"a": 2}], id="array"),
        pytest.param([{"records": [{"a": 1}]}, {"records": [{"a": 2}]}], id="array-of-exports"),
        pytest.param(
            {"parameters": {}, "responses": {"200": {"body": {"value": [{"a": 1}, {"a": 2}]}}}},
            id="rest-api-example",
        ),
    ],
)
def test_containers_are_unwrapped(document: Any) -> None:
    assert list(records_of(document)) == [{"a": 1}, {"a": 2}]


def test_single_record_and_stripe_object_with_data_field_are_kept_whole() -> None:
    assert list(records_of({"a": 1})) == [{"a": 1}]
    event = {"object": "event", "data": {"object": {}}}
    assert list(records_of(event)) == [event]


def test_json_lines_with_a_truncated_line_keep_the_good_lines() -> None:
    data = b'{"a": 1}\n{"a": 2, "b\n{"a": 3}\n'
    docs = list(json_documents(data))
    assert docs[0] == {"a": 1}
    assert docs[2] == {"a": 3}
    assert isinstance(docs[1], Refused)
    assert docs[1].code == "invalid_json"


def test_http_response_body_is_read() -> None:
    data = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"items": []}'
    assert list(json_documents(data)) == [{"items": []}]


def test_http_response_saved_without_the_blank_line_is_read_after_its_headers() -> None:
    data = b'HTTP/1.1 200 OK\nContent-Length: 12\nMS-RequestId: 56\n[\n  {"a": 1}\n]\n'
    assert list(json_documents(data)) == [[{"a": 1}]]
    only_headers = b"HTTP/1.1 204 No Content\r\nDate: Thu, 21 May 2020 22:29:17 GMT\r\n"
    (refused,) = json_documents(only_headers)
    assert isinstance(refused, Refused)
    assert refused.code == "invalid_json"


def test_csv_with_byte_order_mark_and_a_ragged_row() -> None:
    rows = list(csv_rows("\ufeffA,B\n1,2\n3,4,5\n".encode()))
    assert rows[0] == {"A": "1", "B": "2"}
    assert isinstance(rows[1], Refused)
    assert rows[1].code == "malformed_row"


def test_run_checks_events_against_the_contract_and_counts() -> None:
    def bad(record: Any, ctx: Context) -> list[dict[str, Any]]:
        return [
            {"event_id": "e", "type": "usage", "customer_id": "c", "ts": "2026-10-01T00:00:00Z"}
        ]

    def boom(record: Any, ctx: Context) -> list[dict[str, Any]]:
        raise KeyError("x")

    run = Run(bad, Context())
    assert run.record({}) == []
    assert set(run.summary.refused) == {"contract_missing_field"}
    run = Run(boom, Context())
    assert run.document([{}, "text", Refused("invalid_json", "no")]) == []
    assert run.summary.refused == {"mapping_error": 1, "not_an_object": 1, "invalid_json": 1}
    assert run.summary.records == 3
    assert "records refused: 3" in run.summary.lines()


def test_every_format_has_a_name_an_input_and_a_mapping() -> None:
    for name, module in FORMATS.items():
        assert name == module.NAME
        assert module.INPUT in {"json", "csv"}
        assert callable(module.map_record)


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize(
    "record",
    [
        pytest.param({}, id="empty"),
        pytest.param({"records": 5, "properties": [], "time": 3}, id="wrong-types"),
        pytest.param({"eventTimestamp": {"x": 1}, "operationName": []}, id="nested-garbage"),
    ],
)
def test_no_format_crashes_on_malformed_records(name: str, record: dict[str, Any]) -> None:
    run = Run(FORMATS[name].map_record, Context())
    assert run.record(record) == []
    assert sum(run.summary.refused.values()) == 1
    assert "mapping_error" not in run.summary.refused


def test_rates_from_csv_and_rate_card() -> None:
    rates = parse_rates("meter_id,unit_price,currency,unit\nABC,0.5,usd,1 GB\n")
    assert (rates["abc"].price, rates["abc"].currency, rates["abc"].unit) == (0.5, "USD", "1 GB")
    card = {"currency": "EUR", "meters": [{"id": "M-1", "rates": {"0": 2.0, "100": 1.5}}]}
    assert parse_rates(orjson.dumps(card).decode())["m-1"].price == 2.0
    with pytest.raises(TableError, match="line 2"):
        parse_rates("meter_id,unit_price,currency\nABC,cheap,USD\n")


def test_dated_fx_uses_the_rate_in_force() -> None:
    fx = parse_fx("date,currency,rate\n2026-01-01,GBP,1.2\n2026-06-01,GBP,1.1\n", "EUR")
    may = 1_778_000_000_000  # May 2026
    assert fx.convert(10.0, "GBP", "EUR", may) == pytest.approx(12.0)
    with pytest.raises(KeyError):
        fx.convert(10.0, "USD", "EUR", may)


def test_customers_table() -> None:
    assert parse_customers("key,customer_id\nSUB-1,cust-1\n") == {"sub-1": "cust-1"}
    with pytest.raises(TableError):
        parse_customers("only-one-column\n")
