"""The codec: valid contract events decode to the right values; every bad input becomes a
DecodeError with a stable code and field, and nothing else ever escapes ``decode_event``; every
number it accepts is one the core can compute with and snapshot."""

from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

import orjson
import pytest
from contract_examples import CONTRACT_EXAMPLES

from streamwatch.config import build_core
from streamwatch.core.codec import (
    MAX_BYTES,
    MAX_COUNT,
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    MAX_FACTOR,
    MAX_INTERVAL_S,
    MAX_MONEY,
    MAX_PORT,
    MAX_QUANTITY,
    MAX_WHOLE,
    DecodeError,
    decode_event,
    encode,
    envelope,
    event_from_dict,
    event_to_dict,
    parse_object,
)
from streamwatch.core.engine import Core
from streamwatch.core.events import (
    ActivityEvent,
    Event,
    Instrument,
    PaymentEvent,
    UsageEvent,
)
from streamwatch.core.state import CustomerState
from streamwatch.core.timeutil import (
    MAX_TS_MS,
    MIN_TS_MS,
    MS_PER_HOUR,
    TS_RANGE,
    format_ts,
    month_key,
    parse_ts_ms,
)
from streamwatch.generator import GeneratorConfig, bad_samples, generate
from streamwatch.pipeline.partition import decode_object, parse
from streamwatch.testing import (
    NOW_MS,
    RESOURCE,
    activity_doc,
    budget_set_doc,
    notice_doc,
    payment_doc,
    raw,
    usage_doc,
    without,
)

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
    "out_of_range",
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


# --- numbers the core can compute with ------------------------------------------------------

ABOVE_MONEY = math.nextafter(float(MAX_MONEY), math.inf)


def wire(doc: dict[str, Any]) -> bytes:
    """What a producer sends, integers beyond 64 bits included (as plain digits)."""
    return json.dumps(doc).encode()


def flow(**properties: Any) -> dict[str, Any]:
    return activity_doc("network.flow", properties={"dst_host": "a.example", **properties})


def feedback(factor: Any) -> dict[str, Any]:
    props = {"until": "2026-12-01T00:00:00Z", "reason": "launch", "factor": factor}
    return activity_doc("feedback.expect", event_id="fb-1", properties=props)


def ring_link(**numbers: Any) -> dict[str, Any]:
    members = [
        {"customer_id": c, "first_seen": "2026-10-01T00:00:00Z", "flags": []}
        for c in ("cust-1", "cust-2")
    ]
    props = {
        "ring_id": "r" * 20,
        "link": "device",
        "key_id": "k" * 16,
        "joined": "cust-2",
        "started": "2026-10-01T00:00:00Z",
        "count": 2,
        "dropped": 0,
        "burst": 2,
        "burst_window_s": 3600,
        "span_s": 0,
        "members": members,
        **numbers,
    }
    return activity_doc("ring.link", event_id="ring-1", actor="streamwatch", properties=props)


OUT_OF_RANGE = [
    pytest.param(usage_doc(cost=2**70), "cost", MAX_MONEY, id="cost-2**70"),
    pytest.param(usage_doc(cost=1.7e308), "cost", MAX_MONEY, id="cost-1.7e308"),
    pytest.param(usage_doc(cost=9.3e12), "cost", MAX_MONEY, id="cost-9.3e12"),
    pytest.param(usage_doc(cost=MAX_MONEY + 1), "cost", MAX_MONEY, id="cost-one-over"),
    pytest.param(usage_doc(cost=ABOVE_MONEY), "cost", MAX_MONEY, id="cost-next-float"),
    pytest.param(usage_doc(quantity=2**64 - 1), "quantity", MAX_QUANTITY, id="quantity-u64"),
    pytest.param(usage_doc(quantity=1e13), "quantity", MAX_QUANTITY, id="quantity-1e13"),
    pytest.param(usage_doc(interval_s=2**62), "interval_s", MAX_INTERVAL_S, id="interval-2**62"),
    pytest.param(usage_doc(interval_s=MAX_INTERVAL_S + 1), "interval_s", MAX_INTERVAL_S,
                 id="interval-one-over"),
    pytest.param(usage_doc(vcpus=2**64 - 1), "vcpus", MAX_COUNT, id="vcpus-u64"),
    pytest.param(usage_doc(vcpus=MAX_COUNT + 1), "vcpus", MAX_COUNT, id="vcpus-one-over"),
    pytest.param(usage_doc(gpus=10**7), "gpus", MAX_COUNT, id="gpus-1e7"),
    pytest.param(payment_doc("prepayment", amount=2**70), "amount", MAX_MONEY,
                 id="prepayment-2**70"),
    pytest.param(payment_doc("payment.succeeded", amount=1e300), "amount", MAX_MONEY,
                 id="payment-1e300"),
    pytest.param(payment_doc("chargeback", amount=ABOVE_MONEY), "amount", MAX_MONEY,
                 id="chargeback-next-float"),
    pytest.param(payment_doc("invoice.issued", invoice_id="i", due_date="2026-10-31",
                             amount=9.3e12), "amount", MAX_MONEY, id="invoice-9.3e12"),
    pytest.param(payment_doc("instrument.added", amount=1e20,
                             instrument={"type": "credit_card"}), "amount", MAX_MONEY,
                 id="instrument-with-huge-amount"),
    pytest.param(budget_set_doc(1e300), "properties.amount", MAX_MONEY, id="budget-1e300"),
    pytest.param(budget_set_doc(2**63), "properties.amount", MAX_MONEY, id="budget-2**63"),
    pytest.param(budget_set_doc(MAX_MONEY + 0.5), "properties.amount", MAX_MONEY,
                 id="budget-just-over"),
    pytest.param(flow(bytes_out=1e300), "properties.bytes_out", MAX_BYTES, id="bytes-1e300"),
    pytest.param(flow(bytes_out=-1e300), "properties.bytes_out", MAX_BYTES,
                 id="bytes-minus-1e300"),
    pytest.param(flow(bytes_out=-1), "properties.bytes_out", MAX_BYTES, id="bytes-negative"),
    pytest.param(flow(dst_port=65536), "properties.dst_port", MAX_PORT, id="port-65536"),
    pytest.param(flow(dst_port=-1), "properties.dst_port", MAX_PORT, id="port-negative"),
    pytest.param(flow(dst_port="65536"), "properties.dst_port", MAX_PORT, id="port-text-65536"),
    pytest.param(flow(dst_port="9" * 5000), "properties.dst_port", MAX_PORT,
                 id="port-5000-digits"),
    pytest.param(flow(dst_port="\u00b2"), "properties.dst_port", MAX_PORT,
                 id="port-superscript-digit"),
    pytest.param(flow(dst_port="\u0664\u0664\u0663"), "properties.dst_port", MAX_PORT,
                 id="port-arabic-indic-digits"),
    pytest.param(feedback(1e300), "properties.factor", MAX_FACTOR, id="factor-1e300"),
    pytest.param(feedback(MAX_FACTOR + 1), "properties.factor", MAX_FACTOR, id="factor-1001"),
    pytest.param(ring_link(count=2**60), "properties.count", MAX_WHOLE, id="ring-count-2**60"),
    pytest.param(ring_link(span_s=1e300), "properties.span_s", MAX_WHOLE, id="ring-span-1e300"),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "field", "limit"), OUT_OF_RANGE)
def test_number_beyond_its_limit_is_out_of_range_naming_field_and_limit(
    doc: dict[str, Any], field: str, limit: int
) -> None:
    message = wire(doc)
    for decode in (lambda: decode_event(message), lambda: event_from_dict(doc)):
        with pytest.raises(DecodeError) as info:
            decode()
        assert (info.value.code, info.value.field) == ("out_of_range", field)
        assert info.value.reason.startswith(f"out_of_range: field {field!r}")
        assert f"{limit:,}" in info.value.reason
        assert len(info.value.reason) < 200


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        pytest.param(usage_doc(cost=-0.0), "cost", id="cost"),
        pytest.param(usage_doc(quantity=-0.0), "quantity", id="quantity"),
        pytest.param(payment_doc("refund", amount=-0.0), "amount", id="payment-amount"),
        pytest.param(usage_doc(cost=-1e-300), "cost", id="tiny-negative-cost"),
    ],
)
def test_negative_zero_and_tiny_negative_amounts_are_refused(
    doc: dict[str, Any], field: str
) -> None:
    message = raw(doc)
    assert b"-0.0" in message or b"-1e-300" in message
    with pytest.raises(DecodeError) as info:
        decode_event(message)
    assert (info.value.code, info.value.field) == ("invalid_value", field)
    assert "must be >= 0" in info.value.reason


def test_plain_zero_amounts_are_accepted() -> None:
    event = decode_event(raw(usage_doc(cost=0.0, quantity=0)))
    assert isinstance(event, UsageEvent)
    assert (event.cost, event.quantity) == (0.0, 0.0)
    # JSON -0 is the integer 0: nothing tells it from 0.
    assert decode_event(raw(usage_doc()).replace(b'"cost":1.0', b'"cost":-0')) == decode_event(
        raw(usage_doc(cost=0))
    )


@pytest.mark.parametrize(
    ("doc", "code", "field"),
    [
        pytest.param(usage_doc(cost=2**2000), "out_of_range", "cost", id="cost-2**2000"),
        pytest.param(usage_doc(cost=-(2**2000)), "invalid_value", "cost", id="cost-minus-2**2000"),
        pytest.param(usage_doc(cost=math.inf), "out_of_range", "cost", id="cost-inf"),
        pytest.param(usage_doc(cost=math.nan), "invalid_value", "cost", id="cost-nan"),
        pytest.param(usage_doc(cpu_util=2**2000), "invalid_value", "cpu_util", id="util-2**2000"),
        pytest.param(usage_doc(vcpus=2**100_000), "out_of_range", "vcpus", id="vcpus-huge"),
        pytest.param(budget_set_doc(2**100_000), "out_of_range", "properties.amount",
                     id="budget-huge"),
        pytest.param(budget_set_doc(math.nan), "out_of_range", "properties.amount",
                     id="budget-nan"),
        pytest.param(feedback(math.inf), "out_of_range", "properties.factor", id="factor-inf"),
        pytest.param(flow(bytes_out=math.nan), "out_of_range", "properties.bytes_out",
                     id="bytes-nan"),
    ],
)  # fmt: skip
def test_numbers_no_json_can_carry_are_decode_errors_from_dicts_too(
    doc: dict[str, Any], code: str, field: str
) -> None:
    # event_from_dict validates events built in Python (the expect command, the benchmarks):
    # ints beyond any float, NaN and infinity must give a DecodeError, not another exception.
    with pytest.raises(DecodeError) as info:
        event_from_dict(doc)
    assert (info.value.code, info.value.field) == (code, field)
    assert len(info.value.reason) < 200


AT_THE_LIMIT = [
    pytest.param(usage_doc(cost=MAX_MONEY), id="cost-int"),
    pytest.param(usage_doc(cost=float(MAX_MONEY)), id="cost-float"),
    pytest.param(usage_doc(quantity=MAX_QUANTITY), id="quantity"),
    pytest.param(usage_doc(interval_s=MAX_INTERVAL_S), id="interval"),
    pytest.param(usage_doc(vcpus=MAX_COUNT, gpus=MAX_COUNT), id="vcpus-and-gpus"),
    pytest.param(payment_doc("prepayment", amount=MAX_MONEY), id="payment-amount"),
    pytest.param(budget_set_doc(MAX_MONEY), id="budget"),
    pytest.param(flow(bytes_out=MAX_BYTES, dst_port=MAX_PORT), id="flow"),
    pytest.param(flow(bytes_out=0, dst_port="65535"), id="flow-port-text"),
    pytest.param(flow(dst_port="00443"), id="flow-port-leading-zeros"),
    pytest.param(feedback(MAX_FACTOR), id="factor"),
    pytest.param(ring_link(count=MAX_WHOLE, span_s=MAX_WHOLE), id="ring"),
]


@pytest.mark.parametrize("doc", AT_THE_LIMIT)
def test_numbers_at_their_limit_are_accepted(doc: dict[str, Any]) -> None:
    event = decode_event(raw(doc))
    assert event == event_from_dict(doc)
    assert decode_event(raw(event_to_dict(event))) == event


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(
            activity_doc(
                "quantum.entangle",
                properties={"qubits": 1e300, "n": 2**64 - 1, "neg": -1e300, "port": "\u00b2"},
            ),
            id="unknown-operation",
        ),
        pytest.param(
            budget_set_doc(1000) | {"properties": {"amount": 1000, "currency": "USD",
                                                   "period": 1e300, "x": -(2**63)}},
            id="unknown-properties-of-budget-set",
        ),
        pytest.param(budget_set_doc("lots"), id="budget-amount-string"),
        pytest.param(budget_set_doc(-10), id="budget-amount-negative"),
        pytest.param(feedback(0.5), id="factor-below-one"),
        pytest.param(ring_link(count=-3), id="ring-count-negative"),
        pytest.param(
            activity_doc("vm.create", properties={"gpus": 1e300, "vcpus": -5, "count": 2**64 - 1}),
            id="vm-create-counts-the-detector-clamps",
        ),
        pytest.param(flow(dst_port="smtp", bytes_out="lots"), id="flow-non-numbers"),
    ],
)  # fmt: skip
def test_numbers_no_detector_computes_with_are_kept_as_they_are(doc: dict[str, Any]) -> None:
    event = decode_event(raw(doc))
    assert isinstance(event, ActivityEvent)
    assert event.properties == doc["properties"]
    core = build_core()
    state = core.new_state(event.customer_id)
    core.step(state, event, NOW_MS)
    core.step(state, decode_event(raw(usage_doc(event_id="u-9", cost=MAX_MONEY))), NOW_MS)
    assert_snapshots(core, state)


def assert_snapshots(core: Core, state: CustomerState) -> dict[str, Any]:
    """The state snapshots to JSON, and restores to a state that snapshots the same."""
    data = orjson.loads(orjson.dumps(core.snapshot(state)))
    assert orjson.loads(orjson.dumps(core.snapshot(core.restore(data)))) == data
    return data


def hourly(hours: int, cost: float, per_hour: int = 1, start: str = "2026-10-01T00:00:00Z",
           **fields: Any) -> list[Event]:  # fmt: skip
    t0 = parse_ts_ms(start)
    return [
        decode_event(raw(usage_doc(event_id=f"u-{h}-{i}", at=format_ts(t0 + h * MS_PER_HOUR),
                                   cost=cost, **fields)))
        for h in range(hours)
        for i in range(per_hour)
    ]  # fmt: skip


def run_one(core: Core, events: list[Event]) -> tuple[CustomerState, list[Any]]:
    state = core.new_state(events[0].customer_id)
    alerts = []
    for event in events:
        alerts.extend(core.step(state, event, NOW_MS).alerts)
    alerts.extend(core.sweep(state, state.watermark_ms, NOW_MS).alerts)
    for alert in alerts:
        orjson.dumps(alert.to_dict())
    return state, alerts


def test_a_month_of_hourly_records_at_every_limit_steps_and_snapshots() -> None:
    core = build_core()
    docs = [
        activity_doc("customer.signup", event_id="s-1", properties={"country": "DE"}),
        budget_set_doc(MAX_MONEY, event_id="b-1"),
        payment_doc("prepayment", event_id="p-1", amount=MAX_MONEY),
        payment_doc("invoice.issued", event_id="p-2", amount=MAX_MONEY, invoice_id="i-1",
                    due_date="2026-10-15"),
        payment_doc("payment.succeeded", event_id="p-3", amount=MAX_MONEY, invoice_id="i-1"),
        payment_doc("chargeback", event_id="p-4", amount=MAX_MONEY, invoice_id="i-1"),
        flow(bytes_out=MAX_BYTES, dst_port=MAX_PORT) | {"event_id": "f-1"},
        feedback(MAX_FACTOR),
        usage_doc(event_id="u-big", cost=MAX_MONEY, quantity=MAX_QUANTITY,
                  interval_s=MAX_INTERVAL_S, vcpus=MAX_COUNT, gpus=MAX_COUNT, meter="gpu",
                  gpu_util=1.0),
    ]  # fmt: skip
    events = [decode_event(raw(doc)) for doc in docs] + hourly(24 * 31, MAX_MONEY)
    state, alerts = run_one(core, events)
    data = assert_snapshots(core, state)
    # Summed exactly: 745 records at the limit are 7.45e17 micro-units, inside int64.
    assert data["detectors"]["budget_threshold"]["months"]["2026-10"]["spend"]["USD"] == (
        745 * MAX_MONEY * 1_000_000
    )
    kinds = {a.kind for a in alerts}
    assert {"budget_threshold", "chargeback", "spend_spike"} <= kinds
    assert all(a.money_at_risk is not None for a in alerts if a.kind == "spend_spike")


# --- the range of timestamps -----------------------------------------------------------------


def test_the_timestamp_range_is_the_one_the_error_states() -> None:
    assert f"{format_ts(MIN_TS_MS)} to {format_ts(MAX_TS_MS)}" == TS_RANGE
    for ms in (MIN_TS_MS, MAX_TS_MS):
        assert decode_event(raw(usage_doc(at=format_ts(ms)))).ts_ms == ms
    for ms in (MIN_TS_MS - 1, MAX_TS_MS + 1):
        with pytest.raises(DecodeError) as info:
            decode_event(raw(usage_doc(at=format_ts(ms))))
        assert (info.value.code, info.value.field) == ("invalid_timestamp", "ts")


@pytest.mark.parametrize(
    "at",
    [
        pytest.param("9999-12-31T00:00:00Z", id="9999-12-31"),
        pytest.param("9999-12-29T00:00:00Z", id="9999-12-29"),
        pytest.param("9998-12-31T23:00:00-01:00", id="9999-01-01-in-utc"),
        pytest.param("0001-12-31T23:59:59.999Z", id="0001-12-31"),
    ],
)
def test_timestamp_outside_the_range_names_the_real_range(at: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(raw(usage_doc(at=at)))
    assert (info.value.code, info.value.field) == ("invalid_timestamp", "ts")
    assert "0002-01-01T00:00:00Z to 9998-12-31T23:59:59.999Z" in info.value.reason
    assert "9999-12-30" not in info.value.reason
    assert "0001 to 9999" not in info.value.reason


def test_due_date_outside_the_range_is_an_invalid_timestamp() -> None:
    doc = payment_doc("invoice.issued", invoice_id="i-1", due_date="9999-06-30")
    with pytest.raises(DecodeError) as info:
        decode_event(raw(doc))
    assert (info.value.code, info.value.field) == ("invalid_timestamp", "due_date")


@pytest.mark.parametrize(
    ("ms", "text", "month"),
    [
        pytest.param(MIN_TS_MS, "0002-01-01T00:00:00Z", "0002-01", id="first"),
        pytest.param(MAX_TS_MS, "9998-12-31T23:59:59.999Z", "9998-12", id="last"),
        pytest.param(parse_ts_ms("0500-06-15T12:00:00.5Z"), "0500-06-15T12:00:00.500Z", "0500-06",
                     id="year-500"),
        pytest.param(-1, "1969-12-31T23:59:59.999Z", "1969-12", id="before-the-epoch"),
    ],
)  # fmt: skip
def test_times_format_with_four_digit_years_and_round_trip(ms: int, text: str, month: str) -> None:
    assert format_ts(ms) == text
    assert parse_ts_ms(text) == ms
    assert month_key(ms) == month


@pytest.mark.parametrize("edge", [MIN_TS_MS, MAX_TS_MS], ids=["first", "last"])
def test_events_at_the_ends_of_the_range_step_sweep_and_snapshot(edge: int) -> None:
    # The core derives times from event times (window starts, the next month, the next
    # invoice): at either end of the range they must still be representable.
    at = format_ts(edge)
    docs = [
        activity_doc("customer.signup", event_id="s-1", at=at, properties={"country": "DE"}),
        budget_set_doc(10, event_id="b-1", at=at),
        usage_doc(event_id="u-1", at=at, cost=20, interval_s=MAX_INTERVAL_S),
        payment_doc("invoice.issued", event_id="p-1", at=at, invoice_id="i-1", due_date=at),
        payment_doc("payment.failed", event_id="p-2", at=at, invoice_id="i-1"),
        payment_doc("payment.failed", event_id="p-3", at=at, invoice_id="i-1"),
        payment_doc("chargeback", event_id="p-4", at=at),
        notice_doc(event_id="n-1", at=at, action_required="suspend"),
    ]
    state, alerts = run_one(build_core(), [decode_event(raw(doc)) for doc in docs])
    assert_snapshots(build_core(), state)
    budget = [a for a in alerts if a.kind == "budget_threshold"]
    assert {a.evidence["threshold"] for a in budget} == {"50%", "80%", "100%"}
    assert {a.event_time for a in alerts} == {at}
    assert all(a.money_at_risk is not None for a in budget)
    if edge == MAX_TS_MS:
        # The next invoice is due in a month the contract does not accept events for.
        assert budget[0].money_at_risk["next_invoice"] == "9999-01-01T00:00:00Z"


def _parsed_then_routed(line: bytes) -> object:
    """Decode as replay jobs do: parse, route on the envelope, validate the rest."""
    doc = parse(line)
    env = None if isinstance(doc, DecodeError) else envelope(doc)
    return decode_object(doc, env)


def _routing_samples() -> list[bytes]:
    good = generate(GeneratorConfig(seed=4, customers=4, days=3, incidents=("fraud_ring",)))
    edge = [
        b'{"type":"usage","event_id":"e","customer_id":"c","ts":"2026-10-01T00:00:00Z"}',
        b'{"type":"usage","event_id":"","customer_id":"c","ts":"2026-10-01T00:00:00Z"}',
        b'{"type":"usage","event_id":"e","customer_id":"c","ts":"2026-13-01T00:00:00Z"}',
        b'{"type":"refund","event_id":"e","customer_id":"c","ts":"2026-10-01T00:00:00Z"}',
        b'{"type":"payment","event_id":"e","customer_id":"c","ts":"2026-10-01T00:00:00Z"}',
        b"[1]",
        b"",
    ]
    return [orjson.dumps(e) for e in good.events] + list(bad_samples().values()) + edge


def _decoded(line: bytes) -> object:
    try:
        return decode_event(line)
    except DecodeError as error:
        return error


def test_routing_on_the_envelope_then_validating_decodes_as_decode_event() -> None:
    for line in _routing_samples():
        routed, expected = _parsed_then_routed(line), _decoded(line)
        if isinstance(expected, DecodeError):
            assert isinstance(routed, DecodeError), line
            assert (routed.code, routed.field, routed.message) == (
                expected.code,
                expected.field,
                expected.message,
            )
            continue
        assert isinstance(expected, UsageEvent | ActivityEvent | PaymentEvent)
        assert routed == expected
        env = envelope(parse_object(line))
        assert env == (expected.type, expected.event_id, expected.customer_id, expected.ts_ms)
