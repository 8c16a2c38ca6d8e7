"""What each registered scenario is, in one line: for ``streamwatch generate --list-scenarios``.

The registry holds functions, and their docstrings are the one description every scenario
already has, so the listing reads them rather than keeping a second list that would drift: the
first sentence of the function's docstring, or, where that only points at its module ("see the
module docstring", "described in the module docstring"), the first sentence of the module's.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from typing import Final

from streamwatch.generator.scenarios import CONSEQUENCES, SCENARIOS

_POINTER: Final = re.compile(r"\s*\((?:see|as in) the module docstring\)", re.IGNORECASE)
_NOTE: Final = re.compile(r"\((?P<note>[^)]*)\):\s*(?P<rest>.*)")
_SENTENCE_END: Final = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    """A scenario's name, its one-line summary and the alert kinds its incidents may also
    raise besides those it labels (``CONSEQUENCES``)."""

    name: str
    summary: str
    also: tuple[str, ...]


def describe_scenarios() -> list[ScenarioInfo]:
    """Every registered scenario, by name. Deterministic."""
    return [
        ScenarioInfo(name, _summary(name), tuple(sorted(CONSEQUENCES.get(name, ()))))
        for name in sorted(SCENARIOS)
    ]


def format_scenarios(infos: list[ScenarioInfo]) -> str:
    """One line per scenario: the name padded to a column, the summary, the extra kinds."""
    width = max((len(i.name) for i in infos), default=0)
    lines = []
    for info in infos:
        also = f" (may also raise {', '.join(info.also)})" if info.also else ""
        lines.append(f"{info.name.ljust(width)}  {info.summary}{also}")
    return "\n".join(lines)


def first_sentence(text: str | None) -> str:
    """The first sentence of ``text`` on one line, without a trailing pointer to the module
    docstring; empty for no text."""
    flat = " ".join((text or "").split())
    sentence = _SENTENCE_END.split(flat, maxsplit=1)[0]
    return _POINTER.sub("", sentence).strip()


def _summary(name: str) -> str:
    function = SCENARIOS[name]
    own = first_sentence(inspect.getdoc(function))
    if own and "module docstring" not in own:
        return own
    module = sys.modules.get(function.__module__)
    text = first_sentence(inspect.getdoc(module) if module else None)
    # Module docstrings of one scenario open with "``name``: what it is" or
    # "``name`` (a note): what it is"; the note goes after.
    text = text.removeprefix(f"``{name}``").strip()
    note = _NOTE.match(text)
    if note:
        text = f"{note['rest']} ({note['note']})"
    text = text.removeprefix(":").strip()
    return text[:1].upper() + text[1:] if text else name
