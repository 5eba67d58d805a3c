"""The App Home tab (the member's streak, points, rank, recent grades, open questions and
buttons) and the card buttons: Practice, Today and Stop reminders, from a message or the Home."""

from __future__ import annotations

import sqlalchemy as sa

from bot.storage.models import Member
from tests.fakes.slack_api import all_text, answer_values

ANSWER = "ReLU outputs max(0, x), zero for negative inputs."


def buttons(blocks):
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def open_home(world, user: str = "U1"):
    before = len(world.fake.of("views.publish"))
    response = await world.slack.event({"type": "app_home_opened", "user": user, "tab": "home"})
    assert response.status == 200 and response.seconds < 3
    await world.settle()
    published = await world.fake.wait_for("views.publish", before + 1)
    call = published[-1]
    assert call.data["user_id"] == user
    return call.view


async def test_home_shows_stats_recent_grades_and_the_open_question(world):
    view = await open_home(world)
    assert view["type"] == "home"
    text = all_text(view["blocks"])
    assert "Interview practice · Alice" in text and "No graded answers yet." in text
    assert "No question is open" in text
    assert [b["action_id"].split("#")[0] for b in buttons(view["blocks"])] == ["practice"]

    await world.schedule()
    await world.app.scheduler.sweep()
    await world.settle()
    view = await open_home(world)
    [answer, practice] = buttons(view["blocks"])
    assert (
        answer["action_id"].startswith("answer-daily")
        and "Answer today's" in answer["text"]["text"]
    )
    assert practice["action_id"].startswith("practice")

    # answer from the Home: the form opens directly; the grade goes to the post's channel
    await world.slack.click(answer["action_id"], answer["value"], user="U1", channel=None)
    [modal] = await world.fake.wait_for("views.open")
    assert modal.view["callback_id"] == "interview-answer"
    reply = await world.slack.submit(modal.view, answer_values(ANSWER), user="U1")
    assert reply.json()["response_action"] == "update"
    await world.settle()
    [grade] = await world.fake.wait_for("chat.postEphemeral")
    assert grade.data["channel"] == "C1" and grade.data["user"] == "U1"

    view = await open_home(world)
    text = all_text(view["blocks"])
    assert "/100 · activations · daily" in text
    assert "answered ✅" in text and "*Points*" in text and "*Streak*" in text
    assert buttons(view["blocks"])[0]["text"]["text"].startswith("Improve")


async def test_practice_from_the_home_opens_the_form_and_the_grade_comes_by_dm(world):
    view = await open_home(world)
    [practice] = buttons(view["blocks"])
    await world.slack.click(practice["action_id"], "", user="U1", channel=None)
    [modal] = await world.fake.wait_for("views.open")
    assert modal.view["title"]["text"] == "Practice question"
    reply = await world.slack.submit(modal.view, answer_values(ANSWER), user="U1")
    assert reply.json()["response_action"] == "update"
    await world.settle()
    [direct] = await world.fake.wait_for("conversations.open")
    assert direct.data["users"] == "U1"
    dm = await world.fake.wait_until(
        lambda: [c for c in world.fake.of("chat.postMessage") if c.data["channel"] == "DU1"]
    )
    assert "Your grade:" in all_text(dm[0].blocks)


async def test_practice_and_today_buttons_on_a_message_reply_ephemerally(world):
    await world.schedule()
    await world.app.scheduler.sweep()
    await world.settle()
    await world.slack.click("practice#1", "", user="U1", hook="practice")
    await world.slack.click("today#0", "", user="U1", hook="today")
    await world.settle()
    [practice] = await world.fake.wait_until(lambda: world.fake.hook("practice"))
    assert practice["response_type"] == "ephemeral" and practice["replace_original"] is False
    assert buttons(practice["blocks"])[0]["action_id"].startswith("answer-practice")
    [today] = await world.fake.wait_until(lambda: world.fake.hook("today"))
    assert buttons(today["blocks"])[0]["action_id"].startswith("answer-daily")


async def test_stop_reminders_turns_nudges_off(world):
    await world.slack.command("nudges on", user="U1")
    await world.settle()
    await world.slack.click("nudges-off#1", "", user="U1", hook="nudge")
    await world.settle()
    [reply] = await world.fake.wait_until(lambda: world.fake.hook("nudge"))
    assert "Nudges off" in all_text(reply["blocks"])
    async with world.app.sessions() as session:
        member = (
            await session.execute(sa.select(Member).where(Member.external_id == "U1"))
        ).scalar_one()
    assert member.nudges is False


async def test_an_answer_button_for_an_unknown_post_says_so(world):
    await world.slack.click("answer-daily#0", "424242", user="U1", hook="gone")
    await world.settle()
    [reply] = await world.fake.wait_until(lambda: world.fake.hook("gone"))
    assert "That question does not exist." in all_text(reply["blocks"])
    assert world.fake.of("views.open") == []


async def test_events_the_app_does_not_act_on_get_200_and_no_call(world, caplog):
    """A subscription added in the app's settings (app_mention, message.im): Bolt answered 404
    with a warning, so Slack retried each event. Now a 200, and nothing is posted."""
    mention = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOTT1> help",
        "ts": "1700000002.000200",
        "channel": "C1",
        "event_ts": "1700000002.000200",
    }
    direct = {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "text": "hi",
        "ts": "1700000003.000200",
        "channel": "D1",
        "event_ts": "1700000003.000200",
    }
    for event in (mention, direct):
        response = await world.slack.event(event)
        assert response.status == 200, response.text
    await world.settle()
    assert [call.method for call in world.fake.calls] == ["auth.test"]
    assert not [r for r in caplog.records if r.levelname in {"WARNING", "ERROR"}]
    # the events the app acts on still reach their own listeners
    response = await world.slack.event({"type": "app_home_opened", "user": "U1", "tab": "home"})
    assert response.status == 200
    await world.fake.wait_for("views.publish")
