"""Card -> Discord messages (embeds + buttons), in one place.

Discord's limits are enforced here: embed title 256, description 4096, field name 256, field
value 1024, footer 2048, 25 fields and 6000 characters per message (all its embeds together),
10 embeds per message, button labels 80. Text that does not fit is split, never cut: a long body
continues in the next embed, a long field in "(cont.)" fields, and what does not fit one message
continues in the next message (``render``). Where only one message can be used (an edit),
``render_single`` keeps the first message and says it was shortened.

Mentions: every message carries ``AllowedMentions.none()`` except a card's
``mention_member_ids`` (a monthly champion), which are pinged in the message content, the only
place Discord pings from. User text arrives mention-inert from the core; on top of that, masked
links (``[text](url)``) are broken so no text becomes a disguised link. A card's deadline is a
Discord timestamp, shown in each reader's own time zone. A card's files (a progress chart, an
interview transcript) travel with its first message; an image is shown inside the embed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.adapters.discord.ids import button_id
from bot.services.cards import ZERO_WIDTH_SPACE, Attachment, Card, CardKind

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
FIELDS_PER_EMBED = 25
MESSAGE_EMBED_CHARS = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
BUTTON_LABEL_LIMIT = 80
BUTTONS_PER_ROW = 5
BUTTON_ROWS = 5
MODAL_TITLE_LIMIT = 45
LABEL_LIMIT = 45
TEXT_DISPLAY_LIMIT = 4000
ATTACHMENTS_PER_MESSAGE = 10

CONTINUED = " (cont.)"
SHORTENED = "Shortened to fit Discord's limits."

COLOURS: dict[CardKind, int] = {
    CardKind.QUESTION: 0x5865F2,
    CardKind.PRACTICE: 0x3BA55C,
    CardKind.RECEIPT: 0x4F545C,
    CardKind.GRADE: 0xFAA61A,
    CardKind.REVEAL: 0x9B59B6,
    CardKind.CLOSED: 0x747F8D,
    CardKind.LEADERBOARD: 0xF1C40F,
    CardKind.STATS: 0x1ABC9C,
    CardKind.CONFIG: 0x99AAB5,
    CardKind.HELP: 0x5865F2,
    CardKind.NOTICE: 0x99AAB5,
    CardKind.ERROR: 0xED4245,
    CardKind.CHAMPIONS: 0xF1C40F,
    CardKind.NUDGE: 0xE67E22,
}


@dataclass(frozen=True)
class ButtonSpec:
    custom_id: str
    label: str
    primary: bool


@dataclass(frozen=True)
class RenderedMessage:
    """One Discord message: its embeds, its buttons and files (the first message of a card
    carries them), the content that pings the card's mentions, and the mentions it allows."""

    embeds: tuple[discord.Embed, ...]
    buttons: tuple[ButtonSpec, ...] = ()
    content: str | None = None
    mention_user_ids: tuple[int, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    def files(self) -> list[discord.File]:
        """Fresh file objects for one send (discord.py consumes them)."""
        return [
            discord.File(
                io.BytesIO(item.data),
                filename=item.filename,
                description=shorten(item.description, 1024) or None,
            )
            for item in self.attachments
        ]

    def send_options(self) -> dict[str, Any]:
        """The keyword arguments every discord.py send takes (the view is the caller's)."""
        options: dict[str, Any] = {
            "embeds": list(self.embeds),
            "allowed_mentions": self.allowed_mentions,
        }
        if self.content:
            options["content"] = self.content
        if self.attachments:
            options["files"] = self.files()
        return options

    @property
    def allowed_mentions(self) -> discord.AllowedMentions:
        if not self.mention_user_ids:
            return discord.AllowedMentions.none()
        return discord.AllowedMentions(
            everyone=False,
            roles=False,
            replied_user=False,
            users=[discord.Object(id=user_id) for user_id in self.mention_user_ids],
        )

    def view(self) -> discord.ui.View | None:
        """The buttons as a view with no timeout; their clicks are routed by the registered
        dynamic items (the custom id says what to do), so the sender stops the view after
        sending and nothing stays in memory per message."""
        if not self.buttons:
            return None
        view = discord.ui.View(timeout=None)
        for index, spec in enumerate(self.buttons):
            view.add_item(
                discord.ui.Button(
                    custom_id=spec.custom_id,
                    label=spec.label,
                    style=discord.ButtonStyle.primary
                    if spec.primary
                    else discord.ButtonStyle.secondary,
                    row=index // BUTTONS_PER_ROW,
                )
            )
        return view

    @property
    def size(self) -> int:
        return sum(len(embed) for embed in self.embeds)


def safe_filename(name: str) -> str:
    """A file name Discord accepts in ``attachment://`` (letters, digits, dot, dash, underscore)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return cleaned[-100:]


def inert(text: str) -> str:
    """Break masked links so no text renders as a disguised link."""
    return text.replace("](", "]" + ZERO_WIDTH_SPACE + "(")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def chunks(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters, at line ends where possible,
    then at spaces, then anywhere."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def discord_time(card: Card) -> str | None:
    if card.deadline is None:
        return None
    stamp = int(card.deadline.timestamp())
    return f"<t:{stamp}:f> · <t:{stamp}:R>"


@dataclass
class _EmbedDraft:
    title: str | None = None
    description: str | None = None
    fields: list[tuple[str, str, bool]] = field(default_factory=list)
    footer: str | None = None

    def size(self) -> int:
        return (
            len(self.title or "")
            + len(self.description or "")
            + sum(len(name) + len(value) for name, value, _ in self.fields)
            + len(self.footer or "")
        )

    def build(self, colour: int) -> discord.Embed:
        embed = discord.Embed(title=self.title, description=self.description, colour=colour)
        for name, value, inline in self.fields:
            embed.add_field(name=name, value=value, inline=inline)
        if self.footer:
            embed.set_footer(text=self.footer)
        return embed


def _field_parts(card: Card) -> Iterator[tuple[str, str, bool]]:
    for card_field in card.fields:
        name = shorten(inert(card_field.name) or ZERO_WIDTH_SPACE, FIELD_NAME_LIMIT)
        pieces = chunks(inert(card_field.value) or "—", FIELD_VALUE_LIMIT)
        for index, piece in enumerate(pieces):
            label = name if index == 0 else shorten(name + CONTINUED, FIELD_NAME_LIMIT)
            yield label, piece or ZERO_WIDTH_SPACE, card_field.inline and len(pieces) == 1
    deadline = discord_time(card)
    if deadline is not None:
        yield "Closes", deadline, False


def _embeds(card: Card) -> list[_EmbedDraft]:
    """The card as embed drafts, each within the per-embed limits and the message total."""
    title = shorten(inert(card.title), TITLE_LIMIT)
    footer = shorten(inert(card.footer), FOOTER_LIMIT) if card.footer else None
    drafts = [_EmbedDraft(title=title)]
    body = inert(card.body)
    if body:
        # leave room for the title in the first embed
        pieces = chunks(body, min(DESCRIPTION_LIMIT, MESSAGE_EMBED_CHARS - len(title) - 100))
        drafts[0].description = pieces[0]
        drafts += [_EmbedDraft(description=piece) for piece in pieces[1:]]
    budget = MESSAGE_EMBED_CHARS - 200  # room for the footer and the "(cont.)" names
    for name, value, inline in _field_parts(card):
        current = drafts[-1]
        if (
            len(current.fields) >= FIELDS_PER_EMBED
            or current.size() + len(name) + len(value) > budget
        ):
            current = _EmbedDraft()
            drafts.append(current)
        current.fields.append((name, value, inline))
    if footer:
        if drafts[-1].size() + len(footer) > MESSAGE_EMBED_CHARS:
            drafts.append(_EmbedDraft())
        drafts[-1].footer = footer
    return drafts


def _buttons(card: Card, workspace: str) -> tuple[ButtonSpec, ...]:
    limit = BUTTONS_PER_ROW * BUTTON_ROWS
    return tuple(
        ButtonSpec(
            custom_id=button_id(button.action, button.value, workspace),
            label=shorten(button.label, BUTTON_LABEL_LIMIT),
            primary=button.primary,
        )
        for button in card.buttons[:limit]
    )


def render(card: Card, *, workspace: str) -> list[RenderedMessage]:
    """The card as one or more messages (the first carries the buttons and the mentions).
    ``workspace`` goes into the buttons' custom ids, so a click in a direct message knows
    which server it belongs to."""
    colour = COLOURS.get(card.kind, 0x5865F2)
    messages: list[list[discord.Embed]] = [[]]
    size = 0
    for draft in _embeds(card):
        embed = draft.build(colour)
        if messages[-1] and (
            len(messages[-1]) >= EMBEDS_PER_MESSAGE or size + len(embed) > MESSAGE_EMBED_CHARS
        ):
            messages.append([])
            size = 0
        messages[-1].append(embed)
        size += len(embed)
    mentions = tuple(int(member) for member in card.mention_member_ids if member.isdigit())
    content = shorten(" ".join(f"<@{member}>" for member in mentions), CONTENT_LIMIT) or None
    attachments = tuple(
        item.model_copy(update={"filename": safe_filename(item.filename)})
        for item in card.attachments[:ATTACHMENTS_PER_MESSAGE]
    )
    image = next((item for item in attachments if item.content_type.startswith("image/")), None)
    if image is not None:  # shown inside the card rather than as a loose file
        messages[0][-1].set_image(url=f"attachment://{image.filename}")
    rendered = [
        RenderedMessage(
            embeds=tuple(messages[0]),
            buttons=_buttons(card, workspace),
            content=content,
            mention_user_ids=mentions,
            attachments=attachments,
        )
    ]
    rendered += [RenderedMessage(embeds=tuple(embeds)) for embeds in messages[1:]]
    return rendered


def render_single(card: Card, *, workspace: str) -> RenderedMessage:
    """The card in one message (an edit replaces exactly one): the first message of
    ``render``, with a footer saying it was shortened when the rest did not fit."""
    messages = render(card, workspace=workspace)
    first = messages[0]
    if len(messages) == 1:
        return first
    embeds = list(first.embeds)
    last = embeds[-1].copy()
    old_footer = last.footer.text or ""
    last.set_footer(text=SHORTENED)
    overflow = first.size - len(old_footer) + len(SHORTENED) - MESSAGE_EMBED_CHARS
    while overflow > 0 and last.fields:
        overflow -= len(last.fields[-1].name or "") + len(last.fields[-1].value or "")
        last.remove_field(len(last.fields) - 1)
    if overflow > 0 and last.description:
        last.description = shorten(last.description, max(1, len(last.description) - overflow))
    embeds[-1] = last
    return RenderedMessage(
        embeds=tuple(embeds),
        buttons=first.buttons,
        content=first.content,
        mention_user_ids=first.mention_user_ids,
        attachments=first.attachments,
    )
