"""The LLM rubric grader: an OpenAI-compatible chat model judges each key point; code scores.

The judge returns, per key point in rubric order, a status (covered / partial / missing), a
quote from the answer as evidence and a hint, plus factual errors and short feedback. The score
is never taken from the model: it is computed with :func:`bot.domain.rubric.score_verdicts`
from the rubric weights, after code has checked the judge:

1. **Screening** (:mod:`bot.grading.injection`): sentences of the answer addressed to the grader
   (instructions, demands for marks, fake verdicts, forged delimiters, in many languages and
   disguises) are cut out *before* the judge sees the answer. The judge grades the rest, so a
   flagged answer can never earn more than the same answer without those sentences; the grade is
   flagged ``injection-suspected``.
2. **Locating** (:mod:`bot.grading.evidence`): each covered/partial quote must be found in the
   graded text (character alignment with rapidfuzz, tolerant of how models misquote). A quote
   that cannot be found is sent back to the judge once, asking for a verbatim quote, before the
   verdict becomes ``missing``.
3. **Support** (:mod:`bot.grading.support`): the member's own sentences holding the quote must
   carry the key point's content (shared terms and numbers, accepted forms, embedding
   similarity). Text that talks about grading, code blocks, markup comments, encoded blobs and
   fake delimiters are never evidence; a bare list of terms is not evidence for a key point that
   is not itself a list.
4. **Relatedness**: when the grader has a ``relatedness`` callable (the offline grader's
   similarity to the reference) and it is below the threshold, a high score is clamped and the
   grade flagged ``needs-review``.

Factual errors only count when their quote is in the graded text. All CPU work (steps 1-4) runs
in a small shared thread pool (:mod:`bot.grading.offloop`), never on the event loop.

Errors: timeouts, connection errors, 429, 5xx and unusable output after one repair retry raise
:class:`TransientGradingError` (the worker retries later or falls back to the offline grader);
other 4xx raise :class:`GradingError` -- except a 400 naming a parameter the model does not take
(``max_tokens``, ``temperature``, ``reasoning_effort``, structured outputs), which is adapted to
once and remembered (:mod:`bot.grading.chat_params`). The grader never retries a failed call.

Questions without key points are graded against one synthetic key point,
:data:`~bot.grading.prompting.REFERENCE_KEY_POINT` ("Agrees with the reference answer", weight 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import inspect
import json
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx2
import openai

from bot.domain.bank import KeyPoint
from bot.domain.rubric import (
    Coverage,
    FactualError,
    KeyPointVerdict,
    rubric_feedback,
    score_verdicts,
)
from bot.grading.base import Grade, GradingError, GradingItem, TransientGradingError
from bot.grading.cache import GradeCache, cache_key
from bot.grading.chat_params import ChatParameters
from bot.grading.evidence import (
    AnswerText,
    QuoteLocation,
    evidence_in_answer,
    holding_sentences,
    sentence_bounds,
)
from bot.grading.injection import (
    ItemVocabulary,
    Screening,
    disqualifies_evidence,
    never_evidence_zones,
    screen_answer,
)
from bot.grading.judge_reply import (
    FactualErrorJudgement,
    InvalidJudgeReply,
    JudgeReply,
    KeyPointJudgement,
    judge_json_schema,
    parse_judge_reply,
)
from bot.grading.keyword_lists import (
    is_enumerative,
    keyword_list_sentences,
    looks_like_keyword_list,
)
from bot.grading.naming import asserts_something, names_without_asserting
from bot.grading.offloop import run_off_loop
from bot.grading.prompting import (
    MAX_ANSWER_CHARS,
    REFERENCE_KEY_POINT,
    build_messages,
    cap_answer,
    repair_message,
    requote_message,
)
from bot.grading.support import (
    COVERED_SUPPORT,
    PARTIAL_SUPPORT,
    KeyPointProfile,
    SupportChecker,
)

__all__ = [
    "CLAMPED_SCORE",
    "FLAG_EMPTY",
    "FLAG_EVIDENCE_REJECTED",
    "FLAG_INJECTION",
    "FLAG_NEEDS_REVIEW",
    "FLAG_TRUNCATED",
    "FactualErrorJudgement",
    "InvalidJudgeReply",
    "JudgeReply",
    "KeyPointJudgement",
    "LLMGrader",
    "evidence_in_answer",
    "is_enumerative",
    "looks_like_keyword_list",
    "map_openai_error",
    "parse_judge_reply",
]

log = logging.getLogger(__name__)

#: Below this relatedness to the reference, a score above CLAMPED_SCORE is clamped to it.
DEFAULT_RELATEDNESS_THRESHOLD = 0.2
CLAMPED_SCORE = 30
MAX_FEEDBACK_CHARS = 1200
MAX_FIELD_CHARS = 600
#: A quote lying more than this share inside a code block, comment, blob or fake delimiter is
#: never evidence.
ZONE_OVERLAP = 0.5

FLAG_INJECTION = "injection-suspected"
FLAG_NEEDS_REVIEW = "needs-review"
FLAG_EVIDENCE_REJECTED = "evidence-rejected"
FLAG_TRUNCATED = "truncated"
FLAG_EMPTY = "empty-answer"

Relatedness = Callable[[GradingItem, str], float | Awaitable[float]]


# Hints the member reads when a verdict does not hold up. They never blame the member for the
# judge's misquote.
HINT_UNLOCATED = "Not clearly shown in your answer. Make this point explicitly: {point}"
HINT_UNSUPPORTED = "The words credited here do not make this point. Make it explicitly: {point}"
HINT_PARTLY = "Only partly shown. Say more about: {point}"
HINT_GRADER_TALK = "Text about grading earns no credit. Make this point in your own words: {point}"
HINT_ZONE = "Code, comments and encoded text are not counted. Make this point in prose: {point}"
HINT_KEYWORDS = "Naming the terms is not enough. Show this in your own words: {point}"
HINT_MISSING = "Not in your answer: {point}"


def _holding_are_keyword_lists(text: str, held: Sequence[tuple[int, int]]) -> bool:
    bounds = sentence_bounds(text)
    listed = keyword_list_sentences([text[start:end] for start, end in bounds])
    indices = [bounds.index(span) for span in held if span in bounds]
    return bool(indices) and all(listed[index] for index in indices)


def _holding_only_name(
    text: str,
    held: Sequence[tuple[int, int]],
    point: str,
    shared: frozenset[tuple[int, int]],
) -> bool:
    """The sentences holding the quote name topics and assert nothing about them (see
    :mod:`bot.grading.naming`), and either the point asserts something (a claim, not a list of
    examples) or those sentences are quoted for other points too."""
    if not held:
        return False
    if any(span in shared for span in held):
        # one sentence quoted for several points must assert something
        return not any(asserts_something(text[start:end]) for start, end in held)
    if not all(names_without_asserting(text[start:end]) for start, end in held):
        return False
    return asserts_something(point) and not is_item_list(point)


def is_item_list(key_point: str) -> bool:
    """Whether a key point's content is a list of items (examples, components, options), so
    that naming the items is making the point."""
    # "e.g." ends in a dot: a word boundary after it would need a letter straight after the dot
    if re.search(
        r"\b(?:such as|for example|for instance|namely|includ(?:e|es|ing))\b|\be\.g\.|:", key_point
    ):
        return True
    pieces = [piece for piece in re.split(r"[,;]|\s(?:and|or)\s", key_point) if piece.strip()]
    short = sum(1 for piece in pieces if len(re.findall(r"[^\W\d_]+", piece)) <= 2)
    return len(pieces) >= 3 and short >= 2 * len(pieces) / 3


# --- checking the judge -----------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenedAnswer:
    """An answer screened and capped: what is sent to the judge."""

    screening: Screening
    #: the member's reason for a dispute, screened like the answer ("" when none)
    dispute_reason: str
    graded_text: str
    truncated: bool
    vocabulary: ItemVocabulary


def _discard(task: asyncio.Future[Any]) -> None:
    """Drop a helper task whose result is no longer wanted, without a "never retrieved"
    warning: cancelled if it still runs, its error read if it failed."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


@dataclass(frozen=True)
class PreparedAnswer(ScreenedAnswer):
    """An answer ready to be judged: screened, capped, and indexed for quote look-ups."""

    located_in: AnswerText
    zones: list[tuple[int, int]]
    profiles: list[KeyPointProfile]
    #: the grader's ``relatedness`` of the graded text when it is a plain function, computed
    #: with the rest (or what it returned when that is awaitable); None when there is none
    relatedness: float | Awaitable[float] | None = None


@dataclass
class CheckedVerdicts:
    """The judge's verdicts after the checks in code."""

    verdicts: list[KeyPointVerdict]
    #: Indices whose quote could not be found in the answer.
    unlocated: list[int] = field(default_factory=list)
    rejected: int = 0
    downgraded: int = 0
    support: dict[int, float] = field(default_factory=dict)


def _overlap(spans: Sequence[tuple[int, int]], zones: Sequence[tuple[int, int]]) -> float:
    total = sum(end - start for start, end in spans) or 1
    inside = 0
    for start, end in spans:
        for zone_start, zone_end in zones:
            inside += max(0, min(end, zone_end) - max(start, zone_start))
    return inside / total


def _is_response_format_rejection(exc: openai.BadRequestError) -> bool:
    text = f"{exc.message} {json.dumps(exc.body, default=str) if exc.body else ''}".casefold()
    return any(word in text for word in ("response_format", "json_schema", "structured output"))


def retry_after_seconds(response: Any) -> float | None:
    """The wait a 429/503 asks for: ``retry-after-ms``, else ``retry-after`` in seconds or as an
    HTTP date; None when absent or unreadable."""
    headers = getattr(response, "headers", None) or {}
    with contextlib.suppress(TypeError, ValueError):
        if (milliseconds := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(milliseconds) / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception that ``exc`` was raised from (or while handling)."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


def map_openai_error(exc: Exception) -> GradingError:
    """Transient for timeouts, connection errors, 408/409/429 and 5xx; permanent otherwise."""
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | TimeoutError):
        # the client reports a refused connection as "Request timed out": name what happened
        root = _root_cause(exc)
        refused = isinstance(root, OSError) and not isinstance(root, TimeoutError)
        shown = root if refused else exc
        return TransientGradingError(f"judge unreachable: {type(shown).__name__}: {shown}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = f"judge returned HTTP {status}: {exc.message}"
        if status in (408, 409, 429) or status >= 500:
            return TransientGradingError(message, retry_after=retry_after_seconds(exc.response))
        return GradingError(message)
    if isinstance(exc, openai.APIResponseValidationError):
        return TransientGradingError(f"judge response unusable: {exc}")
    return GradingError(f"judge call failed: {type(exc).__name__}: {exc}")


def completion_content(payload: bytes) -> tuple[str | None, tuple[int, int]]:
    """The first choice's message content (None when there is no choice or no content) and
    the (prompt, completion) token counts of a Chat Completions response body. A body that is
    not a completion raises :class:`TransientGradingError`, like any unusable reply."""
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise TransientGradingError(f"judge response unusable: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise TransientGradingError("judge response unusable: not a JSON object")
    usage = data.get("usage")
    tokens = (0, 0)
    if isinstance(usage, dict):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        tokens = (
            prompt if isinstance(prompt, int) else 0,
            completion if isinstance(completion, int) else 0,
        )
    choices = data.get("choices")
    if not choices:
        return None, tokens
    first = choices[0] if isinstance(choices, list) else None
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise TransientGradingError("judge response unusable: a choice without a message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise TransientGradingError("judge response unusable: the message content is not text")
    return content, tokens


#: Response formats tried in order when an endpoint rejects the previous one.
RESPONSE_FORMATS = ("json_schema", "json_object", "none")
#: The judge's structured-output schema, built once (requests only serialise it).
_JUDGE_SCHEMA = judge_json_schema()


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
        support: SupportChecker | None = None,
        reasoning_effort: str | None = None,
        max_reasoning_tokens: int = 4000,
        requote: bool = True,
        screen: bool = True,
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
        self.support = support or SupportChecker()
        #: Ask the judge once to quote verbatim when a quote cannot be found.
        self.requote = requote
        #: Cut grader-addressed sentences before judging. Only tests turn this off, to show that
        #: the later checks hold on their own.
        self.screen = screen
        self.parameters = ChatParameters(
            model, max_tokens, reasoning_effort, max_reasoning_tokens=max_reasoning_tokens
        )
        self.response_format_index = 0
        self.requests_made = 0
        #: taken for each request to the judge (see ``RequestLimited``); the grading worker
        #: gives its grader slots, so screening and checks never hold one
        self.request_slots: asyncio.Semaphore | None = None

    @property
    def structured_outputs(self) -> bool:
        """False once the endpoint rejected json_schema (then json_object, or plain text)."""
        return RESPONSE_FORMATS[self.response_format_index] == "json_schema"

    async def grade(self, item: GradingItem, answer: str) -> Grade:
        key_points = tuple(item.key_points) or (REFERENCE_KEY_POINT,)
        key = cache_key(item, answer, self.model, self.name)
        # a disputed grade is judged afresh (and its result, shaped by the reason, not cached)
        cache = self.cache if not item.dispute_reason else None
        if not re.search(r"\w", answer):  # never cached: nothing to look up
            return self._empty_grade(
                key_points, "The answer is empty, so there is nothing to grade."
            )
        if cache is None:
            screened = await run_off_loop(self._screen, item, key_points, answer)
        else:
            # the answer is screened while the cache is asked: a miss (the usual case) then
            # costs no extra wait, a hit wastes a millisecond or two of CPU
            looked_up, screened = await asyncio.gather(
                cache.get(key), run_off_loop(self._screen, item, key_points, answer)
            )
            if looked_up is not None:
                return _from_cache(looked_up)
        if not re.search(r"\w", screened.graded_text):
            grade = self._empty_grade(
                key_points,
                "The answer only addressed the grader, so there is nothing to grade.",
                flags=(FLAG_INJECTION,),
            )
        else:
            grade = await self._judge_and_score(item, key_points, screened)
        if cache is not None:
            await cache.put(key, grade)
        return grade

    # -- preparing the answer --

    def _prepare(
        self, item: GradingItem, key_points: Sequence[KeyPoint], answer: str
    ) -> PreparedAnswer:
        """Screen the answer and index it for the checks, in one go."""
        return self._index(item, self._screen(item, key_points, answer))

    def _screen(
        self, item: GradingItem, key_points: Sequence[KeyPoint], answer: str
    ) -> ScreenedAnswer:
        """What the judge needs before it is asked: the answer screened and capped."""
        vocabulary = ItemVocabulary.of(
            item.prompt,
            item.reference,
            *(point.text for point in key_points),
            *(form for point in key_points for form in point.accept),
        )
        if self.screen:
            screening = screen_answer(answer, vocabulary)
            reason = screen_answer(item.dispute_reason, vocabulary) if item.dispute_reason else None
        else:
            screening = Screening(answer, answer.strip())
            reason = None
        if reason is not None and reason.flagged:  # the reason addressed the grader: flag it too
            screening = replace(screening, labels=(*screening.labels, *reason.labels))
        graded, truncated = cap_answer(screening.graded_text, self.max_answer_chars)
        return ScreenedAnswer(
            screening=screening,
            dispute_reason=reason.graded_text if reason is not None else item.dispute_reason,
            graded_text=graded,
            truncated=truncated,
            vocabulary=vocabulary,
        )

    def _index(self, item: GradingItem, screened: ScreenedAnswer) -> PreparedAnswer:
        """What the checks of the judge's reply need (quote look-up, zones, support profiles,
        relatedness): none of it is sent to the judge, so it is computed while the judge
        thinks."""
        graded = screened.graded_text
        relatedness = None
        if (
            self.relatedness is not None
            and not inspect.iscoroutinefunction(self.relatedness)
            and re.search(r"\w", graded)
        ):  # it does not depend on the judge: computed here, off the loop, in the same hop
            relatedness = self.relatedness(item, graded)
        return PreparedAnswer(
            screening=screened.screening,
            dispute_reason=screened.dispute_reason,
            graded_text=graded,
            truncated=screened.truncated,
            located_in=AnswerText(graded),
            zones=never_evidence_zones(graded),
            vocabulary=screened.vocabulary,
            profiles=self.support.profiles(item.key_points, item.prompt, item.reference),
            relatedness=relatedness,
        )

    # -- judging --

    async def _judge_and_score(
        self, item: GradingItem, key_points: Sequence[KeyPoint], screened: ScreenedAnswer
    ) -> Grade:
        prompt = build_messages(
            item.prompt,
            item.reference,
            key_points,
            screened.graded_text,
            limit=self.max_answer_chars,
            dispute_reason=screened.dispute_reason,
        )
        # the answer is indexed for the checks while the judge is asked (off the loop, so the
        # relatedness and the quote index no longer delay the request)
        indexing = asyncio.ensure_future(run_off_loop(self._index, item, screened))
        try:
            reply, content, usage = await self._ask(prompt.messages, len(key_points))
        except BaseException:
            _discard(indexing)
            raise
        prepared = await indexing
        checked, errors = await run_off_loop(
            self._check_reply, key_points, prepared, reply.key_points, reply.factual_errors
        )
        requoted = 0
        if checked.unlocated and self.requote:
            conversation = [
                *prompt.messages,
                {"role": "assistant", "content": (content or "")[:8000]},
                requote_message(checked.unlocated, len(key_points)),
            ]
            second, second_usage = await self._ask_once(conversation, len(key_points))
            usage = (usage[0] + second_usage[0], usage[1] + second_usage[1])
            if second is not None:
                requoted = len(checked.unlocated)
                judgements = list(reply.key_points)
                for index in checked.unlocated:
                    judgements[index] = second.key_points[index]
                reply = JudgeReply(
                    key_points=judgements,
                    factual_errors=reply.factual_errors,
                    feedback=reply.feedback,
                )
                checked = await run_off_loop(self._check, key_points, prepared, judgements)
        relatedness = await self._relatedness(item, prepared)
        return self._grade(
            key_points, prepared, reply, checked, errors, usage, relatedness, requoted
        )

    async def _ask(
        self, messages: list[dict[str, str]], count: int
    ) -> tuple[JudgeReply, str | None, tuple[int, int]]:
        content, usage = await self._complete(messages)
        prompt_tokens, completion_tokens = usage
        try:
            return parse_judge_reply(content, count), content, usage
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
                reply = parse_judge_reply(content, count)
            except InvalidJudgeReply as second_error:
                raise TransientGradingError(
                    f"judge reply unusable after one repair: {second_error}"
                ) from second_error
            return reply, content, (prompt_tokens, completion_tokens)

    async def _ask_once(
        self, messages: list[dict[str, str]], count: int
    ) -> tuple[JudgeReply | None, tuple[int, int]]:
        """One follow-up question; an unusable answer is ``None`` (the first verdicts stand)."""
        try:
            content, usage = await self._complete(messages)
        except TransientGradingError:
            log.info("the follow-up request for verbatim quotes failed; keeping the first verdicts")
            return None, (0, 0)
        try:
            return parse_judge_reply(content, count), usage
        except InvalidJudgeReply:
            return None, usage

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str | None, tuple[int, int]]:
        # Each 400 that names something we can change is adapted to once; at most one per kind.
        for _ in range(len(RESPONSE_FORMATS) + 4):
            try:
                async with self.request_slots or contextlib.nullcontext():
                    return await self._request(messages)
            except openai.BadRequestError as exc:
                if _is_response_format_rejection(exc) and self.response_format_index + 1 < len(
                    RESPONSE_FORMATS
                ):
                    self.response_format_index += 1
                    log.warning(
                        "endpoint rejected the response format; using %s from now on",
                        RESPONSE_FORMATS[self.response_format_index],
                    )
                    continue
                if self.parameters.adjust_to(exc):
                    log.warning(
                        "endpoint rejected a parameter; now sending: %s",
                        ", ".join(self.parameters.learned),
                    )
                    continue
                raise map_openai_error(exc) from exc
            except (openai.OpenAIError, TimeoutError) as exc:
                raise map_openai_error(exc) from exc
        raise GradingError("the endpoint kept rejecting the request parameters")

    async def _request(self, messages: list[dict[str, str]]) -> tuple[str | None, tuple[int, int]]:
        kind = RESPONSE_FORMATS[self.response_format_index]
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            **self.parameters.as_kwargs(),
        }
        if kind == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": _JUDGE_SCHEMA}
        elif kind == "json_object":
            body["response_format"] = {"type": "json_object"}
        self.requests_made += 1
        # The client's own timeout covers each phase; this backstop bounds the whole call.
        async with asyncio.timeout(self.timeout + 1.0):
            # ``chat.completions.create`` would send the same body, after walking it against
            # the request's type annotations (about a third of the client's CPU per call, and
            # a no-op for these plain JSON values), and would build a ChatCompletion model of
            # the reply; ``post`` sends the body as it is, with the same errors and timeout,
            # and the two fields used are read from the JSON directly.
            response = await self.client.post(
                "/chat/completions",
                body=body,
                cast_to=httpx2.Response,
                options={"timeout": self.timeout},
            )
        return completion_content(response.content)

    # -- checks in code (run off the event loop) --

    def _check_reply(
        self,
        key_points: Sequence[KeyPoint],
        prepared: PreparedAnswer,
        judgements: Sequence[KeyPointJudgement],
        judged_errors: Sequence[FactualErrorJudgement],
    ) -> tuple[CheckedVerdicts, tuple[FactualError, ...]]:
        """The judge's first reply checked: its verdicts and its factual errors (one hop)."""
        return self._check(key_points, prepared, judgements), self._factual_errors(
            prepared, judged_errors
        )

    def _check(
        self,
        key_points: Sequence[KeyPoint],
        prepared: PreparedAnswer,
        judgements: Sequence[KeyPointJudgement],
    ) -> CheckedVerdicts:
        checked = CheckedVerdicts(verdicts=[])
        locations = [
            prepared.located_in.locate(evidence)
            if Coverage(judgement.status) is not Coverage.MISSING
            and (evidence := judgement.evidence[:MAX_FIELD_CHARS]).strip()
            else None
            for judgement in judgements
        ]
        # sentences quoted for two key points or more: a sentence that only names topics is
        # never evidence for several points at once, whatever the points look like
        credits = Counter(
            span
            for location in locations
            if location is not None
            for span in set(holding_sentences(prepared.graded_text, location.spans))
        )
        shared = frozenset(span for span, count in credits.items() if count >= 2)
        for index, (point, judgement) in enumerate(zip(key_points, judgements, strict=True)):
            status = Coverage(judgement.status)
            hint = judgement.hint[:MAX_FIELD_CHARS]
            if status is Coverage.MISSING:
                checked.verdicts.append(
                    KeyPointVerdict(
                        point.text, status, "", hint or HINT_MISSING.format(point=point.text)
                    )
                )
                continue
            location = locations[index]
            if location is None:
                checked.unlocated.append(index)
                checked.rejected += 1
                checked.verdicts.append(
                    KeyPointVerdict(
                        point.text, Coverage.MISSING, "", HINT_UNLOCATED.format(point=point.text)
                    )
                )
                continue
            new_status, problem, support = self._judge_evidence(
                point, prepared.profiles[index], prepared, location, status, shared
            )
            checked.support[index] = support
            if new_status is Coverage.MISSING:
                checked.rejected += 1
                checked.verdicts.append(KeyPointVerdict(point.text, new_status, "", problem))
                continue
            quoted = " … ".join(prepared.graded_text[start:end] for start, end in location.spans)
            if new_status is not status:
                checked.downgraded += 1
                hint = problem
            if new_status is Coverage.COVERED:
                hint = ""
            checked.verdicts.append(KeyPointVerdict(point.text, new_status, quoted, hint))
        return checked

    def _judge_evidence(
        self,
        point: KeyPoint,
        profile: KeyPointProfile,
        prepared: PreparedAnswer,
        location: QuoteLocation,
        status: Coverage,
        shared: frozenset[tuple[int, int]] = frozenset(),
    ) -> tuple[Coverage, str, float]:
        """The status the evidence supports, why it was lowered ("" if not), and the support."""
        text = prepared.graded_text
        if _overlap(location.spans, prepared.zones) > ZONE_OVERLAP:
            return Coverage.MISSING, HINT_ZONE.format(point=point.text), 0.0
        held = holding_sentences(text, location.spans)
        holding = " ".join(text[start:end] for start, end in held)
        quoted = " ".join(text[start:end] for start, end in location.spans)
        if disqualifies_evidence(holding, prepared.vocabulary):
            return Coverage.MISSING, HINT_GRADER_TALK.format(point=point.text), 0.0
        if not is_enumerative(point.text) and _holding_are_keyword_lists(text, held):
            return Coverage.MISSING, HINT_KEYWORDS.format(point=point.text), 0.0
        if _holding_only_name(text, held, point.text, shared):
            return Coverage.MISSING, HINT_KEYWORDS.format(point=point.text), 0.0
        support = max(
            self.support.support(profile, holding).value,
            self.support.support(profile, quoted).value,
        )
        if support < PARTIAL_SUPPORT:
            return Coverage.MISSING, HINT_UNSUPPORTED.format(point=point.text), support
        if status is Coverage.COVERED and support < COVERED_SUPPORT:
            return Coverage.PARTIAL, HINT_PARTLY.format(point=point.text), support
        return status, "", support

    def _factual_errors(
        self, prepared: PreparedAnswer, judged: Sequence[FactualErrorJudgement]
    ) -> tuple[FactualError, ...]:
        return tuple(
            FactualError(error.quote[:MAX_FIELD_CHARS], error.correction[:MAX_FIELD_CHARS])
            for error in judged
            if error.quote
            and prepared.located_in.locate(error.quote[:MAX_FIELD_CHARS], strict=True) is not None
        )

    async def _relatedness(self, item: GradingItem, prepared: PreparedAnswer) -> float | None:
        if self.relatedness is None:
            return None
        if inspect.iscoroutinefunction(self.relatedness):
            value = await self.relatedness(item, prepared.graded_text)
        else:
            value = prepared.relatedness
            if inspect.isawaitable(value):
                value = await value
        assert value is not None  # a plain function's value was computed with the answer
        return max(0.0, min(1.0, float(value)))

    # -- the grade --

    def _grade(
        self,
        key_points: Sequence[KeyPoint],
        prepared: PreparedAnswer,
        reply: JudgeReply,
        checked: CheckedVerdicts,
        errors: tuple[FactualError, ...],
        usage: tuple[int, int],
        relatedness: float | None,
        requoted: int,
    ) -> Grade:
        verdicts = checked.verdicts
        score = score_verdicts(key_points, verdicts, len(errors))
        flags: list[str] = []
        details: dict[str, float] = {
            "rejected_evidence": float(checked.rejected),
            "downgraded_evidence": float(checked.downgraded),
            "requoted": float(requoted),
        }
        screening = prepared.screening
        if screening.flagged:
            flags.append(FLAG_INJECTION)
            details["injection_patterns"] = float(len(screening.labels))
            details["removed_spans"] = float(len(screening.removed))
        if checked.rejected:
            flags.append(FLAG_EVIDENCE_REJECTED)
        if prepared.truncated:
            flags.append(FLAG_TRUNCATED)
        if relatedness is not None:
            details["relatedness"] = relatedness
            if relatedness < self.relatedness_threshold and score > self.clamped_score:
                details["unclamped_score"] = float(score)
                score = self.clamped_score
                flags.append(FLAG_NEEDS_REVIEW)
        feedback = reply.feedback.strip()[:MAX_FEEDBACK_CHARS]
        if checked.rejected or checked.downgraded or screening.flagged or not feedback:
            feedback = rubric_feedback(verdicts, errors)[:MAX_FEEDBACK_CHARS]
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

    def _empty_grade(
        self, key_points: Sequence[KeyPoint], feedback: str, flags: tuple[str, ...] = ()
    ) -> Grade:
        verdicts = tuple(
            KeyPointVerdict(point.text, Coverage.MISSING, "", HINT_MISSING.format(point=point.text))
            for point in key_points
        )
        return Grade(
            score=0,
            verdicts=verdicts,
            feedback=feedback,
            grader=self.name,
            model=self.model,
            flags=(FLAG_EMPTY, *flags),
        )


def _from_cache(cached: Grade) -> Grade:
    """A cached grade as served: no tokens spent, marked as a cache hit."""
    details = {**cached.details, "cache_hit": 1.0}
    return replace(cached, prompt_tokens=0, completion_tokens=0, details=details)
