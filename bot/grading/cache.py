"""The grade cache: a port keyed by (question version, normalised answer, model) and helpers.

A repeated answer to the same question version, graded by the same model, is served from the
cache instead of calling the judge again. ``grade_to_dict`` / ``grade_from_dict`` give a JSON-safe
form of a :class:`~bot.grading.base.Grade` for database-backed implementations.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from bot.domain.bank import KeyPoint
from bot.domain.rubric import Coverage, FactualError, KeyPointVerdict
from bot.grading.base import Grade, GradingItem


@runtime_checkable
class GradeCache(Protocol):
    """Where graders keep grades they already computed."""

    async def get(self, key: str) -> Grade | None: ...

    async def put(self, key: str, grade: Grade) -> None: ...


class InMemoryGradeCache:
    """A bounded, process-local LRU cache; enough for tests and a single process."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def get(self, key: str) -> Grade | None:
        data = self._entries.get(key)
        if data is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return grade_from_dict(data)

    async def put(self, key: str, grade: Grade) -> None:
        # Stored serialised, so a cached grade goes through the same path a database would.
        self._entries[key] = grade_to_dict(grade)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def normalise_answer(answer: str) -> str:
    """Casefold and collapse whitespace: answers differing only in those share a cache entry."""
    return re.sub(r"\s+", " ", answer.casefold()).strip()


def item_fingerprint(item: GradingItem) -> str:
    """The item's version when it has one, else a hash of prompt, reference and key points."""
    if item.version:
        return item.version
    return _hash_json(
        {
            "prompt": item.prompt,
            "reference": item.reference,
            "key_points": _key_points_json(item.key_points),
        }
    )


def cache_key(item: GradingItem, answer: str, model: str, grader: str = "llm") -> str:
    """sha256 over the item fingerprint, the normalised answer, the model and the grader name."""
    return _hash_json(
        {
            "item": item_fingerprint(item),
            "answer": normalise_answer(answer),
            "model": model,
            "grader": grader,
        }
    )


def grade_to_dict(grade: Grade) -> dict[str, Any]:
    """A JSON-safe dict of a grade (round-trips through :func:`grade_from_dict`)."""
    return {
        "score": grade.score,
        "verdicts": [
            {
                "key_point": verdict.key_point,
                "status": verdict.status.value,
                "evidence": verdict.evidence,
                "hint": verdict.hint,
            }
            for verdict in grade.verdicts
        ],
        "feedback": grade.feedback,
        "grader": grade.grader,
        "model": grade.model,
        "provisional": grade.provisional,
        "factual_errors": [
            {"quote": error.quote, "correction": error.correction} for error in grade.factual_errors
        ],
        "flags": list(grade.flags),
        "prompt_tokens": grade.prompt_tokens,
        "completion_tokens": grade.completion_tokens,
        "details": dict(grade.details),
    }


def grade_from_dict(data: dict[str, Any]) -> Grade:
    """Rebuild a grade from :func:`grade_to_dict` output (or its JSON)."""
    return Grade(
        score=int(data["score"]),
        verdicts=tuple(
            KeyPointVerdict(
                key_point=verdict["key_point"],
                status=Coverage(verdict["status"]),
                evidence=verdict.get("evidence", ""),
                hint=verdict.get("hint", ""),
            )
            for verdict in data.get("verdicts", ())
        ),
        feedback=data.get("feedback", ""),
        grader=data["grader"],
        model=data.get("model", ""),
        provisional=bool(data.get("provisional", False)),
        factual_errors=tuple(
            FactualError(quote=error["quote"], correction=error["correction"])
            for error in data.get("factual_errors", ())
        ),
        flags=tuple(data.get("flags", ())),
        prompt_tokens=int(data.get("prompt_tokens", 0)),
        completion_tokens=int(data.get("completion_tokens", 0)),
        details={str(key): float(value) for key, value in data.get("details", {}).items()},
    )


def _key_points_json(key_points: Sequence[KeyPoint]) -> list[dict[str, Any]]:
    return [{"text": point.text, "weight": point.weight} for point in key_points]


def _hash_json(payload: Any) -> str:
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()
