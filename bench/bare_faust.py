"""A bare Faust agent that only counts messages: the framework's own ceiling, for the live
benchmark (``bench/live_throughput.py`` runs it; not meant to be run by hand).

    python bench/bare_faust.py KAFKA APP_ID TOPIC...

Same broker settings as the worker where they matter (earliest offsets, a commit every
second, at-least-once), no state, no outputs.
"""

from __future__ import annotations

import sys
import tempfile

import faust


def main() -> None:
    kafka, app_id, *topics = sys.argv[1:]
    app = faust.App(
        app_id,
        broker=f"kafka://{kafka}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="bare-faust-"),  # not the current folder
        web_enabled=False,
        autodiscover=False,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
    )
    source = app.topic(
        *topics, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    seen = 0

    async def count(stream: faust.StreamT[bytes]) -> None:
        nonlocal seen
        async for _ in stream.events():
            seen += 1

    app.agent(source, name="bare.count")(count)
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
