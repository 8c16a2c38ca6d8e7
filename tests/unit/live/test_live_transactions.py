"""``transactions.shorten_transaction_backoffs``: a transaction's requests are retried
after 20 ms when the previous transaction is still being completed; every other answer keeps
aiokafka's own backoff."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import (
    ConcurrentTransactions,
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    NotEnoughReplicasError,
)
from aiokafka.producer import sender
from aiokafka.structs import TopicPartition

from streamwatch.live.transactions import shorten_transaction_backoffs

RETRY_BACKOFF_S = 0.1


def _sender(transactional: bool = True) -> Any:
    dead: list[Any] = []
    return SimpleNamespace(
        _retry_backoff=RETRY_BACKOFF_S,
        client=None,
        _txn_manager=None
        if not transactional
        else SimpleNamespace(
            consumer_group_added=lambda _group: None,
            offset_committed=lambda *_args: None,
        ),
        _coordinator_dead=dead.append,
        dead=dead,
    )


def _code(error: type[Exception] | None) -> int:
    return 0 if error is None else error.errno  # type: ignore[attr-defined]


def _add_offsets(error: type[Exception] | None) -> float | None:
    handler = sender.AddOffsetsToTxnHandler(_sender(), "group")
    return handler.handle_response(SimpleNamespace(error_code=_code(error)))


def _commit_offsets(error: type[Exception] | None, fake: Any = None) -> float | None:
    handler = sender.TxnOffsetCommitHandler(fake or _sender(), {}, "group")
    return handler.handle_response(SimpleNamespace(errors=[("topic", [(0, _code(error))])]))


def _produce(error: type[Exception] | None, transactional: bool = True) -> float:
    """The wait before a produce request's batches are sent again."""
    batch = SimpleNamespace(done=lambda *_args: None, expired=lambda: False)
    handler = sender.SendProduceReqHandler(
        _sender(transactional), {TopicPartition("topic", 0): batch}
    )
    response = SimpleNamespace(API_VERSION=5, topics=[("topic", [(0, _code(error), -1, -1, -1)])])
    handler.handle_response(response)
    assert handler._to_reenqueue == ([] if error is None else [batch])
    return float(handler._default_backoff)


def test_previous_transaction_pending_retried_sooner() -> None:
    shorten_transaction_backoffs()
    assert sender.BACKOFF_OVERRIDE < RETRY_BACKOFF_S
    assert _add_offsets(ConcurrentTransactions) == pytest.approx(sender.BACKOFF_OVERRIDE)
    fake = _sender()
    assert _commit_offsets(CoordinatorNotAvailableError, fake) == pytest.approx(
        sender.BACKOFF_OVERRIDE
    )
    assert fake.dead, "the group coordinator is still looked up again"
    assert _produce(NotEnoughReplicasError) == pytest.approx(sender.BACKOFF_OVERRIDE)


def test_other_answers_keep_their_backoff() -> None:
    shorten_transaction_backoffs()
    assert _add_offsets(CoordinatorLoadInProgressError) == pytest.approx(RETRY_BACKOFF_S)
    assert _commit_offsets(CoordinatorLoadInProgressError) == pytest.approx(RETRY_BACKOFF_S)
    assert _add_offsets(None) is None
    # Without a transaction, too few in-sync replicas is a real shortage.
    assert _produce(NotEnoughReplicasError, transactional=False) == pytest.approx(RETRY_BACKOFF_S)


def test_applied_once() -> None:
    shorten_transaction_backoffs()
    handlers = (
        sender.AddOffsetsToTxnHandler,
        sender.TxnOffsetCommitHandler,
        sender.SendProduceReqHandler,
    )
    patched = [h.handle_response for h in handlers]
    shorten_transaction_backoffs()
    assert patched == [h.handle_response for h in handlers]
