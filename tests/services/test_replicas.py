"""Three replicas of the bot on one database — each with its own engine, answer intake, grading
worker (running in the background), outbox dispatcher (running in the background) and scheduler —
through a simulated day in four channels: every channel is posted once, every answer graded once,
every message delivered once, every point counted once."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import sqlalchemy as sa

from bot.services.answers import AnswerService, AnswerTarget
from bot.services.channels import ConfigChange
from bot.services.daily import DailyService
from bot.services.delivery import Dispatcher
from bot.services.grading import GradingWorker
from bot.services.scheduler import DailyScheduler
from bot.storage.db import create_engine, session_factory
from bot.storage.models import (
    Answer,
    AnswerStatus,
    DailyPost,
    GradeRecord,
    OutboxMessage,
    OutboxStatus,
    Platform,
    ScoreEvent,
)
from tests.fakes.graders import ScriptedGrader
from tests.fakes.notifier import RecordingNotifier

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]


class JitteryGrader(ScriptedGrader):
    """Scripted grades that take a little, random time, so replicas interleave."""

    def __init__(self, seed: int):
        super().__init__("scripted")
        self._rng = random.Random(seed)

    async def grade(self, item, answer):
        await asyncio.sleep(self._rng.random() * 0.01)
        return await super().grade(item, answer)


class Replica:
    def __init__(self, index: int, database_url: str, clock):
        self.engine = create_engine(database_url)
        sessions = session_factory(self.engine)
        grader = JitteryGrader(index)
        self.notifier = RecordingNotifier()
        self.dispatcher = Dispatcher(
            sessions,
            clock,
            {Platform.SLACK: self.notifier},
            rng=random.Random(index),
            poll_seconds=0.05,
        )
        self.worker = GradingWorker(
            sessions,
            grader,
            grader,
            clock,
            concurrency=3,
            poll_seconds=0.05,
            after_commit=self.dispatcher.wake,
        )
        self.answers = AnswerService(sessions, clock, wake_grader=self.worker.wake)
        daily = DailyService(
            sessions, clock, random.Random(index), after_commit=self.dispatcher.wake
        )
        self.scheduler = DailyScheduler(sessions, daily, clock, platforms={Platform.SLACK})

    async def start(self) -> None:
        await self.worker.start()
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.answers.close()
        await self.worker.stop()
        await self.dispatcher.stop()
        await self.engine.dispose()


async def _quiet(sessions, seconds: float = 30.0) -> None:
    """Wait until every answer is graded and every message sent (no sleeps as synchronisation:
    poll the database until it is true, or fail)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        async with sessions() as session:
            pending = (
                await session.execute(
                    sa.select(sa.func.count(Answer.id)).where(Answer.status != AnswerStatus.GRADED)
                )
            ).scalar_one()
            unsent = (
                await session.execute(
                    sa.select(sa.func.count(OutboxMessage.id)).where(
                        OutboxMessage.status != OutboxStatus.SENT
                    )
                )
            ).scalar_one()
        if pending == 0 and unsent == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not quiet after {seconds}s: {pending} ungraded, {unsent} unsent")


async def test_three_replicas_through_a_simulated_day(world, database_url, sessions, clock):
    channel_ids = []
    members: dict[int, list] = {}
    for index, zone in enumerate(ZONES):
        admin = await world.directory.resolve(
            Platform.SLACK, "T1", "UADMIN", channel_external_id=f"C-{index}", is_admin=True
        )
        assert admin.channel_id is not None
        await world.channels.update(
            admin,
            admin.channel_id,
            ConfigChange(
                enabled=True, days="daily", post_time="00:00", timezone=zone, answer_window="20h"
            ),
        )
        channel_ids.append(admin.channel_id)
        members[admin.channel_id] = [
            await world.directory.resolve(
                Platform.SLACK, "T1", f"U{index}-{i}", channel_external_id=f"C-{index}"
            )
            for i in range(5)
        ]
    replicas = [Replica(index, database_url, clock) for index in range(3)]
    for replica in replicas:
        await replica.start()
    answered: set[int] = set()
    try:
        for _ in range(30):  # a day and a bit, hour by hour, across four zones
            await asyncio.gather(*(replica.scheduler.sweep() for replica in replicas))
            submissions = []
            for channel_id in channel_ids:
                post = await world.daily.current_post(channel_id)
                if post is None or post.post.id in answered:
                    continue
                answered.add(post.post.id)
                for i, member in enumerate(members[channel_id]):
                    replica = replicas[i % 3]  # answers arrive at every replica at once
                    text = "gradients weights loss" if i % 2 else "gradients only"
                    target = AnswerTarget.daily(post.post.id)
                    submissions.append(replica.answers.submit(member, target, text))
            await asyncio.gather(*submissions)
            # the replicas race for the claims now; time moves on once they are done (a lease
            # is meant to outlive a send, so the clock must not jump past one mid-send)
            await _quiet(sessions)
            clock.advance(timedelta(hours=1))
        clock.advance(timedelta(hours=30))
        await asyncio.gather(*(replica.scheduler.sweep() for replica in replicas))
        await _quiet(sessions)
    finally:
        for replica in replicas:
            await replica.stop()
    async with sessions() as session:
        posts = (await session.execute(sa.select(DailyPost))).scalars().all()
        answers = (await session.execute(sa.select(Answer))).scalars().all()
        grades = (await session.execute(sa.select(GradeRecord))).scalars().all()
        events = (await session.execute(sa.select(ScoreEvent))).scalars().all()
        rows = (await session.execute(sa.select(OutboxMessage))).scalars().all()
    assert len({(post.channel_id, post.local_date) for post in posts}) == len(posts)
    assert {post.channel_id for post in posts} == {*channel_ids, world.channel_id}
    assert len(answers) == len(answered) * 5 and len(answers) >= 4 * 5
    assert len(grades) == len(answers)  # graded once each
    assert len(events) == len(answers)  # points counted once each
    delivered = [d.id for replica in replicas for d in replica.notifier.deliveries]
    assert sorted(delivered) == sorted(row.id for row in rows)  # every message exactly once
    topics = [row.topic for row in rows]
    assert topics.count("question") == len(posts)
    closed = [post for post in posts if post.closed_at is not None]
    assert len(closed) >= 4
    assert topics.count("reveal") == topics.count("closed") == len(closed)
    assert topics.count("grade") == len(answers)
