"""Indicator lists on disk (mining pools, disposable email domains): load them at start,
reload them when they change.

A directory of indicator lists has the layout of ``streamwatch/config/indicators`` (the copy
shipped with streamwatch, the default): ``falco/miner_ports.txt``, ``falco/miner_domains.txt``,
``falco/https_miner_domains.txt``, ``falco/http_miner_domains.txt``,
``maltrail/crypto_mining.txt`` and ``disposable_email/domains.txt``; a missing list counts as
empty, but at least one must exist.
Operators point ``$STREAMWATCH_INDICATORS`` (or the caller's own setting) at a directory of
their own to use fresher lists.

``load_indicators`` reads and parses once. ``IndicatorWatcher`` keeps the lists in use and, each
time the caller's timer calls ``poll``, re-reads them if a file's size or modification time
changed; a good new version bumps ``version`` and is handed to the detectors with
``poll_into``. A bad one (unparseable, unreadable, every list gone) keeps the lists in use and
is reported in ``last_error``: a typo in a list must not blind the detector.

Parsing is the core's (``streamwatch.core.indicators``); only file access lives here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Final, Protocol, TypeGuard, runtime_checkable

from streamwatch.core.detectors.base import Capability, capabilities_of
from streamwatch.core.indicators import (
    LIST_NAMES,
    IndicatorError,
    Indicators,
    indicators_from_texts,
)

ENV_VAR: Final = "STREAMWATCH_INDICATORS"
"""Environment variable naming an indicator directory to use instead of the shipped one."""


@runtime_checkable
class UsesIndicators(Protocol):
    """Anything that takes indicator lists. A detector says so by declaring the capability
    ``INDICATORS`` (see ``streamwatch.core.detectors.base.IndicatorUser``)."""

    def use_indicators(self, indicators: Indicators) -> None:
        """Judge by ``indicators`` from the next event on."""
        ...


def default_indicator_dir() -> Path:
    """``$STREAMWATCH_INDICATORS`` if set, else the lists shipped in ``streamwatch.config``."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    return Path(str(files("streamwatch.config").joinpath("indicators")))


def read_texts(directory: Path) -> dict[str, str]:
    """The texts of the lists present in ``directory``, keyed by their ``LIST_NAMES`` name.

    Raises IndicatorError when none is there or one cannot be read as UTF-8.
    """
    texts = {}
    for name in LIST_NAMES:
        path = directory / name
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise IndicatorError(f"cannot read indicator list {path}: {exc}") from exc
    if not texts:
        raise IndicatorError(
            f"no indicator lists in {directory}; expected some of {', '.join(LIST_NAMES)}"
        )
    return texts


def load_indicators(directory: Path | None = None) -> Indicators:
    """Parse the lists in ``directory`` (default: ``default_indicator_dir()``).

    Raises IndicatorError naming the file and line at fault.
    """
    return indicators_from_texts(read_texts(directory or default_indicator_dir()))


Stamp = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class Reload:
    """The outcome of one poll that found the files changed."""

    version: int
    indicators: Indicators
    error: str | None = None
    """Set when the new files were rejected (and the previous lists kept)."""


class IndicatorWatcher:
    """The indicator lists in use, reloaded from ``directory`` when its files change.

    Not thread-safe; call ``poll`` from one timer. ``version`` starts at 1 and grows by one
    with every accepted reload; ``current.digest`` names the content.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_indicator_dir()
        self._stamp = self._stat()
        self.current = indicators_from_texts(read_texts(self.directory))
        self.version = 1
        self.last_error: str | None = None

    def _stat(self) -> Stamp:
        out = []
        for name in LIST_NAMES:
            try:
                st = (self.directory / name).stat()
            except OSError:
                continue
            out.append((name, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def poll(self) -> Reload | None:
        """Re-read the lists if their files changed; None when nothing changed.

        Returns the new version with its lists, or, when the new files are bad, the version
        still in use with ``error`` set.
        """
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            fresh = indicators_from_texts(read_texts(self.directory))
        except IndicatorError as exc:
            self.last_error = str(exc)
            return Reload(self.version, self.current, self.last_error)
        self.last_error = None
        if fresh.digest == self.current.digest:
            return None
        self.current = fresh
        self.version += 1
        return Reload(self.version, fresh)

    def poll_into(self, detectors: Iterable[object]) -> Reload | None:
        """``poll``, then hand accepted new lists to every detector that uses indicators."""
        reload = self.poll()
        if reload is not None and reload.error is None:
            for detector in detectors:
                if uses_indicators(detector):
                    detector.use_indicators(reload.indicators)
        return reload


def uses_indicators(target: object) -> TypeGuard[UsesIndicators]:
    """Whether ``target`` takes indicator lists: a detector when it declares ``INDICATORS``
    (``Core`` has checked it then has ``use_indicators``); any other object (a listener that
    is no detector, declaring no capabilities) when it has the method."""
    if hasattr(target, "capabilities"):
        return Capability.INDICATORS in capabilities_of(target)
    return isinstance(target, UsesIndicators)
