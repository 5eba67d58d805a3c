"""What an acceptable answer is: not blank, at most ``MAX_ANSWER_CHARS`` characters, without
control characters (tab and line breaks stay)."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.text import without_control_characters

#: The longest answer accepted (Discord's modal text input allows 4000 characters).
MAX_ANSWER_CHARS = 4000


class RejectionReason(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too-long"
    UNKNOWN_QUESTION = "unknown-question"


class AnswerRejected(ValueError):
    """An answer was refused and nothing was stored; ``message`` is for the member."""

    def __init__(self, reason: RejectionReason, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def validate_answer_text(text: str) -> str:
    """The answer as it is stored, or ``AnswerRejected``. Control characters are removed first
    (NUL cannot be stored in PostgreSQL; an answer of control characters only is empty)."""
    text = without_control_characters(text or "")
    if not text.strip():
        raise AnswerRejected(RejectionReason.EMPTY, "Your answer is empty. Write a few sentences.")
    if len(text) > MAX_ANSWER_CHARS:
        raise AnswerRejected(
            RejectionReason.TOO_LONG,
            f"Your answer has {len(text)} characters; the limit is {MAX_ANSWER_CHARS}. "
            "Shorten it and send it again.",
        )
    return text
