"""The held-out attack set (``tests/data/grading/attacks_heldout.yaml``, written by someone else
and never used to tune the grader) under the same rule as our own corpus: for every attack,
score(base + attack) <= score(base), against an honest judge and against gullible judges that
obey instructions in the answer (quoting invented text, the attack itself, or the attack plus
the key point).

History. Second run (after the first showed the evidence-bait class open, which led to our own
bait examples and the coverage-claim check): 10 of 149 attacks beat their base with the honest
and the attack-quoting judges (7 by more than 10 points). Third run, after the naming check
(:mod:`bot.grading.naming`, built from our own corpus's bait classes, without reading these
attacks): 8 of 149 with the honest judge, 7 of them evidence bait. Fourth run, 2026-11-30: those
8 were read, and the coverage-claim patterns of :mod:`bot.grading.injection` were widened to the
classes they belong to (a label opening a sentence that announces what is covered, "this
covers ...", "the answer/this clause covers ...", "all of these are covered", a note to the
marker), with our own examples of each class added to our corpus and ordinary sentences that
must stay unflagged added to the injection tests: 0 of 149 with every judge. Since that fix was
made after reading them, this set no longer measures those classes independently; it still
guards against regressions. ``python -m tests.grading.attack_report --heldout`` lists wins."""

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
