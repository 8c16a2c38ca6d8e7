"""Structured logs: one JSON object per line on stderr, configured once at the entry point.

Our own code logs through ``structlog.get_logger()``; Faust, mode and aiokafka log through the
standard library, whose records are rendered to the same JSON lines. Per-message context
(customer_id, topic, partition, offset) is bound with ``structlog.contextvars`` by the worker
and merged into every line logged while it is bound. The core never logs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Final, TextIO

import orjson
import structlog
from structlog.typing import Processor

LEVELS: Final = ("debug", "info", "warning", "error", "critical")

_THIRD_PARTY: Final = ("faust", "mode", "aiokafka", "kafka", "redis", "asyncio", "venusian")
"""Libraries that log chattily at INFO; kept at WARNING unless the level is DEBUG."""


def _render(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> str:
    return orjson.dumps(event_dict, default=repr).decode()


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log (ours and the libraries') to ``stream`` (stderr) as JSON lines.

    Idempotent: calling it again replaces the previous configuration. Raises ValueError for
    a level not in ``LEVELS``.
    """
    if level.lower() not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    number = logging.getLevelName(level.upper())
    out = sys.stderr if stream is None else stream
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _render,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.WriteLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _render,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(number)
    for name in _THIRD_PARTY:
        logging.getLogger(name).setLevel(number if number <= logging.DEBUG else logging.WARNING)
