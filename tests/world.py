"""Fixture plugin: a small world for service tests — one workspace, one scheduled channel (every
day at 09:00 Europe/Berlin), two members, a six-question bank — and helpers to play in it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import ManualClock
from bot.domain.bank import Bank, Difficulty, KeyPoint, Question
from bot.services.answers import AnswerService, AnswerTarget, Receipt
from bot.services.channels import ChannelSettings, ConfigChange
from bot.services.commands import InterviewCommands
from bot.services.daily import DailyService, OpenedPost
from bot.services.delivery import Dispatcher
from bot.services.directory import Actor, ChannelDefaults, Directory
from bot.services.leaderboard import LeaderboardService
from bot.services.practice import PracticeService
from bot.services.question_rows import sync_bank
from bot.storage.models import Platform


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
EVERY_DAY_AT_NINE_BERLIN = ConfigChange(
    enabled=True, days="daily", post_time="09:00", timezone="Europe/Berlin", answer_window="23h"
)


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    clock: ManualClock
    directory: Directory
    channels: ChannelSettings
    daily: DailyService
    answers: AnswerService
    leaderboards: LeaderboardService
    admin: Actor
    alice: Actor
    bob: Actor

    @property
    def channel_id(self) -> int:
        assert self.admin.channel_id is not None
        return self.admin.channel_id

    @property
    def workspace_id(self) -> int:
        return self.admin.workspace_id

    async def open(self) -> OpenedPost:
        """Open the channel's due post now (the clock must be past the post time)."""
        opened = await self.daily.open_due(self.channel_id)
        assert opened is not None, "no post was due"
        return opened

    async def submit(self, actor: Actor, post: OpenedPost, text: str) -> Receipt:
        assert post.post.id is not None
        return await self.answers.submit(actor, AnswerTarget.daily(post.post.id), text)

    async def actor(self, external_id: str, name: str) -> Actor:
        return await self.directory.resolve(
            Platform.SLACK, "T1", external_id, channel_external_id="C1", member_name=name
        )

    def commands(self, practice: PracticeService, **services: Any) -> InterviewCommands:
        """The ``/interview`` command service over this world, with ``practice`` and any
        optional services (interviews, review, disputes...)."""
        return InterviewCommands(
            directory=self.directory,
            daily=self.daily,
            practice=practice,
            leaderboards=self.leaderboards,
            channels=self.channels,
            **services,
        )

    def dispatcher(self, notifiers: dict) -> Dispatcher:
        return Dispatcher(self.sessions, self.clock, notifiers, rng=random.Random(7))


@pytest.fixture
async def world(sessions, clock, rng) -> World:
    await sync_bank(sessions, SMALL_BANK, clock)
    directory = Directory(sessions, clock, ChannelDefaults(timezone="Europe/Berlin"))
    channels = ChannelSettings(sessions, clock)
    admin = await directory.resolve(
        Platform.SLACK,
        "T1",
        "UADMIN",
        channel_external_id="C1",
        workspace_name="Team",
        channel_name="interview-prep",
        member_name="Admin",
        is_admin=True,
    )
    assert admin.channel_id is not None
    await channels.update(admin, admin.channel_id, EVERY_DAY_AT_NINE_BERLIN)
    world = World(
        sessions=sessions,
        clock=clock,
        directory=directory,
        channels=channels,
        daily=DailyService(sessions, clock, rng),
        answers=AnswerService(sessions, clock),
        leaderboards=LeaderboardService(sessions, clock),
        admin=admin,
        alice=await directory.resolve(
            Platform.SLACK, "T1", "U1", channel_external_id="C1", member_name="Alice"
        ),
        bob=await directory.resolve(
            Platform.SLACK, "T1", "U2", channel_external_id="C1", member_name="Bob"
        ),
    )
    yield world
    await world.answers.close()
