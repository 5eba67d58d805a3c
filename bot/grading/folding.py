"""Text folding with an offset map: compare text the way a reader sees it, point back at the source.

Detectors and the quote locator work on a *folded* copy of the answer: Unicode compatibility
forms unified (NFKC), invisible characters dropped, case folded, and optionally look-alike
letters (Cyrillic ``а``, Greek ``ο``, digits in leetspeak) mapped to ASCII and letters spread
out with separators (``I-g-n-o-r-e``, ``i g n o r e``) joined up. Every character of the folded
text remembers the index of the source character it came from, so a match in the folded text
maps back to a span of the original answer (:meth:`Folded.source_span`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Characters that render as nothing or only steer rendering (zero-width, bidi controls,
#: variation selectors, Hangul fillers, soft hyphen...).
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\U000e0001\U000e007f]"
)
#: Unicode "tag" characters (U+E0020-U+E007E) mirror ASCII invisibly ("ASCII smuggling").
_TAG_FIRST, _TAG_LAST = 0xE0020, 0xE007E

#: Characters that render like ASCII letters, and leetspeak digits/symbols.
HOMOGLYPHS: dict[str, str] = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "ո": "n", "ν": "v",
    "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u",
    "ѵ": "v", "ԝ": "w", "ɑ": "a", "ı": "i", "ℓ": "l", "к": "k", "м": "m", "н": "h",
    "т": "t", "в": "b", "ь": "b", "г": "r", "п": "n", "и": "u", "ԛ": "q", "ɢ": "g",
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
    "|": "l", "!": "i",
}  # fmt: skip
_LETTER_LEET = frozenset("013457@$|!")
#: ASCII characters the look-alike table maps ("|" for "l"); digits are handled as leetspeak.
_ASCII_LOOKALIKE = re.compile(r"[|!]")

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"'})

#: Runs of single letters split by one kind of separator: ``i-g-n-o-r-e``, ``i g n o r e``.
_SPREAD_SEPARATORS = ("-", ".", "_", "*", " ", "|", "/", "·", "•", "~", "+", ",")
_SPREAD_RUNS = tuple(
    re.compile(rf"(?<![^\W\d_])(?:[^\W\d_]{re.escape(sep)}{{1,2}}){{3,}}[^\W\d_](?![^\W\d_])")
    for sep in _SPREAD_SEPARATORS
)


@dataclass(frozen=True)
class Folded:
    """A folded text and, per character, the index of the source character it came from."""

    text: str
    origin: tuple[int, ...]
    source_length: int

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The source span covering folded characters ``start:end`` (end exclusive)."""
        if not self.origin:
            return 0, 0
        start = max(0, min(start, len(self.origin) - 1))
        end = max(start + 1, min(end, len(self.origin)))
        return self.origin[start], self.origin[end - 1] + 1


def _fold_char(char: str, *, ascii_letters: bool) -> str:
    code = ord(char)
    if _TAG_FIRST <= code <= _TAG_LAST:
        char = chr(code - 0xE0000)
    if ascii_letters and char in HOMOGLYPHS and char not in _LETTER_LEET:
        return HOMOGLYPHS[char]
    folded = unicodedata.normalize("NFKC", char).translate(_QUOTES).casefold()
    if not ascii_letters:
        return folded
    out = []
    for piece in folded:
        piece = HOMOGLYPHS.get(piece, piece) if piece not in _LETTER_LEET else piece
        decomposed = unicodedata.normalize("NFKD", piece)
        if decomposed and ord(decomposed[0]) < 0x250:  # Latin: drop the accents
            piece = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        out.append(piece)
    return "".join(out)


def fold(
    text: str, *, ascii_letters: bool = False, leetspeak: bool = False, join_spread: bool = False
) -> Folded:
    """Fold ``text`` for matching; see the module docstring for the steps.

    ``ascii_letters`` maps look-alike letters to ASCII and strips accents; ``leetspeak`` also
    maps digits and symbols inside words (``1gn0re``); ``join_spread`` joins letters spread out
    with one kind of separator.
    """
    chars: list[str] = []
    origin: list[int] = []
    if text.isascii() and not (ascii_letters and _ASCII_LOOKALIKE.search(text)):
        folded = text.lower()  # nothing to normalise: one character each
        origin = list(range(len(text)))
    else:
        for index, char in enumerate(text):
            if char.isascii() and not (ascii_letters and char in HOMOGLYPHS):
                chars.append(char.lower())
                origin.append(index)
                continue
            if INVISIBLE.match(char):
                continue
            for piece in _fold_char(char, ascii_letters=ascii_letters):
                chars.append(piece)
                origin.append(index)
        folded = "".join(chars)
    if leetspeak:
        folded = _unleet(folded)
    if join_spread:
        folded, kept = _join_spread_letters(folded)
        origin = [origin[i] for i in kept]
    return Folded(folded, tuple(origin), len(text))


_LEET_IN_WORD = re.compile(r"(?<=[a-z])[013457@$|!]+(?=[a-z])|(?<![\w])[0134@$|!](?=[a-z]{2,})")


def _unleet(text: str) -> str:
    """Digits and symbols between letters (``1gn0re``) read as the letters they imitate."""
    return _LEET_IN_WORD.sub(lambda m: "".join(HOMOGLYPHS[c] for c in m.group()), text)


def _join_spread_letters(text: str) -> tuple[str, list[int]]:
    """Drop the separators inside runs like ``i-g-n-o-r-e``; return the text and kept indices."""
    drop = bytearray(len(text))
    for pattern in _SPREAD_RUNS:
        for match in pattern.finditer(text):
            for offset in range(match.start(), match.end()):
                if not text[offset].isalpha():
                    drop[offset] = 1
    kept = [i for i in range(len(text)) if not drop[i]]
    return "".join(text[i] for i in kept), kept


def normalise_words(text: str) -> Folded:
    """Folded, with every run of non-word characters turned into one space (for quote matching).

    Apostrophes inside words are dropped (``ReLU's`` -> ``relus``), so ``ReLU's`` and
    ``ReLUs`` compare equal.
    """
    base = fold(text)
    chars: list[str] = []
    origin: list[int] = []
    pending_space = False
    previous = ""
    for position, char in enumerate(base.text):
        if char.isalnum():
            if pending_space and chars:
                chars.append(" ")
                origin.append(base.origin[position])
            pending_space = False
            chars.append(char)
            origin.append(base.origin[position])
            previous = char
        elif char == "'" and previous.isalnum():
            continue
        else:
            pending_space = True
    return Folded("".join(chars), tuple(origin), len(text))
