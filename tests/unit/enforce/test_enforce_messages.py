"""Requests and decisions in, results out: validation names the bad field, and everything the
worker writes matches its JSON Schema under topics/schemas/."""

from __future__ import annotations

import orjson
import pytest
from enforce_builders import KEY, KEY_ID, req, request_doc, schema_errors

from streamwatch.core.codec import DecodeError
from streamwatch.core.deadletter import dead_letter_record
from streamwatch.core.signing import signed, verify
from streamwatch.enforce.decide import Record
from streamwatch.enforce.messages import (
    decision_message,
    parse_decision,
    parse_request,
    result_message,
    withdrawal_id,
    withdrawal_request,
)
from streamwatch.enforce.store import record_fields, record_from_fields

T = 1_790_823_600_000


def test_signed_request_parses_and_matches_the_enforcement_schema():
    doc = request_doc()
    request = parse_request(orjson.dumps(doc))
    assert (request.action, request.policy, request.dry_run) == ("suspend", "rule-a", False)
    assert request.doc == doc
    assert schema_errors("enforcement", doc) == []


def test_unknown_fields_are_kept_for_the_signature_not_refused():
    doc = request_doc(extra="new in a later version")
    assert parse_request(orjson.dumps(doc)).doc["extra"] == "new in a later version"


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b"{nope", "invalid_json", None),
        (b"\xff\xfe", "invalid_json", None),
        (b"[1]", "not_an_object", None),
        (b"x" * (1024 * 1024 + 1), "too_large", None),
        (orjson.dumps({**request_doc(), "request_id": "R1"}), "invalid_value", "request_id"),
        (orjson.dumps({**request_doc(), "customer_id": 7}), "wrong_type", "customer_id"),
        (orjson.dumps({**request_doc(), "action": "delete"}), "invalid_value", "action"),
        (orjson.dumps({**request_doc(), "alert_ids": []}), "invalid_value", "alert_ids"),
        (orjson.dumps({**request_doc(), "dry_run": "no"}), "wrong_type", "dry_run"),
        (
            orjson.dumps({**request_doc(), "requested_at": "2026-10-01T03:00:00"}),
            "invalid_timestamp",
            "requested_at",
        ),
        (
            orjson.dumps({k: v for k, v in request_doc().items() if k != "policy"}),
            "missing_field",
            "policy",
        ),
    ],
    ids=[
        "not-json",
        "not-utf8",
        "array",
        "too-large",
        "bad-id",
        "customer-not-string",
        "unknown-action",
        "no-alerts",
        "dry-run-not-bool",
        "naive-time",
        "no-policy",
    ],
)
def test_malformed_request_raises_decode_error_naming_the_field(raw, code, field):
    with pytest.raises(DecodeError) as caught:
        parse_request(raw)
    assert caught.value.code in (code, "invalid_utf8")
    assert caught.value.field == field


def test_decision_round_trips_signed_and_matches_its_schema():
    request = req()
    doc = signed(
        decision_message(request.request_id, request.customer_id, "reject", "bob", "paid", T),
        KEY_ID,
        KEY,
    )
    assert schema_errors("enforcement-decision", doc) == []
    decision = parse_decision(orjson.dumps(doc))
    assert (decision.decision, decision.by, decision.note) == ("reject", "bob", "paid")
    assert decision.at == "2026-10-01T03:00:00Z"
    assert verify(decision.doc, {KEY_ID: KEY}) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"by": ""}, "by"),
        ({"note": 3}, "note"),
        ({"note": "x" * 2001}, "note"),
        ({"at": "yesterday"}, "at"),
    ],
    ids=["unknown-decision", "nobody", "note-not-string", "note-too-long", "bad-time"],
)
def test_malformed_decision_is_refused_naming_the_field(change, field):
    doc = {**decision_message(req().request_id, "c-1", "approve", "alice", "", T), **change}
    with pytest.raises(DecodeError) as caught:
        parse_decision(orjson.dumps(doc))
    assert caught.value.field == field


def result(**overrides):
    options = {
        "step": "apply",
        "outcome": "done",
        "reason": "suspend applied",
        "backend": "log",
        "attempt": 1,
        "at_ms": T,
    }
    options.update(overrides)
    return result_message(req(), **options)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"outcome": "failed", "reason": "webhook answered 403"},
        {"step": "hold", "outcome": "awaiting_approval", "attempt": 0},
        {"step": "verify", "outcome": "refused", "attempt": 0},
        {"step": "reject", "outcome": "refused", "rejected_by": "bob", "note": "no"},
        {"approved_by": "alice"},
        {
            "step": "withdraw",
            "action": "resume",
            "reverses": "suspend",
            "rejected_by": "bob",
            "note": "",
        },
    ],
    ids=["done", "failed", "held", "bad-signature", "rejected", "approved", "withdrawn"],
)
def test_every_result_matches_the_result_schema(overrides):
    assert schema_errors("enforcement-result", result(**overrides)) == []


def test_result_id_is_the_same_for_a_repeat_and_new_for_a_new_step():
    assert result()["result_id"] == result(at_ms=T + 5000)["result_id"]
    assert result()["result_id"] != result(attempt=2)["result_id"]
    assert result()["result_id"] != result(step="withdraw")["result_id"]
    assert "note" not in result(note="")
    assert result(action="resume", reverses="suspend")["action"] == "resume"


def test_withdrawal_is_a_deterministic_resume_request():
    request = req()
    doc = withdrawal_request(request, "bob", "paid", "2026-10-02T00:00:00Z")
    assert doc == withdrawal_request(request, "bob", "paid", "2026-10-02T00:00:00Z")
    assert doc["request_id"] == withdrawal_id(request.request_id) != request.request_id
    assert (doc["action"], doc["customer_id"]) == ("resume", request.customer_id)
    assert doc["reason"] == (
        f"withdrawal of request {request.request_id} (suspend), rejected by bob: paid"
    )
    assert schema_errors("enforcement", signed(doc, KEY_ID, KEY)) == []


def test_dead_letter_of_a_forged_decision_matches_the_dead_letter_schema():
    error = DecodeError(
        "invalid_signature", "decision is not validly signed (unsigned)", "signature"
    )
    record = dead_letter_record(
        b"{}", error, {"topic": "enforcement-decisions", "partition": 0, "offset": 3}, T
    )
    assert schema_errors("dead-letter", record) == []


def test_record_survives_its_redis_fields():
    record = Record(
        request=req(requires_approval=True),
        state="withdrawing",
        attempt=2,
        withdraw_attempt=1,
        approved_by="alice",
        rejected_by="bob",
        note="paid",
        decided_at="2026-10-02T00:00:00Z",
        result={"result_id": "r1", "outcome": "done"},
        published="r0",
    )
    fields = record_fields(record, 7, T)
    assert fields["result_id"] == "r1"
    assert record_from_fields(fields) == (record, 7)
    bare = Record(request=req(), state="done")
    assert record_from_fields(record_fields(bare, 1, T)) == (bare, 1)
