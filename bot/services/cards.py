"""Neutral messages ("cards") the core sends; each adapter renders them once (Block Kit, embed, text).

Every piece of user-written text that goes into a card passes through ``quote_user_text`` so it
can never ping ``@everyone``/``@here``/``@channel`` or a role, on any platform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.rubric import Coverage

_MASS_MENTION = re.compile(r"@(everyone|here|channel)", re.IGNORECASE)
_SLACK_SPECIAL = re.compile(r"<\s*[!@#][^>]*>")
_DISCORD_MENTION = re.compile(r"<(@[!&]?|#)\d+>")
ZERO_WIDTH_SPACE = "\u200b"

STATUS_MARK = {
    Coverage.COVERED: "✅",
    Coverage.PARTIAL: "🟡",
    Coverage.MISSING: "❌",
}


def quote_user_text(text: str, limit: int | None = None) -> str:
    """Make user text inert: no mass mentions, no user/role/channel mention syntax."""
    text = _MASS_MENTION.sub(lambda m: "@" + ZERO_WIDTH_SPACE + m.group(1), text)
    text = _SLACK_SPECIAL.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    text = _DISCORD_MENTION.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


@dataclass(frozen=True)
class CardField:
    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True)
class CardButton:
    action: str
    label: str
    value: str = ""


@dataclass(frozen=True)
class Card:
    """A platform-neutral message: title, body, fields, buttons, and whether only one member sees it."""

    title: str
    body: str = ""
    fields: tuple[CardField, ...] = ()
    buttons: tuple[CardButton, ...] = ()
    footer: str = ""
    private: bool = False
    kind: str = "info"
    extra: dict[str, str] = field(default_factory=dict)

    def as_text(self) -> str:
        """A plain-text rendering (terminal, notification fallbacks)."""
        lines = [self.title]
        if self.body:
            lines += ["", self.body]
        for card_field in self.fields:
            lines += ["", f"{card_field.name}:", card_field.value]
        if self.footer:
            lines += ["", self.footer]
        return "\n".join(lines)
