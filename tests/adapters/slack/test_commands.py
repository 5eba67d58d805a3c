"""Every ``/interview`` subcommand through a signed slash command: the acknowledgement is
immediate and empty, the reply arrives on the response URL (ephemeral unless a card is public),
forms open as modals, and unknown words get a short usage message."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.storage.models import Channel, Member, QueuedQuestion
from tests.fakes.slack_api import Failure, all_text

_hooks = itertools.count(1)


async def run(world, text: str, user: str = "UADMIN") -> list[dict[str, Any]]:
    """Send ``/interview <text>``; return what came back on the response URL."""
    hook = f"cmd-{next(_hooks)}"
    response = await world.slack.command(text, user=user, hook=hook)
    assert response.status == 200 and response.text == ""
    assert response.seconds < 3
    await world.settle()
    return world.fake.hook(hook)


def text_of(replies: list[dict[str, Any]]) -> str:
    return "\n".join(all_text(reply["blocks"]) for reply in replies)


@pytest.fixture
async def scheduled(world):
    await world.schedule()
    await world.app.scheduler.sweep()
    await world.settle()
    return world


async def test_help_and_unknown_commands(world):
    [reply] = await run(world, "help", user="U1")
    assert reply["response_type"] == "ephemeral"
    for name in ("today", "practice", "leaderboard", "streaks", "stats", "config", "pause",
                 "resume", "skip", "queue", "nudges", "help"):  # fmt: skip
        assert f"/interview {name}" in text_of([reply])
    [empty] = await run(world, "", user="U1")  # no subcommand: help
    assert "/interview today" in text_of([empty])
    [unknown] = await run(world, "dance", user="U1")
    assert "Unknown command 'dance'" in text_of([unknown])
    assert unknown["response_type"] == "ephemeral"


async def test_today_shows_the_open_question_with_its_answer_button(scheduled):
    [reply] = await run(scheduled, "today", user="U1")
    assert reply["response_type"] == "ephemeral"
    buttons = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["action_id"].startswith("answer-daily")


async def test_today_in_a_channel_without_schedule_offers_practice(world):
    [reply] = await run(world, "today", user="U1")
    text = text_of([reply])
    assert "Practice question" in text and "/interview config" in text
    buttons = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["action_id"].startswith("answer-practice")


async def test_practice_with_topic_and_level_and_a_bad_argument(world):
    [reply] = await run(world, "practice activations beginner", user="U1")
    assert "Practice question" in text_of([reply]) and "activations" in text_of([reply])
    [bad] = await run(world, "practice astrology", user="U1")
    assert "Unknown topic, track or level 'astrology'" in text_of([bad])
    assert "Usage: /interview practice" in text_of([bad])


async def test_leaderboards_streaks_and_stats(scheduled):
    replies = await run(scheduled, "leaderboard month", user="U1")
    assert "Leaderboard — This month · workspace" in text_of(replies)
    [bad] = await run(scheduled, "leaderboard decade", user="U1")
    assert "Unknown period 'decade'" in text_of([bad])
    [streaks] = await run(scheduled, "streaks", user="U1")
    assert "Longest current streaks" in text_of([streaks])
    [mine] = await run(scheduled, "stats", user="U1")
    assert "Stats for Alice" in text_of([mine])  # the name comes from users.info
    # the progress chart cannot be ephemeral: it goes to Alice's direct message with the bot
    assert "Sent to your direct messages with the bot: progress.png" in text_of([mine])
    [(title, png)] = await scheduled.fake.wait_until(lambda: scheduled.fake.uploaded("DU1"))
    assert png.startswith(b"\x89PNG") and title == "Score over time and strength per topic"
    await run(scheduled, "help", user="U2")  # Bob is seen once
    [other] = await run(scheduled, "stats <@U2|bob>", user="U1")
    assert "Stats for Bob" in text_of([other])
    # a member the bot has never seen: said so, and no member row is made for the id typed
    async with scheduled.app.sessions() as session:
        members = (await session.execute(sa.select(sa.func.count()).select_from(Member))).scalar()
    [unseen] = await run(scheduled, "stats <@W0GRID7|grace>", user="U1")
    assert "has not played here yet" in text_of([unseen])
    async with scheduled.app.sessions() as session:
        after = (await session.execute(sa.select(sa.func.count()).select_from(Member))).scalar()
    assert after == members


async def test_config_opens_the_settings_modal_for_an_admin(world):
    assert await run(world, "config") == []
    [opened] = await world.fake.wait_for("views.open")
    view = opened.view
    assert view["callback_id"] == "interview-config"
    blocks = {block.get("block_id") for block in view["blocks"]}
    assert {"enabled", "post_time", "timezone", "days", "cadence", "answer_window", "track",
            "topics"} <= blocks  # fmt: skip


async def test_config_with_values_saves_them(world):
    [reply] = await run(world, "config time=10:30 tz=Europe/Paris days=mon-fri on")
    assert "Channel settings saved" in text_of([reply]) and "10:30 Europe/Paris" in text_of([reply])
    [bad] = await run(world, "config colour=blue")
    assert "Unknown setting 'colour'" in text_of([bad])


async def test_a_time_zone_typed_in_lower_case_is_saved_in_its_own_capitals(world):
    [reply] = await run(world, "config tz=europe/paris time=10:30 on")
    assert "10:30 Europe/Paris" in text_of([reply])


@pytest.mark.parametrize("zone", ["Europe", "America", "x" * 300])
async def test_a_time_zone_that_is_a_folder_or_too_long_is_named_as_unknown(world, zone):
    """zoneinfo raises IsADirectoryError for "Europe" and OSError (file name too long) for a
    long name: the member got "Something went wrong on our side" instead of the field error."""
    [reply] = await run(world, f"config tz={zone} on")
    text = text_of([reply])
    assert "Nothing was changed" in text and f"unknown time zone '{zone[:20]}" in text
    async with world.app.sessions() as session:
        channel = (await session.execute(sa.select(Channel))).scalars().one_or_none()
    assert channel is None or not channel.enabled


async def test_channel_settings_are_refused_in_a_direct_message(world):
    """A schedule set in a direct message between members was saved, and every post there
    failed (the bot is not in that conversation) with nothing said to anyone."""
    for text in ("config on", "config", "pause", "resume", "skip 2030-01-01", "queue list"):
        hook = f"dm-{next(_hooks)}"
        body = world.slack.command_body(text, user="UADMIN", channel="D0ADA", hook=hook)
        body = body.replace("channel_name=interview-prep", "channel_name=directmessage")
        response = await world.slack.post(body)
        assert response.status == 200 and response.text == ""
        await world.settle()
        [reply] = world.fake.hook(hook)
        assert "not in a direct message" in text_of([reply]), text
        assert reply["response_type"] == "ephemeral"
    assert world.fake.of("views.open") == []
    async with world.app.sessions() as session:
        assert not [c for c in (await session.execute(sa.select(Channel))).scalars() if c.enabled]
    # other commands still work there
    hook = f"dm-{next(_hooks)}"
    body = world.slack.command_body("leaderboard", user="U1", channel="D0ADA", hook=hook)
    await world.slack.post(
        body.replace("channel_name=interview-prep", "channel_name=directmessage")
    )
    await world.settle()
    assert "Leaderboard" in text_of(world.fake.hook(hook))


async def test_admin_only_commands_are_refused_to_members(world):
    for text in ("config", "config time=10:00", "pause", "resume", "skip 2026-03-10", "queue",
                 "queue custom"):  # fmt: skip
        [reply] = await run(world, text, user="U1")
        assert "Only workspace admins" in text_of([reply]), text
    assert world.fake.of("views.open") == []
    async with world.app.sessions() as session:
        channel = (await session.execute(sa.select(Channel))).scalars().one()
    assert not channel.enabled  # nothing changed


async def test_a_member_on_the_admin_list_may_configure(world):
    actor = await world.app.directory.resolve(world.adapter.platform, "T1", "U1")
    await world.app.directory.set_admins(actor.workspace_id, ["U1"])
    [reply] = await run(world, "config time=07:45 on", user="U1")
    assert "Channel settings saved" in text_of([reply])


async def test_control_characters_never_reach_a_stored_reason(scheduled):
    """A NUL in a reason (pause, report, dispute...) cannot be stored in PostgreSQL: the admin
    got "Something went wrong" however often they tried. Control characters are removed."""
    [paused] = await run(scheduled, "pause until=2026-03-20 team\x00 off\x1bsite")
    assert "Paused" in text_of([paused]) and "team offsite" in text_of([paused])
    async with scheduled.app.sessions() as session:
        channel = (await session.execute(sa.select(Channel))).scalars().one()
    assert channel.pause_reason == "team offsite"


async def test_pause_resume_skip(scheduled):
    [paused] = await run(scheduled, "pause until=2026-03-20 team offsite")
    assert "Paused" in text_of([paused]) and "team offsite" in text_of([paused])
    [resumed] = await run(scheduled, "resume")
    assert "Resumed" in text_of([resumed])
    [skipped] = await run(scheduled, "skip 2026-03-10 2026-03-11")
    assert "2026-03-10, 2026-03-11" in text_of([skipped])
    [removed] = await run(scheduled, "skip remove 2026-03-10")
    assert "Skip dates updated" in text_of([removed])
    [bad] = await run(scheduled, "skip")
    assert "Give at least one date" in text_of([bad])


async def test_queue_list_add_custom_form_and_remove(scheduled):
    [listed] = await run(scheduled, "queue")
    assert "Queue" in text_of([listed])
    [queued] = await run(scheduled, "queue basics-softmax 2026-03-05")
    assert "basics-softmax" in text_of([queued])
    [unknown] = await run(scheduled, "queue no-such-question")
    assert "no active question with id 'no-such-question'" in text_of([unknown])
    assert await run(scheduled, "queue custom 2026-03-06") == []
    [opened] = await scheduled.fake.wait_for("views.open")
    assert opened.view["callback_id"] == "interview-queue-question"
    async with scheduled.app.sessions() as session:
        entry = (await session.execute(sa.select(QueuedQuestion))).scalars().one()
    [removed] = await run(scheduled, f"queue remove {entry.id}")
    assert "Removed from the queue" in text_of([removed])


async def test_nudges_on_and_off(world):
    [on] = await run(world, "nudges on", user="U1")
    assert "Nudges on" in text_of([on])
    async with world.app.sessions() as session:
        member = (
            await session.execute(sa.select(Member).where(Member.external_id == "U1"))
        ).scalar_one()
    assert member.nudges
    [off] = await run(world, "nudges off", user="U1")
    assert "Nudges off" in text_of([off])
    [bad] = await run(world, "nudges sometimes", user="U1")
    assert "Say nudges on or nudges off" in text_of([bad])


async def test_a_failure_after_the_acknowledgement_is_told_not_swallowed(world, monkeypatch):
    async def broken(actor, text):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(world.app.commands, "run_text", broken)
    [reply] = await run(world, "leaderboard", user="U1")
    assert reply["response_type"] == "ephemeral"
    assert "Something went wrong on our side" in text_of([reply])


async def test_a_question_slack_refused_is_explained_to_members_and_admins(world):
    """The bot was never invited to the channel: Slack answers the post with not_in_channel. The
    post is not retried; the admin who saved the settings gets a direct message (once, not every
    day of the same refusal), and `/interview today` and the settings say why and what to do."""
    await world.schedule()
    world.fake.fail("chat.postMessage", Failure(error="not_in_channel"))
    await world.app.scheduler.sweep()
    await world.settle()
    [opened] = await world.fake.wait_for("conversations.open")
    assert opened.data["users"] == "UADMIN"
    refused, told = await world.fake.wait_for("chat.postMessage", 2)
    assert refused.data["channel"] == "C1"
    assert told.data["channel"] == "DUADMIN"
    assert "could not post the question" in all_text(told.blocks)
    assert "not a member of this channel: invite it" in all_text(told.blocks)
    # once the question's window has closed, today explains the missing post
    world.app.clock.advance(timedelta(hours=23, minutes=1))
    await world.app.scheduler.sweep()
    await world.settle()
    [today] = await run(world, "today", user="U1")
    assert "could not be posted here: the bot is not a member of this channel" in text_of([today])
    [saved] = await run(world, "config days=mon-fri")
    assert "The last question could not be posted" in text_of([saved])
    assert "invite it" in text_of([saved])
    await run(world, "config")
    [form] = await world.fake.wait_for("views.open")
    assert "could not be posted: the bot is not a member" in all_text(form.view["blocks"])
    # the next day's post is refused too: nobody is told twice about the same refusal
    world.fake.fail("chat.postMessage", Failure(error="not_in_channel"))
    world.app.clock.advance(timedelta(hours=1))
    await world.app.scheduler.sweep()
    await world.settle()
    await world.fake.wait_until(
        lambda: [c for c in world.fake.of("chat.postMessage") if c.failed][1:]
    )
    await world.settle()  # delivers until nothing is due: a second notice would be sent now
    notices = [c for c in world.fake.of("chat.postMessage") if c.data["channel"] == "DUADMIN"]
    assert len(notices) == 1 and len(world.fake.of("conversations.open")) == 1
