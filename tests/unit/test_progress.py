"""The progress bar: drawn on a terminal only, never when turned off (--json) or piped."""

from __future__ import annotations

import io

import pytest

from streamwatch.progress import Progress, render


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _smart_terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")


def test_render_clamps_and_fills_in_proportion():
    assert render("replay", 25, 100) == f"replay [{'#' * 10}{'-' * 30}]  25.0%"
    assert render("x", 150, 100).endswith("100.0%")
    assert render("x", -5, 100).endswith("  0.0%")


def test_a_terminal_gets_the_bar_and_a_final_newline():
    out = Terminal()
    bar = Progress(1000, "import", out)
    bar.advance(500)
    bar.finish()
    text = out.getvalue()
    assert "\rimport [" in text
    assert " 50.0%" in text
    assert text.endswith("100.0%\n")


def test_redraws_are_bounded_whatever_the_number_of_steps():
    out = Terminal()
    bar = Progress(1_000_000, "replay", out)
    for _ in range(100_000):
        bar.advance(10)
    assert out.getvalue().count("\r") <= 201


@pytest.mark.parametrize(
    ("stream", "enabled"),
    [(io.StringIO(), True), (Terminal(), False)],
    ids=["piped", "turned-off-for-json"],
)
def test_nothing_is_written_when_piped_or_turned_off(stream, enabled):
    bar = Progress(10, "generate", stream, enabled=enabled)
    bar.advance(5)
    bar.stop()
    bar.finish()
    assert stream.getvalue() == ""


def test_a_dumb_terminal_gets_no_bar(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    out = Terminal()
    bar = Progress(10, "replay", out)
    bar.advance(10)
    bar.finish()
    assert out.getvalue() == ""


def test_update_sets_a_position_and_stop_ends_the_line_where_it_is():
    out = Terminal()
    bar = Progress(100, "generate", out)
    bar.update(40)
    bar.update(30)  # a position, not an increment
    assert bar.done == 30
    bar.stop()
    assert out.getvalue().endswith("\n")
    assert "100.0%" not in out.getvalue()
