"""When things happen: one APScheduler cron job per scheduled channel (its weekdays, local time
and IANA zone) that opens the channel's question, and a sweep that catches up on missed posts,
closes what is due and runs the periodic engagement jobs (nudges, monthly champions).

The scheduler only decides *when* to try; *whether* to post comes from the database claim in
``DailyService.open_due`` (and the outbox row written with it), so a restart, a misfire or a
second process never posts twice. Each process schedules only the channels of the platforms it
serves. A change made in any process reaches the others: the jobs are rebuilt from the database
every ``refresh_seconds`` when a channel's ``updated_at`` moved (at once for local changes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.domain.schedule import Cadence, Schedule
from bot.services.channels import schedule_of
from bot.services.daily import DailyService, NoEligibleQuestion, OpenedPost, Reveal
from bot.services.engagement import Engagement
from bot.services.interviews import MockInterviews
from bot.storage.models import Channel, DailyPost, Platform, Workspace

log = logging.getLogger(__name__)

OPEN_JOB_PREFIX = "open-channel-"
SWEEP_JOB = "sweep-posts"
REFRESH_JOB = "refresh-schedules"


def open_trigger(schedule: Schedule) -> CronTrigger:
    """Fires at the post time on the posting weekdays, in the channel's zone. Pauses and skip
    dates are checked when it fires (``Schedule.posts_on``)."""
    days = ",".join(str(day) for day in sorted(schedule.days))
    if schedule.cadence is Cadence.WEEKLY:
        days = str(min(schedule.days))
    return CronTrigger(
        day_of_week=days,
        hour=schedule.post_time.hour,
        minute=schedule.post_time.minute,
        timezone=schedule.zone,
    )


class DailyScheduler:
    """Owns the APScheduler instance and the jobs that drive the daily question."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        daily: DailyService,
        clock: Clock,
        *,
        platforms: Collection[Platform],
        engagement: Engagement | None = None,
        interviews: MockInterviews | None = None,
        scheduler: AsyncIOScheduler | None = None,
        refresh_seconds: float = 30.0,
        sweep_seconds: float = 30.0,
    ):
        self._sessions = sessions
        self._daily = daily
        self._clock = clock
        self.platforms = frozenset(platforms)
        self._engagement = engagement
        self._interviews = interviews
        self.scheduler = scheduler or AsyncIOScheduler(timezone="UTC")
        self._refresh = refresh_seconds
        self._sweep = sweep_seconds
        self._versions: dict[int, datetime] = {}
        self._sync_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Build the jobs, catch up on what a downtime missed, then start ticking."""
        await self.sync_jobs()
        await self.sweep()
        self.scheduler.add_job(
            self.sweep,
            trigger=IntervalTrigger(seconds=self._sweep),
            id=SWEEP_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        self.scheduler.add_job(
            self.sync_jobs,
            trigger=IntervalTrigger(seconds=self._refresh),
            id=REFRESH_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        if not self.scheduler.running:
            self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def schedule_changed(self) -> None:
        """A channel's settings changed in this process: rebuild its job now."""
        # no running loop (a CLI command): the next refresh picks the change up
        with contextlib.suppress(RuntimeError):
            task = asyncio.get_running_loop().create_task(self.sync_jobs())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _served_channels(self) -> list[tuple[Channel, Workspace]]:
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(Channel, Workspace)
                .join(Workspace, col(Workspace.id) == Channel.workspace_id)
                .where(
                    col(Channel.enabled).is_(True),
                    col(Workspace.enabled).is_(True),
                    col(Workspace.platform).in_(sorted(self.platforms)),
                )
                .order_by(col(Channel.id))
            )
            return [(channel, workspace) for channel, workspace in rows.all()]

    async def sync_jobs(self) -> None:
        """Make the jobs match the scheduled channels in the database (changed ones only)."""
        async with self._sync_lock:
            channels = await self._served_channels()
            wanted = {channel.id: channel for channel, _ in channels if channel.id is not None}
            for channel_id in list(self._versions):
                if channel_id not in wanted:
                    job = self.scheduler.get_job(f"{OPEN_JOB_PREFIX}{channel_id}")
                    if job is not None:
                        job.remove()
                    del self._versions[channel_id]
            for channel_id, channel in wanted.items():
                job_id = f"{OPEN_JOB_PREFIX}{channel_id}"
                existing = self.scheduler.get_job(job_id)
                if self._versions.get(channel_id) == channel.updated_at and existing is not None:
                    continue
                if existing is not None:  # a scheduler not started yet keeps duplicates pending
                    existing.remove()
                self.scheduler.add_job(
                    self.open_channel,
                    trigger=open_trigger(schedule_of(channel)),
                    args=[channel_id],
                    id=job_id,
                    name=f"open the question in {channel.name or channel.external_id}",
                    replace_existing=True,
                    coalesce=True,
                    misfire_grace_time=3600,
                    max_instances=1,
                )
                self._versions[channel_id] = channel.updated_at

    def next_open_time(self, channel_id: int) -> datetime | None:
        job = self.scheduler.get_job(f"{OPEN_JOB_PREFIX}{channel_id}")
        if job is None:
            return None
        fire: datetime | None = job.trigger.get_next_fire_time(None, self._clock.now())
        return fire

    async def open_channel(self, channel_id: int) -> OpenedPost | None:
        try:
            opened = await self._daily.open_due(channel_id)
        except NoEligibleQuestion as exc:
            log.warning("channel %s: %s", channel_id, exc)
            return None
        if opened is not None:
            log.info(
                "opened %s in channel %s for %s",
                opened.question.bank_id,
                channel_id,
                opened.post.local_date,
            )
        return opened

    async def catch_up(self) -> list[OpenedPost]:
        """Open every due post that does not exist yet (after a downtime, a missed fire)."""
        now = self._clock.now()
        due: dict[int, object] = {}
        for channel, _ in await self._served_channels():
            slot = schedule_of(channel).due_slot(now)
            if slot is not None and channel.id is not None:
                due[channel.id] = slot[0]
        if not due:
            return []
        async with self._sessions() as session:
            existing = set(
                (
                    await session.execute(
                        sa.select(col(DailyPost.channel_id), col(DailyPost.local_date)).where(
                            col(DailyPost.channel_id).in_(sorted(due))
                        )
                    )
                ).all()
            )
        opened = []
        for channel_id, day in due.items():
            if (channel_id, day) in existing:
                continue
            post = await self.open_channel(channel_id)
            if post is not None:
                opened.append(post)
        return opened

    async def sweep(self) -> list[Reveal]:
        """The periodic job: catch up on missed posts, close what is due, engagement jobs."""
        try:
            await self.catch_up()
        except Exception:
            log.exception("catching up on due posts failed")
        reveals = await self._daily.close_due(platforms={p.value for p in self.platforms})
        if self._engagement is not None:
            try:
                await self._engagement.run(self.platforms)
            except Exception:
                log.exception("nudges or monthly champions failed; retrying at the next sweep")
        if self._interviews is not None:
            try:
                await self._interviews.expire_idle()
            except Exception:
                log.exception("expiring idle mock interviews failed; retrying at the next sweep")
        return reveals
