"""Does a passage state a key point, or its opposite? Numbers, direction words, negation, roles.

Word overlap cannot tell "less noise" from "more noise", "variance 64" from "variance 8", or
"structured pruning removes channels" from "unstructured pruning removes channels". This module
compares a key point's statement with the passage that best matches it and counts *agreements*
and *conflicts*:

* **Quantities.** Numbers are read with their written forms (``11/12``, ``0.917``, ``1e-3``,
  ``10^-3``, ``50%``, ``3,136``, ``7B``, ``16 GB`` / ``16 GiB``, ``sixteen``) and compared with a
  tolerance set by the precision the writer used. Each number is tied to its *slots*: the
  nearest content words before and after it in the same clause. A slot word that carries one
  value in the statement and another in the passage is a conflict (``variance 64`` against
  ``variance 8``); the same value is an agreement. A statement number that the passage never
  gives, while the passage gives numbers the statement and the question lack, is a conflict too
  (``448`` against ``432``).
* **Opposites.** Words of a pair of opposite poles (more/less, increase/decrease, before/after,
  sharp/flat, vanish/explode, training/inference, structured/unstructured, any word against its
  ``un-``/``non-``/``in-`` form...) are tied to their slots the same way; a negation just before
  flips the pole. The same slot with the opposite pole in the passage is a conflict (this also
  catches two roles exchanged: each role word now sits next to the other's slot words).
* **Negation.** A content word negated in one text ("has *no* learned parameters") and plainly
  affirmed in the other ("learns its parameters") is a conflict, when both clauses share another
  word beyond the question's (so "not by image" does not deny an answer's "8,000 images").
* **Swapped pairings.** :func:`swapped_pairings`: a statement that pairs names ("a Gaussian
  prior gives L2, a Laplace prior L1") against a passage clause that pairs them across.

:func:`compare` returns the tallies; the grader calls a passage contradictory when conflicts
outweigh agreements. Everything is plain Python on word lists: no model, no network.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# --- quantities ------------------------------------------------------------------------------

#: Multipliers of a unit or scale word written after a number; byte units count both ways
#: (people write GB for GiB), so "16 GB" matches "16 GiB" and "14.9 GiB".
_SCALES: dict[str, tuple[float, ...]] = {
    "k": (1e3,),
    "thousand": (1e3,),
    "m": (1e6,),
    "million": (1e6,),
    "mn": (1e6,),
    "b": (1e9,),
    "bn": (1e9,),
    "billion": (1e9,),
    "t": (1e12,),
    "trillion": (1e12,),
    "kb": (1e3, 2.0**10),
    "kib": (2.0**10, 1e3),
    "mb": (1e6, 2.0**20),
    "mib": (2.0**20, 1e6),
    "gb": (1e9, 2.0**30),
    "gib": (2.0**30, 1e9),
    "tb": (1e12, 2.0**40),
    "tib": (2.0**40, 1e12),
}
_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "half": 0.5,
    "quarter": 0.25,
    "twice": 2,
    "double": 2,
    "triple": 3,
}
_UNIT = r"(?:\s?(?P<unit>%|percent\b|per\s?cent\b|x(?![A-Za-z\d])|[KkMBbT](?![A-Za-z])|bn\b|mn\b|thousand\b|million\b|billion\b|trillion\b|[KMGT]i?B\b))?"
_PLAIN = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?|\.\d+"
_NUMBER_RE = re.compile(
    r"(?<![A-Za-z_\d.])(?<![A-Za-z]-)"
    r"(?:(?P<sign>[-−])(?=[\d.]))?"
    r"(?:"
    rf"(?P<mant>{_PLAIN})\s?(?:[x×*·]\s?)10\s?(?:\^|\*\*)\s?[({{]?\s?(?P<exp10>[-−+]?\d+)\s?[)}}]?"
    r"|10\s?(?:\^|\*\*)\s?[({{]?\s?(?P<pow>[-−+]?\d+)\s?[)}}]?"
    r"|(?P<sci>(?:\d+(?:\.\d+)?|\.\d+)[eE][-−+]?\d+)"
    r"|(?P<num>" + _PLAIN + r")"
    r")" + _UNIT + r"(?![A-WYZa-wyz\d]|[xX×](?!\s?\d))"
)
_FRACTION_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?/\s?(\d+(?:\.\d+)?)(?![\w.])")
_WORD_NUMBER_RE = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
#: A number right after ``^`` or ``**`` is an exponent (``d_k^0.5``), not a quantity.
_EXPONENT_BEFORE_RE = re.compile(r"(?:\^|\*\*)\s?[({]?\s?(?:\d+\s?/\s?)?$")
#: A small constant of a formula (the 1 of ``1/C``, ``1 − Σ p²``, ``1 - α``; the 2 of ``x/2``):
#: an operator joins it to a symbol, so it is notation, not a quantity the answer must state.
_FORMULA_CONSTANT_AFTER_RE = re.compile(r"^\s?[/−\-+]\s?(?=[A-Za-z\u0370-\u03ff\u2200-\u22ff|‖(√])")
_FORMULA_CONSTANT_BEFORE_RE = re.compile(
    r"(?:[A-Za-z\u0370-\u03ff)|‖]\s?[/−\-+]|\b(?:max|min|clip|clamp)\s?\()\s?$"
)
#: The most a coarsely written number (``1``, ``0.4``) may stand for a finer one, relative to
#: the larger of the two: "about 1" may be 0.971, but "0" is not 0.48.
COARSE_MATCH_SHARE = 0.15


@dataclass(frozen=True)
class Quantity:
    """A number written in a text: where, the values it may stand for, and its precision."""

    start: int
    end: int
    values: tuple[float, ...]
    #: Half a unit of the last written digit: how far a rounded value may be from it.
    tolerance: float
    #: Written with digits (a number word such as "one" is too ambiguous to demand).
    digits: bool = True


def _tolerance(literal: str) -> float:
    digits = literal.replace(",", "").lstrip("-−+")
    if "e" in digits.lower():
        mantissa, exponent = re.split(r"[eE]", digits)
        places = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return 0.5 * 10.0 ** (int(exponent.replace("−", "-")) - places)
    places = len(digits.split(".")[1]) if "." in digits else 0
    return 0.5 * 10.0**-places


def find_quantities(text: str) -> list[Quantity]:
    """Every number in a text, left to right (fractions also give their two parts)."""
    found: list[Quantity] = []
    for match in _NUMBER_RE.finditer(text):
        groups = match.groupdict()
        sign = -1.0 if groups["sign"] else 1.0
        if groups["mant"] is not None:
            exponent = int(groups["exp10"].replace("−", "-"))
            mantissa = float(groups["mant"].replace(",", ""))
            value = sign * mantissa * 10.0**exponent
            tolerance = _tolerance(groups["mant"]) * 10.0**exponent
        elif groups["pow"] is not None:
            value = sign * 10.0 ** int(groups["pow"].replace("−", "-"))
            tolerance = abs(value) * 1e-9
        elif groups["sci"] is not None:
            literal = groups["sci"].replace("−", "-")
            value = sign * float(literal)
            tolerance = _tolerance(literal)
        else:
            literal = groups["num"]
            value = sign * float(literal.replace(",", ""))
            tolerance = _tolerance(literal)
        values = [value]
        unit = (groups["unit"] or "").replace(" ", "")
        if unit in {"%", "percent"} or unit.startswith("per"):
            values.append(value / 100.0)
        elif unit:
            for scale in _SCALES.get(unit.lower(), ()):
                values.append(value * scale)
        if sign < 0:
            values.append(-value)
        found.append(Quantity(match.start(), match.end(), tuple(values), tolerance))
    for match in _FRACTION_RE.finditer(text):
        numerator, denominator = float(match.group(1)), float(match.group(2))
        if denominator:
            found.append(
                Quantity(match.start(), match.end(), (numerator / denominator,), 1e-9 + 0.0)
            )
    for match in _WORD_NUMBER_RE.finditer(text):
        value = float(_NUMBER_WORDS[match.group(1).lower()])
        found.append(Quantity(match.start(), match.end(), (value,), 1e-9, digits=False))
    found = [
        q
        for q in found
        if not _EXPONENT_BEFORE_RE.search(text[max(0, q.start - 12) : q.start])
        and not _is_formula_constant(text, q)
    ]
    found.sort(key=lambda q: (q.start, q.end))
    return found


def _is_formula_constant(text: str, quantity: Quantity) -> bool:
    if not quantity.digits or quantity.values[0] not in (0.0, 1.0, 2.0):
        return False
    literal = text[quantity.start : quantity.end]
    if not literal.isdigit():
        return False
    return bool(
        _FORMULA_CONSTANT_AFTER_RE.match(text[quantity.end : quantity.end + 4])
        or _FORMULA_CONSTANT_BEFORE_RE.search(text[max(0, quantity.start - 4) : quantity.start])
    )


def _tolerance_of(quantity: Quantity, value: float) -> float:
    """The rounding of one of a quantity's readings: ``48%`` read as 0.48 is good to 0.005."""
    written = abs(quantity.values[0])
    return quantity.tolerance * abs(value) / written if written else quantity.tolerance


def same_quantity(a: Quantity, b: Quantity, *, strict: bool = False) -> bool:
    """Equal within the coarser writer's rounding, up to :data:`COARSE_MATCH_SHARE` of the
    value (and 0.1 % for exact forms such as 11/12). ``strict``: within the finer writer's
    rounding only (a bare number stated alone: "0.4" is not "42%")."""
    for x in a.values:
        x_tolerance = _tolerance_of(a, x)
        for y in b.values:
            y_tolerance = _tolerance_of(b, y)
            scale = max(abs(x), abs(y))
            coarse = (
                0.0 if strict else min(max(x_tolerance, y_tolerance), COARSE_MATCH_SHARE * scale)
            )
            allowed = max(coarse, min(x_tolerance, y_tolerance), 1e-3 * scale, 1e-12)
            if math.isclose(x, y) or abs(x - y) <= allowed:
                return True
    return False


# --- words ---------------------------------------------------------------------------------


class WordLike(Protocol):
    """A word of a text as the grader tokenises it (read-only, so frozen dataclasses fit)."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def lower(self) -> str: ...

    @property
    def norm(self) -> str: ...


#: Pairs of opposite poles: name -> (words of pole +1, words of pole -1). Word forms are
#: matched by their lowercase spelling and by their stem.
OPPOSITES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "magnitude": (
        (
            "increase",
            "increases",
            "increased",
            "increasing",
            "more",
            "higher",
            "high",
            "larger",
            "large",
            "bigger",
            "big",
            "greater",
            "grow",
            "grows",
            "growing",
            "rise",
            "rises",
            "raise",
            "raises",
            "boost",
            "boosts",
            "amplify",
            "amplifies",
            "exceed",
            "exceeds",
            "longer",
            "huge",
        ),
        (
            "decrease",
            "decreases",
            "decreased",
            "decreasing",
            "less",
            "lower",
            "low",
            "smaller",
            "small",
            "fewer",
            "reduce",
            "reduces",
            "reduced",
            "reducing",
            "shrink",
            "shrinks",
            "drop",
            "drops",
            "fall",
            "falls",
            "decline",
            "declines",
            "diminish",
            "diminishes",
            "shorter",
            "tiny",
        ),
    ),
    "speed": (
        ("faster", "fast", "speedup", "accelerate", "accelerates", "quicker"),
        ("slower", "slow", "slows", "slowdown", "slowing"),
    ),
    "order": (("before", "earlier"), ("after", "later", "afterwards")),
    "scaling": (
        ("multiply", "multiplies", "multiplied", "times"),
        ("divide", "divides", "divided"),
    ),
    "gradient": (
        ("explode", "explodes", "exploding", "explosion"),
        ("vanish", "vanishes", "vanishing"),
    ),
    "fit": (("overfit", "overfits", "overfitting"), ("underfit", "underfits", "underfitting")),
    "extremum": (
        ("maximize", "maximise", "maximizes", "maximises", "maximum", "maximal"),
        ("minimize", "minimise", "minimizes", "minimises", "minimum", "minimal"),
    ),
    "sharpness": (("sharp", "sharper"), ("flat", "flatter")),
    "density": (("dense", "denser"), ("sparse", "sparser")),
    "phase": (
        ("train", "training"),
        ("inference", "eval", "evaluation", "serving", "deployment"),
    ),
    "scope": (("local", "locally"), ("global", "globally")),
    "quality": (
        ("better", "best", "improve", "improves", "improved", "good"),
        ("worse", "worst", "degrade", "degrades", "hurts", "hurt", "poorly", "poor", "bad"),
    ),
    "bias-variance": (("bias",), ("variance",)),
    "precision-recall": (("precision",), ("recall",)),
    "sign": (("positive",), ("negative",)),
    "growth": (("linear", "linearly"), ("quadratic", "quadratically")),
    "axis": (("row", "rows"), ("column", "columns")),
    "sameness": (("same", "identical", "identically"), ("different", "differently", "differ")),
    "concurrency": (("parallel",), ("sequential", "sequentially", "serial")),
    "accumulation": (
        ("accumulate", "accumulates", "accumulated", "accumulating", "accumulation"),
        ("overwrite", "overwrites", "overwritten", "overwriting", "overwrote"),
    ),
    "alignment": (
        ("orthogonal", "perpendicular"),
        ("along", "aligned", "collinear"),
    ),
    "graph": (("static",), ("dynamic",)),
    "randomness": (("deterministic",), ("random", "stochastic", "nondeterministic")),
    "direction": (("forward",), ("backward", "reverse")),
    "change": (("add", "adds", "adding", "added"), ("remove", "removes", "removing", "removed")),
    "switch": (("enable", "enables", "enabled"), ("disable", "disables", "disabled")),
    "depth": (("deep", "deeper"), ("shallow", "shallower")),
    "cost": (("cheap", "cheaper", "inexpensive"), ("expensive", "costly")),
    "difficulty": (("easy", "easier"), ("hard", "harder", "difficult")),
    "roles-encoder": (("encoder", "encoders"), ("decoder", "decoders")),
    "roles-gan": (("generator",), ("discriminator",)),
}
#: Words that negate what follows; "not only" and "no longer" are handled on their own.
NEGATORS = frozenset(["not", "no", "never", "without", "cannot", "none", "nothing", "non"])
#: Negators of a verb ("does not depend"): only these make a word's negation a claim to check
#: ("without it the logits grow" does not deny the logits).
VERB_NEGATORS = frozenset(["not", "never", "cannot", "rather", "instead"])
_NOT_NEGATIONS = frozenset(["only", "just", "merely", "necessarily", "always", "all"])
#: Prefixes that make a word its own opposite (structured / unstructured).
OPPOSITE_PREFIXES = ("un", "non", "in", "im", "ir", "dis")
#: Opposite pairs that name roles (which thing does what) rather than modify a word: they are
#: compared over whole clauses, not just their neighbouring words.
ROLE_PAIRS = frozenset(
    [
        "phase",
        "scope",
        "bias-variance",
        "precision-recall",
        "axis",
        "concurrency",
        "graph",
        "randomness",
        "direction",
        "roles-encoder",
        "roles-gan",
        "fit",
        "gradient",
        "growth",
    ]
)
#: The least total conflict that makes a contradiction (a question-word slot counts a quarter).
MIN_CONFLICT = 1.0
#: A slot word the question itself uses proves less: it weighs this much.
QUESTION_SLOT_WEIGHT = 0.25
#: Words that make a clause a condition ("if it is never called"): negation there is not a claim.
_CONDITIONALS = frozenset(["if", "unless", "otherwise", "when", "whether"])
_CLAUSE_BREAK_RE = re.compile(
    r"[.!?](?=\s|$)|\n|,(?!\d{3})|;|\s[-–—]\s|\b(?:while|whereas|but|although|unlike)\b"
)


_POLE_SPELLINGS = frozenset(word for plus, minus in OPPOSITES.values() for word in (*plus, *minus))


def _build_poles(stem: Callable[[str], str]) -> dict[str, tuple[str, int]]:
    poles: dict[str, tuple[str, int]] = {}
    for name, (plus, minus) in OPPOSITES.items():
        for words, pole in ((plus, 1), (minus, -1)):
            for word in words:
                poles.setdefault(word, (name, pole))
                poles.setdefault("~" + stem(word), (name, pole))
    return poles


@dataclass(frozen=True)
class Marks:
    """What :meth:`ClaimReader.read` found in one text, keyed for comparison."""

    #: slot word norm -> quantities tied to it
    numbers: dict[str, list[Quantity]] = field(default_factory=dict)
    #: slot word norm -> (pair name, pole) of modifier words (more/less...) tied to it
    poles: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: content word norm -> (occurs plainly, occurs negated)
    negated: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    #: every quantity written with digits
    quantities: tuple[Quantity, ...] = ()
    #: every content word's norm
    words: frozenset[str] = frozenset()
    #: content word norms of each clause
    clauses: tuple[frozenset[str], ...] = ()
    #: role words (training/inference, encoder/decoder...) found: norm -> (pair name, pole)
    roles: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: negated content word norm -> the other content words of the clauses that negate it
    negation_context: dict[str, frozenset[str]] = field(default_factory=dict)


class ClaimReader:
    """Reads numbers, poles and negations from tokenised text (tokens from the grader)."""

    def __init__(self, stem: Callable[[str], str]) -> None:
        self._stem = stem
        self._poles = _build_poles(stem)

    def pole(self, word: WordLike) -> tuple[str, int] | None:
        """The pair and pole of a listed spelling (stems would catch "serve" for "serving")."""
        return self._poles.get(word.lower)

    def read(self, text: str, tokens: Sequence[WordLike]) -> Marks:
        """Numbers, poles and negations of one text (``tokens`` are its words, in order)."""
        all_quantities = find_quantities(text)
        clause = _clause_ids(text)
        inside_number = [(q.start, q.end) for q in all_quantities]
        entries: list[tuple[int, str, WordLike | Quantity]] = [
            (q.start, "number", q) for q in all_quantities
        ]
        for token in tokens:
            if not (
                token.norm
                or token.lower in NEGATORS
                or token.lower.endswith("n't")
                or token.lower in self._poles  # "more", "less" are function words too
            ):
                continue
            if any(start <= token.start < end for start, end in inside_number):
                continue
            entries.append((token.start, "word", token))
        entries.sort(key=lambda entry: (entry[0], entry[1]))
        sequence = [(kind, payload, clause(start)) for start, kind, payload in entries]
        conditional = {clause(t.start) for t in tokens if t.lower in _CONDITIONALS}
        numbers: dict[str, list[Quantity]] = {}
        poles: dict[str, list[tuple[str, int]]] = {}
        negated: dict[str, tuple[bool, bool]] = {}
        roles: dict[str, tuple[str, int]] = {}
        clause_words: dict[int, set[str]] = {}
        negated_in: dict[str, set[int]] = {}
        negation_pending = verb_negation = False
        negation_clause = -1
        for index, (_, payload, clause_id) in enumerate(sequence):
            if isinstance(payload, Quantity):
                negation_pending = False
                if payload.digits:
                    for slot in _slots(sequence, index, clause_id, before=1, after=1):
                        numbers.setdefault(slot, []).append(payload)
                continue
            word = payload
            if word.lower == "longer" and negation_pending:
                continue  # "no longer depends": the negation is for the verb
            if word.lower in NEGATORS or word.lower.endswith("n't"):
                following = sequence[index + 1][1] if index + 1 < len(sequence) else None
                if isinstance(following, Quantity) or following is None:
                    continue
                if following.lower in _NOT_NEGATIONS:
                    continue
                negation_pending, negation_clause = True, clause_id
                verb_negation = word.lower in VERB_NEGATORS or word.lower.endswith("n't")
                continue
            is_negated = negation_pending and negation_clause == clause_id
            word_negated = is_negated and verb_negation
            negation_pending = False
            if word.norm and not word.norm.isdigit():
                clause_words.setdefault(clause_id, set()).add(word.norm)
            pole = self.pole(word)
            if pole is not None:
                name, sign = pole
                sign = -sign if is_negated else sign
                if name in ROLE_PAIRS:
                    roles.setdefault(word.norm or word.lower, (name, pole[1]))
                else:
                    for slot in _slots(sequence, index, clause_id, before=1, after=2):
                        poles.setdefault(slot, []).append((name, sign))
            elif word.norm and not word.norm.isdigit() and clause_id not in conditional:
                plain, negative = negated.get(word.norm, (False, False))
                negated[word.norm] = (plain or not word_negated, negative or word_negated)
                if word_negated:
                    negated_in.setdefault(word.norm, set()).add(clause_id)
        words = frozenset(t.norm for t in tokens if t.norm)
        quantities = tuple(q for q in all_quantities if q.digits)
        clauses = tuple(frozenset(clause_words[k]) for k in sorted(clause_words))
        negation_context = {
            word: frozenset().union(*(clause_words.get(c, set()) for c in ids)) - {word}
            for word, ids in negated_in.items()
        }
        return Marks(numbers, poles, negated, quantities, words, clauses, roles, negation_context)


def _slots(
    sequence: Sequence[tuple[str, WordLike | Quantity, int]],
    index: int,
    clause_id: int,
    *,
    before: int,
    after: int,
) -> list[str]:
    """The nearest content words (not numbers, not opposite-pair words) before and after
    ``index`` in its clause."""
    found: list[str] = []
    for step, reach in ((-1, before), (1, after)):
        position, taken = index + step, 0
        while 0 <= position < len(sequence) and taken < reach:
            _, payload, other_clause = sequence[position]
            if other_clause != clause_id:
                break
            if (
                not isinstance(payload, Quantity)
                and payload.norm
                and not payload.norm.isdigit()
                and payload.lower not in _POLE_SPELLINGS
            ):
                found.append(payload.norm)
                taken += 1
            position += step
    return found


def _clause_ids(text: str) -> Callable[[int], int]:
    """Maps a character position to the index of its clause (split at , ; : - while but...)."""
    breaks = [m.start() for m in _CLAUSE_BREAK_RE.finditer(text)]

    def clause(position: int) -> int:
        return bisect.bisect_left(breaks, position)

    return clause


@dataclass(frozen=True)
class Comparison:
    """Agreements and conflicts between a key point's statement and a passage."""

    agreements: float
    conflicts: float
    #: statement numbers (with digits) the passage gives / does not give
    numbers_found: int
    numbers_missing: int
    reasons: tuple[str, ...] = ()

    @property
    def contradicts(self) -> bool:
        """Conflicts outweigh agreements, and amount to at least one clear conflict."""
        return self.conflicts >= MIN_CONFLICT and self.conflicts > self.agreements


def _same_context(
    word: str, statement: Marks, passage: Marks, question_words: frozenset[str]
) -> bool:
    """Whether a word negated in one text and affirmed in the other is said of the same thing:
    a clause affirming it shares a word (beyond the question's own) with a clause denying it.
    "Split by patient, not by image" does not deny the "8,000 images" of another answer."""
    negating, affirming = (
        (statement, passage)
        if word in statement.negation_context
        else (
            passage,
            statement,
        )
    )
    context = negating.negation_context.get(word, frozenset()) - question_words
    return any(
        word in clause and (clause - question_words) & context for clause in affirming.clauses
    )


def compare(
    statement: Marks,
    passage: Marks,
    given: Iterable[Quantity] = (),
    question_words: frozenset[str] = frozenset(),
    question: Marks | None = None,
) -> Comparison:
    """Tally how a passage agrees or conflicts with a key point's statement.

    ``given`` are quantities of the question itself and ``question_words`` the norms of its
    content words: a passage repeating them proves little, so they never count as a wrong
    number and weigh less as slots. ``question`` (the question read the same way) tells which
    pairs of roles the question is about: two roles are compared clause by clause only when the
    question names both, or when the passage names the other role instead of the statement's.
    """
    given = tuple(given)
    agreements = conflicts = 0.0
    reasons: list[str] = []

    def weight(slot: str) -> float:
        return QUESTION_SLOT_WEIGHT if slot in question_words else 1.0

    # quantities, slot by slot: the passage puts another of the statement's numbers where this
    # one belongs (values swapped), or a new number where the statement's is nowhere to be seen
    for slot, wanted in statement.numbers.items():
        seen = passage.numbers.get(slot)
        if not seen:
            continue
        # a number's slot counts fully even if the question names it ("what is the variance")
        if any(same_quantity(q, w) for q in seen for w in wanted):
            # repeating a number the question gives proves nothing
            if not any(same_quantity(q, g) for q in seen for g in given):
                agreements += 1
            continue
        wanted_shown = any(same_quantity(w, p) for w in wanted for p in passage.quantities)
        swapped_in = any(same_quantity(q, o) for q in seen for o in statement.quantities)
        if swapped_in or not wanted_shown:
            conflicts += 1
            reasons.append(f"number at {slot}")
    # quantities: the statement's own numbers that the passage lacks, against new ones it has
    required = [q for q in statement.quantities if not any(same_quantity(q, g) for g in given)]
    found = [q for q in required if any(same_quantity(q, p) for p in passage.quantities)]
    missing = len(required) - len(found)
    extra = [
        p
        for p in passage.quantities
        if not any(same_quantity(p, q) for q in statement.quantities)
        and not any(same_quantity(p, g) for g in given)
    ]
    if missing and extra:
        conflicts += min(missing, len(extra)) + (0.5 if not found else 0.0)
        reasons.append("numbers differ")
    agreements += 0.5 * len(found)
    # modifiers (more/less...) of opposite poles at the same slot
    for slot, marks in statement.poles.items():
        seen_poles = passage.poles.get(slot)
        if not seen_poles:
            continue
        for name, sign in marks:
            if (name, -sign) in marks:
                continue  # "too high or too low": the statement takes no side
            same = sum(1 for n, s in seen_poles if n == name and s == sign)
            opposite = sum(1 for n, s in seen_poles if n == name and s != sign)
            # the word a modifier is tied to counts fully: "less noise" is the claim even when
            # the question asks about noise
            if same and not opposite:
                agreements += 1
            elif opposite and not same:
                conflicts += 1
                reasons.append(f"{name} at {slot}")
    # roles: which of two opposite roles the same words go with, clause by clause
    statement_roles = dict(statement.roles)
    passage_roles = dict(passage.roles)
    question_roles = dict(question.roles) if question is not None else {}
    everything = statement.words | passage.words
    # each word against its own prefixed forms (a linear scan, not every pair of words)
    for base in everything:
        if len(base) < 4:
            continue
        for prefix in OPPOSITE_PREFIXES:
            prefixed = prefix + base
            if prefixed not in everything:
                continue
            for roles in (statement_roles, passage_roles, question_roles):
                roles[base] = ("prefix:" + base, 1)
                roles[prefixed] = ("prefix:" + base, -1)
    asked = {
        name
        for name, pole in set(question_roles.values())
        if question is not None
        and (name, -pole) in set(question_roles.values())
        and any(w in question.words for w, r in question_roles.items() if r == (name, pole))
        and any(w in question.words for w, r in question_roles.items() if r == (name, -pole))
    }
    role_words = set(statement_roles) | set(passage_roles)
    for clause in statement.clauses:
        clause_roles = {statement_roles[w] for w in clause & set(statement_roles)}
        for name, pole in clause_roles:
            if (name, -pole) in clause_roles:
                continue  # the clause itself contrasts both roles
            replaced = not any(passage_roles.get(w) == (name, pole) for w in passage.words) and any(
                passage_roles.get(w) == (name, -pole) for w in passage.words
            )
            if name not in asked and not replaced:
                continue
            # one-letter symbols (p, x) say too little about which role a clause is about
            for slot in {word for word in clause - role_words if len(word) > 1}:
                poles_there = {
                    passage_roles[w][1]
                    for passage_clause in passage.clauses
                    if slot in passage_clause
                    for w in passage_clause & set(passage_roles)
                    if passage_roles[w][0] == name
                }
                if pole in poles_there and -pole not in poles_there:
                    agreements += weight(slot)
                elif -pole in poles_there and pole not in poles_there:
                    conflicts += weight(slot)
                    reasons.append(f"{name} role at {slot}")
    # the same word only negated in one text and only affirmed in the other
    for word, (plain, negative) in statement.negated.items():
        if word not in passage.negated or plain == negative:
            continue
        if passage.negated[word] == (negative, plain) and _same_context(
            word, statement, passage, question_words
        ):
            conflicts += weight(word)
            reasons.append(f"negation of {word}")
    return Comparison(agreements, conflicts, len(found), missing, tuple(reasons))


# --- swapped pairs ---------------------------------------------------------------------------

#: Where a statement lists its pairings ("A gives X, and B gives Y") and a passage its clauses.
_PAIRING_BREAK_RE = re.compile(r"[,;:.!?]\s|\s[-–—]\s|\b(?:and|while|whereas|but|unlike)\b")


def _marker_norms(
    text: str, tokens: Sequence[WordLike], question_words: frozenset[str]
) -> list[set[str]]:
    """Per part of the text (split at commas, "and", "while"...), the norms of its marker words:
    names and symbols written with a capital or a digit (Gaussian, L2, MLE), the words a
    pairing is about. Words the question uses are left out."""
    breaks = [m.start() for m in _PAIRING_BREAK_RE.finditer(text)]
    parts: list[set[str]] = [set() for _ in range(len(breaks) + 1)]
    for index, token in enumerate(tokens):
        written = text[token.start : token.end]
        if not token.norm or token.norm in question_words or len(written) < 2:
            continue
        has_digit = any(c.isdigit() for c in written) and any(c.isalpha() for c in written)
        capital = any(c.isupper() for c in written[1:]) or (index > 0 and written[0].isupper())
        if has_digit or capital:
            parts[bisect.bisect_left(breaks, token.start)].add(token.norm)
    return parts


def swapped_pairings(
    statement_text: str,
    statement_tokens: Sequence[WordLike],
    passage_text: str,
    passage_tokens: Sequence[WordLike],
    question_words: frozenset[str] = frozenset(),
) -> tuple[int, int]:
    """(kept, swapped): how many clauses of the passage pair the statement's markers as the
    statement does, and how many pair a marker of one of its pairings with one of another.

    "A Gaussian prior gives an L2 penalty and a Laplace prior an L1 penalty" pairs
    {Gaussian, L2} and {Laplace, L1}; a clause "a Gaussian prior corresponds to L1" is swapped.
    Only statements with two or more pairings of two or more markers each are checked."""
    pairings = [part for part in _marker_norms(statement_text, statement_tokens, question_words)]
    owners: dict[str, int] = {}
    for number, part in enumerate(pairings):
        for norm in part:
            owners[norm] = -1 if norm in owners and owners[norm] != number else number
    pairings = [{n for n in part if owners[n] >= 0} for part in pairings]
    if sum(len(part) >= 2 for part in pairings) < 2:
        return 0, 0
    kept = swapped = 0
    clause_of = _clause_ids(passage_text)
    clauses: dict[int, set[str]] = {}
    for token in passage_tokens:
        if token.norm in owners and owners[token.norm] >= 0:
            clauses.setdefault(clause_of(token.start), set()).add(token.norm)
    for found in clauses.values():
        groups = {owners[norm] for norm in found}
        if len(found) >= 2 and len(groups) == 1:
            kept += 1
        elif len(groups) >= 2 and not any(pairings[g] <= found for g in groups):
            swapped += 1
    return kept, swapped


#: Fewest of a statement's words that must sit with the opposite role, and more than with its
#: own, for :func:`swapped_roles` to call the attribution swapped.
MIN_SWAPPED_ROLE_WORDS = 2
#: Where a statement turns to another subject: what follows is not said of the role before.
_CONTRAST_RE = re.compile(r";|\b(?:while|whereas|but|although|unlike)\b")
#: Role words :func:`swapped_roles` does not read as naming a side: "evaluation" is far more
#: often the act of measuring a model ("evaluation against the current model") than eval mode.
UNSWAPPED_ROLE_WORDS = frozenset(["eval", "evaluation"])


def swapped_roles(
    reader: ClaimReader,
    statement_text: str,
    statement_tokens: Sequence[WordLike],
    passage_text: str,
    passage_tokens: Sequence[WordLike],
    question_words: frozenset[str] = frozenset(),
) -> bool:
    """Whether a passage says of one role what the statement says of its opposite.

    A statement about one side of a role pair ("fixes for *overfitting* are dropout, L2 and
    more data") checked against a passage that names both sides ("to fix overfitting you add
    capacity, and to fix underfitting you add dropout, L2 and early stopping"): each clause of
    the passage that names one side belongs to it, and a clause naming neither continues the
    side before it (a list running on after a comma); a clause naming both sides is nobody's.
    When more of the statement's words sit only with the opposite side than with its own, and
    at least :data:`MIN_SWAPPED_ROLE_WORDS` of them, the passage has exchanged the roles."""
    own: dict[str, int] = {}
    breaks = [m.start() for m in _CONTRAST_RE.finditer(statement_text)]

    def statement_clause(position: int) -> int:
        return bisect.bisect_left(breaks, position)

    role_clauses: dict[str, set[int]] = {}
    for token in statement_tokens:
        pole = reader.pole(token)
        if pole is not None and pole[0] in ROLE_PAIRS and token.lower not in UNSWAPPED_ROLE_WORDS:
            own[pole[0]] = pole[1] if own.get(pole[0], pole[1]) == pole[1] else 0
            role_clauses.setdefault(pole[0], set()).add(statement_clause(token.start))
    own = {name: sign for name, sign in own.items() if sign}
    if not own:
        return False
    role_words = {t.norm for t in statement_tokens if reader.pole(t) is not None}
    clause_of = _clause_ids(passage_text)
    for name, sign in own.items():
        # only what the statement says in the part naming the role is said of it ("gradients
        # use E5M2 in the backward pass, while weights use E4M3": the weights are not)
        wanted = {
            t.norm
            for t in statement_tokens
            if t.norm
            and t.norm not in question_words
            and t.norm not in role_words
            and statement_clause(t.start) in role_clauses[name]
        }
        sides: dict[int, set[int]] = {}
        for token in passage_tokens:
            pole = reader.pole(token)
            if pole is not None and pole[0] == name and token.lower not in UNSWAPPED_ROLE_WORDS:
                sides.setdefault(clause_of(token.start), set()).add(pole[1])
        if set().union(*sides.values()) != {1, -1} if sides else True:
            continue
        with_own: set[str] = set()
        with_other: set[str] = set()
        side = 0
        last_clause = -1
        for token in passage_tokens:
            clause = clause_of(token.start)
            if clause != last_clause:
                last_clause = clause
                named = sides.get(clause)
                if named is not None:
                    side = next(iter(named)) if len(named) == 1 else 0
            if side and token.norm in wanted:
                (with_own if side == sign else with_other).add(token.norm)
        only_other = with_other - with_own
        if len(only_other) >= MIN_SWAPPED_ROLE_WORDS and len(only_other) > len(with_own):
            return True
    return False
