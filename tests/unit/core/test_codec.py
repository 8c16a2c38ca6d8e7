"""The codec: valid contract events decode to the right values; every bad input becomes a
DecodeError with a stable code and field, and nothing else ever escapes ``decode_event``."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest
from core_builders import (
    CONTRACT_EXAMPLES,
    RESOURCE,
    activity_doc,
    notice_doc,
    payment_doc,
    raw,
    usage_doc,
    without,
)

from streamwatch.core.codec import (
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    DecodeError,
    decode_event,
    encode,
    event_to_dict,
)
from streamwatch.core.events import (
    ActivityEvent,
    Instrument,
    PaymentEvent,
    UsageEvent,
)
from streamwatch.core.timeutil import format_ts, parse_ts_ms

CODES = {
    "invalid_json",
    "invalid_utf8",
    "not_an_object",
    "too_large",
    "too_deep",
    "unknown_type",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "invalid_timestamp",
}
OCT_1_MS = 1790812800000  # 2026-10-01T00:00:00Z


def nested(levels: int, leaf: Any) -> Any:
    """``levels`` objects nested inside each other, the innermost holding ``leaf``."""
    value = leaf
    for _ in range(levels):
        value = {"k": value}
    return value


# --- valid events -------------------------------------------------------------------------

VALID = [
    pytest.param(
        usage_doc(),
        UsageEvent,
        {
            "event_id": "u-1",
            "customer_id": "cust-1",
            "ts": "2026-10-01T00:00:00Z",
            "ts_ms": OCT_1_MS,
            "subscription_id": "sub-1",
            "resource_id": RESOURCE,
            "meter": "compute",
            "sku": "Standard_D4s_v5",
            "region": "westeurope",
            "quantity": 1.0,
            "unit": "hour",
            "cost": 1.0,
            "currency": "USD",
            "interval_s": 3600,
            "vcpus": None,
            "gpus": None,
            "cpu_util": None,
            "gpu_util": None,
        },
        id="usage-minimal-defaults",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["usage-full"],
        UsageEvent,
        {
            "meter": "gpu",
            "quantity": 0.25,
            "cost": 0.0,
            "interval_s": 900,
            "vcpus": 4,
            "gpus": 1,
            "cpu_util": 0.97,
            "gpu_util": 1.0,
        },
        id="usage-all-optionals",
    ),
    pytest.param(
        usage_doc(quantity=3, cost=2, at="2026-10-01T02:00:00+02:00"),
        UsageEvent,
        {"quantity": 3.0, "cost": 2.0, "ts": "2026-10-01T02:00:00+02:00", "ts_ms": OCT_1_MS},
        id="usage-integers-and-offset",
    ),
    pytest.param(
        usage_doc(at="2026-10-01T00:00:00.250Z"),
        UsageEvent,
        {"ts_ms": OCT_1_MS + 250},
        id="usage-fractional-seconds",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["activity-signup"],
        ActivityEvent,
        {
            "operation": "customer.signup",
            "actor": "user@example.com",
            "actor_ip": "203.0.113.7",
            "status": "succeeded",
            "region": "westeurope",
            "resource_id": "",
            "properties": CONTRACT_EXAMPLES["activity-signup"]["properties"],
        },
        id="activity-signup",
    ),
    pytest.param(
        activity_doc("signin", status="failed"),
        ActivityEvent,
        {"status": "failed", "properties": {}},
        id="activity-failed-signin",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["activity-minimal"],
        ActivityEvent,
        {"properties": {}, "resource_id": "", "actor_ip": None, "region": None},
        id="activity-without-properties",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["activity-null-optionals"],
        ActivityEvent,
        {"properties": {}, "resource_id": "", "actor_ip": None, "region": None},
        id="activity-null-optionals",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["activity-unknown-operation"],
        ActivityEvent,
        {"operation": "quantum.entangle", "properties": {"qubits": 7}},
        id="activity-unknown-operation-accepted",
    ),
    pytest.param(
        notice_doc("n-9", action_required="suspend"),
        ActivityEvent,
        {
            "operation": "provider.notice",
            "actor": "provider",
            "resource_id": RESOURCE,
            "properties": {
                "notice_id": "n-9",
                "category": "aup.crypto_mining",
                "severity": "high",
                "action_required": "suspend",
            },
        },
        id="activity-provider-notice",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["payment-instrument-added"],
        PaymentEvent,
        {
            "kind": "instrument.added",
            "amount": None,
            "currency": None,
            "instrument": Instrument("prepaid_card", "card-1", "US"),
            "billing_country": "DE",
        },
        id="payment-instrument-added-without-amount",
    ),
    pytest.param(
        payment_doc(
            "instrument.added", amount=5, currency="EUR", instrument={"type": "direct_debit"}
        ),
        PaymentEvent,
        {"amount": 5.0, "currency": "EUR", "instrument": Instrument("direct_debit")},
        id="payment-instrument-added-with-amount",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["payment-invoice-issued-date"],
        PaymentEvent,
        {
            "kind": "invoice.issued",
            "invoice_id": "inv-1",
            "due_date": "2026-10-31",
            "amount": 100.0,
            "currency": "USD",
        },
        id="payment-invoice-issued-date",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["payment-invoice-issued-datetime"],
        PaymentEvent,
        {"due_date": "2026-10-31T23:59:59+02:00"},
        id="payment-invoice-issued-datetime",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["payment-failed"],
        PaymentEvent,
        {
            "kind": "payment.failed",
            "failure_reason": "insufficient_funds",
            "instrument": Instrument("credit_card"),
        },
        id="payment-failed",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["payment-chargeback"],
        PaymentEvent,
        {"kind": "chargeback", "currency": "GBP", "amount": 100.0},
        id="payment-chargeback",
    ),
    pytest.param(
        CONTRACT_EXAMPLES["payment-refund"],
        PaymentEvent,
        {"kind": "refund", "amount": 0.0},
        id="payment-zero-refund",
    ),
]


@pytest.mark.parametrize(("doc", "cls", "expected"), VALID)
def test_valid_event_decodes_to_its_dataclass_with_its_values(
    doc: dict[str, Any], cls: type, expected: dict[str, Any]
) -> None:
    event = decode_event(raw(doc))
    assert type(event) is cls
    assert event.type == doc["type"]
    assert {name: getattr(event, name) for name in expected} == expected


@pytest.mark.parametrize("name", sorted(CONTRACT_EXAMPLES))
def test_every_contract_example_decodes_and_round_trips(name: str) -> None:
    doc = CONTRACT_EXAMPLES[name]
    event = decode_event(raw(doc))
    assert decode_event(raw(event_to_dict(event))) == event


def test_unknown_extra_keys_are_ignored() -> None:
    plain = usage_doc()
    extra = usage_doc(x_trace_id="abc", x_nested={"a": [1, {"b": None}]}, x_flag=True)
    assert decode_event(raw(extra)) == decode_event(raw(plain))


def test_message_of_exactly_the_size_limit_is_accepted() -> None:
    doc = usage_doc(pad="")
    doc["pad"] = "x" * (MAX_EVENT_BYTES - len(raw(doc)))
    message = raw(doc)
    assert len(message) == MAX_EVENT_BYTES
    assert isinstance(decode_event(message), UsageEvent)


@pytest.mark.parametrize(
    "properties",
    [
        pytest.param(nested(MAX_DEPTH, 1), id="scalar-leaf"),
        pytest.param(nested(MAX_DEPTH - 1, {}), id="empty-object-leaf"),
        pytest.param(nested(MAX_DEPTH - 1, []), id="empty-list-leaf"),
    ],
)
def test_properties_nested_exactly_max_depth_containers_are_accepted(properties: Any) -> None:
    # ``properties`` itself is the first of MAX_DEPTH containers, whatever the leaf holds.
    event = decode_event(raw(activity_doc(properties=properties)))
    assert isinstance(event, ActivityEvent)
    assert event.properties == properties


@pytest.mark.parametrize(
    "properties",
    [
        pytest.param(nested(MAX_DEPTH + 1, 1), id="scalar-leaf"),
        pytest.param(nested(MAX_DEPTH, {}), id="empty-object-leaf"),
        pytest.param(nested(MAX_DEPTH, []), id="empty-list-leaf"),
    ],
)
def test_properties_nested_one_container_past_max_depth_are_too_deep(properties: Any) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(raw(activity_doc(properties=properties)))
    assert (info.value.code, info.value.field) == ("too_deep", "properties")


# --- bad input ----------------------------------------------------------------------------

TWO_MB = raw(usage_doc(pad="x" * (2 * 1024 * 1024)))
DEEP_PROPERTIES = raw(activity_doc(properties=nested(100, 1)))

BAD = [
    pytest.param(b'{"event_id": "e1", "type": "usa', "invalid_json", None, id="truncated-json"),
    pytest.param(b"", "invalid_json", None, id="empty-message"),
    pytest.param(b"[1, 2, 3]", "not_an_object", None, id="json-array"),
    pytest.param(b'"usage"', "not_an_object", None, id="json-string"),
    pytest.param(b"42", "not_an_object", None, id="json-number"),
    pytest.param(b"null", "not_an_object", None, id="json-null"),
    pytest.param(raw(usage_doc(quantity="ten")), "wrong_type", "quantity", id="quantity-string"),
    pytest.param(raw(without(usage_doc(), "customer_id")), "missing_field", "customer_id",
                 id="missing-customer-id"),
    pytest.param(raw(usage_doc(customer_id=None)), "missing_field", "customer_id",
                 id="null-customer-id"),
    pytest.param(raw(usage_doc(customer_id="")), "invalid_value", "customer_id",
                 id="empty-customer-id"),
    pytest.param(raw(usage_doc(customer_id="c" * 257)), "invalid_value", "customer_id",
                 id="overlong-customer-id"),
    pytest.param(raw(usage_doc(event_id=7)), "wrong_type", "event_id", id="numeric-event-id"),
    pytest.param(raw(usage_doc(cost=-0.01)), "invalid_value", "cost", id="negative-cost"),
    pytest.param(raw(usage_doc(quantity=-1)), "invalid_value", "quantity",
                 id="negative-quantity"),
    pytest.param(raw(usage_doc(type="refund")), "unknown_type", "type", id="unknown-type"),
    pytest.param(raw(without(usage_doc(), "type")), "missing_field", "type", id="missing-type"),
    pytest.param(raw(usage_doc(at="yesterday")), "invalid_timestamp", "ts", id="unparseable-ts"),
    pytest.param(raw(usage_doc(at="2026-02-30T00:00:00Z")), "invalid_timestamp", "ts",
                 id="impossible-date-ts"),
    pytest.param(raw(usage_doc(at="2026-10-01T03:00:00")), "invalid_timestamp", "ts",
                 id="naive-ts"),
    pytest.param(raw(usage_doc(at=1790812800)), "wrong_type", "ts", id="numeric-ts"),
    pytest.param(b'{"type": "usage", "ts": "\xff\xfe"}', "invalid_utf8", None,
                 id="invalid-utf8"),
    pytest.param(b"\xc3\x28", "invalid_utf8", None, id="invalid-utf8-only"),
    pytest.param(TWO_MB, "too_large", None, id="two-megabytes"),
    pytest.param(DEEP_PROPERTIES, "too_deep", "properties", id="properties-100-deep"),
    pytest.param(raw(usage_doc(cost=0)).replace(b'"cost":0', b'"cost":NaN'), "invalid_json",
                 None, id="nan"),
    pytest.param(raw(usage_doc(cost=0)).replace(b'"cost":0', b'"cost":Infinity'),
                 "invalid_json", None, id="infinity"),
    pytest.param(raw(usage_doc(cost=0)).replace(b'"cost":0', b'"cost":-Infinity'),
                 "invalid_json", None, id="minus-infinity"),
    pytest.param(raw(usage_doc(cost=0)).replace(b'"cost":0', b'"cost":1e400'),
                 "invalid_json", None, id="overflowing-number"),
    pytest.param(raw(usage_doc(quantity=True)), "wrong_type", "quantity", id="bool-quantity"),
    pytest.param(raw(usage_doc(cost=False)), "wrong_type", "cost", id="bool-cost"),
    pytest.param(raw(usage_doc(cpu_util=True)), "wrong_type", "cpu_util", id="bool-cpu-util"),
    pytest.param(raw(usage_doc(interval_s=True)), "invalid_value", "interval_s",
                 id="bool-interval"),
    pytest.param(raw(usage_doc(vcpus=True)), "wrong_type", "vcpus", id="bool-vcpus"),
    pytest.param(raw(payment_doc(amount=True)), "wrong_type", "amount", id="bool-amount"),
    pytest.param(raw(usage_doc(interval_s=0)), "invalid_value", "interval_s", id="zero-interval"),
    pytest.param(raw(usage_doc(interval_s=60.0)), "invalid_value", "interval_s",
                 id="float-interval"),
    pytest.param(raw(usage_doc(interval_s=None)), "invalid_value", "interval_s",
                 id="null-interval"),
    pytest.param(raw(usage_doc(gpus=-1)), "invalid_value", "gpus", id="negative-gpus"),
    pytest.param(raw(usage_doc(meter="tpu")), "invalid_value", "meter", id="unknown-meter"),
    pytest.param(raw(usage_doc(cpu_util=1.01)), "invalid_value", "cpu_util",
                 id="util-above-one"),
    pytest.param(raw(usage_doc(gpu_util=-0.1)), "invalid_value", "gpu_util",
                 id="util-below-zero"),
    pytest.param(raw(usage_doc(currency="usd")), "invalid_value", "currency",
                 id="lowercase-currency"),
    pytest.param(raw(usage_doc(currency="USDT")), "invalid_value", "currency",
                 id="four-letter-currency"),
    pytest.param(raw(without(usage_doc(), "region")), "missing_field", "region",
                 id="missing-region"),
    pytest.param(raw(activity_doc(status="ok")), "invalid_value", "status",
                 id="unknown-activity-status"),
    pytest.param(raw(activity_doc(properties=[1])), "wrong_type", "properties",
                 id="properties-array"),
    pytest.param(raw(activity_doc(actor_ip=17)), "wrong_type", "actor_ip",
                 id="numeric-actor-ip"),
    pytest.param(raw(without(activity_doc(), "operation")), "missing_field", "operation",
                 id="missing-operation"),
    pytest.param(raw(payment_doc("gift")), "invalid_value", "kind", id="unknown-payment-kind"),
    pytest.param(raw(payment_doc(amount=None)), "missing_field", "amount",
                 id="payment-without-amount"),
    pytest.param(raw(payment_doc(currency=None)), "missing_field", "currency",
                 id="amount-without-currency"),
    pytest.param(raw(payment_doc("invoice.issued", due_date="2026-10-31")), "missing_field",
                 "invoice_id", id="invoice-without-id"),
    pytest.param(raw(payment_doc("invoice.issued", invoice_id="i")), "missing_field",
                 "due_date", id="invoice-without-due-date"),
    pytest.param(raw(payment_doc("invoice.issued", invoice_id="i", due_date="soon")),
                 "invalid_timestamp", "due_date", id="invoice-bad-due-date"),
    pytest.param(raw(payment_doc("instrument.added", amount=None)), "missing_field",
                 "instrument", id="instrument-added-without-instrument"),
    pytest.param(raw(payment_doc(instrument={"type": "bitcoin"})), "invalid_value",
                 "instrument.type", id="unknown-instrument-type"),
    pytest.param(raw(payment_doc(instrument="visa")), "wrong_type", "instrument",
                 id="instrument-string"),
    pytest.param(raw(payment_doc(instrument={"type": "credit_card", "fingerprint": 1})),
                 "wrong_type", "instrument.fingerprint", id="numeric-fingerprint"),
]  # fmt: skip


@pytest.mark.parametrize(("message", "code", "field"), BAD)
def test_bad_input_raises_decode_error_with_code_and_field(
    message: bytes, code: str, field: str | None
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(message)
    assert (info.value.code, info.value.field) == (code, field)
    assert info.value.reason.startswith(f"{code}: ")


def test_document_nested_5000_levels_is_a_decode_error() -> None:
    message = b'{"a":' * 5000 + b"1" + b"}" * 5000
    with pytest.raises(DecodeError) as info:
        decode_event(message)
    assert info.value.code in {"too_deep", "invalid_json"}


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([], id="array"),
        pytest.param({}, id="object"),
        pytest.param(["usage"], id="list-of-type"),
    ],
)
def test_type_that_is_not_a_string_is_a_decode_error(value: Any) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(raw(usage_doc(type=value)))
    assert info.value.field == "type"
    assert info.value.code in {"wrong_type", "unknown_type"}


@pytest.mark.parametrize("value", [pytest.param([], id="array"), pytest.param({}, id="object")])
def test_instrument_type_that_is_not_a_string_is_a_decode_error(value: Any) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(raw(payment_doc(instrument={"type": value})))
    assert info.value.field == "instrument.type"
    assert info.value.code in {"wrong_type", "invalid_value"}


@pytest.mark.parametrize(
    "currency",
    [
        pytest.param("US1", id="digit"),
        pytest.param("U D", id="space"),
        pytest.param("U-D", id="dash"),
        pytest.param("1AB", id="leading-digit"),
    ],
)
def test_currency_that_is_not_three_letters_is_invalid(currency: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(raw(usage_doc(currency=currency)))
    assert (info.value.code, info.value.field) == ("invalid_value", "currency")


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ts",
    [
        pytest.param("20261001T030000Z", id="basic-format"),
        pytest.param("2026-W40-4T03:00:00Z", id="week-date"),
        pytest.param("2026-10-01T03Z", id="hour-only"),
        pytest.param("2026-10-01T03:00Z", id="no-seconds"),
        pytest.param("2026-10-01x03:00:00Z", id="x-separator"),
        pytest.param("2026-10-01T03:00:00,5Z", id="comma-fraction"),
        pytest.param("2026-10-01T03:00:00+0100", id="offset-without-colon"),
        pytest.param("2026-10-01T03:00:00+01", id="offset-hours-only"),
        pytest.param("2026-10-01T03:00:00+01:00:30", id="offset-with-seconds"),
    ],
)
def test_timestamp_that_is_not_rfc3339_is_invalid(ts: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(raw(usage_doc(at=ts)))
    assert (info.value.code, info.value.field) == ("invalid_timestamp", "ts")


@pytest.mark.parametrize(
    ("ts", "ts_ms"),
    [
        pytest.param("2026-10-01T00:00:00.001Z", OCT_1_MS + 1, id="one-ms"),
        pytest.param("2004-03-15T07:55:47.472Z", 1079337347472, id="2004"),
        pytest.param("2038-08-15T15:00:50.430Z", 2165497250430, id="2038"),
        pytest.param("2039-03-08T19:46:13.411Z", 2183226373411, id="2039"),
        pytest.param("2026-10-01T00:00:00.9999999Z", OCT_1_MS + 999, id="truncates-below-ms"),
    ],
)
def test_ts_ms_is_the_exact_millisecond_of_ts(ts: str, ts_ms: int) -> None:
    assert decode_event(raw(usage_doc(at=ts))).ts_ms == ts_ms


def test_format_ts_and_parse_ts_ms_round_trip_every_millisecond() -> None:
    rng = random.Random(20261001)
    wrong = [
        ms
        for ms in (rng.randrange(0, 4_102_444_800_000) for _ in range(20_000))
        if parse_ts_ms(format_ts(ms)) != ms
    ]
    assert wrong == []


# --- outputs ------------------------------------------------------------------------------


def test_encode_writes_compact_utf8_json_of_dicts() -> None:
    assert encode({"a": "é", "b": [1, 2.5]}) == '{"a":"é","b":[1,2.5]}'.encode()


def test_event_to_dict_drops_ts_ms_and_absent_fields() -> None:
    event = decode_event(raw(CONTRACT_EXAMPLES["payment-instrument-added"]))
    out = event_to_dict(event)
    assert "ts_ms" not in out
    assert "amount" not in out
    assert out["instrument"] == {"type": "prepaid_card", "fingerprint": "card-1", "country": "US"}


# --- no other exception, whatever the bytes ------------------------------------------------

SEEDS = [raw(doc) for doc in CONTRACT_EXAMPLES.values()]
JSONISH = [b"{", b"}", b"[", b"]", b'"', b":", b",", b"null", b"true", b"1e9", b"-0", b"\\u"]
RANDOM_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    1e300,
    "",
    "x",
    "usage",
    "activity",
    "payment",
    "2026-10-01T00:00:00Z",
    [],
    [1, "a"],
    {},
    {"type": []},
    {"type": "credit_card"},
    nested(20, 1),
]


def assert_event_or_decode_error(message: bytes) -> None:
    try:
        event = decode_event(message)
    except DecodeError as exc:
        code = exc.code
    except Exception as exc:  # the property under test: nothing but DecodeError escapes
        pytest.fail(f"{type(exc).__name__}: {exc} escaped decode_event for {message[:300]!r}")
    else:
        assert isinstance(event, UsageEvent | ActivityEvent | PaymentEvent), message
        return
    assert code in CODES, message


def mutate_bytes(rng: random.Random, message: bytes) -> bytes:
    data = bytearray(message)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = rng.choice(JSONISH)
        elif op == 2:
            del data[pos : pos + rng.randint(1, 8)]
        else:
            data[pos:pos] = data[pos : pos + rng.randint(1, 16)]
    return bytes(data)


def mutate_document(rng: random.Random, doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        target = out
        if isinstance(out.get("properties"), dict) and rng.random() < 0.2:
            target = out["properties"]
        if isinstance(out.get("instrument"), dict) and rng.random() < 0.2:
            target = out["instrument"]
        keys = list(target) or ["k"]
        op = rng.randrange(3)
        if op == 0:
            target[rng.choice(keys)] = copy.deepcopy(rng.choice(RANDOM_VALUES))
        elif op == 1:
            target.pop(rng.choice(keys), None)
        else:
            key = rng.choice(["extra", "instrument", "properties", "amount", "type"])
            target[key] = copy.deepcopy(rng.choice(RANDOM_VALUES))
    return out


def test_random_bytes_give_an_event_or_a_decode_error() -> None:
    rng = random.Random(1)
    for _ in range(3000):
        size = rng.randrange(64)
        if rng.random() < 0.5:
            message = bytes(rng.randrange(256) for _ in range(size))
        else:
            message = b"".join(rng.choice(JSONISH) for _ in range(size))
        assert_event_or_decode_error(message)


def test_byte_mutations_of_valid_messages_give_an_event_or_a_decode_error() -> None:
    rng = random.Random(2)
    for _ in range(4000):
        assert_event_or_decode_error(mutate_bytes(rng, rng.choice(SEEDS)))


def test_value_mutations_of_valid_messages_give_an_event_or_a_decode_error() -> None:
    rng = random.Random(3)
    docs = list(CONTRACT_EXAMPLES.values())
    for _ in range(4000):
        assert_event_or_decode_error(orjson.dumps(mutate_document(rng, rng.choice(docs))))
