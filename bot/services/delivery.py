"""Delivery: the one outbound port (``Notifier``), the transactional outbox and its dispatcher.

A service that records a fact (a question opened, a grade stored, a question closed) calls
``enqueue`` with the same session, so the message rows commit or roll back with the fact. A
``Dispatcher`` per process claims due rows for the platforms that process serves, hands each to
that platform's notifier, records the platform's message reference, and retries with backoff
(honouring a platform's Retry-After) or dead-letters after ``max_attempts``.

Claims are leases: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one writer at a time),
then a token and an expiry on the row. Two dispatchers never send the same row while a lease
holds. The one duplicate window: a process that crashes after the platform accepted a message
and before it recorded "sent" leaves the row to be sent again when the lease expires.

A row with a parent (the closing edit of a question post, the reveal in its thread) is claimed
only once the parent was sent (its ``message_ref`` is then known) or dead (then an edit is
dropped and a reply goes to the channel as a new message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot import metrics
from bot.clock import Clock
from bot.services.cards import Card
from bot.storage.db import transaction
from bot.storage.models import DeliveryAction, OutboxMessage, OutboxStatus, Platform, id_column

log = logging.getLogger(__name__)

#: The topic of a channel's daily question post.
QUESTION_TOPIC = "question"
#: How long the dispatcher lets a burst of new messages gather before claiming them.
GATHER_SECONDS = 0.05


# --- the port -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One message as a notifier receives it."""

    id: int
    platform: Platform
    workspace_external_id: str
    channel_external_id: str | None
    member_external_id: str | None
    action: DeliveryAction
    card: Card
    topic: str
    attempt: int
    #: The platform's reference of the parent message (REPLY / EDIT), when it was sent.
    parent_ref: str | None = None
    reply_context: Mapping[str, Any] | None = None


class DeliveryError(Exception):
    """A send failed; the dispatcher retries later."""


class RetryLater(DeliveryError):
    """The platform asked us to wait (HTTP 429 / rate limit) or failed for a passing reason."""

    def __init__(self, message: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The platform refused for good (channel gone, bot removed, invalid target): no retry."""


class Notifier(Protocol):
    """What each adapter implements to deliver cards on its platform."""

    platform: Platform

    async def deliver(self, delivery: Delivery) -> str | None:
        """Send a new message (POST, REPLY or PRIVATE); return its reference, if it has one."""
        ...

    async def edit(self, delivery: Delivery) -> str | None:
        """Replace the parent message (``delivery.parent_ref``) with the card."""
        ...


# --- writing rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a message goes, in the platform's own ids."""

    platform: Platform
    workspace_external_id: str
    channel_external_id: str | None = None
    member_external_id: str | None = None
    reply_context: Mapping[str, Any] | None = None


def enqueue(
    session: AsyncSession,
    target: Target,
    card: Card,
    *,
    action: DeliveryAction,
    topic: str,
    now: Any,
    parent_id: int | None = None,
) -> OutboxMessage:
    """Add an outbox row to the caller's transaction (flush to get its id)."""
    row = OutboxMessage(
        platform=target.platform,
        workspace_external_id=target.workspace_external_id,
        channel_external_id=target.channel_external_id,
        member_external_id=target.member_external_id,
        action=action,
        parent_id=parent_id,
        reply_context=dict(target.reply_context or {}),
        card=card.to_json(),
        topic=topic,
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


# --- the dispatcher -------------------------------------------------------------------------


def backoff_delay(attempt: int, rng: random.Random, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random."""
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return step / 2 + rng.random() * step / 2


class Dispatcher:
    """Claims due outbox rows for its platforms and delivers them through their notifiers."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        notifiers: Mapping[Platform, Notifier],
        *,
        rng: random.Random | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch_size: int = 32,
        concurrency: int = 8,
        max_attempts: int = 8,
        base_backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 600.0,
        poll_seconds: float = 1.0,
        gather_seconds: float = GATHER_SECONDS,
    ):
        self._sessions = sessions
        self._clock = clock
        self._notifiers = dict(notifiers)
        self._rng = rng or random.Random()
        self._lease = lease
        self._batch = batch_size
        self._semaphore = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._base = base_backoff_seconds
        self._cap = max_backoff_seconds
        self._poll = poll_seconds
        self._gather = gather_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._recorder = _GroupCommit(sessions)
        #: Called with a row the platform refused for good, once it is recorded dead (the app
        #: explains refused question posts to an admin); its failures are logged, never raised.
        self.on_refused: Callable[[OutboxMessage], Awaitable[None]] | None = None
        self.dispatcher_id = uuid.uuid4().hex[:12]
        self.delivered = 0
        #: Claim transactions made (tests and benchmarks read it).
        self.claims = 0

    @property
    def outcome_transactions(self) -> int:
        """Transactions that recorded send outcomes (concurrent sends share one)."""
        return self._recorder.transactions

    @property
    def platforms(self) -> list[Platform]:
        return sorted(self._notifiers)

    def add_notifier(self, notifier: Notifier) -> None:
        self._notifiers[notifier.platform] = notifier

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None and self._notifiers:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="outbox-dispatcher")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Finish the sends in progress (up to ``grace_seconds``), then stop."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            # cleared before the claim: a message written after it wakes the next round
            self._wake.clear()
            try:
                handled = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatch failed; retrying after the poll interval")
                handled = 0
            if self._stopping or handled >= self._batch:
                continue  # a full batch: more may be due now
            if handled:
                self._wake.set()  # look again: a sent message may have released its children
            if not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            if self._wake.is_set() and self._gather > 0 and not self._stopping:
                # Messages come in bursts (grades stored together, a day's reveal): waiting a
                # moment lets one claim take the burst, instead of a claim (a write
                # transaction, competing with answer intake) per message.
                await asyncio.sleep(self._gather)

    async def drain(self, *, max_rounds: int = 100) -> int:
        """Deliver until nothing is due now (tests, the terminal)."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            if not handled:
                break
            total += handled
        return total

    async def run_once(self) -> int:
        claims = await self._claim()
        if claims:
            # messages to one target go out in the order they were written (a grade before the
            # next interview question); different targets go out concurrently
            queues: dict[tuple[object, ...], list[tuple[OutboxMessage, str | None]]] = {}
            for row, parent_ref in claims:
                key = (
                    row.platform,
                    row.workspace_external_id,
                    row.channel_external_id,
                    row.member_external_id,
                )
                queues.setdefault(key, []).append((row, parent_ref))
            await asyncio.gather(*(self._send_in_order(queue) for queue in queues.values()))
        return len(claims)

    async def _send_in_order(self, queue: list[tuple[OutboxMessage, str | None]]) -> None:
        for row, parent_ref in queue:
            await self._send(row, parent_ref)

    def _due(self, now: Any) -> sa.ColumnElement[bool]:
        return sa.or_(
            sa.and_(
                col(OutboxMessage.status) == OutboxStatus.PENDING,
                col(OutboxMessage.next_attempt_at) <= now,
            ),
            sa.and_(
                col(OutboxMessage.status) == OutboxStatus.SENDING,
                col(OutboxMessage.leased_until) < now,
            ),
        )

    async def _claim(self) -> list[tuple[OutboxMessage, str | None]]:
        if not self._notifiers:
            return []
        now = self._clock.now()
        token = f"{self.dispatcher_id}:{uuid.uuid4().hex[:8]}"
        parent = aliased(OutboxMessage)
        parent_ready = sa.or_(
            col(OutboxMessage.parent_id).is_(None),
            sa.exists().where(
                col(parent.id) == OutboxMessage.parent_id,
                col(parent.status).in_([OutboxStatus.SENT, OutboxStatus.DEAD]),
            ),
        )
        due_ids = (
            sa.select(col(OutboxMessage.id))
            .where(
                col(OutboxMessage.platform).in_(self.platforms),
                self._due(now),
                parent_ready,
            )
            .order_by(col(OutboxMessage.id))
            .limit(self._batch)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        self.claims += 1
        async with transaction(self._sessions) as session:
            result = await session.execute(
                sa.update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(due_ids))
                .values(
                    status=OutboxStatus.SENDING,
                    lease_token=token,
                    leased_until=now + self._lease,
                    attempts=col(OutboxMessage.attempts) + 1,
                )
                .returning(id_column(OutboxMessage.id))
            )
            ids = sorted(result.scalars())
            if not ids:
                return []
            rows = (
                await session.execute(
                    sa.select(OutboxMessage, col(parent.message_ref))
                    .outerjoin(parent, col(parent.id) == OutboxMessage.parent_id)
                    .where(col(OutboxMessage.id).in_(ids))
                    .order_by(col(OutboxMessage.id))
                )
            ).all()
        return [(row, parent_ref) for row, parent_ref in rows]

    async def _send(self, row: OutboxMessage, parent_ref: str | None) -> None:
        notifier = self._notifiers[row.platform]
        assert row.id is not None
        delivery = Delivery(
            id=row.id,
            platform=row.platform,
            workspace_external_id=row.workspace_external_id,
            channel_external_id=row.channel_external_id,
            member_external_id=row.member_external_id,
            action=row.action,
            card=Card.from_json(row.card),
            topic=row.topic,
            attempt=row.attempts,
            parent_ref=parent_ref,
            reply_context=row.reply_context,
        )
        async with self._semaphore:
            try:
                if row.action is DeliveryAction.EDIT and parent_ref is None:
                    await self._finish(row, OutboxStatus.DEAD, error="ParentNotSent")
                    return
                # a send must end well inside its lease, or another dispatcher would take the
                # row while it is still on its way
                async with asyncio.timeout(self._lease.total_seconds() / 2):
                    if row.action is DeliveryAction.EDIT:
                        ref = await notifier.edit(delivery)
                    else:
                        ref = await notifier.deliver(delivery)
            except PermanentDeliveryError as exc:
                log.warning(
                    "outbox %s (%s) refused by %s: %s",
                    row.id,
                    row.topic,
                    row.platform.value,
                    type(exc).__name__,
                )
                await self._finish(row, OutboxStatus.DEAD, error=_error_name(exc))
                metrics.DELIVERED.labels(row.platform.value, "dead").inc()
                await self._refused(row, _error_name(exc))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                retry_after = exc.retry_after if isinstance(exc, RetryLater) else None
                await self._retry(row, exc, retry_after)
                return
        await self._finish(row, OutboxStatus.SENT, ref=ref)
        self.delivered += 1
        metrics.DELIVERED.labels(row.platform.value, "sent").inc()
        metrics.DELIVERY_SECONDS.observe(
            max(0.0, (self._clock.now() - row.created_at).total_seconds())
        )

    async def _refused(self, row: OutboxMessage, error: str) -> None:
        if self.on_refused is None:
            return
        try:
            await self.on_refused(row.model_copy(update={"last_error": error[:200]}))
        except Exception:
            log.exception("outbox %s (%s): telling about the refusal failed", row.id, row.topic)

    async def _finish(
        self,
        row: OutboxMessage,
        status: OutboxStatus,
        *,
        ref: str | None = None,
        error: str | None = None,
    ) -> None:
        now = self._clock.now()
        values: dict[str, Any] = {"status": status, "lease_token": None, "leased_until": None}
        if status is OutboxStatus.SENT:
            values.update(message_ref=ref, sent_at=now)
        if error is not None:
            values["last_error"] = error[:200]
        await self._recorder.record(
            sa.update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row.id,
                col(OutboxMessage.status) == OutboxStatus.SENDING,
                col(OutboxMessage.lease_token) == row.lease_token,
            )
            .values(**values)
        )

    async def _retry(self, row: OutboxMessage, exc: Exception, retry_after: float | None) -> None:
        error = _error_name(exc)
        if row.attempts >= self._max_attempts:
            log.warning(
                "outbox %s (%s) dead after %s attempts: %s", row.id, row.topic, row.attempts, error
            )
            await self._finish(row, OutboxStatus.DEAD, error=error)
            metrics.DELIVERED.labels(row.platform.value, "dead").inc()
            return
        metrics.DELIVERED.labels(row.platform.value, "retried").inc()
        delay = backoff_delay(row.attempts, self._rng, self._base, self._cap)
        if retry_after is not None:
            delay = max(retry_after, 0.0) + self._rng.random() * 0.25
        log.info("outbox %s (%s) failed (%s); retrying in %.1fs", row.id, row.topic, error, delay)
        await self._recorder.record(
            sa.update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row.id,
                col(OutboxMessage.lease_token) == row.lease_token,
            )
            .values(
                status=OutboxStatus.PENDING,
                lease_token=None,
                leased_until=None,
                last_error=error,
                next_attempt_at=self._clock.now() + timedelta(seconds=delay),
            )
        )


class _GroupCommit:
    """Records the outcome of each send as soon as it is known, and the outcomes that arrive
    while a write is under way together in the next one: one transaction for a burst of sends
    instead of one each (on SQLite, concurrent single-row transactions queue for the one
    writer's lock). ``record`` returns once its statement is committed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions
        self._queue: list[tuple[sa.Executable, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Transactions written (tests and benchmarks read it).
        self.transactions = 0

    async def record(self, statement: sa.Executable) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((statement, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="outbox-outcomes")
        await asyncio.shield(done)

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                async with transaction(self._sessions) as session:
                    for statement, _ in batch:
                        await session.execute(statement)
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.transactions += 1
            for _, done in batch:
                if not done.done():
                    done.set_result(None)


def _error_name(exc: BaseException) -> str:
    """The class of an error (and an HTTP status or platform code when the adapter set one);
    never the message, which can quote user text."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}:{code}" if code else type(exc).__name__


# --- what admins are told -------------------------------------------------------------------

#: What an admin can do about a refused channel post, by the code the adapter recorded (Slack's
#: error string, or Discord's "HTTP status/JSON code").
FAILURE_ADVICE: dict[str, str] = {
    "not_in_channel": "the bot is not a member of this channel: invite it (`/invite @` and the "
    "bot's name) and the next question will post",
    "channel_not_found": "Slack does not show this channel to the bot (a private channel needs "
    "the bot invited first)",
    "is_archived": "the channel is archived",
    "restricted_action": "only some members may post in this channel: allow the bot to post",
    "no_permission": "the bot is not allowed to post here",
    "missing_scope": "the app lacks a permission it needs: reinstall it to grant it",
    "not_installed": "the app is no longer installed in this workspace: reinstall it",
    "invalid_auth": "the app's token is no longer valid: reinstall it",
    "token_revoked": "the app's token was revoked: reinstall it",
    "account_inactive": "the app's token is no longer valid: reinstall it",
    "403/50001": "the bot cannot see this channel (Missing Access): give its role View Channel "
    "and Send Messages here",
    "403/50013": "the bot lacks a permission in this channel (Missing Permissions): give its "
    "role Send Messages, Embed Links and Create Public Threads here",
    "404/10003": "Discord says this channel no longer exists",
}


#: Refusals that shut out the whole workspace (the app was uninstalled, its token revoked): a
#: direct message there would be refused too.
WORKSPACE_REFUSALS = frozenset(
    ["not_installed", "invalid_auth", "token_revoked", "account_inactive", "not_authed"]
)


def failure_code(last_error: str | None) -> str:
    """The platform's code in an outbox error ("PermanentDeliveryError:not_in_channel")."""
    return (last_error or "").partition(":")[2]


def describe_failure(last_error: str | None) -> str:
    """A sentence for admins on why a message to a channel was refused, from the error
    recorded on its outbox row ("PermanentDeliveryError:not_in_channel")."""
    code = failure_code(last_error)
    advice = FAILURE_ADVICE.get(code)
    if advice is not None:
        return advice
    return f"the platform refused it ({code})" if code else "the platform refused it"


# --- operators ------------------------------------------------------------------------------


async def list_messages(
    sessions: async_sessionmaker[AsyncSession],
    statuses: Sequence[OutboxStatus],
    *,
    limit: int = 50,
) -> list[OutboxMessage]:
    async with sessions() as session:
        rows = await session.execute(
            sa.select(OutboxMessage)
            .where(col(OutboxMessage.status).in_(list(statuses)))
            .order_by(col(OutboxMessage.id).desc())
            .limit(limit)
        )
        return list(rows.scalars())


async def retry_dead(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, ids: Sequence[int] | None = None
) -> int:
    """Put dead rows back in the queue (all of them, or the given ids)."""
    async with transaction(sessions) as session:
        statement = (
            sa.update(OutboxMessage)
            .where(col(OutboxMessage.status) == OutboxStatus.DEAD)
            .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=clock.now())
        )
        if ids is not None:
            statement = statement.where(col(OutboxMessage.id).in_(list(ids)))
        result = await session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]


async def dead_ids(sessions: async_sessionmaker[AsyncSession], ids: Sequence[int]) -> set[int]:
    """Which of ``ids`` are dead messages (the ones ``retry_dead`` would re-queue)."""
    async with sessions() as session:
        rows = await session.execute(
            sa.select(col(OutboxMessage.id)).where(
                col(OutboxMessage.status) == OutboxStatus.DEAD,
                col(OutboxMessage.id).in_(list(ids)),
            )
        )
        return {int(row_id) for row_id in rows.scalars() if row_id is not None}


async def outbox_depth(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Messages not delivered yet, by status (also published as a gauge)."""
    async with sessions() as session:
        rows = await session.execute(
            sa.select(col(OutboxMessage.status), sa.func.count())
            .where(col(OutboxMessage.status) != OutboxStatus.SENT)
            .group_by(col(OutboxMessage.status))
        )
        depth = {status.value: int(count) for status, count in rows.all()}
    for status in (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEAD):
        metrics.OUTBOX_DEPTH.labels(status.value).set(depth.get(status.value, 0))
    return depth


async def in_flight(
    sessions: async_sessionmaker[AsyncSession], platform: Platform, now: datetime
) -> int:
    """Messages of ``platform`` being sent or due now (not those waiting for a later retry)."""
    async with sessions() as session:
        count = await session.execute(
            sa.select(sa.func.count(col(OutboxMessage.id))).where(
                col(OutboxMessage.platform) == platform,
                sa.or_(
                    col(OutboxMessage.status) == OutboxStatus.SENDING,
                    sa.and_(
                        col(OutboxMessage.status) == OutboxStatus.PENDING,
                        col(OutboxMessage.next_attempt_at) <= now,
                    ),
                ),
            )
        )
    return int(count.scalar_one())


async def oldest_due_age(sessions: async_sessionmaker[AsyncSession], now: Any) -> float:
    """Seconds the oldest due, undelivered message has waited (0 when none): a stuck outbox."""
    async with sessions() as session:
        oldest = (
            await session.execute(
                sa.select(sa.func.min(col(OutboxMessage.next_attempt_at))).where(
                    col(OutboxMessage.status).in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                )
            )
        ).scalar_one_or_none()
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())
