"""The grade cache: a port keyed by (question version, normalised answer, model) and helpers.

A repeated answer to the same question version, graded by the same model, is served from the
cache instead of calling the judge again. ``grade_to_dict`` / ``grade_from_dict`` (defined in
:mod:`bot.grading.base`, re-exported here) give the JSON-safe form of a
:class:`~bot.grading.base.Grade` for database-backed implementations.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from bot.domain.bank import KeyPoint
from bot.grading.base import Grade, GradingItem, grade_from_dict, grade_to_dict

__all__ = [
    "GradeCache",
    "InMemoryGradeCache",
    "cache_key",
    "grade_from_dict",
    "grade_to_dict",
    "item_fingerprint",
    "normalise_answer",
]


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


def _key_points_json(key_points: Sequence[KeyPoint]) -> list[dict[str, Any]]:
    return [{"text": point.text, "weight": point.weight} for point in key_points]


def _hash_json(payload: Any) -> str:
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()
