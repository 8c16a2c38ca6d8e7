"""The NAB scorer of bench/nab_scoring.py on tiny hand-made files, so that its arithmetic is
checked against SCORING.md rather than against itself."""

from __future__ import annotations

import pytest

from nab_scoring import (
    PROFILES,
    Profile,
    best_threshold,
    probation_length,
    scaled_sigmoid,
    score_corpus,
    score_file,
)

STANDARD = PROFILES[0]
LOW_FN = PROFILES[2]

# 40 rows: rows 0-5 are probationary (floor(0.15 * 40) = 6); one window over rows 20-29.
ROWS = 40
WINDOW = [(20, 29)]


def scores_with(*detections: int, rows: int = ROWS) -> list[float]:
    out = [0.0] * rows
    for i in detections:
        out[i] = 1.0
    return out


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(40, 6, id="15-percent"),
        pytest.param(4033, 604, id="floor"),
        pytest.param(5000, 750, id="at-the-cap"),
        pytest.param(15_000, 750, id="capped-at-750"),
    ],
)
def test_probation_is_15_percent_capped_at_750_rows(rows: int, expected: int) -> None:
    assert probation_length(rows) == expected


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        pytest.param(-1.0, 0.98661, id="left-edge"),
        pytest.param(-0.5, 0.84828, id="middle"),
        pytest.param(0.0, 0.0, id="right-edge"),
        pytest.param(1.0, -0.98661, id="a-width-after"),
        pytest.param(3.0, -1.0, id="far-after"),
    ],
)
def test_scaled_sigmoid_matches_the_published_values(y: float, expected: float) -> None:
    assert scaled_sigmoid(y) == pytest.approx(expected, abs=1e-5)


def test_detection_at_the_left_edge_of_a_window_earns_the_full_true_positive_weight() -> None:
    result = score_file("f", scores_with(20), WINDOW, STANDARD, threshold=0.5)
    assert result.score == pytest.approx(1.0)
    assert (result.detected, result.false_positives) == (1, 0)


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    # Row 25: y = -(29 - 25 + 1) / 10 = -0.5, credit sigma(-0.5) / sigma(-1) = 0.85979.
    late = score_file("f", scores_with(25), WINDOW, STANDARD, threshold=0.5)
    both = score_file("f", scores_with(25, 27, 29), WINDOW, STANDARD, threshold=0.5)
    assert late.score == pytest.approx(0.8597926, abs=1e-6)
    assert both.score == pytest.approx(late.score)


def test_missed_window_costs_the_false_negative_weight() -> None:
    assert score_file("f", scores_with(), WINDOW, STANDARD, 0.5).score == -1.0
    assert score_file("f", scores_with(), WINDOW, LOW_FN, 0.5).score == -2.0


def test_false_positive_before_any_window_costs_the_full_weight() -> None:
    result = score_file("f", scores_with(10, 20), WINDOW, STANDARD, threshold=0.5)
    assert result.score == pytest.approx(1.0 - 0.11)
    assert result.false_positives == 1


def test_false_positive_after_a_window_costs_less_the_closer_it_is() -> None:
    # Row 31: y = |29 - 31| / (10 - 1) = 2/9, sigma = -0.50467; row 35: y = 6/9, -0.93111.
    near = score_file("f", scores_with(20, 31), WINDOW, STANDARD, threshold=0.5)
    far = score_file("f", scores_with(20, 35), WINDOW, STANDARD, threshold=0.5)
    assert near.score == pytest.approx(1.0 - 0.11 * 0.5046724, abs=1e-6)
    assert far.score == pytest.approx(1.0 - 0.11 * 0.9311096, abs=1e-6)


def test_detections_in_the_probationary_period_are_not_scored() -> None:
    result = score_file("f", scores_with(2, 5), WINDOW, STANDARD, threshold=0.5)
    assert result.score == -1.0
    assert result.false_positives == 0


def test_window_inside_the_probationary_period_does_not_count() -> None:
    result = score_file("f", scores_with(), [(1, 4), *WINDOW], STANDARD, threshold=0.5)
    assert (result.windows, result.score) == (1, -1.0)


def test_threshold_decides_what_is_a_detection() -> None:
    scores = [0.0] * ROWS
    scores[10], scores[22] = 0.9, 0.4
    assert score_file("f", scores, WINDOW, STANDARD, 0.5).score == pytest.approx(-1.11)
    assert score_file("f", scores, WINDOW, STANDARD, 0.4).score == pytest.approx(
        -0.11 + scaled_sigmoid(-(29 - 22 + 1) / 10) / scaled_sigmoid(-1.0)
    )


def test_best_threshold_is_the_one_with_the_best_total_over_all_files() -> None:
    # File a: a false positive at 0.9, its window's detection at 0.4. File b: a detection at 0.6.
    a = [0.0] * ROWS
    a[10], a[20] = 0.9, 0.4
    b = [0.0] * ROWS
    b[20] = 0.6
    corpus = {"a": (a, WINDOW), "b": (b, WINDOW)}
    threshold, total = best_threshold(corpus, STANDARD)
    assert threshold == 0.4
    assert total == pytest.approx(2.0 - 0.11)


def test_ties_go_to_the_higher_threshold() -> None:
    # Lowering the threshold from 0.8 to 0.3 adds nothing: a detection in an already detected
    # window.
    a = [0.0] * ROWS
    a[20], a[22] = 0.8, 0.3
    threshold, total = best_threshold({"a": (a, WINDOW)}, STANDARD)
    assert (threshold, total) == (0.8, 1.0)


def test_nothing_detected_scores_the_null_detector() -> None:
    result = score_corpus({"a": (scores_with(), WINDOW), "b": (scores_with(), WINDOW)}, STANDARD)
    assert result.threshold == float("inf")
    assert (result.raw, result.null, result.perfect) == (-2.0, -2.0, 2.0)
    assert result.normalised == 0.0


def test_perfect_detection_normalises_to_100_in_every_profile() -> None:
    corpus = {"a": (scores_with(20), WINDOW), "b": (scores_with(20), WINDOW)}
    for profile in PROFILES:
        assert score_corpus(corpus, profile).normalised == pytest.approx(100.0)


def test_normalised_score_is_relative_to_null_and_perfect() -> None:
    # One window of two detected at its left edge, one missed. Standard: raw 1 - 1 = 0, null
    # -2, perfect 2: 50. With A_FN = 2: raw 1 - 2 = -1, null -4, perfect 2: (-1 + 4) / 6 = 50.
    # With a false positive before the window as well: (-0.11 + 2) / 4 = 47.25.
    corpus = {"a": (scores_with(20), WINDOW), "b": (scores_with(), WINDOW)}
    assert score_corpus(corpus, STANDARD).normalised == pytest.approx(50.0)
    assert score_corpus(corpus, LOW_FN).normalised == pytest.approx(50.0)
    noisy = {"a": (scores_with(10, 20), WINDOW), "b": (scores_with(), WINDOW)}
    assert score_corpus(noisy, STANDARD).normalised == pytest.approx(47.25)


def test_profile_weights_are_those_of_scoring_md() -> None:
    assert (
        Profile("standard", tp=1.0, fp=0.11, fn=1.0),
        Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
        Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
    ) == PROFILES
