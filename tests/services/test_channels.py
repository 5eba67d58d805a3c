"""Channel settings: validation as a whole (field errors), admins only, other workspaces refused,
holidays, and the queue of bank and one-off custom questions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services.channels import ConfigChange, NotAllowed, SettingsRejected
from bot.storage.models import Platform

CUSTOM = """\
id: team-incident-review
topic: team-practice
difficulty: intermediate
prompt: Walk us through how you would review a model incident that hurt users last week.
reference: >-
  Start by stopping the harm: roll back or gate the model. Then reconstruct the timeline from
  logs and dashboards, find the first bad signal and why no alert fired, and separate the
  trigger from the contributing causes. Finish with owned, dated actions and a blameless write-up.
key_points:
  - text: Stop the harm first by rolling back or gating the model
    weight: 4
  - text: Reconstruct the timeline and find why no alert fired
    weight: 3
  - text: End with owned, dated actions in a blameless write-up
    weight: 3
"""


async def test_members_who_are_not_admins_change_nothing(world):
    with pytest.raises(NotAllowed):
        await world.channels.update(world.alice, world.channel_id, ConfigChange(enabled=False))
    with pytest.raises(NotAllowed):
        await world.channels.pause(world.alice, world.channel_id)
    assert (await world.channels.view(world.channel_id)).enabled


async def test_an_admin_of_another_workspace_cannot_touch_this_channel(world):
    stranger = await world.directory.resolve(
        Platform.SLACK, "T2", "UX", channel_external_id="CX", is_admin=True
    )
    with pytest.raises(SettingsRejected, match="not in your workspace"):
        await world.channels.update(stranger, world.channel_id, ConfigChange(enabled=False))


async def test_a_channel_the_platform_deleted_stops_posting(world):
    assert not await world.channels.channel_deleted(Platform.SLACK, "T2", "C1")  # not that one
    assert (await world.channels.view(world.channel_id)).enabled
    assert await world.channels.channel_deleted(Platform.SLACK, "T1", "C1")
    assert not (await world.channels.view(world.channel_id)).enabled
    assert await world.daily.open_due(world.channel_id) is None


async def test_every_bad_field_is_reported_at_once(world):
    with pytest.raises(SettingsRejected) as caught:
        await world.channels.update(
            world.admin,
            world.channel_id,
            ConfigChange(post_time="9am", timezone="Nowhere/City", days="", track="cooking"),
        )
    assert set(caught.value.errors) == {"post_time", "timezone", "days", "track"}


async def test_skip_dates_in_the_past_are_refused_and_past_ones_drop_off(world, clock):
    with pytest.raises(SettingsRejected, match="in the past"):
        await world.channels.skip_dates(world.admin, world.channel_id, add=["2026-03-01"])
    with pytest.raises(SettingsRejected, match="YYYY-MM-DD"):
        await world.channels.skip_dates(world.admin, world.channel_id, add=["next friday"])
    await world.channels.skip_dates(world.admin, world.channel_id, add=["2026-03-03"])
    clock.advance(timedelta(days=3))
    view = await world.channels.skip_dates(world.admin, world.channel_id, add=["2026-03-20"])
    assert [day.isoformat() for day in sorted(view.schedule.skip_dates)] == ["2026-03-20"]


async def test_removing_a_date_that_is_not_a_skip_date_says_so_and_changes_nothing(world):
    await world.channels.skip_dates(world.admin, world.channel_id, add=["2026-03-20"])
    with pytest.raises(SettingsRejected, match="2026-03-21 is not one of the skip dates"):
        await world.channels.skip_dates(
            world.admin, world.channel_id, remove=["2026-03-20", "2026-03-21"]
        )
    view = await world.channels.view(world.channel_id)
    assert [day.isoformat() for day in view.schedule.skip_dates] == ["2026-03-20"]
    view = await world.channels.skip_dates(world.admin, world.channel_id, remove=["2026-03-20"])
    assert not view.schedule.skip_dates


async def test_a_custom_question_is_queued_for_a_date_and_posted_that_day(world, clock):
    view = await world.channels.queue_custom_question(
        world.admin, world.channel_id, CUSTOM, for_date="2026-03-03"
    )
    [entry] = view.queue
    assert entry.custom and entry.bank_id == "team-incident-review"
    assert (await world.open()).question.bank_id != "team-incident-review"  # Monday: automatic
    clock.advance(timedelta(days=1))
    assert (await world.open()).question.bank_id == "team-incident-review"  # its date


async def test_a_custom_question_with_a_schema_error_is_refused_naming_the_field(world):
    broken = CUSTOM.replace("difficulty: intermediate", "difficulty: hard")
    with pytest.raises(SettingsRejected) as caught:
        await world.channels.queue_custom_question(world.admin, world.channel_id, broken)
    message = caught.value.errors["question"]
    assert "difficulty" in message and "line 3" in message
    uneven = CUSTOM.replace("weight: 4", "weight: 5")
    with pytest.raises(SettingsRejected, match="add up to 11"):
        await world.channels.queue_custom_question(world.admin, world.channel_id, uneven)
    assert (await world.channels.view(world.channel_id)).queue == ()


async def test_queue_order_dated_entries_first_then_in_the_order_queued(world):
    await world.channels.queue_bank_question(world.admin, world.channel_id, "cnn-b")
    await world.channels.queue_bank_question(
        world.admin, world.channel_id, "rnn-c", for_date="2026-03-05"
    )
    view = await world.channels.queue_bank_question(world.admin, world.channel_id, "cnn-c")
    assert [entry.bank_id for entry in view.queue] == ["rnn-c", "cnn-b", "cnn-c"]
    with pytest.raises(SettingsRejected, match="does not post on"):
        await world.channels.update(world.admin, world.channel_id, ConfigChange(days="mon-fri"))
        await world.channels.queue_bank_question(
            world.admin, world.channel_id, "rnn-a", for_date="2026-03-07"
        )
    removed = await world.channels.unqueue(world.admin, world.channel_id, view.queue[1].queue_id)
    assert [entry.bank_id for entry in removed.queue] == ["rnn-c", "cnn-c"]


async def test_after_a_pause_with_an_end_date_ran_out_the_settings_can_still_change(world, clock):
    """Paused until 5 March; on 9 March the channel posts again, and an admin who moves the post
    time is not told that the pause end date is not in the future."""
    await world.channels.pause(world.admin, world.channel_id, until="2026-03-05", reason="offsite")
    clock.advance(timedelta(days=8))
    view = await world.channels.update(
        world.admin, world.channel_id, ConfigChange(post_time="10:30")
    )
    assert view.schedule.post_time.isoformat() == "10:30:00"
    assert view.schedule.posts_on(world.clock.now().date())
    assert "paused" not in view.summary()
    assert "paused" not in (await world.channels.view(world.channel_id)).summary()
