"""What the LLM grader computes once per question, once per answer, and where."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.domain.bank import KeyPoint
from bot.grading.base import GradingError, GradingItem
from bot.grading.cache import InMemoryGradeCache
from bot.grading.injection import ItemVocabulary, content_keys
from bot.grading.llm import LLMGrader
from bot.grading.support import KeyPointProfile, SupportChecker
from tests.fakes.openai_server import FakeOpenAI, HonestJudge, HTTPError

PROMPT = "Why do deep networks usually use ReLU rather than sigmoid in hidden layers?"
REFERENCE = (
    "Sigmoid saturates, so its gradient vanishes. ReLU has gradient one for positive inputs."
)
POINTS = (
    ("Sigmoid saturates so its gradient vanishes through many layers", 6, ()),
    ("ReLU has gradient one for positive inputs", 4, ("derivative of 1",)),
)
ANSWER = (
    "Sigmoid saturates for large inputs, so its gradient vanishes through many layers. ReLU"
    " keeps a gradient of one for positive inputs."
)


def item(version: str = "v1") -> GradingItem:
    """A fresh item, as the worker builds one per claimed answer (new KeyPoint objects)."""
    return GradingItem(
        prompt=PROMPT,
        reference=REFERENCE,
        key_points=tuple(KeyPoint(text=t, weight=w, accept=a) for t, w, a in POINTS),
        question_id="relu",
        version=version,
    )


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(HonestJudge()) as fake:
        yield fake


def test_profiles_are_built_once_per_item_and_equal_fresh_ones() -> None:
    checker = SupportChecker(use_embeddings=False)
    first = checker.profiles(item().key_points, PROMPT, REFERENCE)
    again = SupportChecker(use_embeddings=False).profiles(item().key_points, PROMPT, REFERENCE)
    assert all(a is b for a, b in zip(first, again, strict=True))
    fresh = [KeyPointProfile.of_point(point, PROMPT) for point in item().key_points]
    for kept, new in zip(first, fresh, strict=True):
        assert (kept.text, kept.terms, kept.numbers, kept.accepted, kept.question) == (
            new.text,
            new.terms,
            new.numbers,
            new.accepted,
            new.question,
        )
    whole = checker.profiles((), PROMPT, REFERENCE)
    assert len(whole) == 1 and whole[0].whole_reference and whole[0].text == REFERENCE
    assert checker.profiles((), PROMPT, "another reference")[0].text == "another reference"


def test_item_vocabulary_is_built_once_and_matches_its_texts() -> None:
    texts = (PROMPT, REFERENCE, *(text for text, _, _ in POINTS))
    vocabulary = ItemVocabulary.of(*texts)
    assert ItemVocabulary.of(*("".join(list(text)) for text in texts)) is vocabulary
    assert vocabulary.keys == frozenset(content_keys("\n".join(texts)))
    assert ItemVocabulary.of(PROMPT) != vocabulary


async def test_relatedness_runs_once_per_answer_off_the_loop(server: FakeOpenAI) -> None:
    calls: list[tuple[str, str]] = []

    def relatedness(graded: GradingItem, text: str) -> float:
        calls.append((threading.current_thread().name, text))
        return 0.9

    grader = LLMGrader(server.client(), "gpt-test", relatedness=relatedness)
    grade = await grader.grade(item(), ANSWER)
    assert grade.details["relatedness"] == 0.9
    assert len(calls) == 1 and calls[0][1] == ANSWER
    assert calls[0][0] != threading.current_thread().name  # the pool's thread, not the loop's


async def test_an_async_relatedness_is_awaited_once(server: FakeOpenAI) -> None:
    calls = []

    async def relatedness(graded: GradingItem, text: str) -> float:
        calls.append(text)
        await asyncio.sleep(0)
        return 0.05

    grader = LLMGrader(server.client(), "gpt-test", relatedness=relatedness)
    grade = await grader.grade(item(), ANSWER)
    assert calls == [ANSWER]
    assert grade.details["relatedness"] == 0.05 and "needs-review" in grade.flags


async def test_a_cache_hit_is_served_without_a_request_and_a_miss_is_stored(
    server: FakeOpenAI,
) -> None:
    cache = InMemoryGradeCache()
    grader = LLMGrader(server.client(), "gpt-test", cache=cache)
    first = await grader.grade(item(), ANSWER)
    requests = len(server.requests)
    assert len(cache) == 1 and requests >= 1
    again = await grader.grade(item(), f"  {ANSWER.upper()} ")  # normalised to the same key
    assert len(server.requests) == requests
    assert again.details["cache_hit"] == 1.0 and again.score == first.score
    assert (again.prompt_tokens, again.completion_tokens) == (0, 0)


async def test_relatedness_is_computed_while_the_judge_is_asked(server: FakeOpenAI) -> None:
    """Nothing the checks need delays the request: the relatedness (a plain function, run in
    the pool) only returns once the judge's request has arrived, which could never happen if
    it ran before the request was sent."""
    seen_request: list[bool] = []

    def relatedness(graded: GradingItem, text: str) -> float:
        deadline = time.monotonic() + 5.0
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.005)
        seen_request.append(bool(server.requests))
        return 0.8

    grader = LLMGrader(server.client(), "gpt-test", relatedness=relatedness)
    grade = await grader.grade(item(), ANSWER)
    assert seen_request == [True]
    assert grade.details["relatedness"] == 0.8
    assert grade.score == 100


async def test_a_failed_judge_drops_the_answers_indexing_without_a_stray_error(
    server: FakeOpenAI, caplog
) -> None:
    """The judge refuses (a permanent error): that error is what the caller gets, and the
    indexing started beside the request, which failed too, leaves no "exception was never
    retrieved" behind."""

    def relatedness(graded: GradingItem, text: str) -> float:
        raise RuntimeError("relatedness broke")

    server.enqueue(HTTPError(400, "bad request"))
    grader = LLMGrader(server.client(), "gpt-test", relatedness=relatedness)
    caplog.set_level(logging.ERROR, logger="asyncio")
    with pytest.raises(GradingError):
        await grader.grade(item(), ANSWER)
    for _ in range(3):  # let a dropped task be collected and reported, if it would be
        await asyncio.sleep(0.05)
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    # with the judge answering, the indexing's own error is the grade's
    with pytest.raises(RuntimeError, match="relatedness broke"):
        await grader.grade(item("v2"), ANSWER)


async def test_request_slots_bound_the_judge_requests_in_flight(server: FakeOpenAI) -> None:
    """With one request slot, two grades' requests go one after the other (the judge takes
    0.2 s each), while nothing else about the grades waits for the slot."""
    server.delay = 0.2
    grader = LLMGrader(server.client(), "gpt-test")
    grader.request_slots = asyncio.Semaphore(1)
    started = time.monotonic()
    first, second = await asyncio.gather(
        grader.grade(item(), ANSWER), grader.grade(item("v2"), ANSWER + " Also true.")
    )
    assert time.monotonic() - started >= 0.4
    assert first.score == 100 and second.score == 100
    assert len(server.requests) == 2
    assert not grader.request_slots.locked()  # the slot was given back
