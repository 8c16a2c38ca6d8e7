"""Options several commands share, spelt and explained once."""

from __future__ import annotations

import argparse


def add_log_level(parser: argparse.ArgumentParser) -> None:
    """``--log-level`` of a long-running service (JSON lines on stderr)."""
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="log level (JSON lines on stderr; default info)",
    )


def add_http_retries(parser: argparse.ArgumentParser, prefix: str = "", what: str = "") -> None:
    """``--<prefix>timeout``, ``--<prefix>retries`` and ``--<prefix>backoff`` of a sender
    that POSTs over HTTP and retries 5xx, 408, 429, timeouts and connection errors."""
    whose = f"the {what}'s" if what else "an"
    parser.add_argument(
        f"--{prefix}timeout",
        type=float,
        default=10.0,
        metavar="S",
        help=f"seconds to wait for {whose} answer (default 10)",
    )
    parser.add_argument(
        f"--{prefix}retries",
        type=int,
        default=3,
        metavar="N",
        help="retries after a 5xx, 408, 429, timeout or connection error (default 3)",
    )
    parser.add_argument(
        f"--{prefix}backoff",
        type=float,
        default=0.5,
        metavar="S",
        help="seconds before the first retry, doubling after each (default 0.5)",
    )
