"""The LLM rubric grader: an OpenAI-compatible chat model judges each key point; code scores.

The judge returns, per key point in rubric order, a status (covered / partial / missing), a
verbatim quote from the answer as evidence and a hint, plus factual errors and short feedback.
The score is never taken from the model: it is computed with
:func:`bot.domain.rubric.score_verdicts` from the rubric weights, after code checks that

* every covered/partial verdict quotes words that really are in the answer (normalised for case,
  whitespace, quotes and punctuation, with a small fuzzy tolerance: difflib ratio >=
  :data:`FUZZY_THRESHOLD` over a sliding window of answer words), else the verdict becomes
  ``missing``;
* that evidence is not a bare keyword list, keyword repetition, or an injection phrase;
* factual errors only count when their quote is in the answer.

When the grader has a ``relatedness`` callable (the offline grader's lexical/semantic similarity
to the reference) and the answer's relatedness is below the threshold, a high score is clamped
and the grade flagged ``needs-review``. Injection phrases flag ``injection-suspected``.

Errors: timeouts, connection errors, 429, 5xx and unusable output after one repair retry raise
:class:`TransientGradingError` (the worker retries later or falls back to the offline grader);
other 4xx raise :class:`GradingError`. The grader itself never retries a failed call.

Questions without key points are graded against one synthetic key point,
:data:`~bot.grading.prompting.REFERENCE_KEY_POINT` ("Agrees with the reference answer", weight 10).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from difflib import SequenceMatcher
from typing import Any, Literal

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.bank import KeyPoint
from bot.domain.rubric import Coverage, FactualError, KeyPointVerdict, score_verdicts
from bot.grading.base import Grade, GradingError, GradingItem, TransientGradingError
from bot.grading.cache import GradeCache, cache_key
from bot.grading.prompting import (
    MAX_ANSWER_CHARS,
    REFERENCE_KEY_POINT,
    build_messages,
    cap_answer,
    detect_injection,
    judge_json_schema,
    repair_message,
)

log = logging.getLogger(__name__)

#: difflib ratio a window of the answer must reach to count as the quoted evidence.
FUZZY_THRESHOLD = 0.9
#: Quotes shorter than this many words must match exactly (after normalisation).
FUZZY_MIN_WORDS = 3
#: Below this relatedness to the reference, a score above CLAMPED_SCORE is clamped to it.
DEFAULT_RELATEDNESS_THRESHOLD = 0.2
CLAMPED_SCORE = 30
MAX_FEEDBACK_CHARS = 1200
MAX_FIELD_CHARS = 600

FLAG_INJECTION = "injection-suspected"
FLAG_NEEDS_REVIEW = "needs-review"
FLAG_EVIDENCE_REJECTED = "evidence-rejected"
FLAG_TRUNCATED = "truncated"
FLAG_EMPTY = "empty-answer"

Relatedness = Callable[[GradingItem, str], float | Awaitable[float]]

# Words whose total absence from a long stretch of text marks it as a keyword dump, not prose.
_FUNCTION_WORDS_TEXT = (
    "a an the of to in on at for by with from into as is are was were be been being it its "
    "this that these those which who when where while because so if than then and or but not "
    "no can could will would should may might must do does has have had their there they we "
    "you our each more less only also using via per how why what all any some such both over "
    "under after before between through without within across about out up"
)
_MATH = re.compile(r"\d|[=+*/^×≈√∑]")
#: A long sentence with fewer function words than this share is a keyword dump.
MIN_FUNCTION_WORD_SHARE = 0.12
_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())


# --- the judge's reply ------------------------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class KeyPointJudgement(_Lenient):
    index: int = Field(ge=0)
    status: Literal["covered", "partial", "missing"]
    evidence: str = ""
    hint: str = ""


class FactualErrorJudgement(_Lenient):
    quote: str
    correction: str


class JudgeReply(_Lenient):
    key_points: list[KeyPointJudgement]
    factual_errors: list[FactualErrorJudgement] = Field(default_factory=list)
    feedback: str = ""


class InvalidJudgeReply(ValueError):
    """The judge's reply is not JSON, or not the expected shape."""


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL | re.IGNORECASE)


def parse_judge_reply(content: str | None, count: int) -> JudgeReply:
    """Parse and validate a reply; exactly one judgement per key point index 0..count-1."""
    if not content or not content.strip():
        raise InvalidJudgeReply("the reply was empty")
    match = _FENCE.match(content)
    text = match.group(1) if match else content
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJudgeReply(f"the reply is not valid JSON: {exc}") from exc
    try:
        reply = JudgeReply.model_validate(data)
    except ValidationError as exc:
        raise InvalidJudgeReply(f"the reply does not match the schema: {exc}") from exc
    indices = [judgement.index for judgement in reply.key_points]
    if sorted(indices) == list(range(1, count + 1)):  # numbered from 1: accept and shift
        for judgement in reply.key_points:
            judgement.index -= 1
        indices = [index - 1 for index in indices]
    if sorted(indices) != list(range(count)):
        raise InvalidJudgeReply(
            f"expected exactly one key_points entry for each index 0..{count - 1}, got {indices}"
        )
    reply.key_points.sort(key=lambda judgement: judgement.index)
    return reply


# --- evidence checks --------------------------------------------------------------------------

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"'})


def normalise_for_match(text: str) -> str:
    """NFKC, casefold, unify quotes, punctuation to spaces, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _fuzzy_contains(needle: str, haystack: str, threshold: float) -> bool:
    if f" {needle} " in f" {haystack} ":
        return True
    words = needle.split()
    if len(words) < FUZZY_MIN_WORDS:
        return False
    hay_words = haystack.split()
    for size in {max(1, len(words) - 1), len(words), len(words) + 1}:
        for start in range(0, max(1, len(hay_words) - size + 1)):
            window = " ".join(hay_words[start : start + size])
            matcher = SequenceMatcher(None, needle, window, autojunk=False)
            if (
                matcher.real_quick_ratio() >= threshold
                and matcher.quick_ratio() >= threshold
                and matcher.ratio() >= threshold
            ):
                return True
    return False


def _evidence_parts(evidence: str) -> list[str]:
    parts = re.split(r"\.\.\.+|…|\[\.\.\.\]", evidence)
    return [normalised for part in parts if (normalised := normalise_for_match(part))]


def evidence_in_answer(evidence: str, answer: str, threshold: float = FUZZY_THRESHOLD) -> bool:
    """Whether every part of a quote (parts joined by an ellipsis) occurs in the answer."""
    parts = _evidence_parts(evidence)
    if not parts:
        return False
    haystack = normalise_for_match(answer)
    return all(_fuzzy_contains(part, haystack, threshold) for part in parts)


def looks_like_keyword_list(text: str) -> bool:
    """A bare list of terms, a repetition of terms, or a long run of words with few function words.

    Numbers and formulas are exempt from the list and density rules: ``q = [40, -127, 50, 17]``
    or ``m_hat = m / (1 - beta1^t)`` are answers, not keyword dumps.
    """
    words = re.findall(r"[^\W\d_]+", text.casefold())
    function_words = sum(1 for word in words if word in _FUNCTION_WORDS)
    if _MATH.search(text):
        return False
    if len(words) >= 8 and len(set(words)) < 0.5 * len(words):
        return True
    pieces = [piece for piece in re.split(r"[,;|•·\n\t]+|\s[-*+]\s", text) if piece.strip()]
    short = sum(1 for piece in pieces if len(re.findall(r"\w+", piece)) <= 3)
    if len(pieces) >= 3 and short >= 0.75 * len(pieces) and function_words < 0.2 * len(words):
        return True
    if len(words) >= 10 and function_words == 0:
        return True
    return len(words) >= 16 and function_words < MIN_FUNCTION_WORD_SHARE * len(words)


def is_enumerative(key_point: str) -> bool:
    """Whether a key point is itself a list of items (then a list of terms is fair evidence)."""
    return key_point.count(",") >= 2 or bool(re.search(r",[^,]+\b(?:and|or)\b", key_point))


def _sentences(answer: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?])\s+|\n+", answer) if part.strip()]


#: A sentence of at most this many words is "terse"; runs of terse sentences are lists.
TERSE_WORDS = 4


def _is_terse(sentence: str) -> bool:
    return not _MATH.search(sentence) and len(re.findall(r"\w+", sentence)) <= TERSE_WORDS


def _in_terse_run(index: int, sentences: Sequence[str]) -> bool:
    """A terse sentence with at least two terse neighbours (within two places): a bullet list."""
    if not _is_terse(sentences[index]):
        return False
    nearby = range(max(0, index - 2), min(len(sentences), index + 3))
    return sum(1 for other in nearby if other != index and _is_terse(sentences[other])) >= 2


def evidence_is_keyword_list(evidence: str, answer: str) -> bool:
    """Whether the sentences of the answer that hold the evidence are keyword lists.

    A holding sentence counts as a list when it is one (:func:`looks_like_keyword_list`) or when
    it is a terse fragment among other terse fragments (bullets of bare terms).
    """
    parts = _evidence_parts(evidence)
    if not parts:
        return False
    sentences = _sentences(answer)
    holding = [
        index
        for index, sentence in enumerate(sentences)
        if f" {parts[0]} " in f" {normalise_for_match(sentence)} "
    ]
    if holding:
        return all(
            looks_like_keyword_list(sentences[index]) or _in_terse_run(index, sentences)
            for index in holding
        )
    return looks_like_keyword_list(evidence)


# --- the grader -------------------------------------------------------------------------------


def _is_response_format_rejection(exc: openai.BadRequestError) -> bool:
    text = f"{exc.message} {json.dumps(exc.body, default=str) if exc.body else ''}".casefold()
    return any(word in text for word in ("response_format", "json_schema", "structured output"))


def map_openai_error(exc: Exception) -> GradingError:
    """Transient for timeouts, connection errors, 408/409/429 and 5xx; permanent otherwise."""
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | TimeoutError):
        return TransientGradingError(f"judge unreachable: {type(exc).__name__}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = f"judge returned HTTP {status}: {exc.message}"
        if status in (408, 409, 429) or status >= 500:
            return TransientGradingError(message)
        return GradingError(message)
    if isinstance(exc, openai.APIResponseValidationError):
        return TransientGradingError(f"judge response unusable: {exc}")
    return GradingError(f"judge call failed: {type(exc).__name__}: {exc}")


class LLMGrader:
    """Grades an answer with an OpenAI-compatible chat model; see the module docstring."""

    name = "llm"

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        timeout: float = 30.0,
        max_tokens: int = 800,
        cache: GradeCache | None = None,
        relatedness: Relatedness | None = None,
        relatedness_threshold: float = DEFAULT_RELATEDNESS_THRESHOLD,
        clamped_score: int = CLAMPED_SCORE,
        max_answer_chars: int = MAX_ANSWER_CHARS,
    ) -> None:
        self.client = client
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.cache = cache
        self.relatedness = relatedness
        self.relatedness_threshold = relatedness_threshold
        self.clamped_score = clamped_score
        self.max_answer_chars = max_answer_chars
        #: False once the endpoint rejected json_schema; then json_object is used from the start.
        self.structured_outputs = True
        self.requests_made = 0

    async def grade(self, item: GradingItem, answer: str) -> Grade:
        key_points = tuple(item.key_points) or (REFERENCE_KEY_POINT,)
        key = cache_key(item, answer, self.model, self.name)
        if self.cache is not None:
            cached = await self.cache.get(key)
            if cached is not None:
                details = {**cached.details, "cache_hit": 1.0}
                return replace(cached, prompt_tokens=0, completion_tokens=0, details=details)
        if not re.search(r"\w", answer):
            return self._empty_grade(key_points)

        text, truncated = cap_answer(answer, self.max_answer_chars)
        prompt = build_messages(
            item.prompt, item.reference, key_points, answer, limit=self.max_answer_chars
        )
        reply, usage = await self._ask(prompt.messages, len(key_points))
        grade = await self._score(item, key_points, text, reply, usage, truncated, answer)
        if self.cache is not None:
            await self.cache.put(key, grade)
        return grade

    # -- calling the judge --

    async def _ask(
        self, messages: list[dict[str, str]], count: int
    ) -> tuple[JudgeReply, tuple[int, int]]:
        content, usage = await self._complete(messages)
        prompt_tokens, completion_tokens = usage
        try:
            return parse_judge_reply(content, count), (prompt_tokens, completion_tokens)
        except InvalidJudgeReply as first_error:
            log.info(
                "judge reply unusable (%s); asking once for a repair", type(first_error).__name__
            )
            repaired = [
                *messages,
                {"role": "assistant", "content": (content or "")[:4000]},
                repair_message(str(first_error), count),
            ]
            content, usage = await self._complete(repaired)
            prompt_tokens += usage[0]
            completion_tokens += usage[1]
            try:
                return parse_judge_reply(content, count), (prompt_tokens, completion_tokens)
            except InvalidJudgeReply as second_error:
                raise TransientGradingError(
                    f"judge reply unusable after one repair: {second_error}"
                ) from second_error

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str | None, tuple[int, int]]:
        try:
            return await self._request(messages)
        except openai.BadRequestError as exc:
            if self.structured_outputs and _is_response_format_rejection(exc):
                log.warning("endpoint rejected json_schema; using json_object from now on")
                self.structured_outputs = False
                try:
                    return await self._request(messages)
                except Exception as retry_exc:
                    raise map_openai_error(retry_exc) from retry_exc
            raise map_openai_error(exc) from exc
        except (openai.OpenAIError, TimeoutError) as exc:
            raise map_openai_error(exc) from exc

    async def _request(self, messages: list[dict[str, str]]) -> tuple[str | None, tuple[int, int]]:
        response_format: dict[str, Any] = (
            {"type": "json_schema", "json_schema": judge_json_schema()}
            if self.structured_outputs
            else {"type": "json_object"}
        )
        self.requests_made += 1
        # The client's own timeout covers each phase; this backstop bounds the whole call.
        async with asyncio.timeout(self.timeout + 1.0):
            completion = await self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=0,
                max_tokens=self.max_tokens,
                response_format=response_format,  # type: ignore[arg-type]
                timeout=self.timeout,
            )
        usage = completion.usage
        tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        if not completion.choices:
            return None, tokens
        message = completion.choices[0].message
        return message.content, tokens

    # -- scoring in code --

    async def _score(
        self,
        item: GradingItem,
        key_points: Sequence[KeyPoint],
        answer: str,
        reply: JudgeReply,
        usage: tuple[int, int],
        truncated: bool,
        full_answer: str,
    ) -> Grade:
        verdicts: list[KeyPointVerdict] = []
        rejected = 0
        for point, judgement in zip(key_points, reply.key_points, strict=True):
            status = Coverage(judgement.status)
            evidence = judgement.evidence[:MAX_FIELD_CHARS]
            hint = judgement.hint[:MAX_FIELD_CHARS]
            if status is not Coverage.MISSING:
                problem = self._evidence_problem(evidence, answer, point.text)
                if problem:
                    rejected += 1
                    status, evidence = Coverage.MISSING, ""
                    hint = f"{problem} Show this in your own words: {point.text}"
            elif not hint:
                hint = f"Not in your answer: {point.text}"
            if status is Coverage.COVERED:
                hint = ""
            verdicts.append(KeyPointVerdict(point.text, status, evidence, hint))

        errors = tuple(
            FactualError(error.quote[:MAX_FIELD_CHARS], error.correction[:MAX_FIELD_CHARS])
            for error in reply.factual_errors
            if error.quote and evidence_in_answer(error.quote, answer)
        )
        score = score_verdicts(key_points, verdicts, len(errors))

        flags: list[str] = []
        details: dict[str, float] = {"rejected_evidence": float(rejected)}
        injection = detect_injection(full_answer)
        if injection:
            flags.append(FLAG_INJECTION)
            details["injection_patterns"] = float(len(injection))
        if rejected:
            flags.append(FLAG_EVIDENCE_REJECTED)
        if truncated:
            flags.append(FLAG_TRUNCATED)
        if self.relatedness is not None:
            value = self.relatedness(item, full_answer)
            if inspect.isawaitable(value):
                value = await value
            relatedness = max(0.0, min(1.0, float(value)))
            details["relatedness"] = relatedness
            if relatedness < self.relatedness_threshold and score > self.clamped_score:
                details["unclamped_score"] = float(score)
                score = self.clamped_score
                flags.append(FLAG_NEEDS_REVIEW)

        feedback = reply.feedback.strip()[:MAX_FEEDBACK_CHARS]
        if rejected or injection or not feedback:
            feedback = _feedback_from_verdicts(verdicts, errors)
        return Grade(
            score=score,
            verdicts=tuple(verdicts),
            feedback=feedback,
            grader=self.name,
            model=self.model,
            factual_errors=errors,
            flags=tuple(flags),
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            details=details,
        )

    @staticmethod
    def _evidence_problem(evidence: str, answer: str, key_point: str) -> str:
        """Why a covered/partial verdict's evidence does not hold up ("" when it does)."""
        if not evidence_in_answer(evidence, answer):
            return "The grader could not find this in your answer."
        if not is_enumerative(key_point) and evidence_is_keyword_list(evidence, answer):
            return "Naming the terms is not enough."
        if detect_injection(evidence):
            return "Instructions to the grader earn no credit."
        return ""

    def _empty_grade(self, key_points: Sequence[KeyPoint]) -> Grade:
        verdicts = tuple(
            KeyPointVerdict(point.text, Coverage.MISSING, "", f"Not in your answer: {point.text}")
            for point in key_points
        )
        return Grade(
            score=0,
            verdicts=verdicts,
            feedback="The answer is empty, so there is nothing to grade.",
            grader=self.name,
            model=self.model,
            flags=(FLAG_EMPTY,),
        )


def _feedback_from_verdicts(
    verdicts: Sequence[KeyPointVerdict], errors: Sequence[FactualError]
) -> str:
    covered = [v.key_point for v in verdicts if v.status is Coverage.COVERED]
    partial = [v.key_point for v in verdicts if v.status is Coverage.PARTIAL]
    missing = [v.key_point for v in verdicts if v.status is Coverage.MISSING]
    lines = []
    if covered:
        lines.append("Covered: " + "; ".join(covered) + ".")
    if partial:
        lines.append("Partly covered: " + "; ".join(partial) + ".")
    if missing:
        lines.append("Missing: " + "; ".join(missing) + ".")
    if errors:
        lines.append("Check: " + "; ".join(error.correction for error in errors))
    return " ".join(lines)[:MAX_FEEDBACK_CHARS]
