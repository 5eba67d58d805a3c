"""Block Kit rendering: Slack's limits, escaping that never breaks an entity, buttons that stay,
deadlines in each reader's zone, and only the card's own mentions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.adapters.slack import render
from bot.services.answers import AnswerForm, AnswerTarget
from bot.services.cards import ButtonAction, Card, CardButton, CardField, CardKind
from bot.services.commands import ConfigForm, QuestionForm


def texts(blocks):
    for block in blocks:
        if isinstance(block.get("text"), dict):
            yield block["text"]
        yield from block.get("fields", [])
        yield from (
            e for e in block.get("elements", []) if e.get("type") in {"mrkdwn", "plain_text"}
        )


def test_a_long_body_is_split_within_section_limits_without_breaking_entities():
    body = "\n".join(f"line {n}: a < b && c > d" for n in range(600))
    blocks = render.card_blocks(Card(kind=CardKind.NOTICE, title="t", body=body))
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) > 1
    for section in sections:
        text = section["text"]["text"]
        assert len(text) <= render.SECTION_LIMIT
        assert "<" not in text and ">" not in text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text)  # every & starts a whole entity
    joined = "\n".join(section["text"]["text"] for section in sections)
    assert joined == render.escape(body)


def test_one_huge_line_is_cut_between_entities():
    body = "&" * 5000
    blocks = render.card_blocks(Card(kind=CardKind.NOTICE, title="t", body=body))
    pieces = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(piece) <= render.SECTION_LIMIT for piece in pieces)
    assert all(re.fullmatch(r"(&amp;)+", piece) for piece in pieces)
    assert "".join(pieces) == "&amp;" * 5000


def test_too_many_blocks_are_shortened_and_the_buttons_survive():
    card = Card(
        kind=CardKind.LEADERBOARD,
        title="x" * 400,
        fields=tuple(CardField(name=f"f{n}", value="v" * 2500) for n in range(80)),
        buttons=tuple(
            CardButton(action=ButtonAction.ANSWER_DAILY, label="L" * 100, value=str(n))
            for n in range(30)
        ),
    )
    blocks = render.card_blocks(card)
    assert len(blocks) <= render.MESSAGE_BLOCKS
    assert len(blocks[0]["text"]["text"]) <= render.HEADER_LIMIT
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    ids = [e["action_id"] for a in actions for e in a["elements"]]
    assert len(set(ids)) == 30
    assert all(
        len(e["text"]["text"]) <= render.BUTTON_LABEL_LIMIT for a in actions for e in a["elements"]
    )
    assert "shortened to fit Slack" in str(blocks)
    view = render.home_view(card)
    assert len(view["blocks"]) <= render.VIEW_BLOCKS


def test_inline_fields_go_ten_to_a_section():
    card = Card(
        kind=CardKind.STATS,
        title="t",
        fields=tuple(CardField(name=f"n{n}", value="v" * 3000, inline=True) for n in range(12)),
    )
    sections = [b for b in render.card_blocks(card) if "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 2]
    assert all(len(f["text"]) <= render.FIELD_LIMIT for s in sections for f in s["fields"])


def test_deadline_uses_slack_date_token_with_a_fallback():
    deadline = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    card = Card(kind=CardKind.QUESTION, title="q", deadline=deadline)
    context = next(b for b in render.card_blocks(card) if b["type"] == "context")
    text = context["elements"][0]["text"]
    assert f"<!date^{int(deadline.timestamp())}^" in text
    assert text.endswith("|Tue 03 Mar 08:00 UTC>")


def test_only_the_cards_own_mentions_are_rendered_and_only_valid_ids():
    card = Card(
        kind=CardKind.CHAMPIONS,
        title="Champions <!channel>",
        body="<@U999> and <!here>",
        mention_member_ids=("U0CHAMP", "U1> <!channel"),
    )
    blocks = render.card_blocks(card)
    mrkdwn = " ".join(t["text"] for t in texts(blocks) if t["type"] == "mrkdwn")
    assert re.findall(r"<[@!#][^>]*>", mrkdwn) == ["<@U0CHAMP>"]
    for text in texts(blocks):
        if text["type"] == "mrkdwn":
            assert text["verbatim"] is True


def test_fallback_text_is_escaped_and_bounded():
    card = Card(kind=CardKind.NOTICE, title="<!channel> hi", body="x" * 9000)
    message = render.message(card)
    assert message["text"].startswith("&lt;!channel&gt; hi")
    assert len(message["text"]) <= render.FALLBACK_TEXT_LIMIT


def test_answer_modal_states_the_limit_and_keeps_titles_short():
    form = AnswerForm(
        target=AnswerTarget.daily(3),
        title="A very long title for a modal, longer than Slack allows",
        prompt="Explain <attention> & why",
        label="Your answer",
        note="This replaces your answer of 09:14, score 62/100: only the new one counts.",
    )
    view = render.answer_modal(form, render.metadata(t=form.target.encode(), c="C1"))
    assert len(view["title"]["text"]) <= render.MODAL_TITLE_LIMIT
    assert render.read_metadata(view["private_metadata"]) == {"t": "daily:3", "c": "C1"}
    text = " ".join(t["text"] for t in texts(view["blocks"]))
    assert "Explain &lt;attention&gt; &amp; why" in text
    assert "This replaces your answer of 09:14, score 62/100" in text
    answer = next(b for b in view["blocks"] if b["type"] == "input")
    assert answer["element"]["max_length"] == 3000 and answer["element"]["multiline"]


def test_config_and_question_modals_carry_every_field():
    form = ConfigForm(
        channel_id=1, channel_name="prep", enabled=True, post_time="09:00", timezone="UTC",
        days="Mon-Fri", cadence="daily", answer_window="23h", track="", topics="",
        tracks=("deep-learning",), topics_by_track={"deep-learning": ("cnn", "rnn")},
    )  # fmt: skip
    view = render.config_modal(form, "{}")
    assert [b.get("block_id") for b in view["blocks"] if b["type"] == "input"] == list(
        render.CONFIG_FIELDS
    )
    question = render.question_modal(QuestionForm(channel_id=1, for_date="2026-03-05"), "{}")
    date_input = next(b for b in question["blocks"] if b.get("block_id") == "date")
    assert date_input["element"]["initial_value"] == "2026-03-05"


def test_field_errors_go_under_their_input_or_the_fallback():
    errors = render.field_errors(
        {"timezone": "unknown", "until": "not in the future", "channel": "gone"},
        render.CONFIG_FIELDS,
        "enabled",
    )
    assert errors == {
        "timezone": "unknown",
        "enabled": "until: not in the future · channel: gone",
    }


def test_input_values_of_each_element_type():
    values = {
        "a": {"value": {"type": "plain_text_input", "value": "text"}},
        "b": {"value": {"type": "static_select", "selected_option": {"value": "on"}}},
        "c": {"value": {"type": "timepicker", "selected_time": "07:30"}},
        "d": {"value": {"type": "static_select", "selected_option": None}},
    }
    assert [render.input_value(values, key) for key in "abcde"] == [
        "text",
        "on",
        "07:30",
        None,
        None,
    ]
