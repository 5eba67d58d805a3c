"""Fixture plugin: a small world for service tests: one workspace, one channel, two members, a six-question bank."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.domain.bank import Bank, Difficulty, KeyPoint, Question
from bot.services.answers import AnswerService
from bot.services.bank_sync import sync_bank
from bot.services.daily import DailyService
from bot.services.directory import Directory
from bot.services.leaderboard import LeaderboardService
from bot.storage.models import Channel, Member, Workspace


def make_question(
    qid: str, topic: str, difficulty: Difficulty, prompt: str | None = None
) -> Question:
    return Question(
        id=qid,
        topic=topic,
        difficulty=difficulty,
        prompt=prompt or f"Explain the idea behind {qid} in a few sentences.",
        reference=f"Gradients flow backwards; weights update; loss decreases for {qid}.",
        key_points=(
            KeyPoint(text="gradients flow backwards", weight=4),
            KeyPoint(text="weights update with the learning rate", weight=3),
            KeyPoint(text="loss decreases over training", weight=3),
        ),
        tags=(),
        sources=(),
    )


SMALL_BANK = Bank(
    (
        make_question("cnn-a", "cnn", Difficulty.BEGINNER),
        make_question("cnn-b", "cnn", Difficulty.INTERMEDIATE),
        make_question("cnn-c", "cnn", Difficulty.ADVANCED),
        make_question("rnn-a", "rnn", Difficulty.BEGINNER),
        make_question("rnn-b", "rnn", Difficulty.INTERMEDIATE),
        make_question("rnn-c", "rnn", Difficulty.ADVANCED),
    )
)


@dataclass
class World:
    directory: Directory
    daily: DailyService
    answers: AnswerService
    leaderboards: LeaderboardService
    workspace: Workspace
    channel: Channel
    alice: Member
    bob: Member


@pytest.fixture
async def world(sessions, clock, rng) -> World:
    await sync_bank(sessions, SMALL_BANK, clock)
    directory = Directory(sessions, clock, default_timezone="Europe/Berlin")
    workspace = await directory.workspace("slack", "T1", "Team")
    channel = await directory.channel(workspace.id, "C1", "interview-prep")
    alice = await directory.member(workspace.id, "U1", "Alice")
    bob = await directory.member(workspace.id, "U2", "Bob")
    return World(
        directory=directory,
        daily=DailyService(sessions, clock, rng),
        answers=AnswerService(sessions, clock),
        leaderboards=LeaderboardService(sessions, clock),
        workspace=workspace,
        channel=channel,
        alice=alice,
        bob=bob,
    )
