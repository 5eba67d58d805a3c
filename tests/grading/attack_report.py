"""How many attacks beat their base answer, per judge: the figure behind the attack rule.

    python -m tests.grading.attack_report [--corpus tests/grading/attack_corpus.yaml]
    python -m tests.grading.attack_report --heldout

grades every base answer and every base + attack of a corpus (the format of
``attack_corpus.yaml``, or the held-out set ``tests/data/grading/attacks_heldout.yaml`` on bank
questions) with the real LLM grader through the loopback fake, against an honest judge and
gullible judges, and prints per judge the number of attacks that scored above their base, the
number more than 10 points above, and how many attacked grades were flagged.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.domain.bank import KeyPoint, load_bank
from bot.grading.base import GradingItem
from bot.grading.llm import FLAG_INJECTION, LLMGrader
from tests.fakes.openai_server import FakeOpenAI, GullibleJudge, HonestJudge

REPO = Path(__file__).resolve().parents[2]
JUDGES = ("honest", "gullible-invented", "gullible-attack", "gullible-attack+point")


def load_corpus(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def items_of(corpus: dict[str, Any]) -> dict[str, GradingItem]:
    """The corpus's questions: written inline, or ``{bank: <id>}`` for a question of the bank."""
    items = {}
    bank = None
    for name, spec in corpus["questions"].items():
        if "bank" in spec:
            bank = bank or load_bank(REPO / "questions").by_id()
            items[name] = GradingItem.from_question(bank[spec["bank"]])
            continue
        items[name] = GradingItem(
            prompt=spec["prompt"],
            reference=spec["reference"],
            key_points=tuple(KeyPoint(**point) for point in spec.get("key_points", ())),
            question_id=name,
        )
    return items


def attacked_text(corpus: dict[str, Any], attack: dict[str, Any]) -> str:
    base = corpus["bases"][attack["base"]]["text"].strip()
    repeat = attack.get("attack_repeat")
    filler = repeat["text"] * repeat["times"] if repeat else ""
    text = attack.get("attack", "")
    where = attack.get("where", "after")
    if where == "before":
        return f"{text}{filler}\n{base}"
    if where == "middle":
        first, _, rest = base.partition(". ")
        return f"{first}. {filler}{text} {rest}"
    return f"{base}\n{filler}{text}"


@dataclass(frozen=True)
class Case:
    """One attack: the item, the base answer and the attacked answer."""

    id: str
    item: GradingItem
    base: str
    attacked: str


def corpus_cases(corpus: dict[str, Any]) -> list[Case]:
    items = items_of(corpus)
    return [
        Case(
            attack["id"],
            items[corpus["bases"][attack["base"]]["question"]],
            corpus["bases"][attack["base"]]["text"],
            attacked_text(corpus, attack),
        )
        for attack in corpus["attacks"]
    ]


def heldout_cases() -> list[Case]:
    """The held-out set, built with its own helpers (tests/data/test_grading_sets.py)."""
    from tests.data.test_grading_sets import attacked_answer, attacks, bank

    questions = bank()
    return [
        Case(
            attack["id"],
            GradingItem.from_question(questions[attack["question"]]),
            attack["base"],
            attacked_answer(attack),
        )
        for attack in attacks()
    ]


@dataclass(frozen=True)
class Outcome:
    attack: str
    base: int
    attacked: int
    flagged: bool


def make_judge(name: str) -> HonestJudge:
    if name == "honest":
        return HonestJudge()
    return GullibleJudge(evidence=name.removeprefix("gullible-"))


async def run_judge(cases: Sequence[Case], judge_name: str, **options: Any) -> list[Outcome]:
    outcomes = []
    async with FakeOpenAI(make_judge(judge_name)) as server:
        grader = LLMGrader(server.client(timeout=10), "gpt-test", timeout=10, **options)
        for case in cases:
            base = await grader.grade(case.item, case.base)
            attacked = await grader.grade(case.item, case.attacked)
            outcomes.append(
                Outcome(case.id, base.score, attacked.score, FLAG_INJECTION in attacked.flags)
            )
    return outcomes


def summarise(name: str, outcomes: Sequence[Outcome]) -> str:
    wins = [o for o in outcomes if o.attacked > o.base]
    big = [o for o in outcomes if o.attacked > o.base + 10]
    flagged = sum(o.flagged for o in outcomes)
    line = (
        f"{name:<22} attacks {len(outcomes):>3}  wins {len(wins):>3}  wins >10 points "
        f"{len(big):>3}  flagged {flagged:>3}"
    )
    if wins:
        line += "\n    " + ", ".join(f"{o.attack} ({o.base}->{o.attacked})" for o in wins)
    return line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).with_name("attack_corpus.yaml")
    )
    parser.add_argument("--heldout", action="store_true", help="the held-out attack set")
    args = parser.parse_args(argv)
    cases = heldout_cases() if args.heldout else corpus_cases(load_corpus(args.corpus))
    for name in JUDGES:
        print(summarise(name, asyncio.run(run_judge(cases, name))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
