"""Cards and forms as Block Kit, in one place: escaping, Slack's limits, buttons, deadlines.

Every text that reaches Slack goes through ``escape`` (``&``, ``<``, ``>``), so no text from a
member, a question or a display name can form a mention, a link or a ``<!channel>`` ping; the core
has already broken ``@channel`` and friends with ``quote_user_text``. Every mrkdwn object is
``verbatim`` (Slack does not auto-link names or parse mentions in it), and messages are sent with
``link_names`` off. The only mentions ever rendered are ``card.mention_member_ids``, as ``<@U…>``.

Limits kept here (Slack's): header 150 characters, section text 3000, section field 2000,
10 fields per section, 25 buttons per actions block, 75 characters per button label, 50 blocks per
message and 100 per modal or Home tab, modal titles 24 characters, plain-text inputs 3000.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.adapters.slack.files import where_files_go
from bot.services.answers import AnswerForm
from bot.services.cards import ButtonAction, Card, CardButton
from bot.services.commands import ConfigForm, QuestionForm

Block = dict[str, Any]

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
BUTTONS_PER_BLOCK = 25
BUTTON_LABEL_LIMIT = 75
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MODAL_TITLE_LIMIT = 24
#: Slack's cap on a plain-text input's max_length (the core accepts up to 4000 elsewhere).
INPUT_LIMIT = 3000
FALLBACK_TEXT_LIMIT = 3000
HINT_LIMIT = 2000
OPTION_TEXT_LIMIT = 75

#: callback_ids of the modals this adapter opens.
ANSWER_VIEW = "interview-answer"
CONFIG_VIEW = "interview-config"
QUESTION_VIEW = "interview-queue-question"
DISPUTE_VIEW = "interview-dispute"
REASON_BLOCK = "reason"
#: block and action ids of the answer input.
ANSWER_BLOCK = "answer"
ANSWER_ACTION = "text"
#: the config modal's inputs, one per ``ConfigChange`` field (block ids = field names).
CONFIG_FIELDS = (
    "enabled",
    "post_time",
    "timezone",
    "days",
    "cadence",
    "answer_window",
    "track",
    "topics",
)
QUESTION_BLOCK = "question"
DATE_BLOCK = "date"
VALUE_ACTION = "value"

_MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


# --- text -----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack's three control characters as entities: nothing the text holds can become markup
    that mentions, links or pings."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def plain(text: str, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    """A plain_text object (Slack shows it as typed: no escaping needed, but it is clipped)."""
    return {"type": "plain_text", "text": _clip(text or " ", limit), "emoji": True}


def mrkdwn(escaped: str) -> dict[str, Any]:
    """A mrkdwn object for text that is already escaped; verbatim: no auto-parsing."""
    return {"type": "mrkdwn", "text": escaped, "verbatim": True}


def _escaped_chunks(text: str, limit: int) -> Iterator[str]:
    """Escape ``text`` and cut it into pieces of at most ``limit`` characters, at line ends when
    possible and never inside an entity."""
    current = ""
    for line in text.split("\n"):
        piece = escape(line)
        candidate = f"{current}\n{piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            yield current
        while len(piece) > limit:
            cut = limit
            entity = piece.rfind("&", max(0, cut - 5), cut)
            if entity != -1 and ";" not in piece[entity:cut]:
                cut = entity
            yield piece[:cut]
            piece = piece[cut:]
        current = piece
    if current:
        yield current


def _timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def deadline_text(moment: datetime) -> str:
    """The close time in each reader's own time zone (Slack's date token), with a UTC fallback."""
    fallback = f"{moment:%a %d %b %H:%M} UTC"
    return (
        f"⏰ Closes <!date^{_timestamp(moment)}^{{date_short_pretty}} at {{time}}"
        f" ({{ago}})|{fallback}>"
    )


# --- cards ----------------------------------------------------------------------------------


def action_id(action: ButtonAction, index: int) -> str:
    """Unique within a message; the listener matches the action name before the ``#``."""
    return f"{action.value}#{index}"


def parse_action_id(value: str) -> ButtonAction:
    return ButtonAction(value.partition("#")[0])


def _button(button: CardButton, index: int) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id(button.action, index),
        "text": plain(button.label, BUTTON_LABEL_LIMIT),
    }
    if button.value:
        element["value"] = button.value[:2000]
    if button.primary:
        element["style"] = "primary"
    return element


def _text_sections(text: str, *, heading: str = "") -> list[Block]:
    """Sections holding ``text`` (escaped, split at the limit); ``heading`` in bold on top."""
    prefix = f"*{escape(heading)}*\n" if heading else ""
    chunks = list(_escaped_chunks(text, SECTION_LIMIT - len(prefix))) or [""]
    blocks = []
    for index, chunk in enumerate(chunks):
        body = (prefix if index == 0 else "") + chunk
        blocks.append({"type": "section", "text": mrkdwn(body or " ")})
    return blocks


def card_blocks(card: Card, *, max_blocks: int = MESSAGE_BLOCKS) -> list[Block]:
    """The card as blocks: header, body, fields, mentions, deadline, footer, buttons."""
    blocks: list[Block] = [{"type": "header", "text": plain(card.title, HEADER_LIMIT)}]
    if card.body:
        blocks += _text_sections(card.body)
    inline: list[dict[str, Any]] = []

    def flush() -> None:
        for start in range(0, len(inline), FIELDS_PER_SECTION):
            blocks.append({"type": "section", "fields": inline[start : start + FIELDS_PER_SECTION]})
        inline.clear()

    for card_field in card.fields:
        if card_field.inline:
            text = f"*{escape(card_field.name)}*\n{escape(card_field.value)}"
            inline.append(mrkdwn(_clip(text, FIELD_LIMIT)))
            continue
        flush()
        blocks += _text_sections(card_field.value, heading=card_field.name)
    flush()
    mentions = [member for member in card.mention_member_ids if _MEMBER_ID.match(member)]
    if mentions:
        names = " ".join(f"<@{member}>" for member in mentions)
        blocks.append({"type": "section", "text": mrkdwn(f"🎉 Congratulations {names}!")})
    context: list[dict[str, Any]] = []
    if card.deadline is not None:
        context.append(mrkdwn(deadline_text(card.deadline)))
    if card.footer:
        context.append(mrkdwn(next(_escaped_chunks(card.footer, SECTION_LIMIT), " ")))
    if card.attachments:
        context.append(mrkdwn(escape(where_files_go(card))))
    if context:
        blocks.append({"type": "context", "elements": context})
    buttons = [_button(button, index) for index, button in enumerate(card.buttons)]
    # the buttons matter most: keep room for them when the text is long
    button_blocks = [
        {"type": "actions", "elements": buttons[start : start + BUTTONS_PER_BLOCK]}
        for start in range(0, len(buttons), BUTTONS_PER_BLOCK)
    ]
    room = max_blocks - len(button_blocks)
    if len(blocks) > room:
        blocks = blocks[: room - 1]
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn("… shortened to fit Slack: the rest did not fit here.")],
            }
        )
    return blocks + button_blocks


def fallback_text(card: Card) -> str:
    """The notification text (and what screen readers and old clients show)."""
    text = card.title
    if card.body:
        text += "\n" + card.body
    return next(_escaped_chunks(_clip(text, FALLBACK_TEXT_LIMIT), FALLBACK_TEXT_LIMIT), " ")


def message(card: Card) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage / chat.update / chat.postEphemeral / respond."""
    return {"blocks": card_blocks(card), "text": fallback_text(card)}


def home_view(card: Card) -> dict[str, Any]:
    return {"type": "home", "blocks": card_blocks(card, max_blocks=VIEW_BLOCKS)}


def card_modal(title: str, card: Card, metadata: str = "") -> dict[str, Any]:
    """A card shown in a modal (a receipt, saved settings, a refusal)."""
    view: dict[str, Any] = {
        "type": "modal",
        "title": plain(title, MODAL_TITLE_LIMIT),
        "close": plain("Close", MODAL_TITLE_LIMIT),
        "blocks": card_blocks(card, max_blocks=VIEW_BLOCKS),
    }
    if metadata:
        view["private_metadata"] = metadata
    return view


# --- forms ----------------------------------------------------------------------------------


def metadata(**values: Any) -> str:
    """A modal's private_metadata (Slack keeps it server-side and returns it on submit)."""
    return json.dumps(values, separators=(",", ":"))


def read_metadata(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _input(
    block_id: str,
    label: str,
    element: Block,
    *,
    hint: str = "",
    optional: bool = False,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, HINT_LIMIT)
    return block


def _text_input(initial: str = "", *, multiline: bool = False, placeholder: str = "") -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": VALUE_ACTION,
        "multiline": multiline,
        "max_length": INPUT_LIMIT,
    }
    if initial:
        element["initial_value"] = initial[:INPUT_LIMIT]
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    return element


def _option(value: str, label: str) -> Block:
    return {"text": plain(label, OPTION_TEXT_LIMIT), "value": value}


def _select(options: Sequence[tuple[str, str]], initial: str) -> Block:
    choices = [_option(value, label) for value, label in options]
    element: Block = {"type": "static_select", "action_id": VALUE_ACTION, "options": choices}
    chosen = next((choice for choice in choices if choice["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def answer_modal(form: AnswerForm, private_metadata: str) -> dict[str, Any]:
    """The private answer form: the question, the form's note (a resubmission replaces the
    earlier answer and shows its score; a closed question is graded as practice) and a
    multi-line input at Slack's maximum."""
    blocks: list[Block] = _text_sections(form.prompt)
    blocks.append({"type": "context", "elements": [mrkdwn(escape(form.note))]})
    limit = min(form.max_chars, INPUT_LIMIT)
    blocks.append(
        _input(
            ANSWER_BLOCK,
            form.label,
            {
                "type": "plain_text_input",
                "action_id": ANSWER_ACTION,
                "multiline": True,
                "max_length": limit,
                "placeholder": plain("Explain it as you would in an interview.", 150),
            },
            hint=f"Up to {limit:,} characters (Slack's limit for this box). Only you see it.",
        )
    )
    return {
        "type": "modal",
        "callback_id": ANSWER_VIEW,
        "private_metadata": private_metadata,
        "title": plain(form.title, MODAL_TITLE_LIMIT),
        "submit": plain("Send answer", MODAL_TITLE_LIMIT),
        "close": plain("Cancel", MODAL_TITLE_LIMIT),
        "blocks": blocks[:VIEW_BLOCKS],
    }


def config_modal(form: ConfigForm, private_metadata: str) -> dict[str, Any]:
    """The channel settings form, pre-filled; each input's block id is its field's name, so the
    service's per-field errors land under the right input."""
    known = ", ".join(
        sorted({topic for topics in form.topics_by_track.values() for topic in topics})
    )
    tracks = [("any", "Any track")] + [(track, track) for track in form.tracks]
    blocks: list[Block] = [
        {
            "type": "section",
            "text": mrkdwn(
                f"Daily question settings for *#{escape(form.channel_name or 'this channel')}*"
            ),
        },
        *(
            [
                {
                    "type": "context",
                    "elements": [
                        mrkdwn(
                            ":warning: The last question could not be posted: "
                            f"{escape(form.delivery_problem)}."
                        )
                    ],
                }
            ]
            if form.delivery_problem
            else []
        ),
        _input(
            "enabled",
            "Daily question",
            _select([("on", "On"), ("off", "Off")], "on" if form.enabled else "off"),
        ),
        _input(
            "post_time",
            "Time",
            {"type": "timepicker", "action_id": VALUE_ACTION, "initial_time": form.post_time},
            hint="Local time of the post, in the time zone below.",
        ),
        _input(
            "timezone",
            "Time zone",
            _text_input(form.timezone, placeholder="Europe/Berlin"),
            hint="An IANA name: Europe/Berlin, America/New_York, Asia/Kolkata, UTC…",
        ),
        _input(
            "days",
            "Days",
            _text_input(form.days, placeholder="mon-fri"),
            hint="mon-fri, daily, weekdays, weekends, or a list: mon,wed,fri.",
        ),
        _input(
            "cadence",
            "Cadence",
            _select([("daily", "Every chosen day"), ("weekly", "Weekly (one day)")], form.cadence),
        ),
        _input(
            "answer_window",
            "Answer window",
            _text_input(form.answer_window, placeholder="8h"),
            hint="How long answers count for points: 90m, 8h, 1d12h (5 minutes to 7 days).",
        ),
        _input("track", "Track", _select(tracks, form.track or "any")),
        _input(
            "topics",
            "Topics",
            _text_input(form.topics, placeholder="all topics of the track"),
            hint=f"Comma-separated; empty for all. Known: {known}",
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": CONFIG_VIEW,
        "private_metadata": private_metadata,
        "title": plain("Channel settings", MODAL_TITLE_LIMIT),
        "submit": plain("Save", MODAL_TITLE_LIMIT),
        "close": plain("Cancel", MODAL_TITLE_LIMIT),
        "blocks": blocks,
    }


def question_modal(form: QuestionForm, private_metadata: str) -> dict[str, Any]:
    """The form for a one-off custom question: YAML in the bank's schema, and a date."""
    intro = (
        "Write one question in the bank's YAML schema: `id`, `topic`, `difficulty` "
        "(beginner, intermediate or advanced), `prompt`, `reference` and `key_points` (each a "
        "`text` and an integer `weight`; the weights add up to 10). The example below is valid: "
        "edit it. It is posted once and never picked automatically."
    )
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(escape(intro))},
        _input(
            QUESTION_BLOCK,
            "Question (YAML)",
            _text_input(form.template, multiline=True),
            hint=f"Up to {INPUT_LIMIT:,} characters. Errors name the line and the field.",
        ),
        _input(
            DATE_BLOCK,
            "Date",
            _text_input(form.for_date, placeholder="YYYY-MM-DD"),
            hint="The channel's local date to post it; empty for the next post.",
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": QUESTION_VIEW,
        "private_metadata": private_metadata,
        "title": plain("Queue a question", MODAL_TITLE_LIMIT),
        "submit": plain("Queue it", MODAL_TITLE_LIMIT),
        "close": plain("Cancel", MODAL_TITLE_LIMIT),
        "blocks": blocks,
    }


def dispute_modal(private_metadata: str) -> dict[str, Any]:
    """The reason for contesting a grade (a second grader looks at the answer again)."""
    return {
        "type": "modal",
        "callback_id": DISPUTE_VIEW,
        "private_metadata": private_metadata,
        "title": plain("Dispute this grade", MODAL_TITLE_LIMIT),
        "submit": plain("Send", MODAL_TITLE_LIMIT),
        "close": plain("Cancel", MODAL_TITLE_LIMIT),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(
                    "Say what the grade missed. The answer is graded again; you can accept the "
                    "new grade or send it to an admin. One dispute per answer."
                ),
            },
            _input(REASON_BLOCK, "Your reason", _text_input(multiline=True)),
        ],
    }


def field_errors(errors: Mapping[str, str], fields: Sequence[str], fallback: str) -> dict[str, str]:
    """``response_action: errors`` for a modal: each error under its input; an error about a
    field the form has no input for goes under ``fallback``, prefixed with its name."""
    shown: dict[str, str] = {}
    for name, text in errors.items():
        if name in fields:
            block, message_text = name, text
        else:
            block, message_text = fallback, f"{name}: {text}"
        shown[block] = _clip(
            f"{shown[block]} · {message_text}" if block in shown else message_text, 2000
        )
    return shown


def input_value(values: Mapping[str, Any], block_id: str, action: str = VALUE_ACTION) -> str | None:
    """What a member entered in an input of a submitted modal (text, selection or time)."""
    state = (values.get(block_id) or {}).get(action) or {}
    kind = state.get("type")
    if kind == "static_select":
        option = state.get("selected_option") or {}
        return option.get("value")
    if kind == "timepicker":
        return state.get("selected_time")
    if kind == "datepicker":
        return state.get("selected_date")
    return state.get("value")
