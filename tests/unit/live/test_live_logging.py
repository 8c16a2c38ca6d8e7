"""Logs are JSON lines with per-message context, ours and the libraries' alike."""

from __future__ import annotations

import io
import logging

import orjson
import pytest
import structlog

from streamwatch import logging as swlog


@pytest.fixture
def stream():
    out = io.StringIO()
    swlog.configure("info", stream=out)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _lines(out: io.StringIO) -> list[dict]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_context_bound_per_message_appears_in_each_line(stream):
    log = structlog.get_logger("t")
    with structlog.contextvars.bound_contextvars(customer_id="c-1", topic="usage", offset=7):
        log.info("alert", kind="budget_threshold")
    log.info("after")
    first, second = _lines(stream)
    assert first["event"] == "alert"
    assert (first["customer_id"], first["topic"], first["offset"]) == ("c-1", "usage", 7)
    assert first["level"] == "info"
    assert first["timestamp"].endswith("Z")
    assert "customer_id" not in second


def test_level_filters_our_logs(stream):
    structlog.get_logger("t").debug("hidden")
    assert stream.getvalue() == ""


def test_library_logs_are_json_and_quieter(stream):
    logging.getLogger("faust.worker").info("chatty")
    logging.getLogger("faust.worker").warning("worth seeing %s", "x")
    (line,) = _lines(stream)
    assert line["event"] == "worth seeing x"
    assert line["logger"] == "faust.worker"
    assert line["level"] == "warning"


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="verbose"):
        swlog.configure("verbose")
