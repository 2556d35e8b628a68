"""Choosing the threshold and drawing the precision-coverage curve (pure functions)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.localtier import choose_threshold, precision_coverage


def test_the_lowest_threshold_whose_answers_reach_the_precision_is_chosen() -> None:
    # Given ten predictions: the nine most confident hold one mistake, the last is wrong
    confidences = [0.99, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5]
    correct = [True, True, True, True, False, True, True, True, True, False]
    # When asking for 85% precision
    choice = choose_threshold(confidences, correct, min_precision=0.85)
    # Then 0.6 answers nine of ten at 8/9; 0.5 would fall to 8/10
    assert choice.threshold == 0.6
    assert choice.answered == 9 and choice.coverage == 0.9
    assert choice.precision == 8 / 9


def test_a_threshold_never_splits_tied_confidences() -> None:
    # Given a tie at 0.8 between a right and a wrong answer
    confidences = [0.9, 0.8, 0.8]
    correct = [True, True, False]
    # Then 0.8 counts both: 2/3 misses 90%, so only 0.9 qualifies
    choice = choose_threshold(confidences, correct, min_precision=0.9)
    assert choice.threshold == 0.9 and choice.answered == 1


def test_no_threshold_is_chosen_when_no_answer_reaches_the_precision() -> None:
    choice = choose_threshold([0.9, 0.8], [False, True], min_precision=0.97)
    assert choice.threshold is None and choice.answered == 0 and choice.coverage == 0.0


def test_the_curve_reports_coverage_and_precision_at_each_threshold() -> None:
    confidences = [0.95, 0.85, 0.75, 0.55]
    correct = [True, True, False, True]
    points = precision_coverage(confidences, correct, [0.9, 0.7, 0.5, 0.99])
    assert [(p.answered, p.coverage, p.precision) for p in points] == [
        (1, 0.25, 1.0),
        (3, 0.75, 2 / 3),
        (4, 1.0, 0.75),
        (0, 0.0, None),
    ]


@given(
    st.lists(
        st.tuples(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9, 1.0]), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([0.5, 0.8, 0.97, 1.0]),
)
def test_the_chosen_threshold_answers_most_among_those_reaching_the_precision(
    pairs: list[tuple[float, bool]], min_precision: float
) -> None:
    confidences = [c for c, _ in pairs]
    correct = [ok for _, ok in pairs]
    choice = choose_threshold(confidences, correct, min_precision=min_precision)
    qualifying = [
        p
        for p in precision_coverage(confidences, correct, sorted(set(confidences)))
        if p.precision is not None and p.precision >= min_precision
    ]
    if not qualifying:
        assert choice.threshold is None
        return
    best = max(qualifying, key=lambda p: p.answered)
    assert choice.threshold == best.threshold and choice.answered == best.answered
    assert choice.precision is not None and choice.precision >= min_precision
