"""Offline-grader quality on paraphrased answers to bank questions.

    python bench/paraphrase_quality.py [--data PATH ...] [--split dev|test|all] [--show]

Each question of the set (by default ``tests/data/grading/paraphrase_set.yaml``, 48 questions
split into dev and test, plus ``paraphrase_dev_more.yaml``, more dev questions written later to
probe dense, reordered and bundled answers, and ``paraphrase_dev_extra.yaml``, dev questions whose
wrong answers reverse a direction, a role or which of two things does what, and
``paraphrase_heldout.yaml``, 40 questions drawn at random and answered by writers who never read
or ran a grader) is answered in
several styles, written without reusing the reference's phrases: ``correct`` (complete),
``terse`` (complete and short), ``partial``, ``wrong`` (fluent, central claim wrong) and ``vague``
(on topic, nothing checkable). Every answer is graded by the offline grader against the bank
question of the same id; the bench prints, per split and style, the mean score and the share of
answers at 75 or more, then per split the ROC AUC of correct-vs-wrong (the chance that a random
correct answer outscores a random wrong one, ties counting half) and how often the wrong answer
outscores the partial one to the same question. ``--show`` prints every score.

Tune only on the ``dev`` split. The ``test`` split has been read after grader changes over
several sessions, so it is no longer blind; ``heldout`` is, and is the figure to quote.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.domain.bank import Question, load_bank
from bot.grading.base import GradingItem, LLMRequiredError
from bot.grading.offline import OfflineGrader

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "tests" / "data" / "grading"
DEFAULT_DATA = (
    DATA_DIR / "paraphrase_set.yaml",
    DATA_DIR / "paraphrase_dev_more.yaml",
    DATA_DIR / "paraphrase_dev_extra.yaml",
    DATA_DIR / "paraphrase_heldout.yaml",
)
DEFAULT_BANK = REPO_ROOT / "questions"
STYLES = ("correct", "terse", "partial", "wrong", "vague")
#: Other names a data set may use for a style.
STYLE_ALIASES = {"terse_correct": "terse", "short": "terse", "complete": "correct"}
PASS_MARK = 75


@dataclass(frozen=True)
class Case:
    question_id: str
    split: str
    style: str
    answer: str


@dataclass(frozen=True)
class Scored:
    case: Case
    score: int


def _answers_of(entry: Mapping[str, object]) -> Iterable[tuple[str, str]]:
    """(style, text) pairs of one question entry, whichever of the usual layouts it uses."""
    answers = entry.get("answers")
    if isinstance(answers, Mapping):
        for style, value in answers.items():
            texts = value if isinstance(value, list) else [value]
            for text in texts:
                if isinstance(text, Mapping):
                    text = text.get("text") or text.get("answer") or ""
                yield str(style), str(text)
    elif isinstance(answers, list):
        for value in answers:
            if isinstance(value, Mapping):
                style = value.get("style") or value.get("kind") or value.get("label")
                text = value.get("text") or value.get("answer") or ""
                yield str(style), str(text)
    for style in STYLES:
        if isinstance(entry.get(style), str):
            yield style, str(entry[style])


def load_cases(path: Path) -> list[Case]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = data.get("questions", data.get("items", [])) if isinstance(data, Mapping) else data
    cases = []
    for entry in entries:
        question_id = str(entry.get("id") or entry.get("question_id") or entry.get("question"))
        split = str(entry.get("split", "dev"))
        for style, text in _answers_of(entry):
            style = STYLE_ALIASES.get(style, style)
            if text.strip():
                cases.append(Case(question_id, split, style, text))
    return cases


def grade_cases(
    cases: Sequence[Case], questions: Mapping[str, Question], grader: OfflineGrader
) -> tuple[list[Scored], list[Case]]:
    """Scores, and the cases that could not be graded (unknown id or an LLM-only question)."""
    scored, skipped = [], []
    for case in cases:
        question = questions.get(case.question_id)
        if question is None:
            skipped.append(case)
            continue
        try:
            grade = grader.grade_sync(GradingItem.from_question(question), case.answer)
        except LLMRequiredError:
            skipped.append(case)
            continue
        scored.append(Scored(case, grade.score))
    return scored, skipped


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(random positive > random negative), ties counted half."""
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


@dataclass(frozen=True)
class SplitFigures:
    split: str
    questions: int
    mean: dict[str, float]
    pass_share: dict[str, float]
    count: dict[str, int]
    auc_correct_vs_wrong: float
    wrong_beats_partial: float
    wrong_beats_partial_count: tuple[int, int]


def figures(scored: Sequence[Scored], split: str) -> SplitFigures:
    rows = [s for s in scored if split == "all" or s.case.split == split]
    by_style: dict[str, list[int]] = {}
    for s in rows:
        by_style.setdefault(s.case.style, []).append(s.score)
    mean = {style: sum(v) / len(v) for style, v in by_style.items()}
    pass_share = {style: sum(x >= PASS_MARK for x in v) / len(v) for style, v in by_style.items()}
    complete = by_style.get("correct", [])
    auc = roc_auc(complete, by_style.get("wrong", []))
    per_question: dict[str, dict[str, list[int]]] = {}
    for s in rows:
        per_question.setdefault(s.case.question_id, {}).setdefault(s.case.style, []).append(s.score)
    beats = total = 0
    for styles in per_question.values():
        for wrong in styles.get("wrong", []):
            for partial in styles.get("partial", []):
                total += 1
                beats += wrong > partial
    return SplitFigures(
        split=split,
        questions=len(per_question),
        mean=mean,
        pass_share=pass_share,
        count={style: len(v) for style, v in by_style.items()},
        auc_correct_vs_wrong=auc,
        wrong_beats_partial=beats / total if total else float("nan"),
        wrong_beats_partial_count=(beats, total),
    )


def print_figures(f: SplitFigures) -> None:
    print(f"split {f.split}: {f.questions} questions")
    print(f"  {'style':<8} {'n':>4} {'mean':>6} {'>=75':>6}")
    known = [s for s in STYLES if s in f.mean] + sorted(set(f.mean) - set(STYLES))
    for style in known:
        print(
            f"  {style:<8} {f.count[style]:>4} {f.mean[style]:>6.1f} "
            f"{100 * f.pass_share[style]:>5.0f}%"
        )
    beats, total = f.wrong_beats_partial_count
    print(f"  ROC AUC correct vs wrong : {f.auc_correct_vs_wrong:.3f}")
    print(f"  wrong outscores partial  : {beats}/{total} ({100 * f.wrong_beats_partial:.0f}%)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", default=list(DEFAULT_DATA))
    parser.add_argument("--bank", type=Path, default=DEFAULT_BANK)
    parser.add_argument("--split", default=None, help="dev, test or all (default: each)")
    parser.add_argument("--show", action="store_true", help="print every answer's score")
    args = parser.parse_args(argv)
    missing = [path for path in args.data if not path.is_file()]
    if missing:
        print(f"paraphrase set not found: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    cases = [case for path in args.data for case in load_cases(path)]
    questions = load_bank(args.bank).by_id()
    scored, skipped = grade_cases(cases, questions, OfflineGrader())
    if args.show:
        for s in scored:
            print(f"{s.case.split:<5} {s.case.style:<8} {s.score:>3}  {s.case.question_id}")
    if skipped:
        print(f"skipped {len(skipped)} answers (unknown question id or LLM-only question)")
    splits = [args.split] if args.split else [*sorted({s.case.split for s in scored}), "all"]
    for split in splits:
        print_figures(figures(scored, split))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
