"""Every ``STREAMWATCH_*`` setting the code reads is a row of the README's settings table."""

from __future__ import annotations

import re
from pathlib import Path

from streamwatch.settings_file import CONFIG_VARIABLE, PREFIX, VARIABLES

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"STREAMWATCH_[A-Z0-9_]*[A-Z0-9]")


def readme_table() -> dict[str, list[str]]:
    """The settings table (the one headed ``| variable | settings-file key |``): name -> cells."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| variable | settings-file"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def names_in_source() -> set[str]:
    found = set()
    for path in (REPO / "src" / "streamwatch").rglob("*.py"):
        found.update(NAME.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_setting_in_the_source_is_in_the_readme_table() -> None:
    used = names_in_source() | {variable.name for variable in VARIABLES}
    assert len(used) > 20  # the scan found the settings
    missing = sorted(used - readme_table().keys())
    assert not missing, f"add these to the README's settings table: {missing}"


def test_the_readme_table_lists_only_real_settings_with_their_file_keys() -> None:
    known = {variable.name for variable in VARIABLES} | {CONFIG_VARIABLE}
    table = readme_table()
    assert sorted(table.keys() - known) == []
    for name, cells in table.items():
        if name != CONFIG_VARIABLE:
            assert cells[0] == f"`{name.removeprefix(PREFIX).lower()}`", name
