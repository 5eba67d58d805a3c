"""Heuristic checks of rubric quality shared by the rubric-property tests.

A grader checks each key point on its own, so a point must state one claim, numbers that can be
written several ways need accepted alternatives, and a point that merely repeats a number the
prompt already gives must not be worth the most. The functions here find violations; the tests
in ``test_rubric_properties.py`` apply them to the whole bank.
"""

from __future__ import annotations

import re
from fractions import Fraction

#: Finite verbs and auxiliaries that mark a clause of its own (present tense, as key are
#: written). Plural nouns that double as verbs ("outputs", "costs", "runs") are left out on
#: purpose, so "student outputs" is not read as a clause.
FINITE_VERBS = frozenset(
    """is are was were has have had does do did can cannot could may might must should shall will
    would adds allows applies becomes brings causes collapses combines
    compares computes controls converges creates decays depends
    describes dies divides does doubles ensures equals exceeds explodes fails
    fits flattens follows gets gives goes grows halves handles helps hides hurts
    ignores improves includes increases keeps kills learns lets loses
    lowers makes means misses multiplies normalizes normalises
    overfits passes penalises penalizes predicts prevents
    raises reaches receives reduces remains removes replaces requires restores
    reuses saturates sees selects shares shows shrinks
    skips slows smooths solves stays stops takes tends treats
    underfits uses vanishes yields""".split()
)
#: Words that open a clause with its own subject after a conjunction.
SUBJECT_OPENERS = frozenset(
    "a an the it its they this that these those each every both no all their one some many "
    "most its".split()
)
CLAUSE_JOINERS = re.compile(r",? (?:and|but) |; ")
#: Words that open a subordinate clause (a reason, a relative clause), which stays one claim.
SUBORDINATORS = frozenset(
    "which who whom whose where that when because since so if unless as from".split()
)
SENTENCE_BREAK = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)\.\s+[A-Z]")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z'-]*", text.lower())


def has_finite_verb(segment: str) -> bool:
    return any(word in FINITE_VERBS for word in words(segment))


def is_independent_clause(segment: str) -> bool:
    """A segment with its own subject and verb: its first word is not the verb itself."""
    tokens = words(segment)
    while tokens and (tokens[0].endswith("ly") or tokens[0] in {"only", "also", "then", "not"}):
        tokens = tokens[1:]  # "... and drastically shrinks": still the previous subject
    if not tokens or tokens[0] in FINITE_VERBS or tokens[0] in SUBORDINATORS:
        return False  # a shared-subject predicate or a subordinate clause
    return any(word in FINITE_VERBS for word in tokens)


def bundled_claims(text: str) -> list[str]:
    """Why a key point looks like several independent claims; empty when it looks like one."""
    reasons = []
    if ";" in text:
        reasons.append("a semicolon joins two statements")
    if SENTENCE_BREAK.search(text):
        reasons.append("two sentences")
    segments = CLAUSE_JOINERS.split(text)
    clauses = [segment for segment in segments[1:] if is_independent_clause(segment)]
    if clauses and has_finite_verb(segments[0]):
        reasons.append(f"independent clauses joined by and/but/while: {clauses[0]!r}")
    return reasons


# --- numbers -------------------------------------------------------------------------------------

NUMBER_FORMS = re.compile(
    r"(?<![\w./])(?P<num>\d+)/(?P<den>\d+)(?![\w/])"
    r"|(?<![\w.])(?P<value>\d+(?:,\d{3})*(?:\.\d+)?(?:e-?\d+)?)\s*(?P<unit>%|GiB|GB|MiB|MB|KiB|TB|ms)?"
)
#: Units whose values are commonly written in another unit (binary versus decimal bytes, % and
#: fractions); a key point stating one of them must accept another way of writing the value.
CONVERTIBLE_UNITS = {"GB", "GiB", "MB", "MiB", "TB", "%"}


def convertible_numbers(text: str) -> list[str]:
    """Numbers a correct answer may write differently: fractions, decimals below 1, scientific
    notation, percentages and byte sizes."""
    found = []
    for match in NUMBER_FORMS.finditer(text):
        if match.group("num"):
            if int(match.group("den")) > 1:
                found.append(match.group(0))
            continue
        value, unit = match.group("value"), match.group("unit")
        if unit in CONVERTIBLE_UNITS:
            found.append(f"{value} {unit}")
        elif "e" in value or (value.startswith("0.") and len(value) > 3):
            found.append(value)
    return found


def numbers(text: str) -> set[str]:
    return {m.group("value") for m in NUMBER_FORMS.finditer(text) if m.group("value")} | {
        f"{m.group('num')}/{m.group('den')}" for m in NUMBER_FORMS.finditer(text) if m.group("num")
    }


def as_fraction(value: str) -> Fraction | None:
    try:
        if "/" in value:
            num, den = value.split("/")
            return Fraction(int(num), int(den))
        return Fraction(value.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


UNIT_FACTORS = {
    None: 1.0,
    "%": 0.01,
    "GB": 1e9,
    "GiB": 2.0**30,
    "MB": 1e6,
    "MiB": 2.0**20,
    "KiB": 2.0**10,
    "TB": 1e12,
    "ms": 1e-3,
}


def written_values(text: str) -> list[tuple[str, float]]:
    """Every number in a text as (how it is written, its value in base units)."""
    found = []
    for match in NUMBER_FORMS.finditer(text):
        if match.group("num"):
            den = int(match.group("den"))
            if den:
                found.append((match.group(0), int(match.group("num")) / den))
            continue
        value = float(match.group("value").replace(",", ""))
        unit = match.group("unit")
        found.append((match.group(0).strip(), value * UNIT_FACTORS.get(unit, 1.0)))
    return found


def has_alternative(number: str, accept: tuple[str, ...], rel: float = 0.02) -> bool:
    """Some accepted form states the same value written another way (another notation or unit)."""
    (written, value), *_ = written_values(number)
    for form in accept:
        for other_written, other_value in written_values(form):
            same = abs(other_value - value) <= rel * max(abs(value), 1e-300)
            if same and other_written.replace(" ", "") != written.replace(" ", ""):
                return True
    return False


def missing_alternatives(text: str, accept: tuple[str, ...]) -> list[str]:
    return [number for number in convertible_numbers(text) if not has_alternative(number, accept)]


# --- mechanical points ---------------------------------------------------------------------------

SMALL_CONSTANTS = frozenset({"0", "1", "2"})
#: A prompt that spells out the formula to use: "lr = peak x step / 2000", "C = 6ND".
GIVEN_FORMULA = re.compile(r"\b[A-Za-z_]\w*(?:\([^)]*\))?\s*=\s*[^,;?.]*?[A-Za-z_]\w*\s*[×x*/+^−-]")
FILLER = frozenset(
    "a an and are as at be by for from gives in is it its of on or the to with this that each "
    "so per here step steps value values at".split()
)


def content_words(text: str) -> list[str]:
    return [
        word for word in words(re.sub(r"\d", " ", text)) if word not in FILLER and len(word) > 2
    ]


def restates_prompt_numbers(point_text: str, prompt: str) -> bool:
    """The point's numbers (ignoring 0, 1, 2) all come from the prompt and little else is said."""
    if "[" in point_text:
        return False  # a computed vector or matrix, such as a pooling result
    stated = numbers(point_text) - SMALL_CONSTANTS
    return bool(stated) and stated <= numbers(prompt) and len(content_words(point_text)) <= 4


def plugs_given_formula(point_text: str, prompt: str) -> bool:
    """The prompt gives the formula and the point is a bare computed value from it."""
    if not GIVEN_FORMULA.search(prompt):
        return False
    new_numbers = numbers(point_text) - numbers(prompt) - SMALL_CONSTANTS
    return bool(new_numbers) and len(content_words(point_text)) <= 3
