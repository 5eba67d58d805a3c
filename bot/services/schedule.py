"""Scheduling: one APScheduler cron job per enabled channel (local time + IANA zone) that opens the
day's question, and a close sweep. Jobs are rebuilt from the database when a schedule changes.

The scheduler only decides *when* to try; *whether* to post comes from the database claim in
``DailyService.open_today``, so a restart, a misfire or a second process never posts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock
from bot.services.daily import DailyService, NoEligibleQuestion, OpenedPost, Reveal, local_date_of
from bot.services.directory import Directory
from bot.storage.models import Channel

log = logging.getLogger(__name__)

OPEN_JOB_PREFIX = "open-channel-"
SWEEP_JOB = "sweep-posts"
SWEEP_SECONDS = 60


def open_trigger(channel: Channel) -> CronTrigger:
    hour, minute = (int(part) for part in channel.post_time.split(":"))
    return CronTrigger(hour=hour, minute=minute, timezone=ZoneInfo(channel.timezone))


def is_past_post_time(channel: Channel, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(channel.timezone))
    hour, minute = (int(part) for part in channel.post_time.split(":"))
    return local.time() >= time(hour, minute)


class DailyScheduler:
    """Owns the APScheduler instance and the jobs that drive the daily question."""

    def __init__(
        self,
        directory: Directory,
        daily: DailyService,
        clock: Clock,
        *,
        publish_question: Callable[[OpenedPost], Awaitable[str | None]],
        publish_reveal: Callable[[Reveal], Awaitable[None]],
        scheduler: AsyncIOScheduler | None = None,
    ):
        self._directory = directory
        self._daily = daily
        self._clock = clock
        self._publish_question = publish_question
        self._publish_reveal = publish_reveal
        self.scheduler = scheduler or AsyncIOScheduler(timezone="UTC")
        directory.on_schedule_change(self._on_schedule_change)

    async def start(self) -> None:
        """Build the jobs, catch up on what a downtime missed, then start ticking."""
        await self.sync_jobs()
        await self.catch_up()
        if not self.scheduler.running:
            self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def sync_jobs(self) -> None:
        """Make the jobs match the enabled channels in the database."""
        channels = await self._directory.enabled_channels()
        wanted = {f"{OPEN_JOB_PREFIX}{channel.id}": channel for channel in channels}
        for job in self.scheduler.get_jobs():
            if job.id.startswith(OPEN_JOB_PREFIX) and job.id not in wanted:
                job.remove()
        for job_id, channel in wanted.items():
            if self.scheduler.get_job(job_id) is not None:  # pending jobs are not replaced in place
                self.scheduler.remove_job(job_id)
            self.scheduler.add_job(
                self.open_channel,
                trigger=open_trigger(channel),
                args=[channel.id],
                id=job_id,
                name=f"open daily question in {channel.name or channel.external_id}",
                replace_existing=True,
                coalesce=True,
                misfire_grace_time=3600,
                max_instances=1,
            )
        if self.scheduler.get_job(SWEEP_JOB) is not None:
            self.scheduler.remove_job(SWEEP_JOB)
        self.scheduler.add_job(
            self.sweep,
            trigger=IntervalTrigger(seconds=SWEEP_SECONDS),
            id=SWEEP_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )

    async def _on_schedule_change(self, channel_id: int) -> None:
        await self.sync_jobs()

    def next_open_time(self, channel_id: int) -> datetime | None:
        job = self.scheduler.get_job(f"{OPEN_JOB_PREFIX}{channel_id}")
        if job is None:
            return None
        return job.trigger.get_next_fire_time(None, self._clock.now())

    async def catch_up(self) -> None:
        """After a downtime: open today's posts whose time has passed (the claim makes this safe),
        resend claimed-but-undelivered posts and close what is due."""
        now = self._clock.now()
        for channel in await self._directory.enabled_channels():
            if is_past_post_time(channel, now):
                await self.open_channel(channel.id)
        await self.sweep()

    async def open_channel(self, channel_id: int) -> OpenedPost | None:
        try:
            opened = await self._daily.open_today(channel_id)
        except NoEligibleQuestion as exc:
            log.warning("channel %s: %s", channel_id, exc)
            return None
        if opened is None:
            return None
        log.info(
            "opened %s in channel %s for %s",
            opened.question.bank_id,
            channel_id,
            local_date_of(opened.post.opened_at, opened.channel.timezone),
        )
        await self._deliver(opened)
        return opened

    async def _deliver(self, opened: OpenedPost) -> None:
        try:
            message_ref = await self._publish_question(opened)
        except Exception:
            log.exception(
                "could not post the question to channel %s; will retry", opened.channel.id
            )
            return
        await self._daily.mark_delivered(opened.post.id, message_ref)

    async def sweep(self) -> list[Reveal]:
        """The periodic job: retry posts whose delivery failed, then close what is due."""
        for opened in await self._daily.undelivered_open_posts():
            await self._deliver(opened)
        return await self.close_due()

    async def close_due(self) -> list[Reveal]:
        reveals = await self._daily.close_due()
        for reveal in reveals:
            try:
                await self._publish_reveal(reveal)
            except Exception:
                log.exception("could not post the reveal for post %s", reveal.post.id)
        return reveals
