"""Rubric scoring: weighted coverage, partial credit, the capped factual-error penalty, the
degenerate rubric, and hypothesis properties (always 0-100, monotonic in the verdicts)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.bank import KeyPoint
from bot.domain.rubric import Coverage, KeyPointVerdict, score_verdicts, shorten

COVERED, PARTIAL, MISSING = Coverage.COVERED, Coverage.PARTIAL, Coverage.MISSING
RANK = {MISSING: 0, PARTIAL: 1, COVERED: 2}


def rubric(*weights: int) -> list[KeyPoint]:
    return [KeyPoint(text=f"point {index}", weight=weight) for index, weight in enumerate(weights)]


def verdicts(*statuses: Coverage) -> list[KeyPointVerdict]:
    return [KeyPointVerdict(f"point {index}", status) for index, status in enumerate(statuses)]


def test_weighted_coverage_with_half_credit_for_a_partial_point():
    points = rubric(4, 3, 3)
    assert score_verdicts(points, verdicts(COVERED, COVERED, COVERED)) == 100
    assert score_verdicts(points, verdicts(COVERED, MISSING, MISSING)) == 40
    assert score_verdicts(points, verdicts(MISSING, PARTIAL, COVERED)) == 45
    assert score_verdicts(points, verdicts(PARTIAL, PARTIAL, MISSING)) == 35
    assert score_verdicts(rubric(1, 2), verdicts(COVERED, MISSING)) == 33  # 33.3


def test_each_factual_error_costs_ten_and_more_than_three_cost_no_more_than_three():
    points = rubric(4, 3, 3)
    full = verdicts(COVERED, COVERED, COVERED)
    assert [score_verdicts(points, full, errors) for errors in range(6)] == [
        100,
        90,
        80,
        70,
        70,
        70,
    ]
    assert score_verdicts(points, full, -2) == 100  # a negative count is no error
    assert score_verdicts(points, verdicts(PARTIAL, MISSING, MISSING), 1) == 10
    assert score_verdicts(points, verdicts(PARTIAL, MISSING, MISSING), 4) == 0  # never below 0


def test_a_rubric_whose_weights_sum_to_zero_scores_zero():
    weightless = [KeyPoint.model_construct(text="nothing", weight=0)]
    assert score_verdicts(weightless, verdicts(COVERED)) == 0
    assert score_verdicts([], []) == 0


def test_the_verdicts_must_match_the_key_points_one_to_one():
    with pytest.raises(ValueError, match="expected 3 verdicts, got 2"):
        score_verdicts(rubric(4, 3, 3), verdicts(COVERED, COVERED))


weights = st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=8)
statuses = st.sampled_from([COVERED, PARTIAL, MISSING])


@settings(max_examples=150, deadline=None)
@given(data=st.data(), point_weights=weights, errors=st.integers(min_value=0, max_value=6))
def test_the_score_stays_within_0_100_and_never_falls_when_a_verdict_improves(
    data, point_weights, errors
):
    points = rubric(*point_weights)
    before = data.draw(st.lists(statuses, min_size=len(points), max_size=len(points)))
    after = [
        data.draw(st.sampled_from([s for s in (COVERED, PARTIAL, MISSING) if RANK[s] >= RANK[b]]))
        for b in before
    ]
    low = score_verdicts(points, verdicts(*before), errors)
    high = score_verdicts(points, verdicts(*after), errors)
    assert 0 <= low <= high <= 100
    # and one more factual error never raises it
    assert score_verdicts(points, verdicts(*after), errors + 1) <= high
    if all(status is COVERED for status in after) and errors == 0:
        assert high == 100
    if all(status is MISSING for status in before):
        assert low == 0


def test_rubric_feedback_counts_points_names_the_missing_ones_and_the_corrections():
    from bot.domain.rubric import FactualError, rubric_feedback

    verdicts = [
        KeyPointVerdict("Dropout zeroes activations", Coverage.COVERED, "zeroes", ""),
        KeyPointVerdict("It scales at test time", Coverage.PARTIAL, "scales", ""),
        KeyPointVerdict("It acts like an ensemble.", Coverage.MISSING, "", ""),
    ]
    feedback = rubric_feedback(verdicts, [FactualError("p=0.9", "p is the drop rate")])
    assert feedback == (
        "You covered 1 of 3 key points, 1 only partly. Still missing: It acts like an ensemble. "
        "Check: p is the drop rate."
    )
    assert (
        rubric_feedback(verdicts[:1]) == "You covered 1 of 1 key points. All key points are there."
    )
    assert rubric_feedback(verdicts[:2]).endswith(
        "Make the partial ones explicit to reach full marks."
    )


def test_shorten_drops_the_final_full_stop_and_cuts_long_text_at_a_space():
    assert shorten("Scale by X.") == "Scale by X"  # only full stops are stripped
    assert shorten("Scale by two...") == "Scale by two"
    ninety = "word " * 17 + "tails."  # 90 characters without the full stop
    assert len(ninety.rstrip(".")) == 90 and shorten(ninety) == ninety.rstrip(".")
    longer = "word " * 17 + "tailsx"  # 91: cut at the last space in the first 89 characters
    assert shorten(longer) == ("word " * 17).rstrip() + "…"
    # the cut is at a space, not at other whitespace
    mixed = "a" * 50 + " " + "b" * 30 + "\n" + "c" * 30
    assert shorten(mixed) == "a" * 50 + "…"
    assert shorten("abc def ghi", limit=8) == "abc…"
    assert shorten("ab cd ef", limit=7) == "ab cd…"  # a space right at the cut


def test_rubric_feedback_separates_several_missing_points_and_corrections_with_semicolons():
    from bot.domain.rubric import FactualError, rubric_feedback

    verdicts = [KeyPointVerdict("A first point.", MISSING), KeyPointVerdict("A second", MISSING)]
    errors = [FactualError("x", "Fix one."), FactualError("y", "Fix two")]
    assert rubric_feedback(verdicts, errors) == (
        "You covered 0 of 2 key points. Still missing: A first point; A second."
        " Check: Fix one; Fix two."
    )


def test_a_correction_is_shortened_only_past_two_hundred_characters():
    from bot.domain.rubric import FactualError, rubric_feedback

    covered = [KeyPointVerdict("A point", COVERED)]
    kept = ("fix " * 40).strip()  # 159 characters: more than a key point's 90, kept whole
    assert rubric_feedback(covered, [FactualError("x", kept)]).endswith(f"Check: {kept}.")
    cut = "a" * 100 + " " + "b" * 100  # 201 characters: cut at its only space
    assert rubric_feedback(covered, [FactualError("x", cut)]).endswith("Check: " + "a" * 100 + "….")
