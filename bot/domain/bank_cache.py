"""A cache of parsed bank files: the plain data YAML gave for a file's exact text.

Turning 650 questions of YAML into Python objects takes about 0.3 s even with libyaml (the
constructor runs in Python); reading the same data back as JSON takes about a tenth of that. An
entry is found by the SHA-256 of the file's text, never by its name or modification time, so an
edited file is parsed again and a file edited back finds its old entry. Only the YAML step is
cached: every question is still validated by the bank's models on each load, so a change to the
rules applies at once. Data that JSON cannot carry unchanged (dates, non-string keys...) is not
cached. The cache file names the YAML library and loader it was made with and is ignored under
another one.

A cache is never a reason to fail: an unreadable, damaged or unwritable cache file only means
parsing again. Each save keeps just the entries the last load used, so the file does not grow
with every edit of a bank.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

#: Bumped when the layout of the cache file changes.
FORMAT = 1
FILE_NAME = "parsed-yaml.json"


def _maker(loader: type) -> str:
    """What produced the data: the format, PyYAML's version and the loader class."""
    return f"{FORMAT}/pyyaml-{yaml.__version__}/{loader.__module__}.{loader.__qualname__}"


def _round_trips(data: Any) -> bool:
    """Whether JSON gives back exactly ``data`` (types included: 1 and 1.0, True and 1 differ)."""
    try:
        text = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return _same(json.loads(text), data)


def _same(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


class ParsedYamlCache:
    """Parsed YAML by the SHA-256 of its text, kept in one JSON file in ``directory``."""

    def __init__(self, directory: Path, loader: type):
        self.path = directory / FILE_NAME
        self._maker = _maker(loader)
        self._stored: dict[str, Any] | None = None
        self._used: dict[str, Any] = {}
        self._changed = False
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _entries(self) -> dict[str, Any]:
        if self._stored is None:
            self._stored = {}
            with contextlib.suppress(OSError, ValueError):
                content = json.loads(self.path.read_text(encoding="utf-8"))
                if (
                    isinstance(content, dict)
                    and content.get("maker") == self._maker
                    and isinstance(content.get("entries"), dict)
                ):
                    self._stored = content["entries"]
        return self._stored

    def get(self, text: str) -> tuple[bool, Any]:
        """(found, data) for this exact text."""
        key = self.key(text)
        entries = self._entries()
        if key not in entries:
            self.misses += 1
            return False, None
        self.hits += 1
        self._used[key] = entries[key]
        return True, entries[key]

    def put(self, text: str, data: Any) -> None:
        """Remember what ``text`` parsed to (skipped when JSON cannot carry it unchanged)."""
        if _round_trips(data):
            self._used[self.key(text)] = data
            self._changed = True

    def save(self) -> None:
        """Write the entries used since the cache was opened, if anything changed; a write that
        fails (read-only or full disk) is ignored."""
        if not self._changed and set(self._used) == set(self._entries()):
            return
        content = json.dumps({"maker": self._maker, "entries": self._used}, separators=(",", ":"))
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=".parsed-yaml-", suffix=".tmp"
            )
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    stream.write(content)
                os.replace(temporary, self.path)  # atomic: a reader sees the old or the new file
            except OSError:
                Path(temporary).unlink(missing_ok=True)
                raise
        self._stored = dict(self._used)
        self._changed = False
