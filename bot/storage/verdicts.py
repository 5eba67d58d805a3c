"""Compact storage of a grade's per-key-point verdicts (``grade.verdicts``, revisions 0007 to
0008; since 0008 a grade's verdicts and feedback are packed together in ``grade.body`` by
``bot.storage.grade_body``, and this format serves the two migrations and the bench's fill of
older revisions).

The verdicts reach the database as the grade's JSON form (a list of ``{"key_point", "status",
"evidence", "hint"}`` objects, as :func:`bot.grading.base.grade_to_dict` writes them) and come
back exactly so: the column type packs them on the way in and unpacks them on the way out, so no
reader changes. Packed, they are a format byte and a raw deflate stream:

- format 1: each verdict as a status letter, then its key point, evidence and hint separated by
  unit separators and ended by a record separator (no JSON keys, quotes or escapes), deflated
  with a preset dictionary of the bank's most used words (``verdict_dictionary``), so a quote
  costs little more than its own new words;
- format 0: anything else (another shape, a separator inside a text): compact UTF-8 JSON,
  deflated; it reads back equal too, only larger.

An empty list is stored as no bytes at all. A new dictionary would be a new format number; the
old formats stay readable forever.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from bot.storage.verdict_dictionary import DICTIONARY_1

FIELDS = ("key_point", "status", "evidence", "hint")
_STATUS = {"covered": "c", "partial": "p", "missing": "m"}
_STATUS_NAME = {letter: name for name, letter in _STATUS.items()}
_UNIT, _RECORD = "\x1f", "\x1e"
_JSON, _FIELDS_1 = 0, 1
_DICTIONARIES = {_JSON: b"", _FIELDS_1: DICTIONARY_1}


def _deflate(data: bytes, dictionary: bytes) -> bytes:
    # level 6 packs these short texts as tightly as 9 does, and loads the dictionary faster
    packer = (
        zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, dictionary)
        if dictionary
        else zlib.compressobj(6, zlib.DEFLATED, -15, 8)
    )
    return packer.compress(data) + packer.flush()


def _inflate(data: bytes, dictionary: bytes) -> bytes:
    unpacker = zlib.decompressobj(-15, dictionary) if dictionary else zlib.decompressobj(-15)
    return unpacker.decompress(data) + unpacker.flush()


def _fits_fields(verdicts: list[Any]) -> bool:
    for verdict in verdicts:
        if not isinstance(verdict, dict) or tuple(sorted(verdict)) != tuple(sorted(FIELDS)):
            return False
        if verdict["status"] not in _STATUS:
            return False
        for name in ("key_point", "evidence", "hint"):
            text = verdict[name]
            if not isinstance(text, str) or _UNIT in text or _RECORD in text:
                return False
    return True


def pack_verdicts(verdicts: list[Any]) -> bytes:
    """The stored bytes of a verdict list."""
    if not verdicts:
        return b""
    if _fits_fields(verdicts):
        text = "".join(
            _STATUS[verdict["status"]]
            + _UNIT.join((verdict["key_point"], verdict["evidence"], verdict["hint"]))
            + _RECORD
            for verdict in verdicts
        )
        return bytes([_FIELDS_1]) + _deflate(text.encode("utf-8"), DICTIONARY_1)
    text = json.dumps(verdicts, ensure_ascii=False, separators=(",", ":"))
    return bytes([_JSON]) + _deflate(text.encode("utf-8"), b"")


def unpack_verdicts(data: bytes) -> list[Any]:
    """The verdict list of stored bytes (any format ever written)."""
    if not data:
        return []
    fmt, body = data[0], bytes(data[1:])
    if fmt not in _DICTIONARIES:
        raise ValueError(f"unknown verdict format {fmt}")
    text = _inflate(body, _DICTIONARIES[fmt]).decode("utf-8")
    if fmt == _JSON:
        loaded: list[Any] = json.loads(text)
        return loaded
    return read_records(text)


def read_records(text: str) -> list[dict[str, str]]:
    """The verdicts written as records (status letter, then key point, evidence and hint),
    each record closed by its separator: the layout this format and ``grade_body`` share."""
    verdicts = []
    for record in text.split(_RECORD)[:-1]:
        key_point, evidence, hint = record[1:].split(_UNIT)
        verdicts.append(
            {
                "key_point": key_point,
                "status": _STATUS_NAME[record[0]],
                "evidence": evidence,
                "hint": hint,
            }
        )
    return verdicts


class CompactVerdicts(TypeDecorator[list[Any]]):
    """A verdict list in a binary column (BLOB, bytea), packed by :func:`pack_verdicts`."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: sa.Dialect) -> bytes | None:
        return None if value is None else pack_verdicts(value)

    def process_result_value(self, value: bytes | None, dialect: sa.Dialect) -> list[Any] | None:
        return None if value is None else unpack_verdicts(value)
