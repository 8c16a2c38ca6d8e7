"""``transactions.shorten_offsets_backoff``: AddOffsetsToTxn retried after 20 ms on
CONCURRENT_TRANSACTIONS only; every other answer keeps aiokafka's own backoff."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiokafka.errors import ConcurrentTransactions, CoordinatorLoadInProgressError
from aiokafka.producer import sender

from streamwatch.live.transactions import shorten_offsets_backoff

RETRY_BACKOFF_S = 0.1


def _answer(error: type[Exception] | None) -> float | None:
    fake_sender = SimpleNamespace(
        _retry_backoff=RETRY_BACKOFF_S,
        _txn_manager=SimpleNamespace(consumer_group_added=lambda _group: None),
    )
    handler = sender.AddOffsetsToTxnHandler(fake_sender, "group")
    code = 0 if error is None else error.errno  # type: ignore[attr-defined]
    return handler.handle_response(SimpleNamespace(error_code=code))


def test_concurrent_transactions_retried_sooner() -> None:
    shorten_offsets_backoff()
    assert _answer(ConcurrentTransactions) == pytest.approx(sender.BACKOFF_OVERRIDE)
    assert sender.BACKOFF_OVERRIDE < RETRY_BACKOFF_S


def test_other_answers_keep_their_backoff() -> None:
    shorten_offsets_backoff()
    assert _answer(CoordinatorLoadInProgressError) == pytest.approx(RETRY_BACKOFF_S)
    assert _answer(None) is None


def test_applied_once() -> None:
    shorten_offsets_backoff()
    patched = sender.AddOffsetsToTxnHandler.handle_response
    shorten_offsets_backoff()
    assert sender.AddOffsetsToTxnHandler.handle_response is patched
