"""Mock interviews, spaced repetition, disputes, question reports and admin tools on Discord,
and files (the progress chart, the interview transcript) sent with cards."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from bot.storage.models import (
    Answer,
    AuditEntry,
    Dispute,
    DisputeStatus,
    MockSession,
    MockStatus,
)
from tests.adapters.discord.test_commands import admin, reply_of
from tests.adapters.discord.test_daily_flow import GOOD_ANSWER
from tests.fakes.discord_api import (
    ALICE,
    BOB,
    FakeDiscord,
    InteractionRef,
    RestCall,
    custom_ids,
    embeds_text,
    option,
)


def original_message(fake: FakeDiscord, ref: InteractionRef) -> dict[str, Any]:
    return fake.messages["@original:" + ref.token]


async def response_call(fake: FakeDiscord, ref: InteractionRef) -> tuple[RestCall, dict]:
    """The request that carried the first reply (the callback, or the deferred one's edit),
    with its message body."""
    callback = await fake.wait_callback(ref)
    if callback["type"] == 5:
        call = await fake.wait_call("PATCH", re.escape(ref.original_path))
        return call, call.body
    [call] = fake.calls_to("POST", re.escape(ref.callback_path))
    return call, call.body["data"]


async def answer_card(fake: FakeDiscord, message: dict[str, Any], text: str, **context: Any):
    """Click the card's answer button, send ``text``; return the submit's ref."""
    [button] = [item for item in custom_ids(message) if ":answer-" in item]
    modal = await fake.wait_callback(await fake.click(message, button, member=ALICE, **context))
    assert modal["type"] == 9, modal
    ref = await fake.submit_modal(
        modal["data"]["custom_id"], {"answer": text}, member=ALICE, **context
    )
    await fake.wait_original(ref)
    return ref, modal


async def test_stats_come_with_the_progress_chart_inside_the_embed(world):
    fake = world.fake
    ref = await fake.slash("stats", member=ALICE)
    call, body = await response_call(fake, ref)  # drawing may take longer than the budget
    [(name, _, size)] = call.files
    assert name == "progress.png" and size > 1000
    assert body["embeds"][0]["image"]["url"] == "attachment://progress.png"
    assert body["attachments"][0]["filename"] == "progress.png"


async def test_a_mock_interview_from_start_to_report(world):
    fake = world.fake
    ref = await fake.slash("mock", [option("length", 2, 4)], member=ALICE)
    first = await reply_of(fake, ref)
    assert "Mock interview · Question 1 of 2" in embeds_text(first)
    assert fake.replied_privately(ref)
    ids = custom_ids(first)
    assert [item.split(":")[2] for item in ids] == ["answer-mock", "mock-skip", "mock-stop"]

    submit, modal = await answer_card(fake, original_message(fake, ref), GOOD_ANSWER)
    assert modal["data"]["title"] == "Question 1 of 2"
    assert "Grading it now" in embeds_text(await fake.wait_original(submit))
    await world.settle()
    # the grade and the next question are two outbox rows sent side by side: either may be first
    followups = await fake.wait_followups(submit, count=2)
    grade, second = sorted(followups, key=lambda body: "Question 2" in embeds_text(body))
    assert "Your grade" in embeds_text(grade) and "mock interview: no points" in embeds_text(grade)
    assert "Question 2 of 2" in embeds_text(second) and second["flags"] == 64

    # Stop from the second question's button: the report, with the transcript as a file
    followup = next(message for call, message in fake.created if call.body == second)
    stop = next(item for item in custom_ids(second) if ":mock-stop:" in item)
    click = await fake.click(followup, stop, member=ALICE)
    call, report = await response_call(fake, click)
    assert "Mock interview" in embeds_text(report) and "stopped early" in embeds_text(report)
    assert call.files[0][0] == "mock-interview.md" and call.files[0][2] > 0
    async with world.app.sessions() as session:
        mock = (await session.execute(sa.select(MockSession))).scalar_one()
    assert mock.status is MockStatus.STOPPED

    call, again = await response_call(
        fake, await fake.slash("mock", [option("action", "report")], member=ALICE)
    )
    assert "📋 Mock interview" in embeds_text(again)
    assert call.files[0][0] == "mock-interview.md"


async def test_a_mock_interview_in_a_direct_message_and_skip(world):
    fake = world.fake
    ref = await fake.slash("mock", [option("length", 3, 4)], member=ALICE, guild_id=None)
    first = await reply_of(fake, ref)
    assert custom_ids(first)[0].endswith(f":dm-{ALICE['id']}")
    skip = next(item for item in custom_ids(first) if ":mock-skip:" in item)
    click = await fake.click(original_message(fake, ref), skip, member=ALICE, guild_id=None)
    assert "Question 2 of 3" in embeds_text(await reply_of(fake, click))


async def test_dispute_from_the_grade_button_then_accept(world):
    fake = world.fake
    ref = await fake.slash("practice", member=ALICE)
    await fake.wait_callback(ref)
    submit, _ = await answer_card(fake, original_message(fake, ref), "ReLU outputs max(0, x)")
    await world.settle()
    [grade] = await fake.wait_followups(submit)
    [dispute_button] = custom_ids(grade)
    assert ":dispute:" in dispute_button
    grade_message = next(message for call, message in fake.created if call.body == grade)
    form = await fake.wait_callback(await fake.click(grade_message, dispute_button, member=ALICE))
    assert form["type"] == 9 and custom_ids(form) == ["reason"]
    sent = await fake.submit_modal(
        form["data"]["custom_id"], {"reason": "I did mention the gradient."}, member=ALICE
    )
    assert "Dispute received" in embeds_text(await fake.wait_original(sent))
    await world.settle()
    [regraded] = await fake.wait_followups(sent)  # on the dispute's own interaction
    assert "after your dispute" in embeds_text(regraded)
    accept = next(item for item in custom_ids(regraded) if ":dispute-accept:" in item)
    regraded_message = next(message for call, message in fake.created if call.body == regraded)
    click = await fake.click(regraded_message, accept, member=ALICE)
    assert "the new grade stands" in embeds_text(await reply_of(fake, click))
    async with world.app.sessions() as session:
        dispute = (await session.execute(sa.select(Dispute))).scalar_one()
    assert dispute.status is DisputeStatus.RESOLVED

    # one dispute per answer, also by command
    answer_id = dispute.answer_id
    ref = await fake.slash(
        "dispute", [option("answer", answer_id, 4), option("reason", "again")], member=ALICE
    )
    assert "already disputed" in embeds_text(await reply_of(fake, ref))


async def test_review_report_and_admin_tools(world):
    fake = world.fake
    text = embeds_text(await reply_of(fake, await fake.slash("review", [option("state", "on")])))
    assert "Spaced repetition on" in text
    text = embeds_text(await reply_of(fake, await fake.slash("review")))
    assert "Nothing is due" in text

    ref = await fake.slash(
        "report",
        [option("question", "basics-softmax"), option("reason", "The reference is unclear.")],
        member=BOB,
    )
    assert "report" in embeds_text(await reply_of(fake, ref)).lower()

    ref = await fake.slash("admin", member=BOB)
    assert "Manage Server" in embeds_text(await reply_of(fake, ref))
    listing = embeds_text(await reply_of(fake, await admin(fake, "admin")))
    assert "basics-softmax" in listing and "The reference is unclear." in listing

    ref = await admin(
        fake,
        "admin",
        option("action", "disable"),
        option("question", "basics-softmax"),
        option("reason", "Being rewritten"),
    )
    assert "basics-softmax" in embeds_text(await reply_of(fake, ref))
    audit = embeds_text(await reply_of(fake, await admin(fake, "admin", option("action", "audit"))))
    assert "basics-softmax" in audit
    async with world.app.sessions() as session:
        assert (await session.execute(sa.select(AuditEntry))).scalars().all()

    # an incomplete override says what it needs
    ref = await admin(fake, "admin", option("action", "override"), option("answer", 1, 4))
    assert "admin override <answer> <score 0-100> <reason>" in embeds_text(
        await reply_of(fake, ref)
    )


async def test_an_override_missing_its_answer_or_score_changes_no_grade(world):
    from tests.adapters.discord.test_daily_flow import answer_through_the_modal, post_question

    fake = world.fake
    _, message = await post_question(world)
    await answer_through_the_modal(fake, message, ALICE, GOOD_ANSWER)
    await answer_through_the_modal(fake, message, BOB, GOOD_ANSWER)
    await world.settle()
    # the admin forgot an option: a number at the start of the reason is not taken for it
    for options in (
        (option("score", 1, 4), option("reason", "2 is fair")),
        (option("answer", 2, 4), option("reason", "10 points were missing")),
    ):
        ref = await admin(fake, "admin", option("action", "override"), *options)
        assert "admin override <answer> <score 0-100> <reason>" in embeds_text(
            await reply_of(fake, ref)
        )
    ref = await admin(fake, "admin", option("action", "disable"), option("reason", "basics-x"))
    assert "admin disable <question id> <reason>" in embeds_text(await reply_of(fake, ref))
    async with world.app.sessions() as session:
        assert (await session.execute(sa.select(AuditEntry))).scalars().all() == []


async def test_a_dispute_an_hour_later_gets_its_new_grade_on_the_dispute_itself(world):
    """The answer's token expired long ago: the new grade follows up on the dispute's own
    interaction instead of a direct message (which a member who closed their DMs never sees)."""
    from datetime import timedelta

    fake = world.fake
    ref = await fake.slash("practice", member=ALICE)
    await fake.wait_callback(ref)
    submit, _ = await answer_card(fake, original_message(fake, ref), "ReLU outputs max(0, x)")
    await world.settle()
    [grade] = await fake.wait_followups(submit)
    world.clock.advance(timedelta(hours=1))
    [dispute_button] = custom_ids(grade)
    grade_message = next(message for call, message in fake.created if call.body == grade)
    form = await fake.wait_callback(await fake.click(grade_message, dispute_button, member=ALICE))
    sent = await fake.submit_modal(
        form["data"]["custom_id"], {"reason": "I did mention the gradient."}, member=ALICE
    )
    assert "Dispute received" in embeds_text(await fake.wait_original(sent))
    await world.settle()
    [regraded] = await fake.wait_followups(sent)
    assert "after your dispute" in embeds_text(regraded) and regraded["flags"] == 64
    assert fake.calls_to("POST", r"users/@me/channels") == []

    # the same by command
    await answer_card(fake, original_message(fake, ref), "ReLU is max(0, x)")
    await world.settle()
    async with world.app.sessions() as session:
        second = max((await session.execute(sa.select(Answer.id))).scalars())
    world.clock.advance(timedelta(hours=1))
    by_command = await fake.slash(
        "dispute", [option("answer", second, 4), option("reason", "gradient")], member=ALICE
    )
    await reply_of(fake, by_command)
    await world.settle()
    assert "after your dispute" in embeds_text((await fake.wait_followups(by_command))[0])
    assert fake.calls_to("POST", r"users/@me/channels") == []
