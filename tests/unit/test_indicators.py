"""Indicator lists on disk (``streamwatch.indicators``): loading at start, the environment
override, and reloading on change without a restart."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from streamwatch.core.detectors.budget import BudgetDetector
from streamwatch.core.detectors.crypto_mining import CryptoMiningDetector
from streamwatch.core.engine import default_detectors
from streamwatch.core.indicators import LIST_NAMES, IndicatorError, Indicators
from streamwatch.indicators import (
    ENV_VAR,
    IndicatorWatcher,
    default_indicator_dir,
    load_indicators,
)

SHIPPED = default_indicator_dir()


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the shipped lists."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    target = tmp_path / "indicators"
    shutil.copytree(SHIPPED, target)
    return target


def touch(path: Path, text: str) -> None:
    """Rewrite ``path`` and move its mtime on, so that a change shows on coarse clocks too."""
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_shipped_lists_are_complete_and_carry_their_licences() -> None:
    for name in LIST_NAMES:
        assert (SHIPPED / name).is_file(), name
    assert (SHIPPED / "falco" / "LICENSE").read_text().find("Apache License") >= 0
    assert (SHIPPED / "maltrail" / "LICENSE").read_text().startswith("The MIT License")
    source = (SHIPPED / "SOURCE.txt").read_text()
    assert "c72713ee2e6330195979124de4f656546ad1e0fd" in source
    assert "8adace159e1e9418ca4dd1a4b07f84917c3b6155" in source


def test_load_reads_the_shipped_lists_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    indicators = load_indicators()
    assert indicators.judge("xmr-eu1.nanopool.org", 14444) is not None


def test_environment_variable_points_at_another_directory(
    lists: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (lists / "maltrail" / "crypto_mining.txt").unlink()
    monkeypatch.setenv(ENV_VAR, str(lists))
    assert default_indicator_dir() == lists
    indicators = load_indicators()
    assert indicators.counts["maltrail/domains"] == 0, "a missing list counts as empty"
    assert indicators.judge("pool.supportxmr.com", 3333) is not None


def test_a_directory_without_lists_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IndicatorError, match="no indicator lists"):
        load_indicators(tmp_path)


def test_watcher_reports_nothing_while_files_are_unchanged(lists: Path) -> None:
    watcher = IndicatorWatcher(lists)
    assert watcher.version == 1
    assert watcher.poll() is None
    touch(lists / "falco" / "miner_ports.txt", (lists / "falco" / "miner_ports.txt").read_text())
    assert watcher.poll() is None, "same content, new mtime: nothing to reload"
    assert watcher.version == 1


class Recorder:
    """A detector that judges by indicator lists, recording the lists it was handed."""

    def __init__(self) -> None:
        self.handed: list[Indicators] = []

    def use_indicators(self, indicators: Indicators) -> None:
        self.handed.append(indicators)


def test_watcher_hands_changed_lists_to_the_detectors_that_use_them(lists: Path) -> None:
    watcher = IndicatorWatcher(lists)
    assert watcher.current.judge("pool.new-coin.example", 3333) is None
    recorder = Recorder()
    domains = lists / "falco" / "miner_domains.txt"
    touch(domains, domains.read_text() + "pool.new-coin.example\n")
    reload = watcher.poll_into([BudgetDetector(), recorder])
    assert reload is not None
    assert reload.error is None
    assert reload.version == watcher.version == 2
    assert recorder.handed == [reload.indicators]
    assert reload.indicators is watcher.current
    assert watcher.current.judge("pool.new-coin.example", 3333) is not None
    assert watcher.poll_into([recorder]) is None
    assert len(recorder.handed) == 1


def test_watcher_keeps_the_lists_in_use_when_the_new_files_are_bad(lists: Path) -> None:
    watcher = IndicatorWatcher(lists)
    before = watcher.current
    recorder = Recorder()
    ports = lists / "falco" / "miner_ports.txt"
    touch(ports, ports.read_text() + "stratum\n")
    reload = watcher.poll_into([recorder])
    assert reload is not None
    assert reload.error is not None
    assert "falco/miner_ports.txt:30" in reload.error
    assert watcher.last_error == reload.error
    assert (reload.version, watcher.current, recorder.handed) == (1, before, [])
    touch(ports, ports.read_text().replace("stratum\n", "3390\n"))
    fixed = watcher.poll_into([recorder])
    assert fixed is not None
    assert (fixed.version, fixed.error, watcher.last_error) == (2, None, None)
    assert 3390 in recorder.handed[-1].miner_ports


def test_watcher_notices_a_list_that_disappears(lists: Path) -> None:
    watcher = IndicatorWatcher(lists)
    before = watcher.current.judge("stratum.antpool.com", 443)
    assert before is not None
    assert before.strength == "pool"
    (lists / "falco" / "https_miner_domains.txt").unlink()
    reload = watcher.poll()
    assert reload is not None
    match = reload.indicators.judge("stratum.antpool.com", 443)
    assert match is not None
    assert match.strength == "host", "443 is not a miner port without the https list"


def test_reloaded_lists_reach_crypto_mining_among_the_default_detectors(lists: Path) -> None:
    watcher = IndicatorWatcher(lists)
    detectors = default_detectors(watcher.current)
    (mining,) = (d for d in detectors if isinstance(d, CryptoMiningDetector))
    assert mining.indicators is watcher.current
    domains = lists / "falco" / "miner_domains.txt"
    touch(domains, domains.read_text() + "pool.new-coin.example\n")
    reload = watcher.poll_into(detectors)
    assert reload is not None
    assert mining.indicators is reload.indicators
    assert mining.indicators.judge("pool.new-coin.example", 3333) is not None
