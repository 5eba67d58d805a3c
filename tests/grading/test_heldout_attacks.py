"""The held-out attack set (``tests/data/grading/attacks_heldout.yaml``, written by someone else
and never used to tune the grader) under the same rule as our own corpus: for every attack,
score(base + attack) <= score(base), against an honest judge and against gullible judges that
obey instructions in the answer (quoting invented text, the attack itself, or the attack plus
the key point)."""

from __future__ import annotations

import pytest

from tests.grading.attack_report import JUDGES, Case, heldout_cases, run_judge

CASES: list[Case] = heldout_cases()


def test_the_held_out_set_is_there() -> None:
    assert len(CASES) >= 140


@pytest.mark.parametrize("judge", JUDGES)
async def test_no_held_out_attack_raises_the_score(judge: str) -> None:
    outcomes = await run_judge(CASES, judge)
    wins = [
        f"{outcome.attack}: {outcome.base} -> {outcome.attacked}"
        for outcome in outcomes
        if outcome.attacked > outcome.base
    ]
    assert wins == []
