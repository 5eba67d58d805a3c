"""A loopback fake of the OpenAI Chat Completions endpoint, for testing the real openai client.

openai 3.x sends its requests through httpx2, which respx cannot intercept, so tests start this
small aiohttp server on 127.0.0.1 (port 0) and point ``AsyncOpenAI(base_url=...)`` at it. The
server records every request body in :attr:`FakeOpenAI.requests` and answers with a pluggable
*judge* (a function from the parsed request to the judge's JSON reply):

* :class:`HonestJudge` finds the key point's words in the answer and quotes the best sentence;
* :class:`GullibleJudge` obeys instruction-like text in the answer, reading through disguises
  (zero-width and tag characters, look-alike letters, spread-out letters, reversed text, base64
  and hex): every key point ``covered`` with invented evidence (or, with ``evidence="attack"``,
  the attack sentence itself), no factual errors, glowing feedback; otherwise it is honest;
* :class:`GenerousJudge` marks every key point of any answer covered, quoting its best sentence;
* :class:`ImperfectQuotingJudge` knows which sentence of a correct answer makes which key point
  (:class:`AnnotatedAnswer`) and marks every point covered, quoting that sentence the way
  language models misquote (see :data:`QUOTE_STYLES`); asked to quote verbatim, it does.

A script of steps (:meth:`FakeOpenAI.enqueue`) overrides the judge request by request:
:class:`Content` (a reply body, JSON or raw text), :class:`HTTPError` (429, 500, 400...),
:class:`Sleep` (a slow answer). ``reject_json_schema = True`` makes the server answer 400 to any
``response_format`` of type ``json_schema``, like endpoints without structured outputs;
``reasoning_model = True`` answers 400 to ``max_tokens`` and to a temperature other than 1, like
OpenAI's reasoning models.

Fixtures (import them into a conftest): ``fake_openai`` (a running server with an honest judge)
and ``openai_client`` (an ``AsyncOpenAI`` pointed at it, ``max_retries=0``, 5 s timeout).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import random
import re
import unicodedata
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
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


@dataclass
class GenerousJudge:
    """Marks every key point covered, quoting the answer's sentence that shares the most words
    with it: what an over-generous (or manipulated) judge says about any answer."""

    def __call__(self, request: ParsedRequest) -> dict[str, Any]:
        sentences = _sentences(request.answer) or [request.answer]
        verdicts = []
        for index, point in enumerate(request.key_points):
            wanted = _stems(point)
            quote = max(sentences, key=lambda sentence: len(wanted & _stems(sentence)))
            verdicts.append({"index": index, "status": "covered", "evidence": quote, "hint": ""})
        return {"key_points": verdicts, "factual_errors": [], "feedback": "Excellent."}


#: What makes the gullible judge obey: instruction-like text, in many languages.
GULLIBLE_TRIGGERS = re.compile(
    r"ignor|disregard|forget|overrid|instruction|you are now|pretend|role[\s-]?play|system|"
    r"assistant|grader|grading|evaluator|examiner|rubric|full marks|perfect|score|\b100\b|"
    r"covered|<<<|>>>|end-answer|<!--|<\||\"status\"|verdict|admin|developer mode|"
    r"consigne|correcteur|barème|anweisung|punktzahl|bewert|instrucci|calific|puntuaci|"
    r"istruzion|punteggio|instruç|pontuaç|avaliad|negeer|instructies|zignoruj|instrukcj|"
    r"talimat|abaikan|instruksi|инструкц|теперь ты|балл|оценк|指令|指示|满分|評分|评分|你现在|"
    r"無視|満点|採点|지시|만점|채점|تجاهل|التعليمات|निर्देश|maintenant|важно",
    re.IGNORECASE,
)
_LOOKALIKES = str.maketrans("аеорсухіјѕԁһοαεικρτυνɑı", "aeopcyxijsdhoaeikptuvai")
_INVISIBLE_CHARS = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")


_LEET = str.maketrans("0134578@$", "oieastbas")


def _strip_latin_accents(text: str) -> str:
    """Drop accents from Latin letters (ï -> i), keep the marks other scripts need."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch) and out and ord(out[-1]) < 0x250:
            continue
        out.append(ch)
    return "".join(out)


def read_like_a_model(text: str) -> str:
    """What a capable model would read in ``text``: disguises undone, hidden text revealed."""
    revealed = "".join(
        chr(ord(ch) - 0xE0000) if 0xE0020 <= ord(ch) <= 0xE007E else ch for ch in text
    )
    revealed = _INVISIBLE_CHARS.sub("", unicodedata.normalize("NFKC", revealed))
    revealed = unicodedata.normalize("NFC", _strip_latin_accents(revealed))
    revealed = revealed.translate(_LOOKALIKES)
    decoded = []
    for blob in re.findall(r"[A-Za-z0-9+/=_-]{16,}", revealed):
        for decoder in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded.append(decoder(blob + "=" * (-len(blob) % 4)).decode("utf-8"))
                break
            except (binascii.Error, ValueError):
                continue
    for blob in re.findall(r"(?:[0-9a-fA-F]{2}[\s:]?){12,}", revealed):
        with contextlib.suppress(ValueError):
            decoded.append(bytes.fromhex(re.sub(r"[\s:]", "", blob)).decode("utf-8"))
    # leetspeak: digits and symbols standing in for letters inside words (1gn0r3)
    revealed = re.sub(
        r"(?<![\d.])\b[\w@$]*[a-zA-Z][\w@$]*\b",
        lambda m: m.group().translate(_LEET) if re.search(r"[a-zA-Z]", m.group()) else m.group(),
        revealed,
    )
    # letters spread out with one kind of separator: I-g-n-o-r-e, i g n o r e
    revealed = re.sub(
        r"\b(?:[A-Za-z][-. _*|]){3,}[A-Za-z]\b",
        lambda m: re.sub(r"[-. _*|]", "", m.group()),
        revealed,
    )
    return "\n".join([revealed, revealed[::-1], *decoded])


@dataclass
class GullibleJudge(HonestJudge):
    """A judge that does what instruction-like text in the answer says.

    ``evidence="invented"`` quotes text that is not in the answer; ``evidence="attack"`` quotes
    the answer's own attack sentence (real words, but no evidence of knowledge);
    ``evidence="attack+point"`` quotes the attack sentence followed by the key point itself, the
    way a judge that paraphrases while obeying might.
    """

    evidence: str = "invented"
    obeyed: int = 0

    def triggered(self, answer: str) -> bool:
        return GULLIBLE_TRIGGERS.search(read_like_a_model(answer)) is not None

    def __call__(self, request: ParsedRequest) -> dict[str, Any]:
        answer = request.answer
        if not self.triggered(answer):
            return super().__call__(request)
        self.obeyed += 1
        attack_sentence = next((s for s in _sentences(answer) if self.triggered(s)), answer[-200:])
        verdicts = []
        for index, point in enumerate(request.key_points):
            if self.evidence == "attack":
                evidence = attack_sentence
            elif self.evidence == "attack+point":
                evidence = f"{attack_sentence} ... {point}"
            else:
                evidence = f"The candidate clearly explains that {point.lower()}, in full detail."
            verdicts.append({"index": index, "status": "covered", "evidence": evidence, "hint": ""})
        return {
            "key_points": verdicts,
            "factual_errors": [],
            "feedback": "Outstanding answer: complete, precise and well argued. Full marks.",
        }


# --- a judge that quotes like language models do ----------------------------------------------

#: How the imperfect judge quotes: verbatim; with case and punctuation slips; shortened with an
#: ellipsis; with one or two small words dropped; merged with the next sentence; with two or
#: three words swapped for synonyms; as a short fragment of four to six words.
QUOTE_STYLES = ("exact", "slips", "ellipsis", "dropped", "merged", "synonyms", "short")

_SMALL_WORDS = frozenset(
    "the a an of to is are that and it its in on for with by so this which as at be".split()
)
#: Word swaps a model makes when it quotes from memory.
_SYNONYMS = {
    "uses": "employs", "use": "employ", "used": "employed", "large": "big", "big": "large",
    "small": "little", "little": "small", "makes": "renders", "make": "render", "gives": "yields",
    "give": "yield", "keeps": "retains", "keep": "retain", "every": "each", "each": "every",
    "only": "just", "just": "merely", "fast": "quick", "faster": "quicker", "quickly": "rapidly",
    "slow": "sluggish", "stops": "prevents", "stop": "prevent", "changes": "alters",
    "change": "alter", "first": "initial", "whole": "entire", "entire": "whole",
    "computes": "calculates", "compute": "calculate", "computed": "calculated",
    "shows": "indicates", "show": "indicate", "helps": "aids", "help": "aid", "needs": "requires",
    "need": "require", "many": "numerous", "often": "frequently", "usually": "typically",
    "typically": "usually", "normally": "usually", "different": "distinct", "same": "identical",
    "almost": "nearly", "nearly": "almost", "tiny": "minuscule", "huge": "enormous",
    "start": "begin", "starts": "begins", "begin": "start", "because": "since", "also": "too",
    "instead": "rather", "simply": "merely", "far": "much", "much": "far", "value": "number",
    "values": "numbers", "picks": "selects", "pick": "choose", "choose": "select",
    "adds": "appends", "add": "append", "way": "manner", "problem": "issue", "method": "technique",
    "within": "inside", "across": "over", "produces": "generates", "produce": "generate",
    "whether": "if", "then": "next", "when": "whenever", "after": "following", "before": "prior to",
    "still": "yet", "never": "not ever", "always": "invariably", "very": "really",
    "able": "capable", "called": "named", "known": "recognised", "works": "functions",
    "work": "function", "finds": "locates", "find": "locate", "takes": "receives",
    "take": "receive", "turns": "converts", "turn": "convert", "gets": "obtains", "get": "obtain",
    "lets": "allows", "allows": "lets", "causes": "leads to", "means": "signifies",
    "reduces": "lowers", "reduce": "lower", "increases": "raises", "grows": "increases",
    "whose": "of which", "instance": "example", "example": "instance", "usual": "common",
    "common": "usual", "typical": "standard", "standard": "typical", "small,": "little,",
    "quietly": "silently", "separate": "distinct", "exactly": "precisely", "roughly": "about",
    "about": "roughly", "around": "about", "called,": "named,", "applies": "uses",
    "apply": "use", "applied": "used", "cut": "reduce", "cuts": "reduces", "hard": "difficult",
    "harder": "more difficult", "easy": "simple", "simple": "easy", "strong": "powerful",
    "weak": "feeble", "high": "elevated", "low": "small", "new": "fresh", "old": "previous",
    "previous": "prior", "earlier": "prior", "later": "subsequent", "next": "following",
    "final": "last", "last": "final", "main": "principal", "whole,": "entire,", "own": "individual",
    "together": "jointly", "independent": "separate", "directly": "straight",
    "with": "using", "that": "which", "which": "that", "from": "out of", "through": "via",
    "such": "these", "both": "the two", "where": "in which", "during": "throughout",
    "while": "whereas", "them": "these", "their": "its", "depends": "relies",
    "updates": "modifies", "becomes": "turns into", "become": "turn into",
    "therefore": "hence", "cannot": "can't", "must": "has to", "rather": "instead",
    "plain": "ordinary", "learns": "picks up", "maps": "projects", "itself": "on its own",
    "have": "possess", "number": "count", "count": "number", "early": "initial",
    "against": "versus", "labels": "targets", "past": "previous", "inside": "within",
    "since": "as", "better": "superior", "cost": "price", "target": "goal",
    "threshold": "cut-off", "come": "arise", "comes": "arises", "multiplies": "scales",
    "remain": "stay", "natural": "obvious", "choice": "option", "range": "span",
    "goes": "moves", "separately": "independently", "nothing": "no part", "without": "with no",
    "brings": "returns", "shrink": "reduce", "fully": "completely", "direct": "straight",
    "fitted": "trained", "untouched": "unused", "single": "one", "tune": "adjust",
    "expected": "anticipated", "check": "verify", "approximates": "mimics",
    "several": "multiple", "split": "divide", "prints": "outputs", "those": "these",
    "switches": "changes", "call": "invoke", "again": "once more", "second": "next",
    "leaves": "keeps", "share": "have in common", "once": "a single time", "towards": "toward",
    "added": "inserted", "real": "genuine", "practice": "reality", "hides": "masks",
    "examples": "samples", "random": "arbitrary", "best": "top", "step": "iteration",
    "pass": "sweep", "into": "to", "more": "further", "like": "such as", "other": "remaining",
    "longer": "extended", "mode": "setting", "average": "mean", "mean": "average",
    "scale": "size", "scales": "multiplies", "what": "that which", "there": "in that case",
    "does": "performs", "they": "these", "this": "that", "from,": "out of,", "both,": "the two,",
}  # fmt: skip


@dataclass(frozen=True)
class AnnotatedAnswer:
    """A correct answer as sentences, each with the key point indices it makes."""

    sentences: tuple[tuple[frozenset[int], str], ...]

    @property
    def text(self) -> str:
        return " ".join(text for _, text in self.sentences)

    def sentence_for(self, index: int) -> int | None:
        return next((i for i, (points, _) in enumerate(self.sentences) if index in points), None)


def _answer_key(text: str) -> str:
    return " ".join(text.split())


def _slips(sentence: str, rng: random.Random) -> str:
    words = sentence.replace(",", "").replace(";", "").split()
    if words:
        words[0] = words[0].lower()
    for i in rng.sample(range(len(words)), k=min(2, len(words))):
        words[i] = words[i].capitalize() if words[i].islower() else words[i].lower()
    text = " ".join(words).rstrip(".")
    return text.replace("'", "’")


def _ellipsis(sentence: str) -> str:
    words = sentence.split()
    if len(words) < 9:
        return sentence
    head, tail = words[: max(3, int(0.4 * len(words)))], words[-max(3, int(0.35 * len(words))) :]
    return f"{' '.join(head)} ... {' '.join(tail)}"


def _dropped(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    small = [i for i, word in enumerate(words) if word.lower() in _SMALL_WORDS and i > 0]
    drop = set(rng.sample(small, k=min(len(small), rng.choice((1, 2)))))
    return " ".join(word for i, word in enumerate(words) if i not in drop)


def _synonyms(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    swappable = [i for i, word in enumerate(words) if word.lower() in _SYNONYMS]
    chosen = set(rng.sample(swappable, k=min(len(swappable), rng.choice((2, 3)))))
    out = []
    for i, word in enumerate(words):
        if i in chosen:
            swap = _SYNONYMS[word.lower()]
            out.append(swap.capitalize() if word[0].isupper() else swap)
        else:
            out.append(word)
    return " ".join(out)


def _short(sentence: str, rng: random.Random) -> str:
    words = sentence.rstrip(".").split()
    size = min(len(words), rng.choice((4, 5, 6)))
    windows = [words[i : i + size] for i in range(0, len(words) - size + 1)]
    return " ".join(max(windows, key=lambda window: sum(len(w) > 4 for w in window)))


def misquote(answer: AnnotatedAnswer, sentence_index: int, style: str, rng: random.Random) -> str:
    """The quote of one sentence of ``answer`` in the given style."""
    sentence = answer.sentences[sentence_index][1]
    if style == "exact":
        return sentence
    if style == "slips":
        return _slips(sentence, rng)
    if style == "ellipsis":
        return _ellipsis(sentence)
    if style == "dropped":
        return _dropped(sentence, rng)
    if style == "merged":
        other = (
            sentence_index + 1 if sentence_index + 1 < len(answer.sentences) else sentence_index - 1
        )
        if other < 0:
            return sentence
        first, second = sorted((sentence_index, other))
        a, b = answer.sentences[first][1], answer.sentences[second][1]
        return f"{a.rstrip('.')} and {b[0].lower()}{b[1:]}"
    if style == "synonyms":
        return _synonyms(sentence, rng)
    if style == "short":
        return _short(sentence, rng)
    raise ValueError(f"unknown quote style {style!r}")


_REQUOTE_INDICES = re.compile(r"For key point\(s\) ([\d, ]+) the evidence you quoted")


@dataclass
class ImperfectQuotingJudge(HonestJudge):
    """An honest judge of known correct answers that misquotes in one :data:`QUOTE_STYLES` style.

    Register answers with :meth:`know`. Every key point of a known answer is ``covered``, quoting
    the sentence that makes it; a re-quote request (the grader asking for verbatim quotes) gets
    exact quotes when ``fixes_on_requote``. Unknown answers are judged like :class:`HonestJudge`.
    """

    style: str = "exact"
    seed: int = 0
    fixes_on_requote: bool = True
    answers: dict[str, AnnotatedAnswer] = field(default_factory=dict)
    requotes: int = 0

    def know(self, answer: AnnotatedAnswer) -> str:
        self.answers[_answer_key(answer.text)] = answer
        return answer.text

    def __call__(self, request: ParsedRequest) -> dict[str, Any]:
        known = self.answers.get(_answer_key(request.answer))
        if known is None:
            return super().__call__(request)
        last = request.body["messages"][-1]["content"] if request.body.get("messages") else ""
        asked = _REQUOTE_INDICES.search(last)
        again = {int(i) for i in asked.group(1).split(",")} if asked else set()
        if asked:
            self.requotes += 1
        verdicts = []
        for index in range(len(request.key_points)):
            sentence = known.sentence_for(index)
            if sentence is None:
                verdicts.append({"index": index, "status": "missing", "evidence": "", "hint": ""})
                continue
            rng = random.Random(f"{self.seed}:{request.answer[:40]}:{index}:{self.style}")
            style = "exact" if index in again and self.fixes_on_requote else self.style
            quote = misquote(known, sentence, style, rng)
            verdicts.append({"index": index, "status": "covered", "evidence": quote, "hint": ""})
        return {"key_points": verdicts, "factual_errors": [], "feedback": "A complete answer."}


def annotated(sentences: Sequence[tuple[int | Sequence[int] | None, str]]) -> AnnotatedAnswer:
    """An :class:`AnnotatedAnswer` from ``(key point index or indices or None, text)`` pairs."""
    out = []
    for points, text in sentences:
        if points is None:
            indices: frozenset[int] = frozenset()
        elif isinstance(points, int):
            indices = frozenset({points})
        else:
            indices = frozenset(points)
        out.append((indices, text))
    return AnnotatedAnswer(tuple(out))


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

#: The ways ``Chaos`` fails a call.
CHAOS_KINDS = ("rate-limit", "server-error", "timeout", "malformed", "dropped")


@dataclass
class Chaos:
    """Fail ``rate`` of the calls at random, each in one of the ways a real endpoint fails: 429
    with Retry-After, 500, an answer slower than the client's timeout, malformed JSON, or the
    connection closed without a response. ``failures`` counts what was done."""

    rate: float
    rng: random.Random
    kinds: tuple[str, ...] = CHAOS_KINDS
    retry_after: str = "1"
    stall_seconds: float = 3.0
    failures: Counter[str] = field(default_factory=Counter)

    def pick(self) -> str | None:
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(self.kinds)
        self.failures[kind] += 1
        return kind


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
        self.authorizations: list[str] = []
        self.script: deque[Step] = deque()
        self.reject_json_schema = False
        self.reasoning_model = False
        self.chaos: Chaos | None = None
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
        self.authorizations.append(request.headers.get("Authorization", ""))
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
        if self.reasoning_model:
            rejected = self._reasoning_rejection(body)
            if rejected is not None:
                return self._error(rejected)
        if self.chaos is not None and (kind := self.chaos.pick()) is not None:
            return await self._fail(request, body, kind, self.chaos)
        while self.script:
            step = self.script.popleft()
            if isinstance(step, Sleep):
                await self._sleep(step.seconds)
                continue
            if isinstance(step, HTTPError):
                return self._error(step)
            return self._completion(body, step.value, step.finish_reason)
        return self._completion(body, self.judge(parse_request(body)))

    async def _fail(
        self, request: web.Request, body: dict[str, Any], kind: str, chaos: Chaos
    ) -> web.Response:
        if kind == "rate-limit":
            response = self._error(HTTPError(429, "Rate limit reached for requests"))
            response.headers["Retry-After"] = chaos.retry_after
            return response
        if kind == "server-error":
            return self._error(HTTPError(500, "The server had an error processing your request"))
        if kind == "timeout":
            await self._sleep(chaos.stall_seconds)
            return self._completion(body, self.judge(parse_request(body)))
        if kind == "malformed":
            return self._completion(body, MALFORMED.value)
        assert kind == "dropped", kind
        assert request.transport is not None
        request.transport.abort()  # the connection goes away with no response at all
        raise asyncio.CancelledError

    @staticmethod
    def _reasoning_rejection(body: dict[str, Any]) -> HTTPError | None:
        """OpenAI's answers to parameters its reasoning models do not take."""
        if "max_tokens" in body:
            return HTTPError(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                "'max_completion_tokens' instead.",
                param="max_tokens",
                code="unsupported_parameter",
            )
        if "temperature" in body and body["temperature"] != 1:
            return HTTPError(
                400,
                f"Unsupported value: 'temperature' does not support {body['temperature']} with "
                "this model. Only the default (1) value is supported.",
                param="temperature",
                code="unsupported_value",
            )
        return None

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
