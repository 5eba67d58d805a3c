"""Buttons and modals: every card button (Answer, Skip and Stop of a mock interview, Dispute,
Accept, Stop reminders...), the answer form, the channel settings form, the custom-question
form and the dispute form, and what their clicks and submits do.

Every button is a ``DynamicItem`` whose custom id carries its action, its post or question and
its workspace (``ids.py``), registered once on the client: a click on a message posted before a
restart is handled exactly like a fresh one. Modals are stateless the same way: the modal object
is dropped as soon as it is shown, and the submit is routed by its custom id from
``on_interaction`` (``handle_modal_submit``).

The answer submit is acknowledged first (a deferred, ephemeral "thinking" response) and only
then resolved and stored; the receipt replaces the deferred response, and the grade arrives
later through the outbox as an ephemeral follow-up on the same interaction token.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import discord

from bot.adapters.discord.ids import (
    ANSWER_INPUT,
    BUTTON_TEMPLATE,
    CONFIG_BUTTON_TEMPLATE,
    CONFIG_MODAL,
    CUSTOM_QUESTION_MODAL,
    DISPUTE_MODAL,
    REASON_INPUT,
    AnswerModalId,
    answer_modal_id,
    button_id,
    config_button_id,
    config_modal_id,
    custom_question_modal_id,
    dispute_modal_id,
)
from bot.adapters.discord.interactions import (
    Responder,
    actor_for,
    adapter_of,
    guarded,
    modal_values,
    reply_context_of,
    text_value,
    workspace_of,
)
from bot.adapters.discord.render import LABEL_LIMIT, MODAL_TITLE_LIMIT, TEXT_DISPLAY_LIMIT, shorten
from bot.domain.answers import AnswerRejected
from bot.domain.bank import Track
from bot.services.answers import AnswerForm, AnswerTarget
from bot.services.cards import (
    ButtonAction,
    Card,
    CardButton,
    CardField,
    CardKind,
    error_card,
    notice_card,
)
from bot.services.channels import ConfigChange, NotAllowed, SettingsRejected
from bot.services.commands import (
    Command,
    CommandName,
    ConfigForm,
    Reply,
    UsageError,
    settings_error_card,
)
from bot.services.directory import Actor
from bot.services.disputes import MAX_REASON, DisputeRefused
from bot.storage.models import AnswerKind

#: Inputs of the settings form, and the service's error keys that belong under each.
CONFIG_INPUTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "state": ("Daily question", ("enabled", "cadence")),
    "when": ("Time and time zone", ("post_time", "timezone")),
    "days": ("Days", ("days",)),
    "window": ("Answer window", ("answer_window",)),
    "topics": ("Track and topics", ("track", "topics")),
}
STATE_CHOICES = (
    ("on-daily", "On · every chosen day"),
    ("on-weekly", "On · weekly (the first chosen day)"),
    ("off", "Off"),
)
CUSTOM_YAML_INPUT = "yaml"
CUSTOM_DATE_INPUT = "date"
CUSTOM_YAML_EXAMPLE = "id: team-q1\ntopic: ...\ndifficulty: intermediate\nprompt: ...\n..."
TRACKS = tuple(track.value for track in Track)
#: The buttons that open an answer form, and what they answer.
ANSWER_KINDS = {
    ButtonAction.ANSWER_DAILY: AnswerKind.DAILY,
    ButtonAction.ANSWER_PRACTICE: AnswerKind.PRACTICE,
    ButtonAction.ANSWER_MOCK: AnswerKind.MOCK,
}
#: Settings typed into a refused form, kept so "Edit the settings" reopens them (per member).
DRAFTS_KEPT = 1000


class Drafts:
    """The last refused settings form of each member and channel (bounded, in memory: after a
    restart the form simply reopens with the saved settings)."""

    def __init__(self, limit: int = DRAFTS_KEPT) -> None:
        self._items: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
        self._limit = limit

    def remember(self, key: tuple[int, int], values: Mapping[str, Any]) -> None:
        self._items[key] = dict(values)
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def take(self, key: tuple[int, int]) -> dict[str, Any] | None:
        return self._items.pop(key, None)


# --- running commands (slash commands and buttons) ------------------------------------------


async def run_command(
    interaction: discord.Interaction,
    command: Command,
    *,
    channel_id: int | None = None,
    channel_name: str | None = None,
    before: Callable[[Actor], Awaitable[None]] | None = None,
    workspace: str | None = None,
) -> None:
    """Run an ``/interview`` command for the member and render its reply (ephemeral cards, or
    the settings form). ``before`` runs first with the actor (say, to record a name);
    ``workspace`` is what a button clicked in a direct message carried."""
    adapter = adapter_of(interaction)
    responder = Responder(interaction, workspace_of(interaction, workspace))

    async def work() -> tuple[Actor, Reply]:
        actor = await actor_for(
            interaction, workspace=workspace, channel_id=channel_id, channel_name=channel_name
        )
        if before is not None:
            await before(actor)
        return actor, await adapter.app.commands.run(actor, command)

    actor, reply = await responder.within_budget(work())
    if reply.config_form is not None:
        if responder.deferred:  # too slow to open a modal now: offer a button that does
            channel = actor.channel_external_id or ""
            await responder.send_cards(
                [open_settings_card(channel)], extra=ConfigButtonItem(channel)
            )
        else:
            await responder.send_modal(config_modal(reply.config_form, None))
    await responder.send_cards(reply.cards)


def open_settings_card(channel_external_id: str) -> Card:
    return Card(
        kind=CardKind.CONFIG,
        title="⚙️ Channel settings",
        body=f"Open the settings form of <#{channel_external_id}> with the button below.",
        private=True,
    )


# --- buttons --------------------------------------------------------------------------------


class CardButtonItem(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON_TEMPLATE):
    """Every button a card carries (Answer, Practice, Today, Stop reminders)."""

    def __init__(self, action: ButtonAction, value: str, workspace: str) -> None:
        super().__init__(
            discord.ui.Button(custom_id=button_id(action, value, workspace), label=action.value)
        )
        self.action = action
        self.value = value
        self.workspace = workspace

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> CardButtonItem:
        return cls(ButtonAction(match["action"]), match["value"], match["workspace"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._clicked(interaction), self.workspace or None)

    async def _clicked(self, interaction: discord.Interaction) -> None:
        carried = self.workspace or None
        action = self.action
        if action in ANSWER_KINDS:
            target = AnswerTarget(ANSWER_KINDS[action], int(self.value or 0))
            await open_answer_form(interaction, target, carried)
        elif action is ButtonAction.DISPUTE:
            await Responder(interaction, workspace_of(interaction, carried)).send_modal(
                dispute_modal(int(self.value or 0), workspace_of(interaction, carried))
            )
        elif action in (ButtonAction.DISPUTE_ACCEPT, ButtonAction.DISPUTE_ESCALATE):
            await answer_dispute(interaction, action, int(self.value or 0), carried)
        elif action is ButtonAction.NUDGES_OFF:
            actor = await actor_for(interaction, workspace=carried)
            await adapter_of(interaction).app.directory.set_nudges(actor.member_id, False)
            responder = Responder(interaction, workspace_of(interaction, carried))
            await responder.send_cards([notice_card("Nudges off: no more reminders.")])
        else:
            command = {
                ButtonAction.PRACTICE: Command(CommandName.PRACTICE),
                ButtonAction.TODAY: Command(CommandName.TODAY),
                ButtonAction.REVIEW: Command(CommandName.REVIEW),
                ButtonAction.MOCK_SKIP: Command(
                    CommandName.MOCK, args=("skip",), reply_context=reply_context_of(interaction)
                ),
                ButtonAction.MOCK_STOP: Command(CommandName.MOCK, args=("stop",)),
            }.get(action)
            if command is not None:
                await run_command(interaction, command, workspace=carried)


async def answer_dispute(
    interaction: discord.Interaction, action: ButtonAction, dispute_id: int, carried: str | None
) -> None:
    """Accept a re-grade, or send it to an admin (the buttons under a disputed grade)."""
    disputes = adapter_of(interaction).app.disputes
    responder = Responder(interaction, workspace_of(interaction, carried))
    actor = await actor_for(interaction, workspace=carried)
    try:
        if action is ButtonAction.DISPUTE_ACCEPT:
            card = await disputes.accept(actor, dispute_id)
        else:
            card = await disputes.escalate(actor, dispute_id)
    except DisputeRefused as exc:
        card = error_card(str(exc))
    await responder.send_cards([card])


class ConfigButtonItem(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=CONFIG_BUTTON_TEMPLATE
):
    """Opens a channel's settings form (after a refused form, or when a command was too slow
    to open it directly)."""

    def __init__(self, channel: str) -> None:
        super().__init__(
            discord.ui.Button(
                custom_id=config_button_id(channel),
                label="Edit the settings",
                style=discord.ButtonStyle.primary,
            )
        )
        self.channel = channel

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
    ) -> ConfigButtonItem:
        return cls(match["channel"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, self._clicked(interaction))

    async def _clicked(self, interaction: discord.Interaction) -> None:
        responder = Responder(interaction, workspace_of(interaction))
        if interaction.guild_id is None:
            await responder.send_cards([error_card("Channel settings live in a server channel.")])
            return
        app = adapter_of(interaction).app
        actor = await actor_for(interaction, channel_id=int(self.channel))
        try:
            form = await app.commands.config_form(actor)
        except (NotAllowed, UsageError) as exc:
            await responder.send_cards([error_card(str(exc))])
            return
        draft = adapter_of(interaction).drafts.take((interaction.user.id, form.channel_id))
        await responder.send_modal(config_modal(form, draft))


# --- the answer form ------------------------------------------------------------------------


def answer_modal(form: AnswerForm, workspace: str) -> discord.ui.Modal:
    """The question, the note (replacement, closed) and a paragraph input of ``max_chars``."""
    modal = discord.ui.Modal(
        title=shorten(form.title, MODAL_TITLE_LIMIT),
        custom_id=answer_modal_id(form.target, workspace),
        timeout=None,
    )
    note = f"\n\n-# {form.note}" if form.note else ""
    prompt = shorten(form.prompt, TEXT_DISPLAY_LIMIT - len(note))
    modal.add_item(discord.ui.TextDisplay(prompt + note))
    modal.add_item(
        discord.ui.Label(
            text=shorten(form.label, LABEL_LIMIT),
            description=f"Up to {form.max_chars} characters. Only you see it.",
            component=discord.ui.TextInput(
                custom_id=ANSWER_INPUT,
                style=discord.TextStyle.paragraph,
                max_length=form.max_chars,
                required=True,
            ),
        )
    )
    return modal


async def open_answer_form(
    interaction: discord.Interaction, target: AnswerTarget, carried: str | None
) -> None:
    responder = Responder(interaction, workspace_of(interaction, carried))
    app = adapter_of(interaction).app
    try:
        actor = await actor_for(interaction, workspace=carried)
        form = await app.answers.form(actor, target)
    except AnswerRejected as rejected:
        await responder.send_cards([error_card(rejected.message)])
        return
    await responder.send_modal(answer_modal(form, actor.workspace_external_id))


def retry_card(message: str, target: AnswerTarget) -> Card:
    action = {kind: action for action, kind in ANSWER_KINDS.items()}.get(target.kind)
    card = error_card(message)
    if action is None:
        return card
    return card.model_copy(
        update={
            "buttons": (
                CardButton(action=action, label="Try again", value=str(target.id), primary=True),
            )
        }
    )


async def submit_answer(interaction: discord.Interaction, modal: AnswerModalId) -> None:
    """Acknowledge first (deferred, ephemeral), then store; the receipt replaces the deferred
    response and the grade follows up on the same token."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    adapter = adapter_of(interaction)
    responder = Responder(interaction, workspace_of(interaction, modal.workspace))
    text = text_value(modal_values(interaction.data), ANSWER_INPUT)
    try:
        actor = await actor_for(interaction, workspace=modal.workspace)
        receipt = await adapter.app.answers.submit(
            actor, modal.target, text, reply_context=reply_context_of(interaction)
        )
    except AnswerRejected as rejected:
        await responder.send_cards([retry_card(rejected.message, modal.target)])
        return
    await responder.send_cards([receipt.card])


# --- the settings form ----------------------------------------------------------------------


def track_and_topics(form: ConfigForm) -> str:
    if form.track and form.topics:
        return f"{form.track}: {form.topics}"
    return form.track or form.topics


def split_track_and_topics(text: str, tracks: tuple[str, ...]) -> tuple[str, str]:
    """``"deep-learning: cnn, rnn"`` -> (track, topics); a bare track name is the track; an
    empty track means any."""
    text = text.strip()
    if ":" in text:
        head, _, tail = text.partition(":")
        return head.strip() or "any", tail.strip()
    if text.lower() in tracks:
        return text.lower(), ""
    return "any", text


def config_modal(form: ConfigForm, draft: Mapping[str, Any] | None) -> discord.ui.Modal:
    """Five inputs (Discord's most): on/off and cadence, time and zone, days, window, track
    and topics; pre-filled from the current settings or from a refused draft."""
    draft = draft or {}
    state = "off" if not form.enabled else f"on-{form.cadence}"
    chosen = draft.get("state") or [state]
    chosen_state = chosen[0] if isinstance(chosen, list) and chosen else state
    modal = discord.ui.Modal(
        title=shorten(f"Settings · #{form.channel_name or 'channel'}", MODAL_TITLE_LIMIT),
        custom_id=config_modal_id(form.channel_id),
        timeout=None,
    )

    def text(key: str, default: str) -> str:
        value = draft.get(key)
        return value if isinstance(value, str) else default

    modal.add_item(
        discord.ui.Label(
            text=CONFIG_INPUTS["state"][0],
            component=discord.ui.Select(
                custom_id="state",
                options=[
                    discord.SelectOption(label=label, value=value, default=value == chosen_state)
                    for value, label in STATE_CHOICES
                ],
                min_values=1,
                max_values=1,
            ),
        )
    )
    inputs = (
        (
            "when",
            "HH:MM and an IANA zone, e.g. 09:30 Europe/Berlin",
            f"{form.post_time} {form.timezone}",
            True,
            80,
        ),
        ("days", "mon-fri, every day, or a list such as mon,wed,fri", form.days, True, 60),
        ("window", "How long answers score: 90m, 8h, 23h, 2d", form.answer_window, True, 20),
        ("topics", "track: topic, topic (empty: every topic)", track_and_topics(form), False, 1000),
    )
    for key, description, default, required, limit in inputs:
        modal.add_item(
            discord.ui.Label(
                text=CONFIG_INPUTS[key][0],
                description=description,
                component=discord.ui.TextInput(
                    custom_id=key,
                    default=text(key, default)[:limit] or None,
                    required=required,
                    max_length=limit,
                ),
            )
        )
    return modal


def config_change(values: Mapping[str, str | list[str]], tracks: tuple[str, ...]) -> ConfigChange:
    state = values.get("state")
    chosen = state[0] if isinstance(state, list) and state else text_value(values, "state")
    enabled: bool | None = None
    cadence: str | None = None
    if chosen == "off":
        enabled = False
    elif chosen.startswith("on-"):
        enabled, cadence = True, chosen.removeprefix("on-")
    when = text_value(values, "when").split(None, 1)
    track, topics = split_track_and_topics(text_value(values, "topics"), tracks)
    return ConfigChange(
        enabled=enabled,
        cadence=cadence,
        post_time=when[0] if when else None,
        timezone=when[1] if len(when) > 1 else None,
        days=text_value(values, "days").strip() or None,
        answer_window=text_value(values, "window").strip() or None,
        track=track,
        topics=topics,
    )


def form_errors_card(errors: Mapping[str, str]) -> Card:
    """Each error under the name of the input it belongs to."""
    fields: list[CardField] = []
    placed: set[str] = set()
    for label, keys in CONFIG_INPUTS.values():
        messages = [errors[key] for key in keys if key in errors]
        placed.update(key for key in keys if key in errors)
        if messages:
            fields.append(CardField(name=label, value="\n".join(messages)))
    for key, message in errors.items():
        if key not in placed:
            fields.append(CardField(name=key.replace("_", " ").capitalize(), value=message))
    return Card(
        kind=CardKind.ERROR,
        title="⚠️ Nothing was changed",
        body="Fix what is below and send the form again.",
        fields=tuple(fields),
        private=True,
    )


async def submit_config(interaction: discord.Interaction, channel_id: int) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    adapter = adapter_of(interaction)
    app = adapter.app
    responder = Responder(interaction, workspace_of(interaction))
    if interaction.guild_id is None:
        await responder.send_cards([error_card("Channel settings live in a server channel.")])
        return
    values = modal_values(interaction.data)
    actor = await actor_for(interaction)
    try:
        reply = await app.commands.apply_config(actor, channel_id, config_change(values, TRACKS))
    except NotAllowed as exc:
        await responder.send_cards([error_card(str(exc))])
        return
    except SettingsRejected as exc:
        view = await app.channels.view(channel_id)
        if view.workspace_id != actor.workspace_id:
            await responder.send_cards([settings_error_card(exc)])
            return
        adapter.drafts.remember((interaction.user.id, channel_id), values)
        await responder.send_cards(
            [form_errors_card(exc.errors)], extra=ConfigButtonItem(view.external_id)
        )
        return
    await responder.send_cards(reply.cards)


# --- one-off custom questions ---------------------------------------------------------------


def custom_question_modal(channel_id: int, for_date: str | None) -> discord.ui.Modal:
    modal = discord.ui.Modal(
        title="Queue a custom question",
        custom_id=custom_question_modal_id(channel_id),
        timeout=None,
    )
    modal.add_item(
        discord.ui.Label(
            text="Question (YAML, the bank's schema)",
            description="id, topic, difficulty, prompt, reference, key_points",
            component=discord.ui.TextInput(
                custom_id=CUSTOM_YAML_INPUT,
                style=discord.TextStyle.paragraph,
                placeholder=CUSTOM_YAML_EXAMPLE[:100],
                max_length=4000,
                required=True,
            ),
        )
    )
    modal.add_item(
        discord.ui.Label(
            text="Date (optional)",
            description="YYYY-MM-DD; empty: the next post",
            component=discord.ui.TextInput(
                custom_id=CUSTOM_DATE_INPUT,
                default=for_date or None,
                max_length=10,
                required=False,
            ),
        )
    )
    return modal


async def submit_custom_question(interaction: discord.Interaction, channel_id: int) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    app = adapter_of(interaction).app
    responder = Responder(interaction, workspace_of(interaction))
    if interaction.guild_id is None:
        await responder.send_cards([error_card("Questions are queued in a server channel.")])
        return
    values = modal_values(interaction.data)
    actor = await actor_for(interaction)
    when = text_value(values, CUSTOM_DATE_INPUT).strip() or None
    try:
        reply = await app.commands.queue_custom(
            actor, channel_id, text_value(values, CUSTOM_YAML_INPUT), for_date=when
        )
    except NotAllowed as exc:
        await responder.send_cards([error_card(str(exc))])
        return
    except SettingsRejected as exc:
        await responder.send_cards([settings_error_card(exc)])
        return
    await responder.send_cards(reply.cards)


# --- disputes -------------------------------------------------------------------------------


def dispute_modal(answer_id: int, workspace: str) -> discord.ui.Modal:
    modal = discord.ui.Modal(
        title=f"Dispute the grade of answer #{answer_id}"[:MODAL_TITLE_LIMIT],
        custom_id=dispute_modal_id(answer_id, workspace),
        timeout=None,
    )
    modal.add_item(
        discord.ui.Label(
            text="Why is the grade wrong?",
            description="The answer is graded again with your reason (once per answer).",
            component=discord.ui.TextInput(
                custom_id=REASON_INPUT,
                style=discord.TextStyle.paragraph,
                max_length=MAX_REASON,
                required=True,
            ),
        )
    )
    return modal


async def submit_dispute(interaction: discord.Interaction, answer_id: int, carried: str) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    reason = text_value(modal_values(interaction.data), REASON_INPUT)
    command = Command(
        CommandName.DISPUTE,
        args=(str(answer_id), *reason.split()),
        reply_context=reply_context_of(interaction),
    )
    await run_command(interaction, command, workspace=carried or None)


# --- routing modal submits ------------------------------------------------------------------


async def handle_modal_submit(interaction: discord.Interaction) -> bool:
    """Route a modal submit by its custom id; False when it is not one of ours."""
    data: Mapping[str, Any] = interaction.data or {}
    custom_id = str(data.get("custom_id", ""))
    if not custom_id.startswith("iv:m"):
        return False
    try:
        answer = AnswerModalId.parse(custom_id)
    except AnswerRejected as rejected:
        await Responder(interaction, workspace_of(interaction)).send_cards(
            [error_card(rejected.message)]
        )
        return True
    if answer is not None:
        await submit_answer(interaction, answer)
        return True
    match = CONFIG_MODAL.fullmatch(custom_id)
    if match is not None:
        await submit_config(interaction, int(match["channel"]))
        return True
    match = CUSTOM_QUESTION_MODAL.fullmatch(custom_id)
    if match is not None:
        await submit_custom_question(interaction, int(match["channel"]))
        return True
    match = DISPUTE_MODAL.fullmatch(custom_id)
    if match is not None:
        await submit_dispute(interaction, int(match["answer"]), match["workspace"])
        return True
    return False
