"""Card -> Discord messages: every limit Discord enforces, mentions, links, timestamps, buttons."""

from __future__ import annotations

from datetime import UTC, datetime

import discord

from bot.adapters.discord.render import (
    BUTTON_LABEL_LIMIT,
    DESCRIPTION_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_PER_EMBED,
    MESSAGE_EMBED_CHARS,
    SHORTENED,
    TITLE_LIMIT,
    chunks,
    render,
    render_single,
)
from bot.services.cards import (
    ButtonAction,
    Card,
    CardButton,
    CardField,
    CardKind,
    champions_card,
    question_card,
)


def within_limits(message) -> None:
    assert len(message.embeds) <= 10
    assert message.size <= MESSAGE_EMBED_CHARS
    for embed in message.embeds:
        assert len(embed.title or "") <= TITLE_LIMIT
        assert len(embed.description or "") <= DESCRIPTION_LIMIT
        assert len(embed.fields) <= FIELDS_PER_EMBED
        for field in embed.fields:
            assert 0 < len(field.value or "") <= FIELD_VALUE_LIMIT
            assert len(field.name or "") <= 256
        assert len(embed.footer.text or "") <= 2048


def words(count: int, word: str = "gradient") -> str:
    return " ".join(f"{word}{index}" for index in range(count))


def all_text(messages) -> str:
    parts = []
    for message in messages:
        for embed in message.embeds:
            parts += [embed.description or ""]
            parts += [field.value or "" for field in embed.fields]
    return " ".join(parts)


def test_a_question_card_is_one_embed_with_a_timestamp_and_a_button():
    closes = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    card = question_card(
        prompt="Why does batch norm help?",
        topic="normalization",
        difficulty="intermediate",
        track="deep-learning",
        post_id=42,
        closes_at=closes,
    )
    [message] = render(card, workspace="123")
    [embed] = message.embeds
    stamp = int(closes.timestamp())
    assert embed.fields[-1].name == "Closes"
    assert embed.fields[-1].value == f"<t:{stamp}:f> · <t:{stamp}:R>"
    [button] = message.view().children
    assert button.custom_id == "iv:b:answer-daily:42:123" and button.label == "Answer privately"
    assert button.style is discord.ButtonStyle.primary
    assert message.allowed_mentions.to_dict() == {"parse": []}


def test_a_long_body_continues_in_further_embeds_without_losing_a_word():
    body = words(1500)  # about 16 000 characters
    messages = render(Card(kind=CardKind.REVEAL, title="t", body=body), workspace="1")
    for message in messages:
        within_limits(message)
    assert len(messages) >= 3
    assert all_text(messages).split() == body.split()


def test_a_long_field_is_split_into_continued_fields():
    value = "\n".join(f"• key point number {index} with some words" for index in range(80))
    card = Card(
        kind=CardKind.REVEAL, title="t", fields=(CardField(name="Key points", value=value),)
    )
    messages = render(card, workspace="1")
    for message in messages:
        within_limits(message)
    names = [
        field.name for message in messages for embed in message.embeds for field in embed.fields
    ]
    assert names[0] == "Key points" and set(names[1:]) == {"Key points (cont.)"}
    assert all_text(messages).split() == value.split()


def test_more_than_25_fields_and_6000_characters_spill_into_the_next_embed_and_message():
    fields = tuple(CardField(name=f"field {index}", value="x" * 900) for index in range(30))
    messages = render(Card(kind=CardKind.STATS, title="many", fields=fields), workspace="1")
    for message in messages:
        within_limits(message)
    count = sum(len(embed.fields) for message in messages for embed in message.embeds)
    assert count == 30 and len(messages) >= 5
    assert messages[0].embeds[0].title == "many"


def test_an_edit_keeps_one_message_and_says_it_was_shortened():
    card = Card(kind=CardKind.CLOSED, title="closed", body=words(2000), footer="f")
    message = render_single(card, workspace="1")
    within_limits(message)
    assert message.embeds[-1].footer.text == SHORTENED


def test_titles_labels_and_bodies_are_cut_to_their_limits():
    card = Card(
        kind=CardKind.NOTICE,
        title="T" * 400,
        buttons=(CardButton(action=ButtonAction.PRACTICE, label="L" * 120),),
    )
    [message] = render(card, workspace="1")
    assert len(message.embeds[0].title) == TITLE_LIMIT and message.embeds[0].title.endswith("…")
    assert len(message.view().children[0].label) == BUTTON_LABEL_LIMIT


def test_masked_links_are_broken_and_mentions_are_not_allowed():
    card = Card(kind=CardKind.GRADE, title="g", body="see [free nitro](https://evil.example)")
    [message] = render(card, workspace="1")
    assert "](" not in message.embeds[0].description
    assert message.content is None and message.allowed_mentions.to_dict() == {"parse": []}


def test_only_the_champion_is_pinged_in_the_content():
    card = champions_card(
        month_label="March 2026",
        top=[("@everyone", 90)],
        best_streak=None,
        champion_external_id="2100000000000000001",
        grant_role_id="555",
    )
    [message] = render(card, workspace="1")
    assert message.content == "<@2100000000000000001>"
    assert message.allowed_mentions.to_dict() == {"parse": [], "users": [2100000000000000001]}
    assert "@everyone" not in message.embeds[0].fields[0].value


def test_chunks_prefers_line_ends_and_never_exceeds_the_limit():
    text = "alpha beta\n" * 50
    pieces = chunks(text, 100)
    assert all(len(piece) <= 100 for piece in pieces)
    assert all(not piece.startswith("\n") for piece in pieces)
    assert chunks("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]
