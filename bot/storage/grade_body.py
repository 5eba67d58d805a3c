"""Compact storage of what a grade says to the member: its per-key-point verdicts and its
feedback, packed together in ``grade.body`` against what the grade is about.

Most of a grade's words are copies: a verdict's key point is the question's key point, its
evidence is a quote of the member's answer, its hint quotes the question's reference, and the
offline grader's feedback names the missing key points again. Those texts are already stored
(the answer verbatim, the question version, which an edit never changes: it adds a version). So
the body is deflated with a preset dictionary made of them (:class:`GradeContext`): a copied
quote costs a few bytes of back-reference instead of its length. The same context must be given
to read the body back; a two-byte check of it is stored, so a wrong context raises instead of
reading back garbage.

Formats (the first byte), each followed by the context check and a raw deflate stream:

- 2: each verdict as in ``bot.storage.verdicts`` format 1 (status letter, key point, evidence,
  hint, separated by unit separators, ended by a record separator), then a group separator and
  the feedback;
- 3: anything else (another verdict shape, a separator inside a text): compact UTF-8 JSON of
  ``{"verdicts": ..., "feedback": ...}``, deflated against the same dictionary.

No verdicts and no feedback are stored as no bytes at all. Formats 0 and 1 are the verdict-only
formats of ``bot.storage.verdicts`` (revision 0007), which this column never holds.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from bot.storage.verdict_dictionary import DICTIONARY_1
from bot.storage.verdicts import FIELDS, read_records

_STATUS = {"covered": "c", "partial": "p", "missing": "m"}
_STATUS_NAME = {letter: name for name, letter in _STATUS.items()}
_UNIT, _RECORD, _GROUP = "\x1f", "\x1e", "\x1d"
_FIELDS_2, _JSON_3 = 2, 3
#: The bank's most used words ahead of the grade's own context: the tail of the verdict
#: dictionary (zlib reaches the end of a dictionary most cheaply, and hashing all 32 KB of it
#: for every grade would cost more time than its first 28 KB save bytes).
_COMMON_WORDS = DICTIONARY_1[-4096:]


@dataclass(frozen=True)
class GradeContext:
    """What a grade is about: its answer's text and its question version's reference and key
    points. Neither ever changes once stored."""

    answer_text: str
    reference: str
    key_points: tuple[str, ...]

    @classmethod
    def of(cls, answer_text: str, reference: str, key_points: list[Any]) -> GradeContext:
        """From the stored rows' values (``key_points`` as the question row holds them)."""
        texts = tuple(
            point["text"] if isinstance(point, dict) else str(point) for point in key_points
        )
        return cls(answer_text, reference, texts)

    def dictionary(self) -> bytes:
        # the most quoted text last: evidence quotes the answer, so its copies are nearest
        return (
            _COMMON_WORDS
            + self.reference.encode("utf-8")
            + _RECORD.join(self.key_points).encode("utf-8")
            + self.answer_text.encode("utf-8")
        )


@dataclass(frozen=True)
class GradeContent:
    """The verdicts (the grade's JSON form, as ``grade_to_dict`` writes them) and feedback."""

    verdicts: list[dict[str, Any]]
    feedback: str


def _check(dictionary: bytes) -> bytes:
    return (zlib.crc32(dictionary) & 0xFFFF).to_bytes(2, "big")


def _fits_fields(verdicts: list[Any], feedback: str) -> bool:
    if _UNIT in feedback or _RECORD in feedback or _GROUP in feedback:
        return False
    for verdict in verdicts:
        if not isinstance(verdict, dict) or tuple(sorted(verdict)) != tuple(sorted(FIELDS)):
            return False
        if verdict["status"] not in _STATUS:
            return False
        for name in ("key_point", "evidence", "hint"):
            text = verdict[name]
            if not isinstance(text, str) or any(mark in text for mark in (_UNIT, _RECORD, _GROUP)):
                return False
    return True


def pack_grade(verdicts: list[Any], feedback: str, context: GradeContext) -> bytes:
    """The stored bytes of a grade's verdicts and feedback."""
    if not verdicts and not feedback:
        return b""
    dictionary = context.dictionary()
    if _fits_fields(verdicts, feedback):
        fmt = _FIELDS_2
        text = (
            "".join(
                _STATUS[verdict["status"]]
                + _UNIT.join((verdict["key_point"], verdict["evidence"], verdict["hint"]))
                + _RECORD
                for verdict in verdicts
            )
            + _GROUP
            + feedback
        )
    else:
        fmt = _JSON_3
        text = json.dumps(
            {"verdicts": verdicts, "feedback": feedback}, ensure_ascii=False, separators=(",", ":")
        )
    # level 6 packs these short texts as tightly as 9 does
    packer = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, dictionary)
    return (
        bytes([fmt]) + _check(dictionary) + packer.compress(text.encode("utf-8")) + packer.flush()
    )


def unpack_grade(data: bytes, context: GradeContext) -> GradeContent:
    """The verdicts and feedback of stored bytes; ``context`` must be the one they were packed
    with (``ValueError`` otherwise)."""
    if not data:
        return GradeContent([], "")
    fmt = data[0]
    if fmt not in (_FIELDS_2, _JSON_3):
        raise ValueError(f"unknown grade body format {fmt}")
    dictionary = context.dictionary()
    if bytes(data[1:3]) != _check(dictionary):
        raise ValueError("the grade body was packed against another answer or question")
    unpacker = zlib.decompressobj(-15, dictionary)
    text = (unpacker.decompress(bytes(data[3:])) + unpacker.flush()).decode("utf-8")
    if fmt == _JSON_3:
        loaded = json.loads(text)
        return GradeContent(loaded["verdicts"], loaded["feedback"])
    records, feedback = text.split(_GROUP)
    return GradeContent(read_records(records), feedback)
