"""The JSON Schemas under topics/schemas/ describe exactly what the codec accepts and what the
core emits: real contract events, engine alerts and requests, and dead-letter records validate;
what the codec rejects the schemas reject wherever JSON Schema can say so."""

from __future__ import annotations

import copy
import json
import random
from functools import cache
from typing import Any

import orjson
import pytest
from contract_examples import CONTRACT_EXAMPLES
from jsonschema import Draft202012Validator

from streamwatch.core.codec import (
    MAX_BYTES,
    MAX_COUNT,
    MAX_FACTOR,
    MAX_INTERVAL_S,
    MAX_MONEY,
    MAX_QUANTITY,
    MAX_WHOLE,
    DecodeError,
    decode_event,
)
from streamwatch.core.deadletter import dead_letter_record, original_bytes, processing_error
from streamwatch.core.detectors.registry import registered, registered_kinds
from streamwatch.core.engine import Core
from streamwatch.core.events import EnforcementRequest
from streamwatch.core.signing import signed
from streamwatch.live.catalogue import ENVIRONMENTS_FILE, packaged_catalogue
from streamwatch.testing import (
    activity_doc,
    budget_set_doc,
    budget_set_event,
    default_policy,
    make_alert,
    notice_event,
    payment_doc,
    raw,
    run_core,
    ts,
    usage_doc,
    usage_event,
    without,
)

TOPICS_DIR = packaged_catalogue()
TOPIC_OF_TYPE = {"usage": "usage", "activity": "activity", "payment": "payments"}
SCHEMA_FILES = {
    "usage.schema.json",
    "activity.schema.json",
    "payment.schema.json",
    "alert.schema.json",
    "enforcement.schema.json",
    "dead-letter.schema.json",
    "enforcement-decision.schema.json",
    "enforcement-result.schema.json",
}


@cache
def catalogue() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(TOPICS_DIR.glob("*.json"))
        if path.name != ENVIRONMENTS_FILE
    }


@cache
def validator(topic: str) -> Draft202012Validator:
    path = TOPICS_DIR / catalogue()[topic]["schema"]
    schema = json.loads(path.read_text(encoding="utf-8"))
    if topic == "alerts":
        # The kinds streamwatch emits are the registered detectors' (the file gives their form).
        schema["properties"]["kind"]["enum"] = sorted(registered_kinds())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def event_validator(doc: dict[str, Any], fallback: str = "usage") -> Draft202012Validator:
    kind = doc.get("type")
    topic = TOPIC_OF_TYPE.get(kind, fallback) if isinstance(kind, str) else fallback
    return validator(topic)


def schema_errors(topic: str, doc: Any) -> list[str]:
    return [error.message for error in validator(topic).iter_errors(doc)]


# --- the catalogue ------------------------------------------------------------------------


def test_every_topic_names_an_existing_schema_and_all_schemas_are_used() -> None:
    named = {topic["schema"] for topic in catalogue().values()}
    assert {f"schemas/{name}" for name in SCHEMA_FILES} <= named
    for name in named:
        assert (TOPICS_DIR / name).is_file(), name


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_schema_is_valid_draft_2020_12_with_id_title_and_description(name: str) -> None:
    schema = json.loads((TOPICS_DIR / "schemas" / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/" + name)
    assert schema["title"]
    assert schema["description"]


def test_schema_ids_are_unique() -> None:
    ids = [
        json.loads(path.read_text(encoding="utf-8"))["$id"]
        for path in (TOPICS_DIR / "schemas").glob("*.schema.json")
    ]
    assert len(ids) == len(set(ids))


def test_activity_schema_documents_every_operation_of_the_contract() -> None:
    schema = json.loads((TOPICS_DIR / "schemas/activity.schema.json").read_text())
    documented = {
        rule["if"]["properties"]["operation"]["const"]: rule["then"] for rule in schema["allOf"]
    }
    assert set(documented) >= {
        "customer.signup",
        "subscription.create",
        "vm.create",
        "vm.delete",
        "role.assign",
        "user.create",
        "user.delete",
        "guest.invite",
        "signin",
        "network.flow",
        "budget.set",
        "provider.notice",
    }
    props = documented["provider.notice"]["properties"]["properties"]["properties"]
    assert {"notice_id", "category", "severity", "action_required"} <= set(props)
    assert all(p["description"] for p in props.values())
    # documented, not required: the codec accepts any properties object
    assert "required" not in documented["provider.notice"]["properties"]["properties"]


# --- input events -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONTRACT_EXAMPLES))
def test_contract_example_is_valid_for_its_topic_schema(name: str) -> None:
    doc = CONTRACT_EXAMPLES[name]
    decode_event(raw(doc))
    assert schema_errors(TOPIC_OF_TYPE[doc["type"]], doc) == []


def test_activity_with_unknown_operation_and_any_properties_is_valid() -> None:
    doc = activity_doc("budget.set", properties={"amount": "lots", "currency": 7})
    assert schema_errors("activity", doc) == []


REJECTED = [
    pytest.param(without(usage_doc(), "customer_id"), id="missing-customer-id"),
    pytest.param(usage_doc(customer_id=""), id="empty-customer-id"),
    pytest.param(usage_doc(customer_id="c" * 257), id="overlong-customer-id"),
    pytest.param(usage_doc(customer_id=None), id="null-customer-id"),
    pytest.param(without(usage_doc(), "event_id"), id="missing-event-id"),
    pytest.param(usage_doc(quantity="ten"), id="quantity-string"),
    pytest.param(usage_doc(quantity=True), id="quantity-boolean"),
    pytest.param(usage_doc(quantity=-1), id="negative-quantity"),
    pytest.param(usage_doc(cost=-0.01), id="negative-cost"),
    pytest.param(usage_doc(cost=None), id="null-cost"),
    pytest.param(usage_doc(meter="tpu"), id="unknown-meter"),
    pytest.param(usage_doc(currency="usd"), id="lowercase-currency"),
    pytest.param(usage_doc(currency="USDT"), id="four-letter-currency"),
    pytest.param(usage_doc(currency="USD\n"), id="currency-with-newline"),
    pytest.param(usage_doc(interval_s=0), id="zero-interval"),
    pytest.param(usage_doc(interval_s=1.5), id="fractional-interval"),
    pytest.param(usage_doc(interval_s=None), id="null-interval"),
    pytest.param(usage_doc(interval_s=True), id="boolean-interval"),
    pytest.param(usage_doc(vcpus=-1), id="negative-vcpus"),
    pytest.param(usage_doc(cpu_util=1.01), id="util-above-one"),
    pytest.param(usage_doc(gpu_util=-0.5), id="util-below-zero"),
    pytest.param(usage_doc(at="yesterday"), id="unparseable-ts"),
    pytest.param(usage_doc(at="2026-10-01T03:00:00"), id="naive-ts"),
    pytest.param(usage_doc(at="2026-10-01T24:00:00Z"), id="hour-24"),
    pytest.param(usage_doc(at="2026-13-01T00:00:00Z"), id="month-13"),
    pytest.param(usage_doc(at="2026-10-01T03:00:60Z"), id="leap-second"),
    pytest.param(usage_doc(at="2026-10-01T03:00:00+24:00"), id="offset-24h"),
    pytest.param(usage_doc(at="0000-10-01T03:00:00Z"), id="year-zero"),
    pytest.param(usage_doc(at="2026-10-01t03:00:00z"), id="lowercase-t-and-z"),
    pytest.param(usage_doc(at=1790812800), id="numeric-ts"),
    pytest.param(usage_doc(type="refund"), id="unknown-type"),
    pytest.param(activity_doc(status="ok"), id="unknown-status"),
    pytest.param(activity_doc(properties=[1]), id="properties-array"),
    pytest.param(activity_doc(actor_ip=17), id="numeric-actor-ip"),
    pytest.param(without(activity_doc(), "actor"), id="missing-actor"),
    pytest.param(payment_doc("gift"), id="unknown-payment-kind"),
    pytest.param(payment_doc(amount=None), id="payment-without-amount"),
    pytest.param(payment_doc(amount=-5), id="negative-amount"),
    pytest.param(payment_doc(currency=None), id="amount-without-currency"),
    pytest.param(payment_doc(currency="eur"), id="amount-with-bad-currency"),
    pytest.param(payment_doc("invoice.issued", due_date="2026-10-31"), id="invoice-without-id"),
    pytest.param(payment_doc("invoice.issued", invoice_id="i"), id="invoice-without-due-date"),
    pytest.param(
        payment_doc("invoice.issued", invoice_id="i", due_date="soon"), id="invoice-bad-due-date"
    ),
    pytest.param(
        payment_doc("invoice.issued", invoice_id="i", due_date="2026-10-31T00:00:00"),
        id="invoice-naive-due-date",
    ),
    pytest.param(payment_doc("instrument.added", amount=None), id="instrument-missing"),
    pytest.param(
        payment_doc("instrument.added", amount=None, instrument=None) | {"instrument": None},
        id="instrument-null",
    ),
    pytest.param(payment_doc(instrument={"type": "bitcoin"}), id="unknown-instrument-type"),
    pytest.param(payment_doc(instrument={"fingerprint": "f"}), id="instrument-without-type"),
    pytest.param(payment_doc(instrument="visa"), id="instrument-string"),
    pytest.param(
        payment_doc(instrument={"type": "credit_card", "country": 49}), id="numeric-country"
    ),
    pytest.param(usage_doc(cost=MAX_MONEY * 2), id="cost-over-limit"),
    pytest.param(usage_doc(cost=1.7e308), id="cost-1.7e308"),
    pytest.param(usage_doc(quantity=MAX_QUANTITY * 10), id="quantity-over-limit"),
    pytest.param(usage_doc(interval_s=MAX_INTERVAL_S + 1), id="interval-over-limit"),
    pytest.param(usage_doc(vcpus=MAX_COUNT + 1), id="vcpus-over-limit"),
    pytest.param(usage_doc(gpus=MAX_COUNT + 1), id="gpus-over-limit"),
    pytest.param(payment_doc(amount=1e300), id="amount-over-limit"),
    pytest.param(usage_doc(at="9999-12-31T00:00:00Z"), id="year-9999"),
    pytest.param(usage_doc(at="0001-06-01T00:00:00Z"), id="year-0001"),
    pytest.param(payment_doc("invoice.issued", invoice_id="i", due_date="9999-01-31"),
                 id="due-date-in-9999"),
    pytest.param(budget_set_doc(MAX_MONEY + 1), id="budget-over-limit"),
    pytest.param(activity_doc("network.flow", properties={"bytes_out": MAX_BYTES * 10}),
                 id="bytes-out-over-limit"),
    pytest.param(activity_doc("network.flow", properties={"bytes_out": -1}),
                 id="bytes-out-negative"),
    pytest.param(activity_doc("network.flow", properties={"dst_port": 65536}),
                 id="port-over-limit"),
    pytest.param(activity_doc("feedback.expect", properties={"factor": MAX_FACTOR + 1}),
                 id="factor-over-limit"),
    pytest.param(activity_doc("ring.link", properties={"count": MAX_WHOLE + 1}),
                 id="ring-count-over-limit"),
    pytest.param(activity_doc("feedback.suppress", properties={"kind": "*"}),
                 id="suppress-without-until"),
    pytest.param(activity_doc("feedback.suppress", properties={"until": "2026-12-01T00:00:00Z",
                                                               "match": {"status": 1}}),
                 id="suppress-match-not-text"),
    pytest.param(activity_doc("feedback.not_anomaly", properties={"kind": "chargeback"}),
                 id="not-anomaly-without-alert"),
]  # fmt: skip


@pytest.mark.parametrize("doc", REJECTED)
def test_event_the_codec_rejects_is_rejected_by_its_schema(doc: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        decode_event(raw(doc))
    assert not event_validator(doc).is_valid(doc)


AT_THE_LIMITS = [
    pytest.param(usage_doc(cost=MAX_MONEY, quantity=MAX_QUANTITY, interval_s=MAX_INTERVAL_S,
                           vcpus=MAX_COUNT, gpus=MAX_COUNT), id="usage"),
    pytest.param(payment_doc(amount=MAX_MONEY), id="payment"),
    pytest.param(usage_doc(at="0002-01-01T00:00:00Z"), id="first-instant"),
    pytest.param(usage_doc(at="9998-12-31T23:59:59.999Z"), id="last-instant"),
    pytest.param(budget_set_doc(MAX_MONEY), id="budget"),
    pytest.param(budget_set_doc(-5), id="budget-negative-ignored"),
    pytest.param(activity_doc("network.flow", properties={"bytes_out": MAX_BYTES,
                                                          "dst_port": 65535}), id="flow"),
    pytest.param(activity_doc("feedback.expect", properties={"factor": MAX_FACTOR}), id="factor"),
    pytest.param(activity_doc("feedback.expect", properties={"factor": 0.5}),
                 id="factor-below-one-ignored"),
    pytest.param(activity_doc("ring.link", properties={"count": MAX_WHOLE}), id="ring-count"),
    pytest.param(activity_doc("feedback.suppress", properties={
        "kind": "provider_*", "match": {f"f{i}": "*" for i in range(16)},
        "until": "2026-12-01T00:00:00Z", "reason": "r", "id": "x" * 200}), id="suppress"),
    pytest.param(activity_doc("feedback.not_anomaly", properties={
        "alert_id": "a", "kind": "spend_spike", "evidence": {f"f{i}": i for i in range(64)}}),
                 id="not-anomaly"),
    pytest.param(activity_doc("quantum.entangle", properties={"qubits": 1e300}),
                 id="unknown-operation"),
]  # fmt: skip


@pytest.mark.parametrize("doc", AT_THE_LIMITS)
def test_event_at_the_limits_is_accepted_by_codec_and_schema(doc: dict[str, Any]) -> None:
    decode_event(raw(doc))
    assert schema_errors(TOPIC_OF_TYPE[doc["type"]], doc) == []


DIFF_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    0.25,
    1.5,
    7,
    "",
    "x",
    "USD",
    "usd",
    "US1",
    "compute",
    "succeeded",
    "usage",
    "activity",
    "payment",
    "instrument.added",
    "invoice.issued",
    "2026-10-01T00:00:00Z",
    "2026-10-01T00:00:00",
    "20261001T000000Z",
    "2026-10-31",
    [],
    ["a"],
    {},
    {"type": "credit_card"},
    {"type": []},
    {"a": {"b": 1}},
]


def mutate(rng: random.Random, doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        target = out
        if isinstance(out.get("instrument"), dict) and rng.random() < 0.25:
            target = out["instrument"]
        op = rng.randrange(3)
        if op == 0 and target:
            target[rng.choice(list(target))] = copy.deepcopy(rng.choice(DIFF_VALUES))
        elif op == 1 and target:
            del target[rng.choice(list(target))]
        else:
            key = rng.choice(["extra", "instrument", "amount", "currency", "due_date", "vcpus"])
            target[key] = copy.deepcopy(rng.choice(DIFF_VALUES))
    return out


def codec_accepts(doc: dict[str, Any]) -> bool:
    try:
        decode_event(orjson.dumps(doc))
    except Exception:  # test_codec checks that only DecodeError escapes; here: accept or not
        return False
    return True


def test_schemas_and_codec_agree_on_random_mutations_of_contract_events() -> None:
    # Values are chosen so that every difference is one JSON Schema can express: no
    # properties deeper than MAX_DEPTH, no impossible calendar dates, no 2.0-style integers.
    rng = random.Random(7)
    examples = list(CONTRACT_EXAMPLES.values())
    disagreements = []
    for _ in range(3000):
        original = rng.choice(examples)
        doc = mutate(rng, original)
        by_codec = codec_accepts(doc)
        by_schema = event_validator(doc, TOPIC_OF_TYPE[original["type"]]).is_valid(doc)
        if by_codec != by_schema:
            disagreements.append((f"codec={by_codec} schema={by_schema}", doc))
    assert not disagreements, f"{len(disagreements)} disagreements, e.g. {disagreements[:3]}"


# --- outputs of the core ------------------------------------------------------------------


def engine_stream() -> list[Any]:
    """Budget crossings, a forecast and provider notices for two customers."""
    return [
        budget_set_event(1000, event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(1, 1), cost=400),
        usage_event(event_id="u-2", at=ts(4), cost=200),  # 60%: 50% and the forecast
        usage_event(event_id="u-3", at=ts(10), cost=250),  # 85%: 80%
        usage_event(event_id="u-4", at=ts(12), cost=200),  # 105%: 100%
        notice_event("n-1", event_id="pn-1", at=ts(12, 1), action_required="suspend"),
        notice_event(
            "n-2", event_id="pn-2", at=ts(12, 2), action_required="restrict", severity="low"
        ),
        notice_event(None, event_id="pn-3", at=ts(12, 3), category="fraud.payment", severity="odd"),
        notice_event("n-1", event_id="pn-4", customer_id="cust-2", at=ts(12, 4)),
        budget_set_event(50, "EUR", event_id="b-2", customer_id="cust-2", at=ts(13)),
        usage_event(event_id="u-5", customer_id="cust-2", at=ts(14), cost=60, currency="EUR"),
    ]


@cache
def engine_outcome() -> Any:
    return run_core(Core(policy=default_policy()), engine_stream())


def test_engine_alerts_validate_against_the_alert_schema() -> None:
    alerts = engine_outcome().alerts
    assert {a.kind for a in alerts} == {"budget_threshold", "provider_notice"}
    assert len(alerts) == 11
    for alert in alerts:
        assert schema_errors("alerts", orjson.loads(orjson.dumps(alert.to_dict()))) == []


def test_engine_requests_validate_against_the_enforcement_schema() -> None:
    requests: list[EnforcementRequest] = engine_outcome().requests
    assert {r.action for r in requests} == {"notify", "restrict", "suspend"}
    for request in requests:
        assert schema_errors("enforcement", orjson.loads(orjson.dumps(request.to_dict()))) == []


def test_amended_alert_with_higher_revision_is_valid() -> None:
    doc = make_alert().to_dict() | {"revision": 3}
    assert schema_errors("alerts", doc) == []


@pytest.mark.parametrize(
    ("change", "topic"),
    [
        pytest.param({"score": 1.2}, "alerts", id="alert-score-above-one"),
        pytest.param({"severity": "urgent"}, "alerts", id="alert-unknown-severity"),
        pytest.param({"kind": "weird"}, "alerts", id="alert-unknown-kind"),
        pytest.param({"revision": 0}, "alerts", id="alert-revision-zero"),
        pytest.param({"revision": None}, "alerts", id="alert-revision-null"),
        pytest.param({"reasons": []}, "alerts", id="alert-without-reasons"),
        pytest.param({"alert_id": "A1"}, "alerts", id="alert-id-not-hex"),
        pytest.param({"event_time": "2026-10-01 00:00"}, "alerts", id="alert-bad-event-time"),
        pytest.param({"surprise": 1}, "alerts", id="alert-unknown-field"),
        pytest.param({"detector": {"name": "x"}}, "alerts", id="alert-detector-without-version"),
    ],
)
def test_alert_schema_rejects_what_the_core_never_emits(change: dict[str, Any], topic: str) -> None:
    assert not validator(topic).is_valid(make_alert().to_dict() | change)


def test_alert_schema_requires_revision() -> None:
    assert not validator("alerts").is_valid(without(make_alert().to_dict(), "revision"))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"action": "delete"}, id="unknown-action"),
        pytest.param({"alert_ids": []}, id="no-alerts"),
        pytest.param({"dry_run": "no"}, id="dry-run-string"),
        pytest.param({"requires_approval": None}, id="approval-null"),
        pytest.param({"policy": ""}, id="empty-policy"),
        pytest.param({"extra": 1}, id="unknown-field"),
    ],
)
def test_enforcement_schema_rejects_what_the_core_never_emits(change: dict[str, Any]) -> None:
    request = engine_outcome().requests[0].to_dict()
    assert validator("enforcement").is_valid(request)
    assert not validator("enforcement").is_valid(request | change)


def test_signed_requests_validate_and_malformed_signatures_do_not() -> None:
    request = engine_outcome().requests[0].to_dict()
    good = signed(request, "k1", b"secret")
    assert schema_errors("enforcement", good) == []
    for bad in ("v2:k1:" + "0" * 64, "v1::" + "0" * 64, "v1:k1:" + "0" * 63, "v1:k1:XYZ", ""):
        assert not validator("enforcement").is_valid(request | {"signature": bad}), bad


# --- dead-letter records ------------------------------------------------------------------

BAD_MESSAGES = [
    pytest.param(b"\xff\xfe not json", id="invalid-utf8"),
    pytest.param(raw(usage_doc(cost=2**63)), id="out-of-range"),
    pytest.param(b'{"type": "usa', id="truncated"),
    pytest.param(b"[]", id="array"),
    pytest.param(b"", id="empty"),
    pytest.param(raw(usage_doc(cost=-1)), id="negative-cost"),
    pytest.param(raw(usage_doc(type="nope")), id="unknown-type"),
    pytest.param(raw(payment_doc(instrument={"type": "gold"})), id="nested-field"),
    pytest.param(raw(usage_doc(pad="x" * (1024 * 1024))), id="too-large"),
]
SOURCES = [
    pytest.param({"topic": "usage", "partition": 3, "offset": 1234, "key": "cust-1"}, id="live"),
    pytest.param({"topic": "usage", "partition": 0, "offset": 0, "key": None}, id="live-no-key"),
    pytest.param({"file": "events/usage.jsonl", "line": 17}, id="replay"),
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("message", BAD_MESSAGES)
def test_dead_letter_record_validates_and_keeps_the_original_bytes(
    message: bytes, source: dict[str, Any]
) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(message)
    record = dead_letter_record(message, info.value, source, 1790812800123)
    wire = orjson.loads(orjson.dumps(record))
    assert schema_errors("dead-letter", wire) == []
    assert original_bytes(wire) == message
    assert wire["original_size"] == len(message)


DEAD_LETTER_CODES = {
    # raised by the codec (core.codec.DecodeError)
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
    # set by the pipeline around the core, and by the suspension worker
    "processing_error",
    "future_event",
    "invalid_signature",
    # set by streamwatch ingest for a raw record its adapter could not map
    "unmappable",
    # set by streamwatch notify for an alert a sink would not take
    "undeliverable",
}


def test_dead_letter_schema_lists_every_code_and_only_those() -> None:
    schema = json.loads((TOPICS_DIR / "schemas/dead-letter.schema.json").read_text())
    enum = schema["properties"]["code"]["enum"]
    assert len(enum) == len(set(enum))
    assert set(enum) == DEAD_LETTER_CODES
    description = schema["properties"]["code"]["description"]
    assert all(code in description for code in ("out_of_range", "processing_error", "future_event"))


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(processing_error(ZeroDivisionError("division by zero")), id="processing"),
        pytest.param(processing_error(RuntimeError("x" * 5000), "the core failed"), id="long"),
        pytest.param(
            DecodeError("future_event", "ts 2030-01-01T00:00:00Z is 26 h ahead", "ts"),
            id="future-event",
        ),
    ],
)
def test_dead_letter_records_of_the_pipeline_codes_validate(error: DecodeError) -> None:
    message = raw(usage_doc())
    record = dead_letter_record(message, error, {"topic": "usage", "partition": 0, "offset": 7,
                                                 "key": "cust-1"}, 1790812800123)  # fmt: skip
    assert schema_errors("dead-letter", orjson.loads(orjson.dumps(record))) == []
    assert record["code"] == error.code
    assert original_bytes(record) == message


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"code": "oops"}, id="unknown-code"),
        pytest.param({"source": {"topic": "usage"}}, id="source-without-position"),
        pytest.param({"original_b64": "not base64!"}, id="bad-base64"),
        pytest.param({"original_size": -1}, id="negative-size"),
        pytest.param({"received_at": "now"}, id="bad-received-at"),
        pytest.param({"field": 3}, id="numeric-field"),
    ],
)
def test_dead_letter_schema_rejects_malformed_records(change: dict[str, Any]) -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(b"[]")
    record = dead_letter_record(b"[]", info.value, {"file": "f.jsonl", "line": 1}, 0)
    assert validator("dead-letter").is_valid(record)
    assert not validator("dead-letter").is_valid(record | change)


def test_alert_schema_kinds_are_those_the_registered_detectors_raise() -> None:
    """The alert kinds are the union of the registered detectors' ``kinds``, each of the form
    the alert schema gives: a detector registered with a new kind needs no schema edit."""
    schema = json.loads((TOPICS_DIR / "schemas/alert.schema.json").read_text())
    form = Draft202012Validator(schema["properties"]["kind"])
    assert "enum" not in schema["properties"]["kind"]
    assert all(form.is_valid(k) for k in registered_kinds())
    detectors = registered()
    assert len({t.name for t in detectors}) == len(detectors)
    kinds = [kind for t in detectors for kind in t.kinds]
    assert len(kinds) == len(set(kinds)), "two detectors raise one kind"
