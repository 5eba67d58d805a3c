"""Batch grading of a JSONL file: one answer per line in, the same line plus its grade out.

Each input line is a JSON object with ``question``, ``reference`` and ``answer`` (strings) and
optionally ``key_points``: a list of ``{"text": ..., "weight": ...}`` objects or plain strings
(weight 1 each). Every output line is the input object plus ``score`` (0-100), ``verdicts``,
``feedback``, ``grader`` and ``details``; an answer the grader could not grade gets
``score: null`` and an ``error`` message instead, and the run goes on.

The whole input is validated before any grading starts; a malformed line raises
:class:`BatchInputError` naming the file and line number. Long inputs show a rich progress bar
on stderr unless a progress callback (or ``False``) is passed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.domain.bank import KeyPoint
from bot.grading.base import Grade, Grader, GradingError, GradingItem

#: Inputs with at least this many lines get the default progress bar.
PROGRESS_BAR_MIN_LINES = 20
REQUIRED_FIELDS = ("question", "reference", "answer")

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


def _key_points(path: Path, line: int, raw: Any) -> tuple[KeyPoint, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BatchInputError(path, line, "'key_points' must be a list")
    points = []
    for index, entry in enumerate(raw):
        try:
            if isinstance(entry, str):
                points.append(KeyPoint(text=entry, weight=1))
            elif isinstance(entry, dict):
                points.append(KeyPoint.model_validate({"weight": 1, **entry}))
            else:
                raise BatchInputError(
                    path, line, f"key_points[{index}] must be a string or an object"
                )
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
                for err in exc.errors()
            )
            raise BatchInputError(path, line, f"key_points[{index}]: {problem}") from None
    return tuple(points)


def parse_line(path: Path, line: int, text: str) -> BatchLine:
    """Validate one JSONL line; raise :class:`BatchInputError` naming the line."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatchInputError(path, line, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(record, dict):
        raise BatchInputError(path, line, "expected a JSON object")
    for name in REQUIRED_FIELDS:
        if name not in record:
            raise BatchInputError(path, line, f"missing field '{name}'")
        if not isinstance(record[name], str):
            raise BatchInputError(path, line, f"field '{name}' must be a string")
    if not record["reference"].strip():
        raise BatchInputError(path, line, "field 'reference' is empty")
    item = GradingItem(
        prompt=record["question"],
        reference=record["reference"],
        key_points=_key_points(path, line, record.get("key_points")),
        question_id=str(record.get("id", "")),
    )
    return BatchLine(line, record, item, record["answer"])


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
    return {
        **line.record,
        "score": grade.score,
        "verdicts": [
            {
                "key_point": v.key_point,
                "status": v.status.value,
                "evidence": v.evidence,
                "hint": v.hint,
            }
            for v in grade.verdicts
        ],
        "feedback": grade.feedback,
        "grader": grade.grader,
        "details": grade.details,
    }


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
