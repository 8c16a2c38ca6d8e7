"""Request signatures: deterministic, verified against the right key, refused otherwise."""

from __future__ import annotations

from streamwatch.core.signing import sign, signed, verify

REQUEST = {"request_id": "r1", "customer_id": "c1", "action": "suspend", "alert_ids": ["a1"]}
KEYS = {"k1": b"secret-one", "k2": b"secret-two"}


def test_the_same_request_and_key_give_the_same_signature_whatever_the_key_order() -> None:
    reordered = dict(reversed(list(REQUEST.items())))
    assert sign(REQUEST, "k1", KEYS["k1"]) == sign(reordered, "k1", KEYS["k1"])
    assert sign(REQUEST, "k1", KEYS["k1"]).startswith("v1:k1:")


def test_a_signed_request_verifies_under_either_current_key() -> None:
    assert verify(signed(REQUEST, "k1", KEYS["k1"]), KEYS) is None
    assert verify(signed(REQUEST, "k2", KEYS["k2"]), KEYS) is None


def test_unsigned_forged_altered_and_unknown_key_requests_are_refused_with_a_reason() -> None:
    good = signed(REQUEST, "k1", KEYS["k1"])
    assert verify(REQUEST, KEYS) == "unsigned"
    assert verify(signed(REQUEST, "k1", b"guessed"), KEYS) is not None
    assert "forged or altered" in str(verify({**good, "action": "resume"}, KEYS))
    assert verify(signed(REQUEST, "k0", b"old"), KEYS) == "unknown key id 'k0'"
    assert "form" in str(verify({**REQUEST, "signature": "abc"}, KEYS))
