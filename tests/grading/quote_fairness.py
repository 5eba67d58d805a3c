"""Fairness of the LLM grader to correct answers when the judge misquotes them.

Correct answers to bank questions (``correct_answers.yaml``) are graded by the real
:class:`~bot.grading.llm.LLMGrader` through the real ``openai`` client against the loopback fake,
whose :class:`~tests.fakes.openai_server.ImperfectQuotingJudge` marks every key point covered and
quotes the sentence that makes it in one style (exact, slips, ellipsis, dropped words, merged
sentences, synonyms, short fragments). A fair grader scores them all about the same.

    python -m tests.grading.quote_fairness [--set test|dev|all] [--no-requote]
    python -m tests.grading.quote_fairness --paraphrase [--split test|dev]

prints the mean score per style, the loss against exact quotes and how many answers fall below 75.
``--paraphrase`` grades the answers of someone else's paraphrase set
(``tests/data/grading/paraphrase_set.yaml``: correct, terse, partial, wrong and vague answers
written without the reference's wording) with a *generous* judge that marks every key point
covered: what survives is what the evidence checks let through, so correct answers should keep
most of their points and vague ones should not.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.domain.bank import Question, load_bank
from bot.grading.base import Grade, GradingItem
from bot.grading.llm import LLMGrader
from tests.fakes.openai_server import (
    QUOTE_STYLES,
    AnnotatedAnswer,
    FakeOpenAI,
    GenerousJudge,
    ImperfectQuotingJudge,
    annotated,
)

REPO = Path(__file__).resolve().parents[2]
ANSWERS_FILE = Path(__file__).with_name("correct_answers.yaml")
PARAPHRASE_FILE = REPO / "tests" / "data" / "grading" / "paraphrase_set.yaml"


@dataclass(frozen=True)
class CorrectAnswer:
    question: Question
    answer: AnnotatedAnswer
    subset: str


def load_correct_answers(subset: str = "test") -> list[CorrectAnswer]:
    """The correct answers of one subset ("test", "dev" or "all") with their bank questions."""
    bank = load_bank(REPO / "questions").by_id()
    data: dict[str, Any] = yaml.safe_load(ANSWERS_FILE.read_text(encoding="utf-8"))
    return [
        CorrectAnswer(bank[entry["question"]], annotated(entry["sentences"]), entry["set"])
        for entry in data["answers"]
        if subset == "all" or entry["set"] == subset
    ]


@dataclass(frozen=True)
class StyleResult:
    style: str
    scores: tuple[int, ...]
    grades: tuple[Grade, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    def below(self, threshold: int = 75) -> int:
        return sum(1 for score in self.scores if score < threshold)


async def grade_in_style(
    answers: Sequence[CorrectAnswer], style: str, *, requote: bool = True, concurrency: int = 4
) -> StyleResult:
    """Grade every answer with a judge that quotes in ``style``."""
    judge = ImperfectQuotingJudge(style=style)
    async with FakeOpenAI(judge) as server:
        grader = LLMGrader(server.client(timeout=10), "gpt-test", timeout=10, requote=requote)
        semaphore = asyncio.Semaphore(concurrency)

        async def one(entry: CorrectAnswer) -> Grade:
            text = judge.know(entry.answer)
            async with semaphore:
                return await grader.grade(GradingItem.from_question(entry.question), text)

        grades = await asyncio.gather(*(one(entry) for entry in answers))
    return StyleResult(style, tuple(grade.score for grade in grades), tuple(grades))


async def fairness_table(
    answers: Sequence[CorrectAnswer], *, requote: bool = True, styles: Sequence[str] = QUOTE_STYLES
) -> dict[str, StyleResult]:
    return {style: await grade_in_style(answers, style, requote=requote) for style in styles}


def format_table(results: dict[str, StyleResult], count: int) -> str:
    exact = results["exact"].mean if "exact" in results else float("nan")
    lines = [
        f"{count} correct answers; mean score per quoting style",
        f"{'style':<10} {'mean':>6} {'vs exact':>9} {'below 75':>9}",
    ]
    for style, result in results.items():
        lines.append(
            f"{style:<10} {result.mean:6.1f} {result.mean - exact:+9.1f} {result.below():>9}"
        )
    return "\n".join(lines)


async def paraphrase_under_a_generous_judge(split: str) -> dict[str, list[int]]:
    """Scores per answer style of the paraphrase set's ``split``, every point claimed covered."""
    bank = load_bank(REPO / "questions").by_id()
    data: dict[str, Any] = yaml.safe_load(PARAPHRASE_FILE.read_text(encoding="utf-8"))
    scores: dict[str, list[int]] = {}
    async with FakeOpenAI(GenerousJudge()) as server:
        grader = LLMGrader(server.client(timeout=10), "gpt-test", timeout=10)
        for entry in data["questions"]:
            if split != "all" and entry["split"] != split:
                continue
            item = GradingItem.from_question(bank[entry["id"]])
            for style, text in entry["answers"].items():
                scores.setdefault(style, []).append((await grader.grade(item, text)).score)
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="test", choices=("test", "dev", "all"))
    parser.add_argument("--no-requote", action="store_true", help="never ask for a re-quote")
    parser.add_argument("--show", default="", help="print the verdicts of one style")
    parser.add_argument("--paraphrase", action="store_true", help="the paraphrase set instead")
    parser.add_argument("--split", default="test", choices=("test", "dev", "all"))
    args = parser.parse_args(argv)
    if args.paraphrase:
        table = asyncio.run(paraphrase_under_a_generous_judge(args.split))
        print(f"paraphrase set, {args.split} split, generous judge: mean score per style")
        for style, values in table.items():
            below = sum(1 for value in values if value < 75)
            print(f"{style:<8} {statistics.fmean(values):6.1f}  ({below}/{len(values)} below 75)")
        return 0
    answers = load_correct_answers(args.set)
    results = asyncio.run(fairness_table(answers, requote=not args.no_requote))
    print(format_table(results, len(answers)))
    if args.show:
        for entry, grade in zip(answers, results[args.show].grades, strict=True):
            if grade.score < 100:
                print(f"\n{entry.question.id}: {grade.score}")
                for verdict in grade.verdicts:
                    if verdict.status.value != "covered":
                        print(f"  {verdict.status.value}: {verdict.key_point} | {verdict.hint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
