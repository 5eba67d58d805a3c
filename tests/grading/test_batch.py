"""JSONL batch grading: a round trip through the offline grader, and line-numbered errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.grading.base import Grade, GradingError, GradingItem
from bot.grading.batch import BatchInputError, grade_jsonl, read_jsonl
from bot.grading.offline import OfflineGrader

REFERENCE = (
    "Dropout randomly sets a fraction of activations to zero during training, which stops units "
    "from co-adapting and acts as a regularizer. At inference all units are kept and the "
    "activations are scaled so their expected value matches training."
)
BASE = {
    "question": "What does dropout do and how is it handled at inference time?",
    "reference": REFERENCE,
}
KEY_POINTS = [
    {"text": "Dropout randomly sets activations to zero during training", "weight": 4},
    {"text": "It stops units from co-adapting and acts as a regularizer", "weight": 3},
    {"text": "At inference all units are kept and activations are scaled", "weight": 3},
]


def _write(path: Path, records: list[object]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n",
        encoding="utf-8",
    )
    return path


def _quiet(done: int, total: int) -> None:
    pass


async def test_round_trip_keeps_order_and_adds_grades(tmp_path: Path) -> None:
    records = [
        {**BASE, "answer": REFERENCE, "key_points": KEY_POINTS, "id": "q1"},
        {**BASE, "answer": "", "key_points": KEY_POINTS},
        {**BASE, "answer": "I enjoy hiking in the mountains with friends on weekends."},
        {**BASE, "answer": REFERENCE, "key_points": [p["text"] for p in KEY_POINTS]},
    ]
    source = _write(tmp_path / "in.jsonl", records)
    target = tmp_path / "out" / "graded.jsonl"
    calls: list[tuple[int, int]] = []
    summary = await grade_jsonl(
        source, target, OfflineGrader(), progress=lambda d, t: calls.append((d, t))
    )
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(out) == 4
    assert calls[-1] == (4, 4) and len(calls) == 4
    assert summary.graded == 4 and summary.failed == 0
    for original, graded in zip(records, out, strict=True):
        assert {k: graded[k] for k in original} == original
        assert 0 <= graded["score"] <= 100
        assert graded["grader"] == "offline"
        assert isinstance(graded["feedback"], str) and graded["feedback"]
    assert out[0]["score"] >= 90
    assert [v["status"] for v in out[0]["verdicts"]] == ["covered"] * 3
    assert out[0]["verdicts"][0]["evidence"] in REFERENCE
    assert out[1]["score"] == 0
    assert out[2]["verdicts"] == [] and out[2]["score"] <= 5
    assert out[3]["score"] >= 90  # plain-string key points, weight 1 each


async def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n" + json.dumps({**BASE, "answer": REFERENCE}) + "\n\n", encoding="utf-8")
    summary = await grade_jsonl(source, tmp_path / "out.jsonl", OfflineGrader(), progress=False)
    assert summary.graded == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"question": "q", "reference": "r r r"}), "missing field 'answer'"),
        (json.dumps({**BASE, "answer": 42}), "field 'answer' must be a string"),
        (json.dumps({**BASE, "answer": "a", "key_points": "one"}), "'key_points' must be a list"),
        (
            json.dumps({**BASE, "answer": "a", "key_points": [{"text": "ok text", "weight": 0}]}),
            "key_points[0]: weight:",
        ),
        (
            json.dumps({**BASE, "answer": "a", "key_points": ["ok text", 5]}),
            "key_points[1] must be a string or an object",
        ),
        (json.dumps({**BASE, "reference": "   ", "answer": "a"}), "field 'reference' is empty"),
        (json.dumps({"reference": "r r r", "answer": "a"}), "missing field 'question'"),
        (json.dumps({"question": 1, "reference": "r r r"}), "field 'question' must be a string"),
        ("null", "expected a JSON object"),
    ],
)
async def test_bad_line_names_its_line_number(tmp_path: Path, bad: str, message: str) -> None:
    source = _write(tmp_path / "in.jsonl", [{**BASE, "answer": "fine"}, "", bad])
    target = tmp_path / "out.jsonl"
    with pytest.raises(BatchInputError) as caught:
        await grade_jsonl(source, target, OfflineGrader(), progress=_quiet)
    assert caught.value.line == 3
    assert f"{source}:3:" in str(caught.value)
    assert message in str(caught.value)
    assert not target.exists()  # nothing is graded when the input is invalid


class _FailingGrader:
    name = "failing"

    async def grade(self, item: GradingItem, answer: str) -> Grade:
        if "fail" in answer:
            raise GradingError("judge refused")
        return Grade(score=50, verdicts=(), feedback="ok", grader=self.name)


async def test_a_grading_error_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    source = _write(
        tmp_path / "in.jsonl",
        [{**BASE, "answer": "please fail"}, {**BASE, "answer": "fine answer"}],
    )
    target = tmp_path / "out.jsonl"
    summary = await grade_jsonl(source, target, _FailingGrader(), progress=_quiet)
    first, second = (json.loads(x) for x in target.read_text().splitlines())
    assert first["score"] is None and "judge refused" in first["error"]
    assert second["score"] == 50
    assert summary.failed == 1 and summary.graded == 1


async def test_extra_fields_are_kept_and_the_grade_fields_added(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [{**BASE, "answer": "fine", "id": 7, "cohort": "b"}])
    target = tmp_path / "out.jsonl"
    await grade_jsonl(source, target, _FailingGrader(), progress=_quiet)
    (line,) = (json.loads(x) for x in target.read_text().splitlines())
    assert line["id"] == 7 and line["cohort"] == "b"
    assert set(line) - {*BASE, "answer", "id", "cohort"} == {
        "score", "verdicts", "feedback", "grader", "details"
    }  # fmt: skip


def test_read_jsonl_builds_items(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [{**BASE, "answer": "x", "key_points": KEY_POINTS}])
    (line,) = read_jsonl(source)
    assert line.line == 1
    assert [p.weight for p in line.item.key_points] == [4, 3, 3]
    assert line.item.prompt == BASE["question"]
