"""The fuzzy quote matcher's limits, at and next to each boundary: the similarity a part needs by
its length, the share of words a stretch must hold (short, long, strict), the few-word parts that
must occur exactly, snapping a match to whole words, and a quote longer than the answer."""

from __future__ import annotations

from bot.grading import evidence
from bot.grading.evidence import (
    MIN_WORD_SHARE,
    SHORT_PART_WORD_SHARE,
    STRICT_WORD_SHARE,
    AnswerText,
    _enough_words,
    _snap_to_words,
    _threshold,
    _word_share,
    holding_sentences,
    locate_quote,
    quote_parts,
    sentence_bounds,
)


def test_the_similarity_needed_steps_down_at_30_and_60_characters():
    assert [_threshold(length) for length in (0, 29, 30, 59, 60, 400)] == [
        86.0,
        86.0,
        80.0,
        80.0,
        76.0,
        76.0,
    ]
    assert _threshold(-1) == 86.0  # below every minimum: the strictest listed


def test_the_word_share_ignores_one_and_two_letter_words():
    assert _word_share(["of", "a"], "anything") == 1.0
    assert _word_share(["the", "loss", "of", "weights"], "the loss") == 2 / 3
    assert _word_share(["gradient", "descent"], "gradient descent") == 1.0
    assert _word_share(["gradient", "descent"], "nothing here") == 0.0


def test_six_meaningful_words_are_a_short_part_and_seven_a_long_one():
    six = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    # 4.5 of 6 needed (0.75): 5 present pass, 4 do not
    assert _enough_words(six, " ".join(six[:5]), strict=False)
    assert not _enough_words(six, " ".join(six[:4]), strict=False)
    seven = [*six, "golf"]
    # 0.55 of 7 is 3.85: 4 present pass, 3 do not
    assert _enough_words(seven, " ".join(seven[:4]), strict=False)
    assert not _enough_words(seven, " ".join(seven[:3]), strict=False)
    assert 4 / 7 >= MIN_WORD_SHARE > 3 / 7 and 5 / 6 >= SHORT_PART_WORD_SHARE > 4 / 6
    # strict needs 0.9: 9 of 10 pass, 8 do not
    ten = [f"word{index}" for index in range(10)]
    assert _enough_words(ten, " ".join(ten[:9]), strict=True)
    assert not _enough_words(ten, " ".join(ten[:8]), strict=True)
    assert 9 / 10 >= STRICT_WORD_SHARE > 8 / 10


def test_a_match_snaps_outwards_to_whole_words():
    text = "the weights update slowly"
    assert _snap_to_words(text, 6, 9) == (4, 11)  # inside "weights"
    assert _snap_to_words(text, 4, 11) == (4, 11)  # already whole
    assert _snap_to_words(text, 0, len(text)) == (0, len(text))
    assert _snap_to_words(text, 1, 2) == (0, 3)
    assert _snap_to_words(text, 20, 22) == (19, 25)  # up to the very end


def test_fewer_than_three_words_must_occur_exactly_and_three_may_be_fuzzy():
    answer = AnswerText("Backpropagation sends gradients backwards through every layer.")
    assert locate_quote("gradients backwards", answer) is not None
    assert locate_quote("gradient backward", answer) is None  # two words, not exact
    fuzzy = locate_quote("sends gradients backwards thru", answer)  # 3 of 4 words exact
    assert fuzzy is not None and fuzzy.score < 100.0
    assert evidence.MIN_FUZZY_WORDS == 3


def test_a_quote_longer_than_the_answer_matches_only_when_most_of_it_aligns():
    answer = AnswerText("gradients flow backwards through the network layers")
    found = locate_quote("gradients flow backwards through the network layers too", answer)
    assert found is not None and (found.start, found.end) == (0, len(answer.text))
    padding = " and then a great deal more that the answer never said at all"
    assert locate_quote("gradients flow backwards through the network" + padding, answer) is None


def test_an_ellipsis_splits_a_quote_and_every_part_must_be_found():
    assert quote_parts("gradients flow ... weights update") == ["gradients flow", "weights update"]
    assert quote_parts("... …") == []
    answer = AnswerText("gradients flow backwards, then the weights update")
    both = locate_quote("gradients flow … weights update", answer)
    assert both is not None and len(both.spans) == 2 and both.start == 0
    assert both.end == len(answer.text)
    assert locate_quote("gradients flow … momentum vanishes", answer) is None


def test_a_quote_joining_two_distant_sentences_is_found_clause_by_clause():
    answer = (
        "Dropout zeroes random activations during training only. Momentum, weight decay and "
        "warm-up schedules are all common additions in practice and each of them deserves a "
        "longer discussion of its own. Batch size interacts with all of them. "
        "Batch normalisation rescales each channel with running statistics."
    )
    quote = (
        "Dropout zeroes random activations during training only, "
        "batch normalisation rescales each channel with running statistics."
    )
    location = locate_quote(quote, answer)
    assert location is not None
    assert [answer[start:end] for start, end in location.spans] == [
        "Dropout zeroes random activations during training only",
        "Batch normalisation rescales each channel with running statistics",
    ]
    assert location.score == 100.0


def test_three_words_with_one_small_word_changed_are_found_by_similarity():
    answer = "We minimise the loss with cross entropy loss and label smoothing."
    location = AnswerText(answer).locate("of cross entropy")
    assert location is not None
    assert [answer[start:end] for start, end in location.spans] == ["with cross entropy"]
    assert 86.0 <= location.score < 100.0


def test_a_paraphrased_quote_is_found_unless_the_look_up_is_strict():
    answer = AnswerText(
        "In short, the model overfits the training data, so add dropout and more data."
    )
    quote = "the model overfits to the training data so we add dropout"
    found = answer.locate(quote)
    assert found is not None and found.score < 92.0
    assert answer.locate(quote, strict=True) is None


def test_a_quote_found_twice_points_at_its_first_occurrence_with_full_score():
    answer = "Use early stopping. Then tune the rest. Use early stopping."
    location = locate_quote("use early stopping", answer)
    assert location is not None
    assert (location.spans, location.score) == (((0, 18),), 100.0)


def test_two_letter_words_do_not_make_a_part_long_but_three_letter_words_do():
    # six words of three letters or more (and two short ones): a short part, 0.75 needed
    six = "of to gradient descent updates weights using losses".split()
    assert not _enough_words(six, "gradient descent updates weights", strict=False)
    # seven such words, one of three letters: a long part, 0.55 needed
    seven = "sgd gradient descent updates weights using losses".split()
    assert _enough_words(seven, "sgd gradient descent updates", strict=False)


def test_a_sentence_is_held_when_a_span_overlaps_it_not_when_it_only_touches_it():
    text = "Abc def. Ghi jkl."
    assert sentence_bounds(text) == [(0, 8), (9, 17)]
    assert holding_sentences(text, [(8, 12)]) == [(9, 17)]  # starts at the first one's end
    assert holding_sentences(text, [(3, 9)]) == [(0, 8)]  # ends at the second one's start
    assert holding_sentences(text, [(7, 10)]) == [(0, 8), (9, 17)]


def test_a_strict_look_up_refuses_a_close_quote_with_too_many_words_changed():
    answer = (
        "In my design the encoder reads tokens and the decoder writes outputs using cached "
        "attention keys, which saves time."
    )
    quote = "the encoder reads token and the decoder writes output using cached attention keys"
    found = locate_quote(quote, answer)
    assert found is not None and found.score >= 92.0  # similar enough even for a strict look-up
    assert locate_quote(quote, answer, strict=True) is None  # but 11 of 13 words: below 0.9
