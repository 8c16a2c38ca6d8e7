"""Signatures on enforcement requests, so a suspension worker acts only on requests this system
made.

A request is signed with HMAC-SHA256 over its canonical JSON (keys sorted, no whitespace, the
``signature`` field left out) under a shared secret from configuration. The signature field
reads ``v1:<key_id>:<hex digest>``; the key id lets a worker hold the current and the previous
key while keys are rotated. Deterministic: the same request and key give the same signature,
so replay's output equals the live topic's.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final

import orjson

from streamwatch.core.events import EnforcementRequest

SIGNATURE_FIELD: Final = "signature"
SCHEME: Final = "v1"


def canonical(message: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the message without its signature, keys sorted."""
    body = {k: v for k, v in message.items() if k != SIGNATURE_FIELD}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign(message: Mapping[str, Any], key_id: str, key: bytes) -> str:
    """The signature of ``message`` under ``key`` (see the module docstring)."""
    digest = hmac.new(key, canonical(message), hashlib.sha256).hexdigest()
    return f"{SCHEME}:{key_id}:{digest}"


def signed(message: Mapping[str, Any], key_id: str, key: bytes) -> dict[str, Any]:
    """A copy of ``message`` with its signature field set."""
    out = dict(message)
    out[SIGNATURE_FIELD] = sign(message, key_id, key)
    return out


def verify(message: Mapping[str, Any], keys: Mapping[str, bytes]) -> str | None:
    """Why ``message`` is not validly signed by one of ``keys`` (key id -> secret), or None if
    it is. The reason is meant for the results topic: "unsigned", "unknown key id 'k0'", ..."""
    signature = message.get(SIGNATURE_FIELD)
    if not isinstance(signature, str) or not signature:
        return "unsigned"
    parts = signature.split(":")
    if len(parts) != 3 or parts[0] != SCHEME:
        return f"signature is not of the form {SCHEME}:<key id>:<hex>"
    key = keys.get(parts[1])
    if key is None:
        return f"unknown key id {parts[1]!r}"
    expected = sign(message, parts[1], key)
    if not hmac.compare_digest(expected, signature):
        return "signature does not match the request (forged or altered)"
    return None


def signer(message: Mapping[str, Any]) -> str | None:
    """The key id in ``message``'s signature (who signed it, once ``verify`` accepted it)."""
    signature = message.get(SIGNATURE_FIELD)
    parts = signature.split(":") if isinstance(signature, str) else []
    return parts[1] if len(parts) == 3 else None


def request_message(
    request: EnforcementRequest, signing_key: tuple[str, bytes] | None
) -> dict[str, Any]:
    """The wire form of ``request``, signed under ``signing_key`` (key id, secret) if given.

    Live and replay both write requests through this, so that their output is the same.
    """
    message = request.to_dict()
    return message if signing_key is None else signed(message, *signing_key)
