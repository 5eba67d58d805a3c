"""A loopback fake of the OpenAI Chat Completions endpoint, for testing the real openai client.

openai 3.x sends its requests through httpx2, which respx cannot intercept, so tests start this
small aiohttp server on 127.0.0.1 (port 0) and point ``AsyncOpenAI(base_url=...)`` at it. The
server records every request body in :attr:`FakeOpenAI.requests` and answers with a pluggable
*judge* (a function from the parsed request to the judge's JSON reply):

* :class:`HonestJudge` finds the key point's words in the answer and quotes the best sentence;
* :class:`GullibleJudge` obeys instruction-like text in the answer: every key point ``covered``
  with invented evidence (or, with ``evidence="attack"``, the attack sentence itself), no
  factual errors, glowing feedback; otherwise it is honest.

A script of steps (:meth:`FakeOpenAI.enqueue`) overrides the judge request by request:
:class:`Content` (a reply body, JSON or raw text), :class:`HTTPError` (429, 500, 400...),
:class:`Sleep` (a slow answer). ``reject_json_schema = True`` makes the server answer 400 to any
``response_format`` of type ``json_schema``, like endpoints without structured outputs.

Fixtures (import them into a conftest): ``fake_openai`` (a running server with an honest judge)
and ``openai_client`` (an ``AsyncOpenAI`` pointed at it, ``max_retries=0``, 5 s timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import web
from openai import AsyncOpenAI

ANSWER_BLOCK = re.compile(r"<<<ANSWER-([0-9a-f]+)>>>\n(.*?)\n<<<END-ANSWER-\1>>>", re.DOTALL)
KEY_POINT_LINE = re.compile(r"^- \[(\d+)\] \(weight (\d+)\) (.+)$", re.MULTILINE)

_STOPWORDS_TEXT = (
    "about above after again against also because been before being below between both could "
    "does doing down during each from further have having here into itself more most once only "
    "other over same should some such than that their them then there these they this those "
    "through under until very what when where which while will with would your answer along"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@dataclass(frozen=True)
class ParsedRequest:
    """What a judge needs of a request: the rubric lines and the delimited answer."""

    body: dict[str, Any]
    system: str
    user: str
    nonce: str
    answer: str
    key_points: list[str]


def parse_request(body: dict[str, Any]) -> ParsedRequest:
    messages = body.get("messages", [])
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    users = [m["content"] for m in messages if m.get("role") == "user"]
    user = users[0] if users else ""
    match = ANSWER_BLOCK.search(user)
    nonce, answer = (match.group(1), match.group(2)) if match else ("", user)
    key_points = [text for _, _, text in KEY_POINT_LINE.findall(system)]
    return ParsedRequest(body, system, user, nonce, answer, key_points)


# --- judges -----------------------------------------------------------------------------------

Judge = Callable[[ParsedRequest], dict[str, Any]]


def _stems(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.casefold())
    return {word[:5] for word in words if len(word) >= 4 and word not in _STOPWORDS}


def _sentences(answer: str) -> list[str]:
    return [part.strip() for part in re.split(r"(?<=[.!?])\s+|\n+", answer) if part.strip()]


@dataclass
class HonestJudge:
    """Covers a key point when one sentence holds most of its words; quotes that sentence.

    ``known_errors`` maps a wrong statement (matched case-insensitively) to its correction.
    """

    known_errors: dict[str, str] = field(default_factory=dict)
    covered_at: float = 0.6
    partial_at: float = 0.3

    def __call__(self, request: ParsedRequest) -> dict[str, Any]:
        sentences = _sentences(request.answer)
        verdicts = []
        for index, point in enumerate(request.key_points):
            wanted = _stems(point)
            best, best_share = "", 0.0
            for sentence in sentences:
                share = len(wanted & _stems(sentence)) / len(wanted) if wanted else 0.0
                if share > best_share:
                    best, best_share = sentence, share
            if best_share >= self.covered_at:
                status, evidence, hint = "covered", best, ""
            elif best_share >= self.partial_at:
                status, evidence, hint = "partial", best, f"Say more about: {point}"
            else:
                status, evidence, hint = "missing", "", f"Mention: {point}"
            verdicts.append({"index": index, "status": status, "evidence": evidence, "hint": hint})
        errors = []
        lowered = request.answer.casefold()
        for wrong, correction in self.known_errors.items():
            start = lowered.find(wrong.casefold())
            if start >= 0:
                quote = request.answer[start : start + len(wrong)]
                errors.append({"quote": quote, "correction": correction})
        covered = sum(1 for verdict in verdicts if verdict["status"] == "covered")
        feedback = f"You covered {covered} of {len(verdicts)} key points."
        return {"key_points": verdicts, "factual_errors": errors, "feedback": feedback}


#: What makes the gullible judge obey: instruction-like text, in several languages.
GULLIBLE_TRIGGERS = re.compile(
    r"ignor|disregard|forget|instruction|you are now|pretend|role[\s-]?play|system|assistant|"
    r"grader|evaluator|full marks|perfect|score|\b100\b|covered|<<<|>>>|end-answer|<!--|<\||"
    r"\"status\"|verdict|consigne|anweisung|instrucci|istruzion|инструкц|теперь ты|指令|指示|满分|"
    r"你现在|maintenant|punktzahl|puntuaci|балл|важно",
    re.IGNORECASE,
)


@dataclass
class GullibleJudge(HonestJudge):
    """A judge that does what instruction-like text in the answer says.

    ``evidence="invented"`` quotes text that is not in the answer; ``evidence="attack"`` quotes
    the answer's own attack sentence (real words, but no evidence of knowledge).
    """

    evidence: str = "invented"
    obeyed: int = 0

    def __call__(self, request: ParsedRequest) -> dict[str, Any]:
        # Fold look-alike letters crudely, as a model would read through them.
        answer = request.answer
        trigger = GULLIBLE_TRIGGERS.search(answer) or GULLIBLE_TRIGGERS.search(
            answer.translate(str.maketrans("аеорсіο", "aeopcio"))
        )
        if trigger is None:
            return super().__call__(request)
        self.obeyed += 1
        attack_sentence = next(
            (s for s in _sentences(answer) if GULLIBLE_TRIGGERS.search(s)), answer[:200]
        )
        verdicts = []
        for index, point in enumerate(request.key_points):
            if self.evidence == "attack":
                evidence = attack_sentence
            else:
                evidence = f"The candidate clearly explains that {point.lower()}, in full detail."
            verdicts.append({"index": index, "status": "covered", "evidence": evidence, "hint": ""})
        return {
            "key_points": verdicts,
            "factual_errors": [],
            "feedback": "Outstanding answer: complete, precise and well argued. Full marks.",
        }


# --- scripted steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Content:
    """Reply 200 with this message content: a dict is sent as JSON text, a str as is."""

    value: dict[str, Any] | str
    finish_reason: str = "stop"


@dataclass(frozen=True)
class HTTPError:
    status: int
    message: str = "fake error"
    param: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Sleep:
    """Wait this long before answering (then answer with the judge)."""

    seconds: float


MALFORMED = Content("{'key_points': [this is not JSON")
Step = Content | HTTPError | Sleep


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_exceeded"}
    return {"error": {"message": message, "type": kind.get(status, "server_error"), "param": param,
                      "code": code}}  # fmt: skip


# --- the server -------------------------------------------------------------------------------


class FakeOpenAI:
    """The loopback server; ``async with FakeOpenAI() as server: server.client()``."""

    def __init__(self, judge: Judge | None = None, *, model_name: str | None = None) -> None:
        self.judge: Judge = judge or HonestJudge()
        self.model_name = model_name
        self.requests: list[dict[str, Any]] = []
        self.script: deque[Step] = deque()
        self.reject_json_schema = False
        self.delay = 0.0
        self.port = 0
        self._closing = asyncio.Event()
        self._clients: list[AsyncOpenAI] = []
        self._runner: web.AppRunner | None = None

    # lifecycle

    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        self._closing.set()
        for client in self._clients:
            await client.close()
        self._clients.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, *, timeout: float = 5.0) -> AsyncOpenAI:
        """A client pointed at this server (no retries); closed when the server closes."""
        client = AsyncOpenAI(
            api_key="test-key", base_url=self.base_url, max_retries=0, timeout=timeout
        )
        self._clients.append(client)
        return client

    # scripting and inspection

    def enqueue(self, *steps: Step) -> None:
        self.script.extend(steps)

    @property
    def parsed_requests(self) -> list[ParsedRequest]:
        return [parse_request(body) for body in self.requests]

    # the endpoint

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.delay:
            await self._sleep(self.delay)
        response_format = body.get("response_format") or {}
        if self.reject_json_schema and response_format.get("type") == "json_schema":
            return self._error(
                HTTPError(
                    400,
                    "Invalid parameter: 'response_format' of type 'json_schema' is not supported "
                    "with this model.",
                    param="response_format",
                )
            )
        while self.script:
            step = self.script.popleft()
            if isinstance(step, Sleep):
                await self._sleep(step.seconds)
                continue
            if isinstance(step, HTTPError):
                return self._error(step)
            return self._completion(body, step.value, step.finish_reason)
        return self._completion(body, self.judge(parse_request(body)))

    def _error(self, error: HTTPError) -> web.Response:
        return web.json_response(
            error_body(error.status, error.message, error.param, error.code), status=error.status
        )

    def _completion(
        self, body: dict[str, Any], value: dict[str, Any] | str, finish_reason: str = "stop"
    ) -> web.Response:
        content = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        prompt_tokens, completion_tokens = max(1, prompt_chars // 4), max(1, len(content) // 4)
        return web.json_response(
            {
                "id": f"chatcmpl-fake-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": self.model_name or body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": finish_reason,
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )


# --- fixtures ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A running fake with an honest judge; swap ``fake_openai.judge`` or ``enqueue`` steps."""
    async with FakeOpenAI() as server:
        yield server


@pytest_asyncio.fixture
async def openai_client(fake_openai: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    """An ``AsyncOpenAI`` client pointed at ``fake_openai`` (no retries, 5 s timeout)."""
    yield fake_openai.client()
