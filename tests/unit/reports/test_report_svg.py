"""The SVG charts: what they draw is what they were given, and text cannot break out."""

from __future__ import annotations

import pytest
from html_parse import bars, external_references, read_page, series_points

from streamwatch.reports import svg


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        pytest.param(0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], id="unit"),
        pytest.param(0.0, 73.0, [0.0, 20.0, 40.0, 60.0, 80.0], id="rounds-up"),
        pytest.param(0.0, 9300.0, [0.0, 2000.0, 4000.0, 6000.0, 8000.0, 10000.0], id="thousands"),
        pytest.param(5.0, 5.0, [5.0], id="empty-range"),
    ],
)
def test_nice_ticks_cover_the_range_in_round_steps(low, high, ticks) -> None:
    assert svg.nice_ticks(low, high) == ticks


def test_line_chart_draws_every_point_of_every_series() -> None:
    chart = svg.line_chart(
        "c",
        "Spend",
        [
            svg.Series("spend", [(0, 1.0), (1, 3.0), (2, 2.0)]),
            svg.Series("baseline", [(0, 1.0), (2, 1.0)], dashed=True),
        ],
        x_label=str,
        y_title="USD",
        marks=[svg.Mark(1, "alert")],
    )
    page = read_page(chart)
    assert series_points(page, "c") == {"spend": 3, "baseline": 2}
    (spend,) = [a for t, a in page.charts["c"] if a.get("data-name") == "spend"]
    assert len(spend["points"].split()) == 3
    assert sum(1 for t, a in page.charts["c"] if a.get("class") == "mark") == 1


def test_step_line_holds_each_value_until_the_next_point() -> None:
    chart = svg.line_chart(
        "m", "Money", [svg.Series("USD", [(0, 1.0), (1, 2.0), (2, 0.5)], step=True)],
        x_label=str, y_title="USD",
    )  # fmt: skip
    (line,) = [a for t, a in read_page(chart).charts["m"] if t == "polyline"]
    # Three points and two risers: each new value starts at the previous one's height.
    points = line["points"].split()
    assert len(points) == 5
    assert points[1].split(",")[1] == points[0].split(",")[1]


def test_stacked_bars_draw_one_bar_per_non_zero_cell() -> None:
    chart = svg.stacked_bars(
        "b", "Alerts", ["d1", "d2", "d3"], [("spend_spike", [1, 0, 2]), ("chargeback", [0, 0, 3])],
        y_title="alerts",
    )  # fmt: skip
    assert bars(read_page(chart), "b") == {
        ("d1", "spend_spike"): 1.0,
        ("d3", "spend_spike"): 2.0,
        ("d3", "chargeback"): 3.0,
    }


def test_text_is_escaped() -> None:
    chart = svg.line_chart(
        "x", "<script>alert(1)</script>", [svg.Series('"><script>', [(0, 1.0)])],
        x_label=lambda _: "<b>", y_title="&",
    )  # fmt: skip
    page = read_page(chart)
    assert "script" not in page.tags
    assert external_references(page) == []


def test_no_data_is_said_not_drawn() -> None:
    page = read_page(svg.line_chart("e", "Empty", [], x_label=str, y_title="USD"))
    assert series_points(page, "e") == {}
    assert page.charts["e"]


def test_a_step_line_holds_its_last_value_to_the_end_of_the_axis() -> None:
    """One report of money at risk is still a line: the value holds until ``x_end``."""
    chart = svg.line_chart(
        "m", "Money", [svg.Series("USD", [(0, 5.0)], step=True)], x_label=str, y_title="USD",
        x_end=10,
    )  # fmt: skip
    page = read_page(chart)
    (line,) = [a for t, a in page.charts["m"] if t == "polyline"]
    points = line["points"].split()
    start, end = points[0], points[-1]
    assert start.split(",")[1] == end.split(",")[1]
    assert float(end.split(",")[0]) > float(start.split(",")[0])
    assert series_points(page, "m") == {"USD": 1}
    assert sum(1 for t, _ in page.charts["m"] if t == "circle") == 1
