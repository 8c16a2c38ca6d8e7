"""JSONL files in and out: one message per line, UTF-8 JSON (input may be anything at all)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import orjson

from streamwatch.core.events import Alert, EnforcementRequest
from streamwatch.core.signing import request_message
from streamwatch.progress import Progress
from streamwatch.replay.runner import Source


def file_source(path: Path, progress: Progress | None = None) -> Source:
    """A replay source reading ``path`` line by line; blank lines are skipped."""

    def lines() -> Iterator[tuple[bytes, int]]:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                if progress is not None:
                    progress.advance(len(raw))
                if not raw.isspace():
                    yield raw.rstrip(b"\r\n"), number

    name = str(path)
    return Source(lines(), lambda number: {"file": name, "line": number})


class JsonlSink:
    """Writes alerts, requests and dead letters to JSONL files (any of them may be None).

    Requests are signed under ``signing_key`` (key id, secret) when one is given, byte for byte
    as the live worker signs them. With ``keep_alerts`` every alert is also kept, as written,
    in ``kept_alerts`` (for the HTML report).
    """

    def __init__(
        self,
        alerts: Path | None,
        requests: Path | None,
        dead_letters: Path | None,
        signing_key: tuple[str, bytes] | None = None,
        *,
        keep_alerts: bool = False,
    ) -> None:
        self.signing_key = signing_key
        self.keep_alerts = keep_alerts
        self.kept_alerts: list[dict[str, Any]] = []
        self._files: list[IO[bytes]] = []
        self._alerts = self._open(alerts)
        self._requests = self._open(requests)
        self._dead = self._open(dead_letters)

    def _open(self, path: Path | None) -> IO[bytes] | None:
        if path is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("wb", buffering=1 << 20)
        self._files.append(handle)
        return handle

    def alert(self, alert: Alert) -> None:
        if self._alerts is None and not self.keep_alerts:
            return
        doc = alert.to_dict()
        if self._alerts is not None:
            self._alerts.write(orjson.dumps(doc) + b"\n")
        if self.keep_alerts:
            self.kept_alerts.append(doc)

    def request(self, request: EnforcementRequest) -> None:
        if self._requests is not None:
            message = request_message(request, self.signing_key)
            self._requests.write(orjson.dumps(message) + b"\n")

    def dead_letter(self, record: dict[str, Any]) -> None:
        if self._dead is not None:
            self._dead.write(orjson.dumps(record) + b"\n")

    def close(self) -> None:
        for handle in self._files:
            handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
