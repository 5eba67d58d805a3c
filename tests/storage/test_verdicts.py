"""The compact verdict format: whatever a grade's verdicts hold, they read back equal, and the
verdicts graders really write take a fraction of their JSON's bytes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.bank import load_bank
from bot.grading.base import GradingItem, grade_to_dict
from bot.grading.offline import OfflineGrader
from bot.storage.verdicts import pack_verdicts, unpack_verdicts

ROOT = Path(__file__).resolve().parents[2]

texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
verdict = st.fixed_dictionaries(
    {
        "key_point": texts,
        "status": st.sampled_from(["covered", "partial", "missing"]),
        "evidence": texts,
        "hint": texts,
    }
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(verdict, max_size=8))
def test_verdicts_read_back_equal(verdicts):
    assert unpack_verdicts(pack_verdicts(verdicts)) == verdicts


@given(st.lists(st.dictionaries(texts, json_values, max_size=4), max_size=4))
def test_any_other_shape_reads_back_equal_too(values):
    assert unpack_verdicts(pack_verdicts(values)) == values


def test_separators_inside_a_text_and_an_unknown_status_fall_back_to_json():
    odd = [
        {"key_point": "a\x1fb", "status": "covered", "evidence": "x\x1e", "hint": ""},
        {"key_point": "p", "status": "unsure", "evidence": "", "hint": ""},
        {"key_point": "p", "status": "missing", "evidence": "", "hint": "", "extra": 1},
    ]
    for value in (odd[:1], odd[1:2], odd[2:]):
        packed = pack_verdicts(value)
        assert packed[0] == 0  # the JSON format
        assert unpack_verdicts(packed) == value
    assert pack_verdicts([]) == b"" and unpack_verdicts(b"") == []
    with pytest.raises(ValueError):
        unpack_verdicts(b"\x09abc")


def test_real_verdicts_take_under_a_third_of_their_json():
    """The offline grader's verdicts on answers made of half a reference each, over sixty bank
    questions: five key points on average, whole sentences as evidence, reference sentences as
    hints."""
    bank = load_bank(ROOT / "questions")
    questions = [question for question in bank.questions if not question.llm_only][::10][:60]
    grader = OfflineGrader()

    async def grade_all():
        found = []
        for question in questions:
            sentences = question.reference.split(". ")
            answer = ". ".join(sentences[: max(1, len(sentences) // 2)])
            grade = await grader.grade(GradingItem.from_question(question), answer)
            found.append(grade_to_dict(grade)["verdicts"])
        return found

    graded = asyncio.run(grade_all())
    assert sum(len(verdicts) for verdicts in graded) >= 4 * len(graded)
    as_json = sum(len(json.dumps(verdicts).encode()) for verdicts in graded)
    packed = [pack_verdicts(verdicts) for verdicts in graded]
    assert all(
        unpack_verdicts(data) == verdicts for data, verdicts in zip(packed, graded, strict=True)
    )
    assert sum(map(len, packed)) < as_json / 3, (sum(map(len, packed)), as_json)
