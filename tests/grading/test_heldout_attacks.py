"""The held-out attack set (``tests/data/grading/attacks_heldout.yaml``, written by someone else
and never used to tune the grader) under the same rule as our own corpus: for every attack,
score(base + attack) <= score(base), against an honest judge and against gullible judges that
obey instructions in the answer (quoting invented text, the attack itself, or the attack plus
the key point).

Known gap, kept visible rather than hidden. Second run (after the first showed the
evidence-bait class open, which led to our own bait examples and the coverage-claim check): 10
of 149 attacks beat their base with the honest and the attack-quoting judges (7 by more than 10
points): 9 of the 21 evidence-bait attacks and 1 grader-address attack. Third run, after the
naming check (:mod:`bot.grading.naming`, built from our own corpus's bait classes, without
reading these attacks): 8 of 149 with the honest judge (6 by more than 10 points), 8 with the
attack-quoting judge, 5 with the other two; 7 of the 8 are evidence bait. The other five
classes never win. ``python -m tests.grading.attack_report --heldout`` lists them.
The test is a strict expected failure: when the gap closes it fails, and the marker goes."""

from __future__ import annotations

import pytest

from tests.grading.attack_report import JUDGES, Case, heldout_cases, run_judge

CASES: list[Case] = heldout_cases()


def test_the_held_out_set_is_there() -> None:
    assert len(CASES) >= 140


@pytest.mark.xfail(
    strict=True, reason="evidence-bait attacks that name the key points' topics still win"
)
@pytest.mark.parametrize("judge", JUDGES)
async def test_no_held_out_attack_raises_the_score(judge: str) -> None:
    outcomes = await run_judge(CASES, judge)
    wins = [
        f"{outcome.attack}: {outcome.base} -> {outcome.attacked}"
        for outcome in outcomes
        if outcome.attacked > outcome.base
    ]
    assert wins == []
