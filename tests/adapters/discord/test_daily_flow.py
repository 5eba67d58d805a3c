"""The daily question on Discord end to end, through the real client and the loopback fake:
post with a persistent button -> click -> modal -> submit -> defer -> receipt -> grade as an
ephemeral follow-up -> close -> edit + reveal in a thread; and what goes around it (a restart in
the middle, mentions, channels without threads, expired tokens, rate limits, guild join/leave,
two guilds, direct messages)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bot.domain.rubric import Coverage, KeyPointVerdict
from bot.grading.base import Grade, GradingItem
from bot.services.cards import ZERO_WIDTH_SPACE
from bot.services.channels import ConfigChange
from bot.storage.models import Answer, AnswerKind, OutboxMessage, OutboxStatus, Workspace
from tests.adapters.discord.conftest import DiscordWorld, eventually, start_world, stop_world
from tests.fakes.discord_api import (
    ADMIN,
    ALICE,
    BOB,
    CHANNEL_A,
    CHANNEL_B,
    GUILD_A,
    GUILD_B,
    MANAGE_GUILD,
    FakeDiscord,
    custom_ids,
    embeds_text,
    guild_payload,
    user,
)
from tests.fakes.graders import ScriptedGrader

GOOD_ANSWER = (
    "ReLU outputs max(0, x), zero for negative inputs. Its gradient is 1 for positive inputs, "
    "it is cheap to compute, and dying units can get stuck."
)
EVERY_DAY_AT_NINE_UTC = ConfigChange(
    enabled=True, days="daily", post_time="08:00", timezone="UTC", answer_window="8h"
)


async def schedule(world: DiscordWorld, guild: str = GUILD_A, channel: str = CHANNEL_A) -> int:
    admin = await world.actor(guild=guild, channel=channel)
    await world.app.channels.update(admin, admin.channel_id, EVERY_DAY_AT_NINE_UTC)
    return admin.channel_id


async def post_question(
    world: DiscordWorld, guild: str = GUILD_A, channel: str = CHANNEL_A
) -> tuple[Any, dict[str, Any]]:
    """Open the channel's question and deliver it; return the post and the Discord message."""
    channel_id = await schedule(world, guild, channel)
    opened = await world.app.daily.open_due(channel_id)
    assert opened is not None
    await world.settle()
    [message] = world.fake.posted_in(channel)
    return opened, message


async def answer_through_the_modal(
    fake: FakeDiscord, message: dict[str, Any], member: dict[str, Any], text: str, **context: Any
):
    [button] = custom_ids(message)
    click = await fake.click(message, button, member=member, **context)
    modal = await fake.wait_callback(click)
    assert modal["type"] == 9, modal
    channel = {"channel_id": message["channel_id"]} if context.get("guild_id", GUILD_A) else {}
    submit = await fake.submit_modal(
        modal["data"]["custom_id"], {"answer": text}, member=member, **channel, **context
    )
    receipt = await fake.wait_original(submit)
    return modal, submit, receipt


async def test_the_daily_flow_from_the_post_to_the_reveal_in_a_thread(world):
    fake = world.fake
    opened, message = await post_question(world)

    # the post: an embed with topic, level and the closing time as a Discord timestamp
    [call] = fake.sent_to(CHANNEL_A)
    post = call.body
    embed = post["embeds"][0]
    assert embed["title"] == "🧠 Today's interview question"
    assert embed["description"] == opened.question.prompt
    fields = {item["name"]: item["value"] for item in embed["fields"]}
    closes = int(opened.post.closes_at.timestamp())
    assert fields["Topic"] == "activations" and "beginner" in fields["Level"]
    assert fields["Closes"] == f"<t:{closes}:f> · <t:{closes}:R>"
    assert post["allowed_mentions"] == {"parse": []}
    [button] = post["components"][0]["components"]
    assert button["custom_id"] == f"iv:b:answer-daily:{opened.post.id}:{GUILD_A}"
    assert button["label"] == "Answer privately" and button["style"] == 1

    # click -> modal with the question, the note and a 4000-character paragraph input
    modal, submit, receipt = await answer_through_the_modal(fake, message, ALICE, GOOD_ANSWER)
    form = modal["data"]
    assert form["custom_id"] == f"iv:ma:daily:{opened.post.id}:{GUILD_A}"
    display, label = form["components"]
    assert display["type"] == 10 and opened.question.prompt in display["content"]
    assert "Only you see your answer" in display["content"]
    assert label["component"]["max_length"] == 4000 and label["component"]["style"] == 2

    # submit -> deferred ephemeral at once, then the receipt in its place
    assert fake.callback(submit) == {"type": 5, "data": {"flags": 64}}
    assert "Your answer is stored and being graded" in embeds_text(receipt)

    # the grade: an ephemeral follow-up on the member's own interaction token
    await world.settle()
    [grade] = await fake.wait_followups(submit)
    assert grade["flags"] == 64 and grade["allowed_mentions"] == {"parse": []}
    text = embeds_text(grade)
    assert "Your grade: 100/100" in text and "+" in text
    assert "Reference answer" not in text  # the question is still open

    # a second answer replaces the first: the form says so
    [button_id] = custom_ids(message)
    again = await fake.wait_callback(await fake.click(message, button_id, member=ALICE))
    assert (
        "This replaces your answer of 08:00, score 100/100"
        in again["data"]["components"][0]["content"]
    )

    # close -> the post becomes "closed · 1 answer" without its button, the reveal in a thread
    world.clock.set(opened.post.closes_at)
    await world.app.daily.close_due()
    await world.settle()
    [edit] = fake.calls_to("PATCH", f"channels/{CHANNEL_A}/messages/{message['id']}")
    assert edit.body["embeds"][0]["title"] == "🔒 Closed · 1 answer"
    assert edit.body["components"] == []
    [thread] = fake.calls_to("POST", f"channels/{CHANNEL_A}/messages/{message['id']}/threads")
    assert thread.body["name"].startswith("💡 What does the ReLU activation compute")
    [reveal] = fake.sent_to(message["id"])  # a thread started on a message takes its id
    text = embeds_text(reveal.body)
    assert "here is the reference answer" in text and "Alice — 100/100" in text
    async with world.app.sessions() as session:
        refs = dict(
            (await session.execute(sa.select(OutboxMessage.topic, OutboxMessage.message_ref))).all()
        )
    assert refs["question"] == f"{CHANNEL_A}:{message['id']}"
    assert refs["reveal"].startswith(f"{message['id']}:")
    assert refs["grade"].startswith("followup:")


async def test_a_restart_in_the_middle_still_takes_the_click_and_the_submit(
    world, database_url, clock, rng
):
    fake = world.fake
    opened, message = await post_question(world)
    [button] = custom_ids(message)
    # Bob opens the form before the restart and sends it after
    bob_form = await fake.wait_callback(await fake.click(message, button, member=BOB))
    await stop_world(world)

    restarted = await start_world(world.settings, fake, clock, rng, ScriptedGrader())
    try:
        _, submit, receipt = await answer_through_the_modal(fake, message, ALICE, GOOD_ANSWER)
        assert "being graded" in embeds_text(receipt)
        late = await fake.submit_modal(
            bob_form["data"]["custom_id"], {"answer": "ReLU outputs max(0, x)"}, member=BOB
        )
        assert "being graded" in embeds_text(await fake.wait_original(late))
        await restarted.settle()
        assert "Your grade: 100/100" in embeds_text((await fake.wait_followups(submit))[0])
        assert "Your grade:" in embeds_text((await fake.wait_followups(late))[0])
        async with restarted.app.sessions() as session:
            answers = (await session.execute(sa.select(Answer))).scalars().all()
        assert sorted(answer.daily_post_id for answer in answers) == [opened.post.id] * 2
    finally:
        await stop_world(restarted)
        world.adapter._client = None  # already stopped; the fixture's teardown is a no-op
        world.adapter._task = None


async def test_a_gateway_reconnect_between_the_click_and_the_submit_loses_nothing(world):
    fake = world.fake
    _, message = await post_question(world)
    [button] = custom_ids(message)
    form = await fake.wait_callback(await fake.click(message, button, member=ALICE))
    await fake.reconnect()  # Discord's op 7: the client resumes its session on a new socket
    submit = await fake.submit_modal(form["data"]["custom_id"], {"answer": GOOD_ANSWER})
    assert "being graded" in embeds_text(await fake.wait_original(submit))
    assert [resume["session_id"] for resume in fake.resumes] == ["session-0"]
    assert len(fake.identifies) == 1 and world.adapter.connected()
    await world.settle()
    assert "Your grade: 100/100" in embeds_text((await fake.wait_followups(submit))[0])


class EchoingGrader(ScriptedGrader):
    """Quotes the answer back as evidence (like an LLM judge would), to test echoing."""

    async def grade(self, item: GradingItem, answer: str) -> Grade:
        grade = await super().grade(item, answer)
        verdicts = tuple(
            KeyPointVerdict(verdict.key_point, Coverage.COVERED, evidence=answer[:150])
            for verdict in grade.verdicts
        )
        return Grade(
            score=100,
            verdicts=verdicts,
            feedback=f"You wrote: {answer[:80]}",
            grader=grade.grader,
            model=grade.model,
        )


async def test_everyone_in_an_answer_or_a_name_pings_nobody(
    engine, database_url, fake_discord, clock, rng
):
    from tests.adapters.discord.conftest import discord_settings

    world = await start_world(
        discord_settings(database_url, fake_discord), fake_discord, clock, rng, EchoingGrader()
    )
    try:
        fake = world.fake
        opened, message = await post_question(world)
        mallory = user("2100000000000000066", "@everyone")
        attack = (
            f"@everyone @here <@{BOB['id']}> <@&42> [free nitro](https://evil.example) "
            + GOOD_ANSWER
        )
        _, submit, _ = await answer_through_the_modal(fake, message, mallory, attack)
        await world.settle()
        [grade] = await fake.wait_followups(submit)
        world.clock.set(opened.post.closes_at)
        await world.app.daily.close_due()
        await world.settle()
        ref = await fake.slash("leaderboard", member=ALICE)
        await fake.wait_callback(ref)

        bodies = fake.bodies()
        assert len(bodies) >= 6
        for body in bodies:
            assert body.get("allowed_mentions") == {"parse": []}, body
            text = embeds_text(body)
            assert "@everyone" not in text and "@here" not in text
            assert f"<@{BOB['id']}>" not in text and "<@&42>" not in text
            assert "](https://" not in text
        grade_text = embeds_text(grade)
        assert f"@{ZERO_WIDTH_SPACE}everyone" in grade_text  # shown, but inert
        reveal_text = embeds_text(fake.sent_to(message["id"])[0].body)
        assert f"@{ZERO_WIDTH_SPACE}everyone — 100/100" in reveal_text
    finally:
        await stop_world(world)


async def test_where_threads_are_not_allowed_the_reveal_replies_to_the_post(world):
    fake = world.fake
    fake.no_threads.add(CHANNEL_A)
    opened, message = await post_question(world)
    world.clock.set(opened.post.closes_at)
    await world.app.daily.close_due()
    await world.settle()
    reply = fake.sent_to(CHANNEL_A)[-1].body
    assert str(reply["message_reference"]["message_id"]) == message["id"]
    assert reply["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert "reference answer" in embeds_text(reply)
    assert world.adapter.notifier.sent["reply"] == 1


async def test_a_thread_the_bot_may_not_post_in_gets_the_reveal_as_a_reply_instead(world):
    # Create Public Threads allowed, Send Messages in Threads denied (a channel override)
    fake = world.fake
    opened, message = await post_question(world)
    fake.fail(
        "POST",
        rf"channels/{message['id']}/messages",
        403,
        {"message": "Missing Permissions", "code": 50013},
        times=10,
    )
    world.clock.set(opened.post.closes_at)
    await world.app.daily.close_due()
    await world.settle()
    reply = fake.posted_in(CHANNEL_A)[-1]
    assert "reference answer" in embeds_text(reply)
    assert fake.sent_to(CHANNEL_A)[-1].body["message_reference"]["message_id"] == int(message["id"])
    async with world.app.sessions() as session:
        reveal = (
            await session.execute(sa.select(OutboxMessage).where(OutboxMessage.topic == "reveal"))
        ).scalar_one()
    assert reveal.status is OutboxStatus.SENT and reveal.message_ref == f"{CHANNEL_A}:{reply['id']}"


async def test_after_the_token_expires_the_grade_comes_by_direct_message(world):
    fake = world.fake
    _, message = await post_question(world)
    _, submit, _ = await answer_through_the_modal(fake, message, ALICE, GOOD_ANSWER)
    world.clock.advance(timedelta(minutes=16))
    await world.settle()
    assert fake.calls_to("POST", re.escape(submit.followup_path)) == []
    dm = fake.dm_channel_id(ALICE["id"])
    [opened_dm] = fake.calls_to("POST", r"users/@me/channels")
    assert str(opened_dm.body["recipient_id"]) == ALICE["id"]
    [grade] = fake.sent_to(dm)
    assert "Your grade: 100/100" in embeds_text(grade.body)


async def test_a_token_refused_early_falls_back_to_a_direct_message(world):
    fake = world.fake
    _, message = await post_question(world)
    _, submit, _ = await answer_through_the_modal(fake, message, ALICE, GOOD_ANSWER)
    fake.expired_tokens.add(submit.token)
    await world.settle()
    assert len(fake.calls_to("POST", re.escape(submit.followup_path))) == 1  # tried, 404
    assert "Your grade" in embeds_text(fake.sent_to(fake.dm_channel_id(ALICE["id"]))[0].body)


async def test_a_429_is_retried_after_its_retry_after(world):
    fake = world.fake
    channel_id = await schedule(world)
    await world.app.daily.open_due(channel_id)
    fake.rate_limit("POST", rf"channels/{CHANNEL_A}/messages", retry_after=60)
    await world.settle()
    async with world.app.sessions() as session:
        row = (await session.execute(sa.select(OutboxMessage))).scalar_one()
    assert row.status is OutboxStatus.PENDING and row.last_error == "RetryLater:429"
    wait = (row.next_attempt_at - world.clock.now()).total_seconds()
    assert 60 <= wait <= 60.25
    assert len(fake.sent_to(CHANNEL_A)) == 1  # the refused attempt only

    world.clock.advance(timedelta(seconds=30))
    assert await world.app.dispatcher.drain() == 0  # not due yet
    world.clock.advance(timedelta(seconds=31))
    assert await world.app.dispatcher.drain() == 1
    assert len(fake.posted_in(CHANNEL_A)) == 1
    async with world.app.sessions() as session:
        row = (await session.execute(sa.select(OutboxMessage))).scalar_one()
    assert row.status is OutboxStatus.SENT and row.attempts == 2


async def test_a_channel_the_bot_cannot_see_is_dead_not_retried_and_the_admin_is_told(world):
    fake = world.fake
    channel_id = await schedule(world)
    await world.app.daily.open_due(channel_id)
    fake.fail(
        "POST", rf"channels/{CHANNEL_A}/messages", 403, {"message": "Missing Access", "code": 50001}
    )
    await world.settle()
    async with world.app.sessions() as session:
        question = (
            await session.execute(sa.select(OutboxMessage).where(OutboxMessage.topic == "question"))
        ).scalar_one()
    assert question.status is OutboxStatus.DEAD
    assert question.last_error == "PermanentDeliveryError:403/50001"
    # the admin who saved the settings is told in a direct message, with what to do
    await world.settle()
    [notice] = fake.posted_in(fake.dm_channel_id(ADMIN["id"]))
    text = str(notice)
    assert "could not post the question" in text and "View Channel" in text


async def test_guild_join_and_leave_create_and_disable_the_workspace(world):
    fake = world.fake
    await fake.join_guild(GUILD_B, "Second server")

    def workspace(enabled: bool):
        async def probe() -> Workspace | None:
            async with world.app.sessions() as session:
                row = (
                    await session.execute(
                        sa.select(Workspace).where(Workspace.external_id == GUILD_B)
                    )
                ).scalar_one_or_none()
            return row if row is not None and row.enabled is enabled else None

        return probe

    row = await eventually(workspace(enabled=True))
    assert row.name == "Second server"
    channel_id = await schedule(world, GUILD_B, CHANNEL_B)
    await fake.leave_guild(GUILD_B)
    await eventually(workspace(enabled=False))
    assert await world.app.daily.open_due(channel_id) is None  # nothing is posted there
    await fake.join_guild(GUILD_B, "Second server")
    await eventually(workspace(enabled=True))


async def test_a_server_that_removed_the_bot_while_it_was_offline_is_disabled_at_start(
    world, clock, rng
):
    fake = world.fake
    await fake.first_reply(await fake.slash("practice", member=ALICE, guild_id=None))
    await schedule(world, GUILD_A, CHANNEL_A)
    channel_b = await schedule(world, GUILD_B, CHANNEL_B)
    await stop_world(world)
    fake.guilds.discard(GUILD_B)  # kicked while the bot was down: no GUILD_DELETE reaches it

    restarted = await start_world(world.settings, fake, clock, rng, ScriptedGrader())
    try:
        async with restarted.app.sessions() as session:
            enabled = dict(
                (await session.execute(sa.select(Workspace.external_id, Workspace.enabled))).all()
            )
        assert enabled == {GUILD_A: True, GUILD_B: False, f"dm-{ALICE['id']}": True}
        assert await restarted.app.daily.open_due(channel_b) is None  # nothing posted there
    finally:
        await stop_world(restarted)
        world.adapter._client = None  # already stopped; the fixture's teardown is a no-op
        world.adapter._task = None


async def test_a_deleted_channel_stops_its_schedule(world):
    """The admin was told "this channel no longer exists", and could do nothing about it: no
    command can name a deleted channel, and its question was opened and refused every day."""
    fake = world.fake
    channel = {"id": CHANNEL_A, "type": 0, "name": "interview-prep", "position": 0}
    await fake.dispatch(
        "GUILD_CREATE", {**guild_payload(GUILD_A, "Server A"), "channels": [channel]}
    )
    channel_id = await schedule(world)
    await fake.dispatch("CHANNEL_DELETE", {**channel, "guild_id": GUILD_A})

    await eventually(lambda: _disabled(world, channel_id))
    assert await world.app.daily.open_due(channel_id) is None

    # a forum post (a thread) with a schedule of its own, deleted
    post = "4100000000000000011"
    post_id = await schedule(world, GUILD_A, post)
    thread = {"id": post, "guild_id": GUILD_A, "parent_id": "4100000000000000010", "type": 11}
    await fake.dispatch("THREAD_DELETE", thread)
    await eventually(lambda: _disabled(world, post_id))


async def _disabled(world: DiscordWorld, channel_id: int) -> bool | None:
    return True if not (await world.app.channels.view(channel_id)).enabled else None


async def test_two_guilds_are_kept_apart(world):
    fake = world.fake
    opened_a, message_a = await post_question(world, GUILD_A, CHANNEL_A)
    opened_b, message_b = await post_question(world, GUILD_B, CHANNEL_B)
    assert custom_ids(message_b) == [f"iv:b:answer-daily:{opened_b.post.id}:{GUILD_B}"]

    await answer_through_the_modal(fake, message_a, ALICE, GOOD_ANSWER)
    # a member of guild B clicking a button that names guild A's post gets nothing of it
    forged = {**message_b, "components": message_a["components"]}
    [button] = custom_ids(message_a)
    ref = await fake.click(forged, button, member=BOB, guild_id=GUILD_B)
    body = await fake.wait_callback(ref)
    assert body["type"] == 4 and "That question does not exist" in embeds_text(body["data"])
    ref = await fake.submit_modal(
        f"iv:ma:daily:{opened_a.post.id}:{GUILD_B}",
        {"answer": GOOD_ANSWER},
        member=BOB,
        guild_id=GUILD_B,
        channel_id=CHANNEL_B,
    )
    assert "That question does not exist" in embeds_text(await fake.wait_original(ref))
    await world.settle()

    ref = await fake.slash("leaderboard", member=BOB, guild_id=GUILD_B, channel_id=CHANNEL_B)
    assert "Alice" not in embeds_text(await fake.first_reply(ref))
    ref = await fake.slash("leaderboard", member=BOB)
    assert "Alice" in embeds_text(await fake.first_reply(ref))
    async with world.app.sessions() as session:
        answers = (await session.execute(sa.select(Answer))).scalars().all()
    assert [answer.daily_post_id for answer in answers] == [opened_a.post.id]


async def test_a_practice_round_in_a_direct_message(world):
    fake = world.fake
    ref = await fake.slash("practice", member=ALICE, guild_id=None)
    body = await fake.first_reply(ref)
    assert "Practice question" in embeds_text(body)
    [button] = custom_ids(body)
    assert button.endswith(f":dm-{ALICE['id']}")
    message = fake.messages["@original:" + ref.token]
    _, submit, receipt = await answer_through_the_modal(
        fake, message, ALICE, GOOD_ANSWER, guild_id=None
    )
    assert "Grading your practice answer now" in embeds_text(receipt)
    await world.settle()
    grade = embeds_text((await fake.wait_followups(submit))[0])
    assert "Your grade: 100/100" in grade and "practice: no points" in grade
    assert "Reference answer" in grade  # practice sees everything at once

    ref = await fake.slash("stats", member=ALICE, guild_id=None)
    text = embeds_text(await fake.first_reply(ref))  # drawing the chart may take a while
    assert "Practice answers\n1" in text
    async with world.app.sessions() as session:
        workspace = (
            await session.execute(
                sa.select(Workspace).where(Workspace.external_id == f"dm-{ALICE['id']}")
            )
        ).scalar_one()
        answer = (await session.execute(sa.select(Answer))).scalar_one()
    assert workspace.name == "Direct messages" and answer.kind is AnswerKind.PRACTICE


async def test_a_servers_button_sent_by_dm_answers_that_servers_question(world):
    fake = world.fake
    opened, message = await post_question(world)
    # a nudge (or a grade after the token expired) reaches a member by DM with the same button
    dm_message = {**message, "channel_id": fake.dm_channel_id(ALICE["id"])}
    _, _submit, receipt = await answer_through_the_modal(
        fake, dm_message, ALICE, GOOD_ANSWER, guild_id=None
    )
    assert "being graded" in embeds_text(receipt)
    async with world.app.sessions() as session:
        answer = (await session.execute(sa.select(Answer))).scalar_one()
        workspace = await session.get(Workspace, (await world.actor(ALICE)).workspace_id)
    assert answer.daily_post_id == opened.post.id and answer.scored
    assert workspace.external_id == GUILD_A


async def test_an_empty_answer_is_refused_with_a_try_again_button(world):
    fake = world.fake
    opened, message = await post_question(world)
    _, _, receipt = await answer_through_the_modal(fake, message, ALICE, "   \n ")
    assert "empty" in embeds_text(receipt).lower()
    assert custom_ids(receipt) == [f"iv:b:answer-daily:{opened.post.id}:{GUILD_A}"]
    async with world.app.sessions() as session:
        assert (await session.execute(sa.select(Answer))).scalars().all() == []


async def test_admins_set_up_the_channel_through_the_form(world):
    fake = world.fake
    form = await fake.wait_callback(
        await fake.slash("config", member=ADMIN, permissions=MANAGE_GUILD)
    )
    values = {
        "state": ["on-weekly"],
        "when": "07:45 America/New_York",
        "days": "wed",
        "window": "2d",
        "topics": "deep-learning: activations, regularization",
    }
    ref = await fake.submit_modal(
        form["data"]["custom_id"], values, member=ADMIN, permissions=MANAGE_GUILD
    )
    text = embeds_text(await fake.wait_original(ref))
    assert "Channel settings saved" in text
    view = await world.app.channels.view((await world.actor()).channel_id)
    assert view.enabled and view.schedule.cadence.value == "weekly"
    assert view.schedule.timezone == "America/New_York" and view.days_text == "Wed"
    assert view.track.value == "deep-learning" and view.topics == ("activations", "regularization")


async def enqueue_card(world: DiscordWorld, card, *, channel: str | None, member: str | None):
    from bot.services.delivery import Target, enqueue
    from bot.storage.db import transaction
    from bot.storage.models import DeliveryAction, Platform

    async with transaction(world.app.sessions) as session:
        enqueue(
            session,
            Target(Platform.DISCORD, GUILD_A, channel, member),
            card,
            action=DeliveryAction.PRIVATE if member else DeliveryAction.POST,
            topic="test",
            now=world.clock.now(),
        )


async def test_the_monthly_champion_is_pinged_and_given_the_role(world):
    from bot.services.cards import champions_card

    fake = world.fake
    card = champions_card(
        month_label="February 2026",
        top=[("Alice", 120), ("Bob", 80)],
        best_streak=("Alice", 9),
        champion_external_id=ALICE["id"],
        grant_role_id="8100000000000000001",
    )
    await enqueue_card(world, card, channel=CHANNEL_A, member=None)
    await world.settle()
    [grant] = fake.calls_to("PUT", rf"guilds/{GUILD_A}/members/{ALICE['id']}/roles/\d+")
    assert grant.path.endswith("8100000000000000001")
    [post] = fake.sent_to(CHANNEL_A)
    assert post.body["content"] == f"<@{ALICE['id']}>"
    assert post.body["allowed_mentions"] == {"parse": [], "users": [int(ALICE["id"])]}

    # without Manage Roles the role is skipped, the post still goes out
    fake.fail("PUT", r"guilds/.*/roles/.*", 403, {"message": "Missing Permissions", "code": 50013})
    await enqueue_card(world, card, channel=CHANNEL_A, member=None)
    await world.settle()
    assert len(fake.posted_in(CHANNEL_A)) == 2


async def test_a_nudge_by_direct_message_and_its_stop_button(world):
    from bot.services.cards import nudge_card

    fake = world.fake
    opened, _ = await post_question(world)
    alice = await world.actor(ALICE, is_admin=False)
    await world.app.directory.set_nudges(alice.member_id, True)
    card = nudge_card(
        post_id=opened.post.id,
        prompt=opened.question.prompt,
        streak=3,
        closes_at=opened.post.closes_at,
    )
    await enqueue_card(world, card, channel=CHANNEL_A, member=ALICE["id"])
    await world.settle()
    [dm_message] = fake.posted_in(fake.dm_channel_id(ALICE["id"]))
    assert custom_ids(dm_message) == [
        f"iv:b:answer-daily:{opened.post.id}:{GUILD_A}",
        f"iv:b:nudges-off::{GUILD_A}",
    ]
    ref = await fake.click(dm_message, f"iv:b:nudges-off::{GUILD_A}", member=ALICE, guild_id=None)
    assert "Nudges off" in embeds_text((await fake.wait_callback(ref))["data"])
    async with world.app.sessions() as session:
        from bot.storage.models import Member

        member = await session.get(Member, alice.member_id)
    assert member.nudges is False


async def test_an_unexpected_error_tells_the_member_and_logs_no_user_text(
    world, monkeypatch, caplog
):
    fake = world.fake
    _, message = await post_question(world)
    secret = "my private answer about relu"

    async def broken_submit(*args, **kwargs):
        raise RuntimeError(f"storage failed while saving {secret}")

    monkeypatch.setattr(world.app.answers, "submit", broken_submit)
    _, submit, receipt = await answer_through_the_modal(fake, message, ALICE, secret)
    assert "Something went wrong" in embeds_text(receipt)
    assert fake.callback(submit)["type"] == 5  # it was acknowledged first all the same
    assert "RuntimeError" in caplog.text and secret not in caplog.text

    async def broken_form(*args, **kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(world.app.answers, "form", broken_form)
    [button] = custom_ids(message)
    body = await fake.wait_callback(await fake.click(message, button, member=BOB))
    assert body["type"] == 4 and "Something went wrong" in embeds_text(body["data"])
    assert secret not in caplog.text
