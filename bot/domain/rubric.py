"""Rubric scoring: turn per-key-point verdicts into a 0-100 score, in code, never by the judge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.bank import KeyPoint

#: Share of a key point's weight that a partial verdict earns.
PARTIAL_CREDIT = 0.5
#: Points (out of 100) deducted per factual error, and the most any answer can lose that way.
FACTUAL_ERROR_PENALTY = 10
MAX_FACTUAL_ERROR_PENALTY = 30


class Coverage(StrEnum):
    COVERED = "covered"
    PARTIAL = "partial"
    MISSING = "missing"

    @property
    def credit(self) -> float:
        return {"covered": 1.0, "partial": PARTIAL_CREDIT, "missing": 0.0}[self.value]


@dataclass(frozen=True)
class KeyPointVerdict:
    """What a grader found for one key point: status, the answer's words that show it, a hint."""

    key_point: str
    status: Coverage
    evidence: str = ""
    hint: str = ""


@dataclass(frozen=True)
class FactualError:
    quote: str
    correction: str


def score_verdicts(
    key_points: Sequence[KeyPoint],
    verdicts: Sequence[KeyPointVerdict],
    factual_errors: int = 0,
) -> int:
    """Weighted coverage of the rubric minus a capped penalty per factual error, 0-100."""
    if len(verdicts) != len(key_points):
        raise ValueError(f"expected {len(key_points)} verdicts, got {len(verdicts)}")
    total = sum(point.weight for point in key_points)
    if total <= 0:
        return 0
    earned = sum(
        point.weight * verdict.status.credit
        for point, verdict in zip(key_points, verdicts, strict=True)
    )
    raw = 100.0 * earned / total
    penalty = min(MAX_FACTUAL_ERROR_PENALTY, FACTUAL_ERROR_PENALTY * max(0, factual_errors))
    return max(0, min(100, round(raw - penalty)))


def shorten(text: str, limit: int = 90) -> str:
    """``text`` without its final full stop, cut at a word boundary to at most ``limit``
    characters (an ellipsis marks the cut)."""
    text = text.rstrip(".")
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def rubric_feedback(
    verdicts: Sequence[KeyPointVerdict], errors: Sequence[FactualError] = ()
) -> str:
    """The member's summary of a rubric grade, the same whichever grader made it: how many key
    points were covered, which are still missing, and the corrections of factual errors."""
    covered = sum(verdict.status is Coverage.COVERED for verdict in verdicts)
    partial = sum(verdict.status is Coverage.PARTIAL for verdict in verdicts)
    missing = [verdict.key_point for verdict in verdicts if verdict.status is Coverage.MISSING]
    summary = f"You covered {covered} of {len(verdicts)} key points"
    parts = [summary + (f", {partial} only partly." if partial else ".")]
    if missing:
        parts.append("Still missing: " + "; ".join(shorten(point) for point in missing) + ".")
    elif partial:
        parts.append("Make the partial ones explicit to reach full marks.")
    else:
        parts.append("All key points are there.")
    if errors:
        parts.append(
            "Check: " + "; ".join(shorten(error.correction, 200) for error in errors) + "."
        )
    return " ".join(parts)
