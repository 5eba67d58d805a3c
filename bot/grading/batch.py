"""Batch grading of a JSONL file: one answer per line in, the same line plus its grade out.

Each input line is a JSON object with ``question``, ``reference`` and ``answer`` (strings) and
optionally ``key_points``: a list of ``{"text": ..., "weight": ...}`` objects or plain strings
(weight 1 each). Every output line is the input object plus ``score`` (0-100), ``verdicts``,
``feedback``, ``grader`` and ``details``; an answer the grader could not grade gets
``score: null`` and an ``error`` message instead, and the run goes on.

The whole input is validated before any grading starts (one pydantic model per line,
:class:`BatchRequest`); a malformed line raises :class:`BatchInputError` naming the file and line
number. Long inputs show a rich progress bar
on stderr unless a progress callback (or ``False``) is passed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.domain.bank import KeyPoint
from bot.grading.base import Grade, Grader, GradingError, GradingItem, grade_to_dict

#: Inputs with at least this many lines get the default progress bar.
PROGRESS_BAR_MIN_LINES = 20
REQUIRED_FIELDS = ("question", "reference", "answer")
#: The grade's fields that each output line adds to its input object.
GRADE_FIELDS = ("score", "verdicts", "feedback", "grader", "details")

ProgressCallback = Callable[[int, int], None]


class BatchInputError(ValueError):
    """A line of the input file is not a valid grading request."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


@dataclass(frozen=True)
class BatchLine:
    line: int
    record: dict[str, Any]
    item: GradingItem
    answer: str


@dataclass(frozen=True)
class BatchSummary:
    graded: int
    failed: int
    mean_score: float | None


def _key_point(index: int, entry: Any) -> KeyPoint:
    if isinstance(entry, str):
        entry = {"text": entry}
    if not isinstance(entry, dict):
        raise ValueError(f"key_points[{index}] must be a string or an object")
    try:
        return KeyPoint.model_validate({"weight": 1, **entry})
    except ValidationError as exc:
        problem = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"key_points[{index}]: {problem}") from None


class BatchRequest(BaseModel):
    """One input line: a grading request. Other fields are kept and copied to the output."""

    model_config = ConfigDict(extra="allow", strict=True)

    question: str
    reference: str
    answer: str
    key_points: list[Any] | None = None

    @field_validator("reference")
    @classmethod
    def _reference_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("field 'reference' is empty")
        return value

    @field_validator("key_points")
    @classmethod
    def _valid_key_points(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None:
            for index, entry in enumerate(value):
                _key_point(index, entry)
        return value

    def grading_item(self, record: dict[str, Any]) -> GradingItem:
        return GradingItem(
            prompt=self.question,
            reference=self.reference,
            key_points=tuple(_key_point(i, entry) for i, entry in enumerate(self.key_points or ())),
            question_id=str(record.get("id", "")),
        )


_FIELD_ORDER = (*REQUIRED_FIELDS, "key_points")


def _describe(exc: ValidationError) -> str:
    """The first problem of a line, in the words the batch format's users know."""

    def order(error: Any) -> int:
        name = error["loc"][0] if error["loc"] else ""
        return _FIELD_ORDER.index(name) if name in _FIELD_ORDER else len(_FIELD_ORDER)

    error = min(exc.errors(), key=order)
    name = error["loc"][0] if error["loc"] else ""
    kind = error["type"]
    if not error["loc"] or kind == "model_type":
        return "expected a JSON object"
    if kind == "missing":
        return f"missing field '{name}'"
    if kind == "string_type":
        return f"field '{name}' must be a string"
    if kind == "list_type":
        return f"'{name}' must be a list"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return f"{name}: {error['msg']}"


def parse_line(path: Path, line: int, text: str) -> BatchLine:
    """Validate one JSONL line; raise :class:`BatchInputError` naming the line."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatchInputError(path, line, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    try:
        request = BatchRequest.model_validate(record)
    except ValidationError as exc:
        raise BatchInputError(path, line, _describe(exc)) from None
    return BatchLine(line, record, request.grading_item(record), request.answer)


def read_jsonl(path: Path) -> list[BatchLine]:
    """Every non-blank line of the file, validated."""
    lines = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                lines.append(parse_line(path, number, text))
    return lines


def write_jsonl(path: Path, records: list[dict[str, Any] | None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def grade_record(line: BatchLine, grade: Grade) -> dict[str, Any]:
    """The output line: the input object plus the grade's :data:`GRADE_FIELDS`."""
    data = grade_to_dict(grade)
    return {**line.record, **{name: data[name] for name in GRADE_FIELDS}}


class _RichProgress:
    """A rich progress bar on stderr, used as a progress callback."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("grading", total=total)
        self._progress.start()

    def __call__(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        self._progress.stop()


async def grade_jsonl(
    input_path: Path | str,
    output_path: Path | str,
    grader: Grader,
    *,
    progress: ProgressCallback | bool = True,
    concurrency: int = 4,
) -> BatchSummary:
    """Grade every line of ``input_path`` with ``grader``; write ``output_path`` in input order.

    ``progress``: ``True`` shows a rich bar for inputs of PROGRESS_BAR_MIN_LINES lines or more,
    ``False`` shows nothing, a callable receives ``(done, total)`` after each answer.
    ``concurrency`` bounds the answers graded at once (it matters for network graders).
    """
    source, target = Path(input_path), Path(output_path)
    lines = await asyncio.to_thread(read_jsonl, source)
    total = len(lines)
    bar: _RichProgress | None = None
    callback: ProgressCallback | None
    if callable(progress):
        callback = progress
    elif progress and total >= PROGRESS_BAR_MIN_LINES:
        bar = _RichProgress(total)
        callback = bar
    else:
        callback = None

    semaphore = asyncio.Semaphore(max(1, concurrency))
    results: list[dict[str, Any] | None] = [None] * total
    done = 0

    async def run(index: int, line: BatchLine) -> None:
        nonlocal done
        async with semaphore:
            try:
                grade = await grader.grade(line.item, line.answer)
                results[index] = grade_record(line, grade)
            except GradingError as exc:
                results[index] = {
                    **line.record,
                    "score": None,
                    "grader": grader.name,
                    "error": f"{type(exc).__name__}: {exc}",
                }
        done += 1
        if callback is not None:
            callback(done, total)

    try:
        await asyncio.gather(*(run(i, line) for i, line in enumerate(lines)))
    finally:
        if bar is not None:
            bar.close()

    await asyncio.to_thread(write_jsonl, target, results)
    scores = [r["score"] for r in results if r is not None and r.get("score") is not None]
    return BatchSummary(
        graded=len(scores),
        failed=total - len(scores),
        mean_score=sum(scores) / len(scores) if scores else None,
    )
