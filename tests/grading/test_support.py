"""The evidence-supports-the-point check (bot.grading.support) in numbers: term weights, lexical
coverage, soft matches, numbers, accepted forms and the blend with the semantic part.

A small fake embedder with hand-chosen unit vectors stands in for WordLlama, so every support
value below follows from the module's formulas and constants and can be worked out by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from bot.domain.bank import KeyPoint
from bot.grading.support import (
    COMMON_WORD_WEIGHT,
    META_WORD_WEIGHT,
    NUMBER_WEIGHT,
    QUESTION_WORD_WEIGHT,
    SOFT_MATCH_CREDIT,
    KeyPointProfile,
    Support,
    SupportChecker,
    _same_number,
    numbers_in,
)

PROMPT = "Why does the learning rate matter?"
POINT = "The learning rate scales each weight update of the model; 0.01 is typical for the answer"


def unit(angle_degrees: float) -> np.ndarray:
    """A unit vector in the plane: the cosine of two of them is the cosine of their angle."""
    angle = math.radians(angle_degrees)
    return np.array([math.cos(angle), math.sin(angle)], dtype=np.float32)


class FakeEmbedder:
    """Word vectors by angle (an unknown word is a zero vector, close to nothing) and one fixed
    cosine between any text and its key point."""

    def __init__(self, angles: dict[str, float] | None = None, text_cosine: float = 0.0):
        self.angles = angles or {}
        self.text_cosine = text_cosine

    def embed_words(self, words: Sequence[str]) -> np.ndarray:
        return np.vstack(
            [unit(self.angles[word]) if word in self.angles else np.zeros(2) for word in words]
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        assert len(texts) == 2  # the evidence and the key point
        return np.vstack([unit(0.0), unit(math.degrees(math.acos(self.text_cosine)))])


def words_only() -> SupportChecker:
    return SupportChecker(use_embeddings=False)


def test_a_profile_weighs_question_common_and_meta_words_less_and_counts_numbers():
    profile = KeyPointProfile(POINT, PROMPT, accept=("Ten to the minus  two",))
    weights = {term.norm: term.weight for term in profile.terms}
    assert weights == {
        "learn": COMMON_WORD_WEIGHT,  # in the question (0.5) and common (0.4): the lower
        "rate": QUESTION_WORD_WEIGHT,
        "scal": 1.0,
        "weight": 1.0,
        "updat": 1.0,
        "model": COMMON_WORD_WEIGHT,
        "typical": 1.0,
        "answer": META_WORD_WEIGHT,
    }
    assert [term.word for term in profile.terms][:3] == ["learning", "rate", "scales"]
    assert profile.numbers == (0.01,)
    assert profile.question == frozenset({"learn", "rate", "matter"})
    assert profile.accepted == ("ten to the minus two",)
    assert profile.total_weight == pytest.approx(0.4 + 0.5 + 1 + 1 + 1 + 0.4 + 1 + 0.1 + 1.5)
    assert not profile.whole_reference


def test_a_profile_keeps_each_word_and_number_once_and_meta_words_win_over_question_words():
    profile = KeyPointProfile("Answer: the answer rate, rate 3 and 3", "What is the answer rate?")
    assert [(term.norm, term.weight) for term in profile.terms] == [
        ("answer", META_WORD_WEIGHT),
        ("rate", QUESTION_WORD_WEIGHT),
    ]
    assert profile.numbers == (3.0,)
    point = KeyPoint(text="Gradients vanish", weight=2, accept=("GRADIENTS   DIE",))
    of_point = KeyPointProfile.of_point(point, "Why?")
    assert (of_point.text, of_point.accepted) == ("Gradients vanish", ("gradients die",))


def test_numbers_are_read_with_separators_unicode_minus_exponents_and_optional_words():
    text = "1,000 and 2,5 and −3 and 1e3 and 3.14, not v2 or 1,2,3, and 0.5."
    assert numbers_in(text) == [1000.0, 2.5, -3.0, 1000.0, 3.14, 0.5]
    assert numbers_in("two and a half, twice") == []
    assert numbers_in("two and a half, twice 7", words=True) == [2.0, 0.5, 2.0, 7.0]
    assert numbers_in("12,345.5 or -1,234") == [12345.5, -1234.0]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (100.0, 100.5, True),  # within half a percent of the larger
        (100.0, 101.0, False),
        (-100.0, -100.5, True),
        (0.0, 1e-10, True),  # an absolute tolerance near zero
        (0.0, 1e-8, False),
    ],
)
def test_two_numbers_are_the_same_within_half_a_percent(a, b, same):
    assert _same_number(a, b) is same
    assert _same_number(b, a) is same


def test_lexical_support_is_the_weighted_share_of_the_points_words_and_numbers_present():
    profile = KeyPointProfile(POINT, PROMPT)
    total = profile.total_weight
    checker = words_only()
    said = "Each update scales the weight."  # scal, weight, updat: 3 of 6.9
    assert checker.support(profile, said) == Support(3 / total, 3 / total, 0.0)
    with_number = "Each update scales the weight, by 0.01 usually."
    assert checker.support(profile, with_number).value == pytest.approx((3 + NUMBER_WEIGHT) / total)
    # the number in words does not count for a numeric key point unless it is the same value
    assert checker.support(profile, "scales the weight by 0.02").value == pytest.approx(2 / total)
    everything = f"{POINT} and more"
    assert checker.support(profile, everything).value == 1.0
    assert checker.support(profile, "").value == 0.0


def test_a_key_point_without_content_words_is_never_supported():
    profile = KeyPointProfile("It is what it is", "Why?")
    assert profile.total_weight == 0
    assert words_only().support(profile, "It is what it is").value == 0.0


def test_an_accepted_form_is_full_support_but_only_as_whole_words():
    profile = KeyPointProfile("f(-5) = -0.05", "What is f(-5)?", accept=("minus one twentieth",))
    checker = words_only()
    accepted = checker.support(profile, "It is Minus one twentieth, roughly.")
    assert accepted == Support(1.0, 1.0, 1.0, accepted=True)
    assert not checker.support(profile, "It is minus one twentieths").accepted


def test_a_missing_word_close_in_vector_space_earns_part_of_its_weight():
    profile = KeyPointProfile("Gradients vanish", "Why?")
    # "disappear" is at cosine cos(43.9 deg) = 0.7206 of "vanish": just above the 0.72 bar
    close = SupportChecker(FakeEmbedder({"vanish": 0.0, "disappear": 43.9}, text_cosine=0.15))
    support = close.support(profile, "Gradients disappear")
    assert support.lexical == pytest.approx((1 + SOFT_MATCH_CREDIT) / 2)
    # cos(44.1 deg) = 0.7181: just below it, no credit
    far = SupportChecker(FakeEmbedder({"vanish": 0.0, "disappear": 44.1}, text_cosine=0.15))
    assert far.support(profile, "Gradients disappear").lexical == pytest.approx(0.5)


def test_support_blends_lexical_coverage_with_gated_semantic_similarity():
    profile = KeyPointProfile(
        "gradients vanish through many stacked sigmoid layers during slow backpropagation", "Why?"
    )
    total = profile.total_weight
    # cosine 0.425 lies half-way through the 0.15-0.7 range: semantic 0.5
    checker = SupportChecker(FakeEmbedder(text_cosine=0.425))
    one_word = checker.support(profile, "sigmoid")
    lexical = 1 / total
    gate = lexical / 0.15
    assert gate < 1  # one word of many: the semantic part only counts in proportion
    assert one_word.lexical == pytest.approx(lexical)
    assert one_word.semantic == pytest.approx(0.5, abs=1e-6)
    assert one_word.cosine == pytest.approx(0.425, abs=1e-6)
    assert one_word.value == pytest.approx(0.5 * lexical + 0.5 * 0.5 * gate, abs=1e-6)
    # no shared word: topical similarity alone earns nothing
    assert checker.support(profile, "tanh").value == 0.0
    # enough shared words open the gate fully; the semantic part saturates at both ends
    three = "gradients vanish in sigmoid"
    lexical = 3 / total
    assert lexical > 0.15
    half = checker.support(profile, three)
    assert half.value == pytest.approx(0.5 * lexical + 0.5 * 0.5, abs=1e-6)
    high = SupportChecker(FakeEmbedder(text_cosine=0.9)).support(profile, three)
    assert high.semantic == 1.0 and high.value == pytest.approx(0.5 * lexical + 0.5)
    low = SupportChecker(FakeEmbedder(text_cosine=0.1)).support(profile, three)
    assert low.semantic == 0.0 and low.value == pytest.approx(0.5 * lexical)


def test_support_of_a_whole_reference_is_the_share_of_the_evidence_the_reference_backs():
    checker = words_only()
    [profile] = checker.profiles((), "Why does ReLU help?", "ReLU keeps gradients alive.")
    assert profile.whole_reference and profile.text == "ReLU keeps gradients alive."
    # relu (a question word: half weight) and gradient are backed, pasta is not
    support = checker.support(profile, "ReLU keeps pasta")
    assert support.value == pytest.approx((0.5 + 1) / (0.5 + 1 + 1))
    assert checker.support(profile, "pasta").value == 0.0
    assert checker.support(profile, "the").value == 0.0  # no content word at all
    points = (
        KeyPoint(text="ReLU is cheap", weight=1),
        KeyPoint(text="Sigmoid saturates", weight=2),
    )
    profiles = checker.profiles(points, "Why?", "ignored reference")
    assert [(p.text, p.whole_reference) for p in profiles] == [
        ("ReLU is cheap", False),
        ("Sigmoid saturates", False),
    ]


def test_without_embeddings_the_cosine_is_zero_and_support_is_lexical():
    checker = words_only()
    assert checker.embedder is None
    profile = KeyPointProfile("Sigmoid saturates", "Why?")
    assert checker._cosine(profile, "Sigmoid saturates") == 0.0
    assert checker.support(profile, "Sigmoid saturates") == Support(1.0, 1.0, 0.0)
    fake = FakeEmbedder(text_cosine=1.0)
    assert SupportChecker(fake).embedder is fake
    assert SupportChecker(fake)._cosine(profile, "x") == pytest.approx(1.0)


def test_a_word_is_common_or_meta_by_its_stem_as_well_as_by_its_spelling():
    # "models", "trains", "answers" and "options" are not in the word lists; their stems are
    profile = KeyPointProfile("Models trains answers options dropout", "Why?")
    assert {term.norm: term.weight for term in profile.terms} == {
        "model": COMMON_WORD_WEIGHT,
        "train": COMMON_WORD_WEIGHT,
        "answer": META_WORD_WEIGHT,
        "option": META_WORD_WEIGHT,
        "dropout": 1.0,
    }


def test_two_numbers_exactly_the_tolerance_apart_are_the_same():
    assert _same_number(0.0, 1e-9)  # the absolute tolerance, reached exactly
    assert _same_number(200.0, 201.0)  # 1.0 apart, half a percent of 201 is 1.005
    assert _same_number(0.0, 0.0)


def test_words_without_content_are_skipped_wherever_they_stand_in_the_evidence():
    checker = words_only()
    [profile] = checker.profiles((), "Why does ReLU help?", "ReLU keeps gradients alive.")
    plain = checker.support(profile, "ReLU keeps pasta").value
    assert plain == pytest.approx((0.5 + 1) / (0.5 + 1 + 1))
    # "the" and "of" have no content: they neither count nor end the reading
    assert checker.support(profile, "The ReLU keeps the pasta of").value == pytest.approx(plain)


class LongVectors(FakeEmbedder):
    """Text vectors twice too long, pointing the same way or opposite ways."""

    def __init__(self, sign: float):
        super().__init__()
        self.sign = sign

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([2 * unit(0.0), 2 * self.sign * unit(0.0)])


def test_the_cosine_stays_within_minus_one_and_one_whatever_the_embedder_returns():
    profile = KeyPointProfile("Sigmoid saturates", "Why?")
    assert SupportChecker(LongVectors(1.0))._cosine(profile, "x") == 1.0
    assert SupportChecker(LongVectors(-1.0))._cosine(profile, "x") == -1.0
    opposite = SupportChecker(LongVectors(-1.0)).support(profile, "Sigmoid saturates")
    assert (opposite.cosine, opposite.semantic, opposite.value) == (-1.0, 0.0, 0.5)


def test_a_key_point_of_one_light_word_can_still_be_fully_supported():
    checker = words_only()
    for point, total in (("Dropout", 1.0), ("Models", COMMON_WORD_WEIGHT)):
        profile = KeyPointProfile(point, "Why?")
        assert profile.total_weight == pytest.approx(total)
        assert checker.support(profile, f"{point} again").value == 1.0


class ExactVectors(FakeEmbedder):
    """Word vectors given as they are (float64), so a cosine can be exactly a constant."""

    def __init__(self, vectors: dict[str, tuple[float, float]]):
        super().__init__(text_cosine=0.15)
        self.vectors = vectors

    def embed_words(self, words: Sequence[str]) -> np.ndarray:
        return np.array([self.vectors.get(word, (0.0, 0.0)) for word in words], dtype=np.float64)


def test_a_word_at_exactly_the_soft_match_cosine_earns_its_credit():
    profile = KeyPointProfile("Gradients vanish", "Why?")
    vectors = {"vanish": (1.0, 0.0), "disappear": (0.72, 0.0), "gradients": (0.0, 1.0)}
    support = SupportChecker(ExactVectors(vectors)).support(profile, "Gradients disappear")
    assert support.lexical == pytest.approx((1 + SOFT_MATCH_CREDIT) / 2)
    vectors["disappear"] = (0.7199, 0.0)
    support = SupportChecker(ExactVectors(vectors)).support(profile, "Gradients disappear")
    assert support.lexical == pytest.approx(0.5)


def test_a_number_written_as_a_word_in_the_evidence_matches_a_key_points_digit():
    profile = KeyPointProfile("Stack 2 layers", "Why?")
    assert profile.numbers == (2.0,)
    checker = words_only()
    assert checker.support(profile, "stack two layers").value == 1.0
    assert checker.support(profile, "stack three layers").value < 1.0


def test_profiles_without_a_reference_or_key_points_support_nothing():
    checker = words_only()
    [profile] = checker.profiles((), "Why does ReLU help?")
    assert profile.whole_reference and profile.text == ""
    assert checker.support(profile, "XXXX ReLU").value == 0.0


def test_an_items_key_point_profiles_are_built_once_whatever_reference_is_passed():
    checker = words_only()
    points = (KeyPoint(text="Sigmoid saturates at both ends", weight=1),)
    first = checker.profiles(points, "Why sigmoid?", "one reference")
    again = checker.profiles(points, "Why sigmoid?", "another reference")
    assert first[0] is again[0]  # the reference is not read when there are key points
