"""The scheduler: cron jobs built from the database, DST days, rebuilds, catch-up, exactly-once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.services.directory import ScheduleChange, ScheduleError
from bot.services.schedule import OPEN_JOB_PREFIX, DailyScheduler, open_trigger


class Recorder:
    def __init__(self) -> None:
        self.questions: list = []
        self.reveals: list = []
        self.fail_next = False

    async def question(self, opened) -> str:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("chat platform down")
        self.questions.append(opened)
        return f"msg-{opened.post.id}"

    async def reveal(self, reveal) -> None:
        self.reveals.append(reveal)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def scheduler(world, clock, recorder) -> DailyScheduler:
    return DailyScheduler(
        world.directory,
        world.daily,
        clock,
        publish_question=recorder.question,
        publish_reveal=recorder.reveal,
    )


def fire_times(trigger, start: datetime, count: int) -> list[datetime]:
    """The fire times as APScheduler computes them: each from the previous fire time."""
    times, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        times.append(fire.astimezone(UTC))
        previous = now = fire
    return times


async def test_berlin_nine_am_keeps_local_time_across_spring_forward(world):
    channel = await world.directory.update_schedule(
        world.channel.id, ScheduleChange(post_time="09:00", timezone="Europe/Berlin")
    )
    times = fire_times(open_trigger(channel), datetime(2026, 3, 27, 12, 0, tzinfo=UTC), 3)
    assert times == [
        datetime(2026, 3, 28, 8, 0, tzinfo=UTC),  # CET, UTC+1
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),  # CEST from this day, UTC+2
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    ]


async def test_post_time_inside_the_dst_gap_fires_once_that_day(world):
    channel = await world.directory.update_schedule(
        world.channel.id, ScheduleChange(post_time="02:30", timezone="Europe/Berlin")
    )
    spring = fire_times(open_trigger(channel), datetime(2026, 3, 28, 12, 0, tzinfo=UTC), 2)
    # 02:30 does not exist on 29 March in Berlin; the job runs at 03:30 CEST (01:30 UTC) instead
    assert spring == [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]


async def test_repeated_hour_fires_twice_but_the_claim_posts_once(
    world, scheduler, clock, recorder
):
    channel = await world.directory.update_schedule(
        world.channel.id, ScheduleChange(post_time="02:30", timezone="Europe/Berlin")
    )
    autumn = fire_times(open_trigger(channel), datetime(2026, 10, 24, 12, 0, tzinfo=UTC), 3)
    # APScheduler 3.x fires at 02:30 CEST and again at 02:30 CET on 25 October
    assert autumn[:2] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]
    for fire in autumn:
        clock.set(fire)
        await scheduler.open_channel(world.channel.id)
    dates = [opened.post.local_date.isoformat() for opened in recorder.questions]
    assert dates == ["2026-10-25", "2026-10-26"]


async def test_one_post_per_local_day_when_jobs_fire_across_the_dst_change(
    world, scheduler, clock, recorder
):
    await world.directory.update_schedule(
        world.channel.id, ScheduleChange(post_time="09:00", timezone="Europe/Berlin")
    )
    await scheduler.sync_jobs()
    clock.set(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    for _ in range(3):
        fire = scheduler.next_open_time(world.channel.id)
        clock.set(fire)
        await scheduler.open_channel(world.channel.id)
        await scheduler.open_channel(world.channel.id)  # a misfire/duplicate trigger
        clock.advance(timedelta(seconds=1))
    dates = [opened.post.local_date.isoformat() for opened in recorder.questions]
    assert dates == ["2026-03-28", "2026-03-29", "2026-03-30"]


async def test_schedule_change_rebuilds_the_job_and_disabling_removes_it(world, scheduler, clock):
    await scheduler.sync_jobs()
    job_id = f"{OPEN_JOB_PREFIX}{world.channel.id}"
    before = scheduler.next_open_time(world.channel.id)
    await world.directory.update_schedule(
        world.channel.id, ScheduleChange(post_time="17:45", timezone="America/New_York")
    )
    after = scheduler.next_open_time(world.channel.id)
    assert after != before
    local = after.astimezone(open_trigger((await world.directory.enabled_channels())[0]).timezone)
    assert (local.hour, local.minute) == (17, 45)
    await world.directory.update_schedule(world.channel.id, ScheduleChange(enabled=False))
    assert scheduler.scheduler.get_job(job_id) is None


async def test_unknown_time_zone_is_refused_and_changes_nothing(world):
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Olympus'"):
        await world.directory.update_schedule(
            world.channel.id, ScheduleChange(post_time="10:00", timezone="Mars/Olympus")
        )
    [channel] = await world.directory.enabled_channels()
    assert (channel.post_time, channel.timezone) == (
        world.channel.post_time,
        world.channel.timezone,
    )


async def test_bad_post_time_is_refused(world):
    with pytest.raises(ScheduleError, match="HH:MM"):
        await world.directory.update_schedule(world.channel.id, ScheduleChange(post_time="25:00"))


async def test_catch_up_after_downtime_opens_once_and_a_restart_does_not_repost(
    world, scheduler, clock, recorder
):
    # the bot was down at 09:00 Berlin; it comes back at 11:00 Berlin (10:00 UTC in March)
    clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    await scheduler.sync_jobs()
    await scheduler.catch_up()
    assert len(recorder.questions) == 1
    restarted = DailyScheduler(
        world.directory,
        world.daily,
        clock,
        publish_question=recorder.question,
        publish_reveal=recorder.reveal,
    )
    await restarted.catch_up()
    assert len(recorder.questions) == 1


async def test_failed_delivery_is_retried_by_the_sweep(world, scheduler, clock, recorder):
    clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    recorder.fail_next = True
    await scheduler.open_channel(world.channel.id)
    assert recorder.questions == []
    await scheduler.sweep()
    assert len(recorder.questions) == 1
    await scheduler.sweep()
    assert len(recorder.questions) == 1


async def test_sweep_closes_due_posts_and_publishes_the_reveal(world, scheduler, clock, recorder):
    clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    opened = await scheduler.open_channel(world.channel.id)
    clock.set(opened.post.closes_at)
    await scheduler.sweep()
    assert [reveal.post.id for reveal in recorder.reveals] == [opened.post.id]
