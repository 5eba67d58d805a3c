"""Grade bodies (``bot.storage.grade_body``): whatever a grade's verdicts and feedback hold,
they read back equal against the same answer and question; against another they are refused;
and the grades graders really write take a fraction of what the 0007 columns held."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.bank import load_bank
from bot.grading.base import GradingItem, grade_to_dict
from bot.grading.offline import OfflineGrader
from bot.storage.grade_body import GradeContext, pack_grade, unpack_grade
from bot.storage.verdicts import pack_verdicts

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
contexts = st.builds(
    GradeContext,
    answer_text=st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
    reference=st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
    key_points=st.lists(texts, max_size=5).map(tuple),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@given(st.lists(verdict, max_size=8), texts, contexts)
def test_verdicts_and_feedback_read_back_equal(verdicts, feedback, context):
    content = unpack_grade(pack_grade(verdicts, feedback, context), context)
    assert (content.verdicts, content.feedback) == (verdicts, feedback)


@given(st.lists(st.dictionaries(texts, json_values, max_size=4), max_size=4), texts, contexts)
def test_any_other_verdict_shape_reads_back_equal_too(values, feedback, context):
    content = unpack_grade(pack_grade(values, feedback, context), context)
    assert (content.verdicts, content.feedback) == (values, feedback)


def test_another_answer_or_question_is_refused():
    """A body keeps a two-byte check of what it was packed against (a 1 in 65,536 chance of
    missing a wrong context, so these fixed cases are checked rather than random ones)."""
    mine = GradeContext("it keeps a running average of the gradients", "R.", ("Momentum",))
    body = pack_grade(
        [{"key_point": "Momentum", "status": "covered", "evidence": "running average", "hint": ""}],
        "Good.",
        mine,
    )
    others = [
        GradeContext(mine.answer_text + "!", mine.reference, mine.key_points),
        GradeContext("another answer", mine.reference, mine.key_points),
        GradeContext(mine.answer_text, "R. Edited.", mine.key_points),
        GradeContext(mine.answer_text, mine.reference, ("Momentum", "Bias correction")),
    ]
    for other in others:
        with pytest.raises(ValueError):
            unpack_grade(body, other)
    assert unpack_grade(body, mine).feedback == "Good."


def test_separators_in_a_text_fall_back_to_json_and_nothing_is_no_bytes():
    context = GradeContext("answer", "reference", ("point",))
    plain = [{"key_point": "point", "status": "covered", "evidence": "answer", "hint": ""}]
    assert pack_grade(plain, "fine", context)[0] == 2
    for verdicts, feedback in ((plain, "a\x1db"), ([{**plain[0], "hint": "x\x1e"}], "")):
        body = pack_grade(verdicts, feedback, context)
        assert body[0] == 3  # the JSON format
        assert unpack_grade(body, context).verdicts == verdicts
    assert pack_grade([], "", context) == b""
    assert unpack_grade(b"", context).verdicts == [] and unpack_grade(b"", context).feedback == ""
    with pytest.raises(ValueError):
        unpack_grade(b"\x01abc", context)


def test_real_grades_take_a_third_of_what_the_0007_columns_held():
    """The offline grader's grades of answers made of half a reference each (sixty bank
    questions): the body is under a third of the packed verdicts plus the feedback text, since
    key points, evidence and hints are copies of the question and the answer."""
    bank = load_bank(ROOT / "questions")
    questions = [question for question in bank.questions if not question.llm_only][::10][:60]
    grader = OfflineGrader()

    async def grade_all():
        found = []
        for question in questions:
            sentences = question.reference.split(". ")
            answer = ". ".join(sentences[: max(1, len(sentences) // 2)])
            grade = grade_to_dict(await grader.grade(GradingItem.from_question(question), answer))
            context = GradeContext(
                answer, question.reference, tuple(point.text for point in question.key_points)
            )
            found.append((grade["verdicts"], grade["feedback"], context))
        return found

    graded = asyncio.run(grade_all())
    before = sum(
        len(pack_verdicts(verdicts)) + len(feedback.encode()) for verdicts, feedback, _ in graded
    )
    bodies = [pack_grade(verdicts, feedback, context) for verdicts, feedback, context in graded]
    for body, (verdicts, feedback, context) in zip(bodies, graded, strict=True):
        content = unpack_grade(body, context)
        assert (content.verdicts, content.feedback) == (verdicts, feedback)
    assert sum(map(len, bodies)) < before / 3, (sum(map(len, bodies)), before)
