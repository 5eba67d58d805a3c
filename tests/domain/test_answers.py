"""What an acceptable answer is: the rejection reasons and the messages a member reads."""

from __future__ import annotations

import pytest

from bot.domain.answers import (
    MAX_ANSWER_CHARS,
    AnswerRejected,
    RejectionReason,
    validate_answer_text,
)


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_a_blank_answer_is_refused_with_a_message_asking_for_sentences(text):
    with pytest.raises(AnswerRejected) as caught:
        validate_answer_text(text)
    assert caught.value.reason is RejectionReason.EMPTY
    assert caught.value.message == "Your answer is empty. Write a few sentences."


def test_the_refusal_reads_as_its_message_when_shown_as_an_exception():
    error = AnswerRejected(RejectionReason.TOO_LONG, "Shorter, please.")
    assert str(error) == "Shorter, please."
    assert error.message == "Shorter, please."
    assert error.reason is RejectionReason.TOO_LONG


def test_a_too_long_answer_is_told_its_length_and_the_limit():
    text = "a" * (MAX_ANSWER_CHARS + 1)
    with pytest.raises(AnswerRejected) as caught:
        validate_answer_text(text)
    assert caught.value.reason is RejectionReason.TOO_LONG
    assert caught.value.message == (
        f"Your answer has {MAX_ANSWER_CHARS + 1} characters; the limit is {MAX_ANSWER_CHARS}. "
        "Shorten it and send it again."
    )


def test_an_answer_of_exactly_the_limit_is_returned_unchanged():
    text = " x" * (MAX_ANSWER_CHARS // 2)
    assert len(text) == MAX_ANSWER_CHARS
    assert validate_answer_text(text) == text
