"""Test modules are imported by their file name alone (the test folders are not packages), so two
with one name in different folders break collection of the whole suite."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_name_is_unique() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    assert names["test_test_modules.py"] == 1, "the premise: this module is found"
    assert {name: n for name, n in names.items() if n > 1} == {}
