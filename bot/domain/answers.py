"""What an acceptable answer is: not blank, at most ``MAX_ANSWER_CHARS`` characters, without
control characters (tab and line breaks stay)."""

from __future__ import annotations

from enum import StrEnum

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


#: C0 control characters but tab, line feed and carriage return, and DEL: removed from answers.
#: NUL in particular: PostgreSQL text cannot hold it, so an answer with one failed to store
#: ("send it again") however often it was sent; and an answer of control characters only was
#: accepted and graded.
_CONTROL_CHARACTERS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def validate_answer_text(text: str) -> str:
    """The answer as it is stored (control characters removed), or ``AnswerRejected``."""
    text = (text or "").translate(_CONTROL_CHARACTERS)
    if not text.strip():
        raise AnswerRejected(RejectionReason.EMPTY, "Your answer is empty. Write a few sentences.")
    if len(text) > MAX_ANSWER_CHARS:
        raise AnswerRejected(
            RejectionReason.TOO_LONG,
            f"Your answer has {len(text)} characters; the limit is {MAX_ANSWER_CHARS}. "
            "Shorten it and send it again.",
        )
    return text
