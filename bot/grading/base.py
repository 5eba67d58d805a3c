"""The grader port: what every grader receives, what it returns, and the errors it may raise.

A :class:`Grade` has one JSON form, produced and read by a pydantic ``TypeAdapter``
(:func:`grade_to_dict` / :func:`grade_from_dict`); the grade cache, the batch grader and the
worker's stored grade records all use it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import TypeAdapter

from bot.domain.bank import KeyPoint, Question
from bot.domain.rubric import FactualError, KeyPointVerdict


@dataclass(frozen=True)
class GradingItem:
    """What a grader needs of a question. ``key_points`` may be empty (reference-only grading)."""

    prompt: str
    reference: str
    key_points: tuple[KeyPoint, ...] = ()
    question_id: str = ""
    version: str = ""
    #: Only an LLM grades it fairly (behavioural stories...): the offline grader declines it.
    llm_only: bool = False
    #: A member's reason for disputing an earlier grade: data for an LLM grader, never
    #: instructions (the offline grader ignores it).
    dispute_reason: str = ""

    @classmethod
    def from_question(cls, question: Question) -> GradingItem:
        return cls(
            prompt=question.prompt,
            reference=question.reference,
            key_points=question.key_points,
            question_id=question.id,
            version=question.content_hash,
            llm_only=question.llm_only,
        )


@dataclass(frozen=True)
class Grade:
    """A grade: the score (0-100, computed in code), the evidence behind it and its provenance."""

    score: int
    verdicts: tuple[KeyPointVerdict, ...]
    feedback: str
    grader: str
    model: str = ""
    provisional: bool = False
    factual_errors: tuple[FactualError, ...] = ()
    flags: tuple[str, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    details: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.score <= 100:
            raise ValueError(f"score must be within 0-100, got {self.score}")


class GradingError(Exception):
    """A grader could not grade this answer and retrying will not help."""


class TransientGradingError(GradingError):
    """A grader failed for a reason that may pass: timeout, rate limit, 5xx, malformed output.
    ``retry_after`` is the wait the service asked for (seconds), when it named one."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMRequiredError(GradingError):
    """This grader cannot grade the item fairly (an LLM-only question); an LLM must grade it."""


@runtime_checkable
class Grader(Protocol):
    """Anything that grades an answer against a question's reference and rubric."""

    name: str

    async def grade(self, item: GradingItem, answer: str) -> Grade: ...


@runtime_checkable
class RequestLimited(Protocol):
    """A grader that takes one of ``request_slots`` for each remote call it makes, and none for
    the work around the calls (screening, a cache look-up, checking the reply): a caller that
    bounds the calls in flight gives it its semaphore instead of holding a slot through the
    whole grade. ``None``: unbounded."""

    request_slots: asyncio.Semaphore | None


GRADE_ADAPTER: TypeAdapter[Grade] = TypeAdapter(Grade)


def grade_to_dict(grade: Grade) -> dict[str, Any]:
    """A JSON-safe dict of a grade (round-trips through :func:`grade_from_dict`)."""
    return GRADE_ADAPTER.dump_python(grade, mode="json")


def grade_from_dict(data: dict[str, Any]) -> Grade:
    """Rebuild a grade from :func:`grade_to_dict` output (or its JSON); missing optional fields
    take their defaults."""
    return GRADE_ADAPTER.validate_python({"verdicts": [], "feedback": "", **data})
