"""One keyword-list test for both graders: bullets among bullets are a list, prose is not."""

from __future__ import annotations

from bot.grading.keyword_lists import keyword_list_sentences
from bot.grading.offline import split_sentences


def test_terse_lines_among_terse_neighbours_are_a_list_and_prose_beside_them_is_not():
    sentences = [
        "Dropout zeroes random activations during training so units cannot co-adapt.",
        "dropout",
        "co-adaptation",
        "ensemble",
        "At test time every unit is kept and activations are scaled to match.",
    ]
    assert keyword_list_sentences(sentences) == [False, True, True, True, False]


def test_the_offline_grader_marks_the_same_sentences_as_the_shared_test():
    answer = (
        "Dropout zeroes random activations during training so units cannot co-adapt.\n"
        "- dropout\n- co-adaptation\n- ensemble\n"
        "Keywords: sigmoid, saturation, vanishing gradient, ReLU, dying units, leaky ReLU."
    )
    sentences = split_sentences(answer)
    assert [s.text for s in sentences][1:4] == ["dropout", "co-adaptation", "ensemble"]
    assert [s.list_like for s in sentences] == keyword_list_sentences([s.text for s in sentences])
    assert [s.list_like for s in sentences] == [False, True, True, True, True]
