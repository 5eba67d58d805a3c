"""The custom ids the adapter puts on buttons and modals, in one place.

A custom id carries everything a click or a submit needs (the action, the post or question,
the workspace), so a message posted before a restart still works: nothing is kept in memory
between sending a button and its click. Discord allows 100 characters; the longest id here is
about 50.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.services.answers import AnswerTarget
from bot.services.cards import ButtonAction

#: A card button: ``iv:b:<action>:<value>:<workspace>``.
BUTTON_TEMPLATE = r"iv:b:(?P<action>[a-z-]+):(?P<value>[0-9]*):(?P<workspace>[A-Za-z0-9-]*)"
#: The button that opens a channel's settings form: ``iv:cfg:<channel external id>``.
CONFIG_BUTTON_TEMPLATE = r"iv:cfg:(?P<channel>[0-9]+)"

ANSWER_MODAL = re.compile(r"iv:ma:(?P<target>[a-z]+:[0-9]+):(?P<workspace>[A-Za-z0-9-]*)")
CONFIG_MODAL = re.compile(r"iv:mc:(?P<channel>[0-9]+)")
CUSTOM_QUESTION_MODAL = re.compile(r"iv:mq:(?P<channel>[0-9]+)")
DISPUTE_MODAL = re.compile(r"iv:md:(?P<answer>[0-9]+):(?P<workspace>[A-Za-z0-9-]*)")

#: Input ids inside the modals.
ANSWER_INPUT = "answer"
REASON_INPUT = "reason"
DM_WORKSPACE_PREFIX = "dm-"


def button_id(action: ButtonAction, value: str, workspace: str) -> str:
    return f"iv:b:{action.value}:{value}:{workspace}"


def config_button_id(channel_external_id: str) -> str:
    return f"iv:cfg:{channel_external_id}"


def answer_modal_id(target: AnswerTarget, workspace: str) -> str:
    return f"iv:ma:{target.encode()}:{workspace}"


def config_modal_id(channel_id: int) -> str:
    return f"iv:mc:{channel_id}"


def custom_question_modal_id(channel_id: int) -> str:
    return f"iv:mq:{channel_id}"


def dispute_modal_id(answer_id: int, workspace: str) -> str:
    return f"iv:md:{answer_id}:{workspace}"


def dm_workspace(user_id: int | str) -> str:
    """The personal workspace of a member's direct messages with the bot."""
    return f"{DM_WORKSPACE_PREFIX}{user_id}"


@dataclass(frozen=True)
class AnswerModalId:
    target: AnswerTarget
    workspace: str

    @classmethod
    def parse(cls, custom_id: str) -> AnswerModalId | None:
        """None when it is not an answer modal; ``AnswerRejected`` for a forged target."""
        match = ANSWER_MODAL.fullmatch(custom_id)
        if match is None:
            return None
        return cls(AnswerTarget.decode(match["target"]), match["workspace"])
