"""Find shipped bank questions by id for the content tests (through the validated loader)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from bot.domain.bank import load_bank

QUESTIONS_DIR = Path(__file__).resolve().parents[2] / "questions"


@cache
def bank_questions() -> dict[str, dict[str, Any]]:
    """Every shipped question as plain data, keyed by id."""
    return {
        question.id: question.model_dump(mode="json")
        for question in load_bank(QUESTIONS_DIR).questions
    }
