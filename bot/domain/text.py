"""Text that members type, made safe to store: no control characters but tab and line breaks."""

from __future__ import annotations

#: C0 control characters but tab, line feed and carriage return, and DEL. NUL in particular:
#: PostgreSQL text cannot hold it, so a value with one failed to store however often it was sent.
_CONTROL_CHARACTERS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def without_control_characters(text: str) -> str:
    return text.translate(_CONTROL_CHARACTERS)
