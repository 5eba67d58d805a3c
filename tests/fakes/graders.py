"""Scripted graders for service tests: deterministic scores, injectable failures and pauses."""

from __future__ import annotations

import asyncio
from collections import deque

from bot.domain.rubric import Coverage, KeyPointVerdict, score_verdicts
from bot.grading.base import (
    Grade,
    GradingError,
    GradingItem,
    LLMRequiredError,
    TransientGradingError,
)


class ScriptedGrader:
    """Covers every key point whose first word appears in the answer; can fail or pause on cue."""

    def __init__(
        self,
        name: str = "scripted",
        *,
        failures: list[Exception] | None = None,
        declines_llm_only: bool = False,
    ):
        self.name = name
        self.declines_llm_only = declines_llm_only
        self.calls: list[str] = []
        self.failures: deque[Exception] = deque(failures or [])
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        #: calls in progress now, and the most there ever were at once
        self.in_flight = 0
        self.max_in_flight = 0

    async def grade(self, item: GradingItem, answer: str) -> Grade:
        self.calls.append(answer)
        self.entered.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._grade(item, answer)
        finally:
            self.in_flight -= 1

    async def _grade(self, item: GradingItem, answer: str) -> Grade:
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.popleft()
        if self.declines_llm_only and item.llm_only:
            raise LLMRequiredError("This question needs an LLM grader.")
        text = answer.lower()
        verdicts = tuple(
            KeyPointVerdict(
                point.text,
                Coverage.COVERED if point.text.split()[0].lower() in text else Coverage.MISSING,
            )
            for point in item.key_points
        )
        return Grade(
            score=score_verdicts(item.key_points, verdicts),
            verdicts=verdicts,
            feedback="scripted",
            grader=self.name,
            model="scripted-1",
        )


class RequestLimitedGrader(ScriptedGrader):
    """A ScriptedGrader that, like the LLM grader, takes one of ``request_slots`` only for its
    "remote call" (the wait at the gate), so the work before it runs without a slot."""

    def __init__(self, name: str = "limited") -> None:
        super().__init__(name)
        self.request_slots: asyncio.Semaphore | None = None
        self.in_call = 0
        self.max_in_call = 0

    async def _grade(self, item: GradingItem, answer: str) -> Grade:
        assert self.request_slots is not None, "the worker hands over its slots"
        async with self.request_slots:
            self.in_call += 1
            self.max_in_call = max(self.max_in_call, self.in_call)
            try:
                if self.gate is not None:
                    await self.gate.wait()
            finally:
                self.in_call -= 1
        return await super()._grade(item, answer)  # the gate is open by now


def transient(n: int) -> list[Exception]:
    return [TransientGradingError(f"flaky {i}") for i in range(n)]


def permanent() -> list[Exception]:
    return [GradingError("bad request")]
