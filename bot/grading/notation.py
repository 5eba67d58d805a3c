"""Words of a text with formulas written one canonical way, each tied to its span in the text.

Answers write the same formula many ways: ``sqrt(d_k)``, ``√dk``, ``\\sqrt{d_k}``, ``d_k^0.5``,
``d_k**(1/2)``, "the square root of d_k"; ``γ`` or ``gamma``; ``d_{model}`` or ``dmodel``. The
grader's lexical matching sees them all as the same words: a square root becomes the word
``sqrt`` followed by its argument, a subscripted symbol becomes one word without the underscore
and braces (``d_k`` -> ``dk``), and a Greek letter becomes its name. Every word keeps the span
of the text it came from, so evidence quoted from an answer is still the answer's own text.
"""

from __future__ import annotations

import re

GREEK = {
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "ϵ": "epsilon",
    "ζ": "zeta",
    "η": "eta",
    "θ": "theta",
    "κ": "kappa",
    "λ": "lambda",
    "μ": "mu",
    "ν": "nu",
    "π": "pi",
    "ρ": "rho",
    "σ": "sigma",
    "τ": "tau",
    "φ": "phi",
    "ϕ": "phi",
    "χ": "chi",
    "ψ": "psi",
    "ω": "omega",
    "Σ": "sum",
    "∑": "sum",
    "∇": "gradient",
    "Δ": "delta",
}
_SYMBOL = r"(?:[A-Za-z]+(?:_\{?[A-Za-z0-9]+\}?)?|\d+(?:\.\d+)?)"
_SQRT_RE = re.compile(
    r"√\s*\(?\s*(?P<a>" + _SYMBOL + r")\s*\)?"
    r"|\\?\bsqrt\s*[({]\s*(?P<b>" + _SYMBOL + r")\s*[)}]"
    r"|(?P<c>" + _SYMBOL + r")\s*(?:\^|\*\*)\s*[({]?\s*(?:0?\.5|1\s*/\s*2)\s*[)}]?(?![\d.])"
    r"|\bsquare[\s-]+root\s+of\s+(?:the\s+)?(?P<d>" + _SYMBOL + r")",
    re.IGNORECASE,
)
_WORD_RE = re.compile(
    r"[A-Za-z0-9]+(?:_\{?[A-Za-z0-9]+\}?)+|[A-Za-z0-9]+(?:'[a-z]+)?|[" + "".join(GREEK) + "√]"
)
_SUBSCRIPT_RE = re.compile(r"[_{}]")
#: Text without any of these has no notation to rewrite (the common case, done fast).
_NOTATION_HINT_RE = re.compile(r"[_^*√" + "".join(GREEK) + r"]|sqrt|root", re.IGNORECASE)
_PLAIN_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:'[a-z]+)?")


def canonical_symbol(symbol: str) -> str:
    """``d_k``, ``d_{k}`` and ``dk`` alike become ``dk``."""
    return _SUBSCRIPT_RE.sub("", symbol).lower()


def words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, lowercase canonical word) for each word of ``text``, left to right."""
    if not _NOTATION_HINT_RE.search(text):
        return [(m.start(), m.end(), m.group().lower()) for m in _PLAIN_WORD_RE.finditer(text)]
    covered: list[tuple[int, int]] = []
    found: list[tuple[int, int, str]] = []
    for match in _SQRT_RE.finditer(text):
        symbol = next(group for group in match.groups() if group is not None)
        found.append((match.start(), match.end(), "sqrt"))
        found.append((match.start(), match.end(), canonical_symbol(symbol)))
        covered.append((match.start(), match.end()))
    for match in _WORD_RE.finditer(text):
        if any(start <= match.start() < end for start, end in covered):
            continue
        word = match.group()
        if word in GREEK:
            lower = GREEK[word]
        elif word == "√":
            lower = "sqrt"
        elif "_" in word:
            lower = canonical_symbol(word)
        else:
            lower = word.lower()
        found.append((match.start(), match.end(), lower))
    found.sort(key=lambda item: item[0])
    return found
