"""The detectors streamwatch runs: each registers itself, and this module finds them.

A detector module marks its class with ``@register(rank=...)``. ``registered()`` imports every
module and package under ``streamwatch.core.detectors`` once (so a new detector module is found
without being listed anywhere) and returns the classes registered, by rank and then name:
findings of one event are raised in that order. ``default_detectors`` (what every entry point
runs, through ``streamwatch.config.build_core``), the alert kinds the schemas accept
(``registered_kinds``) and the determinism suite all go by it, so a registered detector is run,
checked and covered with no other edit.

A detector class keeps the contract of ``streamwatch.core.detectors.base``: ``name``,
``version``, ``event_types``, ``capabilities`` (checked by ``Core``), ``kinds``,
``state_version`` and ``state_reads``, ``from_setup``, and the methods of ``Detector`` and of
its capabilities. ``register`` refuses (``ContractError``) a second detector of one name or
one alert kind.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Final, TypeVar

from streamwatch.core.detectors.base import ContractError, Detector, Registered, Setup

LAST: Final = 1000
"""The rank of a detector registered without one: after the packaged detectors."""

_NOT_DETECTORS: Final = frozenset({"base", "registry"})

R = TypeVar("R", bound=type[Registered])

_ranks: dict[type[Registered], int] = {}
_discovered = False


def register(*, rank: int = LAST) -> Callable[[R], R]:
    """A class decorator listing a detector class in the registry at ``rank`` (lower ranks
    raise their findings of one event first; ties go by name). Raises ContractError when a
    registered detector already has the class's name or one of its kinds."""

    def add(cls: R) -> R:
        for other in _ranks:
            if other is cls:
                continue
            if other.name == cls.name:
                raise ContractError(f"two detectors are named {cls.name!r}")
            shared = other.kinds & cls.kinds
            if shared:
                raise ContractError(
                    f"detectors {other.name!r} and {cls.name!r} both raise {sorted(shared)}"
                )
        _ranks[cls] = rank
        return cls

    return add


def unregister(cls: type[Registered]) -> None:
    """Take ``cls`` out of the registry (for tests that register an example detector)."""
    _ranks.pop(cls, None)


def registered() -> tuple[type[Registered], ...]:
    """Every registered detector class, in the order findings of one event are raised."""
    _discover()
    return tuple(sorted(_ranks, key=lambda cls: (_ranks[cls], cls.name)))


def build(setup: Setup | None = None) -> list[Detector]:
    """One instance of every registered detector, configured by ``setup``."""
    setup = setup or Setup()
    return [cls.from_setup(setup) for cls in registered()]


def registered_kinds() -> frozenset[str]:
    """Every alert kind a registered detector raises."""
    return frozenset(kind for cls in registered() for kind in cls.kinds)


def _discover() -> None:
    """Import every module and package of ``streamwatch.core.detectors`` (once), so that their
    ``@register`` decorators run."""
    global _discovered  # noqa: PLW0603 (imported once per process, on first use)
    if _discovered:
        return
    package = importlib.import_module(__package__ or "streamwatch.core.detectors")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_DETECTORS and not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    _discovered = True
