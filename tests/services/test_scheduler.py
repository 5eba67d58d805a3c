"""The scheduler: cron jobs built from the database (weekdays, weekly cadence), DST days,
rebuilds on changes made in this or another process, catch-up, exactly-once, closing sweeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.services.channels import ConfigChange, SettingsRejected, schedule_of
from bot.services.scheduler import OPEN_JOB_PREFIX, DailyScheduler, open_trigger
from bot.storage.models import Channel, DailyPost, Platform


@pytest.fixture
def scheduler(world, sessions, clock) -> DailyScheduler:
    return DailyScheduler(sessions, world.daily, clock, platforms={Platform.SLACK})


async def _channel(world) -> Channel:
    async with world.sessions() as session:
        return await session.get(Channel, world.channel_id)


async def _configure(world, **change) -> Channel:
    await world.channels.update(world.admin, world.channel_id, ConfigChange(**change))
    return await _channel(world)


def fire_times(trigger, start: datetime, count: int) -> list[datetime]:
    """The fire times as APScheduler computes them: each from the previous fire time."""
    times, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        times.append(fire.astimezone(UTC))
        previous = now = fire
    return times


async def _posted_dates(sessions) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(sa.select(DailyPost.local_date).order_by(DailyPost.local_date))
        return [day.isoformat() for day in rows.scalars()]


async def test_berlin_nine_am_keeps_local_time_across_spring_forward(world):
    channel = await _configure(world, post_time="09:00", timezone="Europe/Berlin")
    times = fire_times(
        open_trigger(schedule_of(channel)), datetime(2026, 3, 27, 12, 0, tzinfo=UTC), 3
    )
    assert times == [
        datetime(2026, 3, 28, 8, 0, tzinfo=UTC),  # CET, UTC+1
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),  # CEST from this day, UTC+2
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    ]


async def test_weekdays_only_and_sunday_to_thursday(world):
    weekdays = await _configure(world, days="mon-fri")
    times = fire_times(
        open_trigger(schedule_of(weekdays)), datetime(2026, 3, 5, 12, 0, tzinfo=UTC), 3
    )
    assert [time.strftime("%a") for time in times] == ["Fri", "Mon", "Tue"]
    sun_thu = await _configure(world, days="sun-thu")
    times = fire_times(
        open_trigger(schedule_of(sun_thu)), datetime(2026, 3, 5, 12, 0, tzinfo=UTC), 3
    )
    assert [time.strftime("%a") for time in times] == ["Sun", "Mon", "Tue"]


async def test_weekly_cadence_posts_on_its_day_and_stays_open_a_week(world, clock, sessions):
    channel = await _configure(world, days="wed", cadence="weekly", answer_window="6d")
    times = fire_times(open_trigger(schedule_of(channel)), clock.now(), 2)
    assert [time.strftime("%a %d") for time in times] == ["Wed 04", "Wed 11"]
    clock.set(times[0])
    opened = await world.open()
    assert opened.post.closes_at - opened.post.opened_at == timedelta(days=6)


async def test_post_time_inside_the_dst_gap_fires_once_that_day(world):
    channel = await _configure(world, post_time="02:30", timezone="Europe/Berlin")
    spring = fire_times(
        open_trigger(schedule_of(channel)), datetime(2026, 3, 28, 12, 0, tzinfo=UTC), 2
    )
    # 02:30 does not exist on 29 March in Berlin; the job runs at 03:30 CEST (01:30 UTC) instead
    assert spring == [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]


async def test_repeated_hour_fires_twice_but_the_claim_posts_once(
    world, scheduler, clock, sessions
):
    channel = await _configure(world, post_time="02:30", timezone="Europe/Berlin")
    autumn = fire_times(
        open_trigger(schedule_of(channel)), datetime(2026, 10, 24, 12, 0, tzinfo=UTC), 3
    )
    # APScheduler 3.x fires at 02:30 CEST and again at 02:30 CET on 25 October
    assert autumn[:2] == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ]
    for fire in autumn:
        clock.set(fire)
        await scheduler.open_channel(world.channel_id)
    assert await _posted_dates(sessions) == ["2026-10-25", "2026-10-26"]


async def test_a_dst_change_inside_a_pause_posts_nothing_then_resumes_at_local_time(
    world, scheduler, clock, sessions
):
    await world.channels.pause(world.admin, world.channel_id, until="2026-03-31")
    clock.set(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    await scheduler.sync_jobs()
    for _ in range(6):  # 28 March to 2 April, across the 29 March change
        fire = scheduler.next_open_time(world.channel_id)
        clock.set(fire)
        await scheduler.open_channel(world.channel_id)
        clock.advance(timedelta(seconds=1))
    assert await _posted_dates(sessions) == ["2026-03-31", "2026-04-01", "2026-04-02"]
    async with sessions() as session:
        opened = (await session.execute(sa.select(DailyPost.opened_at))).scalars().all()
    # 09:00 CEST = 07:00 UTC after the change
    assert {instant.astimezone(UTC).hour for instant in opened} == {7}


async def test_schedule_change_rebuilds_the_job_and_disabling_removes_it(world, scheduler, clock):
    await scheduler.sync_jobs()
    job_id = f"{OPEN_JOB_PREFIX}{world.channel_id}"
    before = scheduler.next_open_time(world.channel_id)
    clock.advance(timedelta(seconds=1))
    await _configure(world, post_time="17:45", timezone="America/New_York")
    await scheduler.sync_jobs()  # what the refresh job does, in this or any process
    after = scheduler.next_open_time(world.channel_id)
    assert after != before
    local = after.astimezone(schedule_of(await _channel(world)).zone)
    assert (local.hour, local.minute) == (17, 45)
    clock.advance(timedelta(seconds=1))
    await _configure(world, enabled=False)
    await scheduler.sync_jobs()
    assert scheduler.scheduler.get_job(job_id) is None


async def test_each_process_schedules_only_its_platforms_channels(world, sessions, clock):
    discord_only = DailyScheduler(sessions, world.daily, clock, platforms={Platform.DISCORD})
    await discord_only.sync_jobs()
    assert discord_only.next_open_time(world.channel_id) is None
    assert await discord_only.catch_up() == []


async def test_invalid_schedules_are_refused_with_the_field_named_and_change_nothing(world):
    before = await world.channels.view(world.channel_id)
    cases = [
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone 'Mars/Olympus'"),
        ({"post_time": "25:00"}, "post_time", "HH:MM"),
        ({"days": "funday"}, "days", "not a day of the week"),
        ({"days": "mon-fri", "answer_window": "2d"}, "answer_window", "longer than the gap"),
        ({"cadence": "weekly", "days": "mon,thu"}, "days", "exactly one day"),
        ({"cadence": "hourly"}, "cadence", "not a cadence"),
        ({"topics": ["no-such-topic"]}, "topics", "unknown topic"),
    ]
    for change, field, message in cases:
        with pytest.raises(SettingsRejected) as caught:
            await world.channels.update(world.admin, world.channel_id, ConfigChange(**change))
        assert message in caught.value.errors[field], (change, caught.value.errors)
    assert await world.channels.view(world.channel_id) == before


async def test_a_pause_end_date_in_the_past_is_refused(world):
    with pytest.raises(SettingsRejected, match="not in the future"):
        await world.channels.pause(world.admin, world.channel_id, until="2026-03-01")


async def test_catch_up_after_downtime_opens_once_and_a_restart_does_not_repost(
    world, scheduler, clock, sessions
):
    # the bot was down at 09:00 Berlin; it comes back at 11:00 Berlin (10:00 UTC in March)
    clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    await scheduler.sync_jobs()
    assert len(await scheduler.catch_up()) == 1
    restarted = DailyScheduler(sessions, world.daily, clock, platforms={Platform.SLACK})
    assert await restarted.catch_up() == []
    assert await _posted_dates(sessions) == ["2026-03-02"]


async def test_a_downtime_longer_than_the_window_does_not_post_a_stale_question(
    world, scheduler, clock, sessions
):
    clock.set(datetime(2026, 3, 3, 7, 30, tzinfo=UTC))  # Tuesday 08:30 Berlin: Monday's closed
    assert await scheduler.catch_up() == []
    assert await _posted_dates(sessions) == []


async def test_sweep_closes_due_posts(world, scheduler, clock):
    opened = await scheduler.open_channel(world.channel_id)
    clock.set(opened.post.closes_at)
    [reveal] = await scheduler.sweep()
    assert reveal.post.id == opened.post.id
