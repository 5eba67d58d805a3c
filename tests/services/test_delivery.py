"""The outbox and its dispatcher: once-only delivery, retries with backoff and Retry-After,
dead letters, parents before replies and edits, platforms kept apart, leases between processes;
and two whole processes (scheduler, worker, dispatcher each) on one database."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.services.cards import notice_card
from bot.services.daily import DailyService
from bot.services.delivery import (
    Dispatcher,
    PermanentDeliveryError,
    RetryLater,
    Target,
    describe_failure,
    enqueue,
    retry_dead,
)
from bot.services.grading import GradingWorker
from bot.services.scheduler import DailyScheduler
from bot.storage.db import create_engine, session_factory, transaction
from bot.storage.models import DeliveryAction, OutboxMessage, OutboxStatus, Platform
from tests.fakes.graders import ScriptedGrader
from tests.fakes.notifier import RecordingNotifier


async def _enqueue(sessions, clock, *, platform=Platform.SLACK, parent=None, action=None, n=1):
    ids = []
    async with transaction(sessions) as session:
        for index in range(n):
            row = enqueue(
                session,
                Target(platform, "T1", channel_external_id=f"C{index}"),
                notice_card(f"message {index}", private=False),
                action=action or (DeliveryAction.REPLY if parent else DeliveryAction.POST),
                topic="notice",
                now=clock.now(),
                parent_id=parent,
            )
            await session.flush()
            ids.append(row.id)
    return ids


async def _rows(sessions) -> dict[int, OutboxMessage]:
    async with sessions() as session:
        rows = (await session.execute(sa.select(OutboxMessage))).scalars().all()
        return {row.id: row for row in rows}


def _dispatcher(sessions, clock, *notifiers, **options) -> Dispatcher:
    return Dispatcher(
        sessions, clock, {n.platform: n for n in notifiers}, rng=random.Random(3), **options
    )


async def test_a_message_is_delivered_once_and_its_reference_kept(sessions, clock):
    [message_id] = await _enqueue(sessions, clock)
    notifier = RecordingNotifier()
    dispatcher = _dispatcher(sessions, clock, notifier)
    assert await dispatcher.drain() == 1
    assert await dispatcher.drain() == 0
    row = (await _rows(sessions))[message_id]
    assert row.status is OutboxStatus.SENT and row.message_ref == "slack-msg-1"
    assert row.sent_at == clock.now() and row.attempts == 1
    assert len(notifier.deliveries) == 1


async def test_a_burst_of_messages_shares_a_claim_and_each_is_sent_once(sessions, clock):
    """Messages written one by one in quick succession (grades stored in turn), each waking
    the dispatcher, are gathered into a few claims instead of a claim each."""
    notifier = RecordingNotifier()
    # a second to gather: ten enqueues fit in it even on a loaded machine
    dispatcher = _dispatcher(sessions, clock, notifier, gather_seconds=1.0, poll_seconds=30)
    await dispatcher.start()
    try:
        for _ in range(250):  # its first look finds nothing, then it waits to be woken
            if dispatcher.claims:
                break
            await asyncio.sleep(0.02)
        before = dispatcher.claims
        assert before == 1
        ids = []
        for _ in range(10):
            ids += await _enqueue(sessions, clock)
            dispatcher.wake()
        for _ in range(400):
            if len(notifier.deliveries) == 10:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.2)  # a look after the burst, which finds nothing
    finally:
        await dispatcher.stop()
    rows = await _rows(sessions)
    assert all(rows[i].status is OutboxStatus.SENT for i in ids)
    assert len(notifier.deliveries) == 10
    # the burst, then one more look (a sent message may have released a reply): not ten
    assert 1 <= dispatcher.claims - before <= 3


async def test_a_dispatcher_without_gathering_still_sends_what_it_is_woken_for(sessions, clock):
    notifier = RecordingNotifier()
    dispatcher = _dispatcher(sessions, clock, notifier, gather_seconds=0, poll_seconds=30)
    await dispatcher.start()
    try:
        await asyncio.sleep(0.05)
        [message_id] = await _enqueue(sessions, clock)
        dispatcher.wake()
        for _ in range(200):
            if notifier.deliveries:
                break
            await asyncio.sleep(0.01)
    finally:
        await dispatcher.stop()
    assert (await _rows(sessions))[message_id].status is OutboxStatus.SENT


async def test_outcomes_of_concurrent_sends_share_transactions(sessions, clock):
    ids = await _enqueue(sessions, clock, n=32)
    notifier = RecordingNotifier(failures=[RetryLater("429", 5.0)])
    dispatcher = _dispatcher(sessions, clock, notifier, batch_size=32, concurrency=8)
    assert await dispatcher.drain() == 32
    rows = await _rows(sessions)
    assert sum(rows[i].status is OutboxStatus.SENT for i in ids) == 31
    [retried] = [rows[i] for i in ids if rows[i].status is OutboxStatus.PENDING]
    assert retried.last_error == "RetryLater" and retried.lease_token is None
    # every outcome recorded, a sent one with its reference, in far fewer than 32 transactions
    assert all(rows[i].message_ref for i in ids if rows[i].status is OutboxStatus.SENT)
    assert 1 <= dispatcher.outcome_transactions <= 8


async def test_failures_back_off_and_retry_after_is_honoured(sessions, clock):
    [message_id] = await _enqueue(sessions, clock)
    notifier = RecordingNotifier(failures=[ConnectionError("down"), RetryLater("429", 30.0)])
    dispatcher = _dispatcher(sessions, clock, notifier, base_backoff_seconds=2.0)
    await dispatcher.drain()
    row = (await _rows(sessions))[message_id]
    assert row.status is OutboxStatus.PENDING and row.last_error == "ConnectionError"
    first_wait = (row.next_attempt_at - clock.now()).total_seconds()
    assert 0.5 <= first_wait <= 2.0  # attempt 1: a 2 s step with equal jitter
    clock.advance(timedelta(seconds=2))
    await dispatcher.drain()
    row = (await _rows(sessions))[message_id]
    wait = (row.next_attempt_at - clock.now()).total_seconds()
    assert 30.0 <= wait <= 30.25 and row.last_error == "RetryLater"
    clock.advance(timedelta(seconds=29))
    assert await dispatcher.drain() == 0  # not due yet
    clock.advance(timedelta(seconds=2))
    assert await dispatcher.drain() == 1
    assert (await _rows(sessions))[message_id].status is OutboxStatus.SENT


async def test_dead_letters_after_the_last_attempt_or_a_permanent_refusal(sessions, clock):
    flaky_id, refused_id = await _enqueue(sessions, clock, n=2)
    notifier = RecordingNotifier(
        failures=[ConnectionError("a"), PermanentDeliveryError("channel_not_found")]
        + [ConnectionError(str(i)) for i in range(5)]
    )
    dispatcher = _dispatcher(sessions, clock, notifier, max_attempts=3)
    for _ in range(4):
        await dispatcher.drain()
        clock.advance(timedelta(minutes=10))
    rows = await _rows(sessions)
    assert rows[refused_id].status is OutboxStatus.DEAD and rows[refused_id].attempts == 1
    assert rows[refused_id].last_error == "PermanentDeliveryError"
    assert rows[flaky_id].status is OutboxStatus.DEAD and rows[flaky_id].attempts == 3
    notifier.failures.clear()  # the platform is healthy again
    assert await retry_dead(sessions, clock, [flaky_id]) == 1
    await dispatcher.drain()
    assert (await _rows(sessions))[flaky_id].status is OutboxStatus.SENT


async def test_a_reply_waits_for_its_parent_and_an_orphan_goes_to_the_channel(sessions, clock):
    [parent] = await _enqueue(sessions, clock)
    [reply] = await _enqueue(sessions, clock, parent=parent)
    [edit] = await _enqueue(sessions, clock, parent=parent, action=DeliveryAction.EDIT)
    notifier = RecordingNotifier(failures=[RetryLater("busy", 60.0)])
    dispatcher = _dispatcher(sessions, clock, notifier)
    await dispatcher.drain()  # the parent failed: the reply and the edit wait
    rows = await _rows(sessions)
    assert rows[reply].status is OutboxStatus.PENDING and rows[reply].attempts == 0
    clock.advance(timedelta(seconds=61))
    await dispatcher.drain()
    assert notifier.actions() == [
        ("notice", DeliveryAction.POST, None),
        ("notice", DeliveryAction.REPLY, "slack-msg-1"),
        ("notice", DeliveryAction.EDIT, "slack-msg-1"),
    ]
    assert (await _rows(sessions))[edit].status is OutboxStatus.SENT
    # a parent that died: the reply is still delivered (as a plain message), the edit dropped
    [dead_parent] = await _enqueue(sessions, clock)
    [orphan] = await _enqueue(sessions, clock, parent=dead_parent)
    [orphan_edit] = await _enqueue(sessions, clock, parent=dead_parent, action=DeliveryAction.EDIT)
    notifier.failures.append(PermanentDeliveryError("gone"))
    await dispatcher.drain()
    rows = await _rows(sessions)
    assert rows[orphan].status is OutboxStatus.SENT and notifier.deliveries[-1].parent_ref is None
    assert rows[orphan_edit].status is OutboxStatus.DEAD


async def test_each_dispatcher_takes_only_its_own_platforms(sessions, clock):
    [slack_id] = await _enqueue(sessions, clock, platform=Platform.SLACK)
    [discord_id] = await _enqueue(sessions, clock, platform=Platform.DISCORD)
    discord = RecordingNotifier(Platform.DISCORD)
    await _dispatcher(sessions, clock, discord).drain()
    rows = await _rows(sessions)
    assert rows[discord_id].status is OutboxStatus.SENT
    assert rows[slack_id].status is OutboxStatus.PENDING
    assert [d.id for d in discord.deliveries] == [discord_id]


async def test_a_dispatcher_that_died_mid_send_leaves_the_row_to_another_after_the_lease(
    sessions, clock
):
    [message_id] = await _enqueue(sessions, clock)
    hung = RecordingNotifier()
    gate = asyncio.Event()

    async def never(delivery):
        await gate.wait()

    hung.deliver = never  # type: ignore[method-assign]
    doomed = _dispatcher(sessions, clock, hung, lease=timedelta(seconds=60))
    task = asyncio.create_task(doomed.run_once())
    for _ in range(100):
        if (await _rows(sessions))[message_id].status is OutboxStatus.SENDING:
            break
        await asyncio.sleep(0.01)
    task.cancel()  # the process dies between claim and mark-as-sent
    other = RecordingNotifier()
    survivor = _dispatcher(sessions, clock, other, lease=timedelta(seconds=60))
    assert await survivor.drain() == 0  # the lease still holds
    clock.advance(timedelta(seconds=61))
    assert await survivor.drain() == 1
    assert len(other.deliveries) == 1


async def test_two_dispatchers_racing_deliver_every_message_exactly_once(
    database_url, sessions, clock
):
    ids = await _enqueue(sessions, clock, n=60)
    second_engine = create_engine(database_url)
    try:
        first, second = RecordingNotifier(), RecordingNotifier()
        one = _dispatcher(sessions, clock, first, batch_size=7)
        two = _dispatcher(session_factory(second_engine), clock, second, batch_size=7)
        await asyncio.gather(one.drain(), two.drain(), one.drain(), two.drain())
    finally:
        await second_engine.dispose()
    delivered = [d.id for d in first.deliveries + second.deliveries]
    assert sorted(delivered) == sorted(ids)
    assert all(row.status is OutboxStatus.SENT for row in (await _rows(sessions)).values())


class _Process:
    """One bot process: its own engine, scheduler, grading worker and dispatcher."""

    def __init__(self, database_url, clock, world, notifier):
        self.engine = create_engine(database_url)
        sessions = session_factory(self.engine)
        grader = ScriptedGrader()
        self.notifier = notifier
        self.dispatcher = Dispatcher(
            sessions, clock, {notifier.platform: notifier}, rng=random.Random(5)
        )
        self.worker = GradingWorker(sessions, grader, grader, clock)
        daily = DailyService(sessions, clock, random.Random(9))
        self.scheduler = DailyScheduler(sessions, daily, clock, platforms={Platform.SLACK})

    async def tick(self):
        await self.scheduler.sweep()
        await self.worker.drain()
        await self.dispatcher.drain()

    async def close(self):
        await self.engine.dispose()


@pytest.mark.parametrize("days", [3])
async def test_two_processes_deliver_each_question_grade_and_reveal_once(
    world, database_url, clock, days
):
    failing_once = RecordingNotifier()
    one = _Process(database_url, clock, world, failing_once)
    two = _Process(database_url, clock, world, RecordingNotifier())
    members = [world.alice, world.bob, await world.actor("U3", "Carol")]
    try:
        for day in range(days):
            await asyncio.gather(one.tick(), two.tick())  # both open today's post, once
            post = await world.daily.current_post(world.channel_id)
            for member in members:
                await world.submit(member, post, "gradients weights loss")
            await asyncio.gather(one.tick(), two.tick())
            clock.set(post.post.closes_at)
            if day == 1:  # the platform refuses the first reveal attempt: retried later
                for process in (one, two):
                    process.notifier.topic_failures["reveal"] = deque([RetryLater("503", 5.0)])
            await asyncio.gather(one.tick(), two.tick())
            clock.advance(timedelta(seconds=6))
            await asyncio.gather(one.tick(), two.tick())
            clock.set(post.post.opened_at + timedelta(days=1))
    finally:
        await one.close()
        await two.close()
    delivered = one.notifier.deliveries + two.notifier.deliveries
    by_topic: dict[str, list] = {}
    for delivery in delivered:
        by_topic.setdefault(delivery.topic, []).append(delivery)
    assert len(by_topic["question"]) == days
    assert len(by_topic["grade"]) == days * len(members)
    assert len(by_topic["reveal"]) == days and len(by_topic["closed"]) == days
    assert len({d.id for d in delivered}) == len(delivered)  # no row delivered twice
    failed = one.notifier.failed_topics + two.notifier.failed_topics
    assert failed and set(failed) == {"reveal"}  # refused at first, then delivered once
    rows = await _rows(world.sessions)
    assert all(row.status is OutboxStatus.SENT for row in rows.values())


@pytest.mark.parametrize(
    ("last_error", "advice"),
    [
        ("PermanentDeliveryError:not_in_channel", "invite it"),
        ("PermanentDeliveryError:is_archived", "archived"),
        ("PermanentDeliveryError:not_installed", "reinstall"),
        ("PermanentDeliveryError:403/50013", "Missing Permissions"),
        ("PermanentDeliveryError:403/50001", "View Channel"),
        ("PermanentDeliveryError:msg_too_long", "refused it (msg_too_long)"),
        ("PermanentDeliveryError", "the platform refused it"),
        (None, "the platform refused it"),
    ],
)
def test_refusals_are_explained_to_admins_by_their_code(last_error, advice):
    assert advice in describe_failure(last_error)
