"""The seed coverage map accounts for every question of every seed article.

The test reads the seed files' own structure (``Q)`` lines, the article's question numbering,
question headings) and checks each detected question line has an entry, that every entry points
at a real line and at an existing bank id or gives a reason for its exclusion.
Seed 001 lost its question lines: its entries point at the first line of each answer instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.domain.bank import load_bank
from bot.domain.coverage import load_coverage

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"
COVERAGE = ROOT / "questions" / "coverage"
NUMBERED = re.compile(r"^\s*(\d+)(?:\([a-z]\))?\s*[.)]\s+\S")


def numbered_in_sequence(lines: list[str], start_line: int = 1) -> set[int]:
    """Lines that carry the article's running question number 1, 2, 3...; numbered steps inside
    answers restart at 1 and so are skipped. A sub-question like ``13(a).`` counts too."""
    found, expected = set(), 1
    for number, text in enumerate(lines, start=1):
        if number < start_line:
            continue
        match = NUMBERED.match(text)
        if not match:
            continue
        value = int(match.group(1))
        if value == expected:
            found.add(number)
            expected += 1
        elif value == expected - 1 and "(" in text.split(".")[0]:
            found.add(number)  # 13(a) after 13
    return found


def question_marks(lines: list[str]) -> set[int]:
    return {
        number
        for number, text in enumerate(lines, start=1)
        if text.rstrip().endswith("?") or "(From Interview Query" in text
    }


DETECTORS: dict[str, Callable[[list[str]], set[int]]] = {
    "000_e480b1b35cfebef7.txt": lambda lines: {
        n for n, text in enumerate(lines, 1) if text.startswith("Q)")
    },
    "002_570c154298885742.txt": numbered_in_sequence,
    "003_a8c25222877d68a1.txt": question_marks,
    # the body starts after a table of contents that repeats questions 30-52
    "004_01dc14f27496f22a.txt": lambda lines: numbered_in_sequence(lines, start_line=30),
}

pytestmark = pytest.mark.skipif(
    not SEEDS.is_dir() and os.environ.get("REQUIRE_SEEDS") != "1",
    reason="../shared/seeds is not beside the repo (REQUIRE_SEEDS=1 makes this a failure)",
)


@pytest.fixture(scope="module")
def coverage():
    return {seed_map.seed: seed_map for seed_map in load_coverage(COVERAGE)}


def test_every_seed_file_has_a_coverage_map(coverage):
    assert set(coverage) == {path.name for path in SEEDS.glob("0*.txt")}


@pytest.mark.parametrize("seed", sorted(DETECTORS))
def test_every_detected_seed_question_is_accounted_for(coverage, seed):
    lines = (SEEDS / seed).read_text(encoding="utf-8").split("\n")
    detected = DETECTORS[seed](lines)
    mapped = {entry.line for entry in coverage[seed].questions}
    assert detected, f"no questions detected in {seed}"
    assert sorted(detected - mapped) == [], f"{seed}: questions without a coverage entry"


def test_seed_001_entries_point_at_answer_paragraphs(coverage):
    lines = (SEEDS / "001_cf13cee43194a948.txt").read_text(encoding="utf-8").split("\n")
    entries = coverage["001_cf13cee43194a948.txt"].questions
    assert len(entries) >= 40  # the article announces 40 questions
    for entry in entries:
        assert lines[entry.line - 1].strip(), f"line {entry.line} is blank"


def test_entries_point_at_real_lines_and_existing_ids(coverage):
    bank_ids = set(load_bank(ROOT / "questions").by_id())
    for seed, seed_map in coverage.items():
        length = len((SEEDS / seed).read_text(encoding="utf-8").split("\n"))
        seen_lines = set()
        for entry in seed_map.questions:
            assert 1 <= entry.line <= length, f"{seed}: line {entry.line} is outside the file"
            assert entry.line not in seen_lines, f"{seed}: line {entry.line} listed twice"
            seen_lines.add(entry.line)
            if entry.bank_id is not None:
                assert entry.bank_id in bank_ids, (
                    f"{seed}:{entry.line} -> unknown id {entry.bank_id}"
                )
            else:
                assert entry.excluded and len(entry.excluded) > 10, "an exclusion needs a reason"


def test_most_seed_questions_are_in_the_bank(coverage):
    entries = [entry for seed_map in coverage.values() for entry in seed_map.questions]
    excluded = [entry for entry in entries if entry.excluded]
    assert len(excluded) / len(entries) < 0.1


def test_sources_list_exactly_the_seeds_that_map_to_a_question(coverage):
    mapped: dict[str, set[str]] = {}
    for seed, seed_map in coverage.items():
        for entry in seed_map.questions:
            if entry.bank_id is not None:
                mapped.setdefault(entry.bank_id, set()).add(seed)
    bank = load_bank(ROOT / "questions")
    differ = {
        question.id: (sorted(question.sources), sorted(mapped.get(question.id, ())))
        for question in bank.questions
        if set(question.sources) != mapped.get(question.id, set())
    }
    assert differ == {}, "question id: (sources, seeds whose coverage entries map to it)"
