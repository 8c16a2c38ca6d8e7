"""The command line's conventions: --version, and help when no command is given."""

from __future__ import annotations

import pytest

from streamwatch import __version__
from streamwatch.cli import COMMANDS, main


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"streamwatch {__version__}"


def test_no_command_prints_the_help_listing_every_command(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: streamwatch")
    assert all(name in out for name in COMMANDS)
