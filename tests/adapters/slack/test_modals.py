"""Modal submissions: every refusal comes back as ``response_action: errors`` under the right
input (never a silent drop), a valid one as the updated modal."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse

import sqlalchemy as sa

from bot.adapters.slack.listeners import views
from bot.services.commands import CUSTOM_QUESTION_TEMPLATE
from bot.storage.models import Answer, Channel, QueuedQuestion
from tests.fakes.slack_api import (
    Failure,
    all_text,
    answer_values,
    select_value,
    text_value,
    time_value,
)


def config_values(**overrides):
    values = {
        "enabled": select_value("on"),
        "post_time": time_value("08:30"),
        "timezone": text_value("Europe/Berlin"),
        "days": text_value("mon-fri"),
        "cadence": select_value("daily"),
        "answer_window": text_value("8h"),
        "track": select_value("any"),
        "topics": text_value(""),
    }
    values.update(overrides)
    return {name: {"value": value} for name, value in values.items()}


async def open_config(world):
    response = await world.slack.command("config", user="UADMIN")
    assert response.status == 200
    [opened] = await world.fake.wait_for("views.open")
    return opened.view


async def test_config_errors_show_under_each_field_and_nothing_changes(world):
    view = await open_config(world)
    bad = config_values(
        timezone=text_value("Mars/Olympus"),
        days=text_value("funday"),
        answer_window=text_value("forever"),
        topics=text_value("astrology"),
    )
    response = await world.slack.submit(view, bad, user="UADMIN")
    body = response.json()
    assert response.status == 200 and body["response_action"] == "errors"
    assert "unknown time zone 'Mars/Olympus'" in body["errors"]["timezone"]
    assert "'funday' is not a day of the week" in body["errors"]["days"]
    assert "'forever' is not a duration" in body["errors"]["answer_window"]
    assert "unknown topic(s) astrology" in body["errors"]["topics"]
    async with world.app.sessions() as session:
        channel = (await session.execute(sa.select(Channel))).scalars().one()
    assert not channel.enabled


async def test_a_schedule_error_lands_under_its_field(world):
    view = await open_config(world)
    weekly = config_values(cadence=select_value("weekly"), days=text_value("mon-fri"))
    body = (await world.slack.submit(view, weekly, user="UADMIN")).json()
    assert body["errors"] == {"days": "a weekly question posts on exactly one day of the week"}


async def test_valid_config_is_saved_and_shown(world):
    view = await open_config(world)
    good = config_values(topics=text_value("activations, regularization"))
    response = await world.slack.submit(view, good, user="UADMIN")
    body = response.json()
    assert body["response_action"] == "update"
    text = all_text(body["view"]["blocks"])
    assert "Channel settings saved" in text and "08:30 Europe/Berlin" in text
    async with world.app.sessions() as session:
        channel = (await session.execute(sa.select(Channel))).scalars().one()
    assert channel.enabled and channel.topics == ["activations", "regularization"]
    assert channel.answer_window_minutes == 8 * 60


async def test_a_member_who_is_not_admin_cannot_submit_the_config_form(world):
    view = await open_config(world)  # opened by the admin, submitted by someone else
    body = (await world.slack.submit(view, config_values(), user="U1")).json()
    assert body["response_action"] == "errors"
    assert "Only workspace admins" in body["errors"]["enabled"]


async def test_a_slow_users_info_does_not_hold_the_settings_acknowledgement(world):
    """The form is submitted by an admin whose profile is not cached (opened more than a minute
    ago, or by another admin) while users.info is rate-limited: the acknowledgement waited for
    the Retry-After (4.8 s with Retry-After 4: Slack shows an error after 3 s, and the settings
    were saved anyway). Now it says so within the budget and saves nothing; the lookup goes on,
    so the next submission is saved."""
    world.fake.add_user("UADMIN2", "Second Admin", admin=True)
    view = await open_config(world)
    world.fake.fail("users.info", Failure(429, "ratelimited", retry_after=2))
    response = await world.slack.submit(view, config_values(), user="UADMIN2")
    assert response.seconds < views.PROFILE_WAIT_SECONDS + 1.0
    body = response.json()
    assert body == {"response_action": "errors", "errors": {"enabled": views.SLACK_SLOW}}
    async with world.app.sessions() as session:
        channel = (await session.execute(sa.select(Channel))).scalars().one()
    assert not channel.enabled

    assert world.adapter.bridge is not None
    profiles = world.adapter.bridge.profiles
    await asyncio.wait_for(profiles.idle(), 10)
    assert profiles.cached("T1", "UADMIN2") is not None
    body = (await world.slack.submit(view, config_values(), user="UADMIN2")).json()
    assert body["response_action"] == "update"
    async with world.app.sessions() as session:
        channel = (await session.execute(sa.select(Channel))).scalars().one()
    assert channel.enabled


async def test_custom_question_form_names_the_wrong_field_then_queues(world):
    await world.schedule()
    response = await world.slack.command("queue custom", user="UADMIN")
    assert response.status == 200
    [opened] = await world.fake.wait_for("views.open")
    view = opened.view
    question_input = next(b for b in view["blocks"] if b.get("block_id") == "question")
    assert question_input["element"]["initial_value"] == CUSTOM_QUESTION_TEMPLATE
    assert question_input["element"]["multiline"] is True
    broken = CUSTOM_QUESTION_TEMPLATE.replace("difficulty: intermediate", "difficulty: legendary")
    values = {"question": {"value": text_value(broken)}, "date": {"value": text_value("")}}
    body = (await world.slack.submit(view, values, user="UADMIN")).json()
    assert body["response_action"] == "errors"
    assert "difficulty" in body["errors"]["question"] and "line" in body["errors"]["question"]

    past = {"question": {"value": text_value(CUSTOM_QUESTION_TEMPLATE)},
            "date": {"value": text_value("2020-01-01")}}  # fmt: skip
    body = (await world.slack.submit(view, past, user="UADMIN")).json()
    assert "in the past" in body["errors"]["date"]

    good = {"question": {"value": text_value(CUSTOM_QUESTION_TEMPLATE)},
            "date": {"value": text_value("2026-03-04")}}  # fmt: skip
    body = (await world.slack.submit(view, good, user="UADMIN")).json()
    assert body["response_action"] == "update"
    assert "team-incident-review (custom)" in all_text(body["view"]["blocks"])
    async with world.app.sessions() as session:
        assert len((await session.execute(sa.select(QueuedQuestion))).scalars().all()) == 1


async def _answer_form(world):
    await world.schedule()
    await world.app.scheduler.sweep()
    await world.settle()
    [post] = await world.fake.wait_for("chat.postMessage")
    button = next(e for b in post.blocks if b["type"] == "actions" for e in b["elements"])
    await world.slack.click(button["action_id"], button["value"], user="U1")
    [opened] = await world.fake.wait_for("views.open")
    return opened.view


async def test_empty_and_too_long_answers_get_a_field_error_and_nothing_is_stored(world):
    view = await _answer_form(world)
    for text, expected in (
        (None, "Your answer is empty"),
        ("   \n  ", "Your answer is empty"),
        ("x" * 4001, "the limit is 4000"),
    ):
        body = (await world.slack.submit(view, answer_values(text), user="U1")).json()
        assert body["response_action"] == "errors"
        assert expected in body["errors"]["answer"]
    async with world.app.sessions() as session:
        assert (await session.execute(sa.select(Answer))).scalars().all() == []


async def test_control_characters_are_removed_from_an_answer_before_it_is_stored(world):
    """NUL cannot be stored in PostgreSQL (the member was told to send it again, forever), and
    an answer of control characters only was stored and graded."""
    view = await _answer_form(world)
    body = (
        await world.slack.submit(view, answer_values("\x00\x01\x1b\x7f \x07"), user="U1")
    ).json()
    assert body["response_action"] == "errors"
    assert "Your answer is empty" in body["errors"]["answer"]
    async with world.app.sessions() as session:
        assert (await session.execute(sa.select(Answer))).scalars().all() == []

    text = "Gradient\x00 descent\x1b steps\tagainst\r\nthe gradient. 勾配降下法 🚀"
    body = (await world.slack.submit(view, answer_values(text), user="U1")).json()
    assert body["response_action"] == "update"
    async with world.app.sessions() as session:
        [answer] = (await session.execute(sa.select(Answer))).scalars().all()
    assert answer.text == "Gradient descent steps\tagainst\r\nthe gradient. 勾配降下法 🚀"


async def test_a_double_submit_of_one_modal_stores_and_grades_one_answer(world, monkeypatch):
    """The same modal version submitted twice with the same text (at once, or again later) was
    stored three times and graded three times: three grade messages. Now both get the receipt
    of one answer. Other text is a new answer; a failed store is not remembered."""
    view = await _answer_form(world)
    text = "Backprop applies the chain rule layer by layer, reusing upstream gradients."
    replies = await asyncio.gather(
        *(world.slack.submit(view, answer_values(text), user="U1") for _ in range(3))
    )
    bodies = [reply.json() for reply in replies]
    assert all(body["response_action"] == "update" for body in bodies)
    assert bodies[0] == bodies[1] == bodies[2]
    await world.settle()
    async with world.app.sessions() as session:
        assert len((await session.execute(sa.select(Answer))).scalars().all()) == 1
    assert len(world.fake.of("chat.postEphemeral")) == 1  # one grade
    again = (await world.slack.submit(view, answer_values(text), user="U1")).json()
    assert again == bodies[0]

    other = (await world.slack.submit(view, answer_values(text + " Also ReLU."), user="U1")).json()
    assert other["response_action"] == "update"
    async with world.app.sessions() as session:
        assert len((await session.execute(sa.select(Answer))).scalars().all()) == 2

    async def unavailable(*args, **kwargs):
        raise ConnectionError("database down")

    third = text + " And leaky ReLU."
    with monkeypatch.context() as patched:
        patched.setattr(world.app.answers, "submit", unavailable)
        failed = (await world.slack.submit(view, answer_values(third), user="U1")).json()
    assert "could not be stored just now" in failed["errors"]["answer"]
    stored = (await world.slack.submit(view, answer_values(third), user="U1")).json()
    assert stored["response_action"] == "update"
    async with world.app.sessions() as session:
        assert len((await session.execute(sa.select(Answer))).scalars().all()) == 3


async def test_a_forged_target_is_refused_as_a_field_error(world):
    view = await _answer_form(world)
    for metadata in ('{"t":"daily:999999","c":"C1"}', '{"t":"bogus"}', "not json"):
        forged = {**view, "private_metadata": metadata}
        body = (await world.slack.submit(forged, answer_values("an answer"), user="U1")).json()
        assert body["errors"]["answer"] == "That question does not exist."


async def test_another_workspace_cannot_answer_this_workspace_post(world):
    view = await _answer_form(world)
    body = (await world.slack.submit(view, answer_values("hi there"), user="U9", team="T2")).json()
    assert body["errors"]["answer"] == "That question does not exist."


async def test_an_answer_that_cannot_be_stored_says_so_under_the_input(world, monkeypatch):
    view = await _answer_form(world)

    async def unavailable(*args, **kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(world.app.answers, "submit", unavailable)
    body = (await world.slack.submit(view, answer_values("a fine answer"), user="U1")).json()
    assert body["response_action"] == "errors"
    assert "could not be stored just now" in body["errors"]["answer"]


async def test_answers_skip_bolts_dispatch_but_not_its_signature_check(world):
    """One workspace over HTTP: the answer form's submissions are acknowledged by the adapter's
    answer intake (Bolt's dispatch never sees them), with the same 401 for a stale or mis-signed
    request, and the answer stored before the receipt comes back."""
    intake = world.adapter.answer_intake
    assert intake is not None
    view = await _answer_form(world)
    payload = world.slack.submission(view, answer_values("ReLU keeps positives"), user="U1")
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    stale = world.slack.sign(body, timestamp=int(time.time()) - 600)
    other = world.slack.sign(body.replace("positives", "negatives"))
    for headers in (stale, other):
        refused = await world.slack.post(body, headers=headers)
        assert (refused.status, refused.json()) == (401, {"error": "invalid request"})
    async with world.app.sessions() as session:
        assert (await session.execute(sa.select(Answer))).scalars().all() == []

    dispatched = []
    original = world.adapter.bolt.async_dispatch

    async def counting(request):
        dispatched.append(request)
        return await original(request)

    world.adapter.bolt.async_dispatch = counting
    accepted = await world.slack.post(body)
    assert accepted.status == 200
    assert accepted.json()["response_action"] == "update"
    assert "Answer received" in json.dumps(accepted.json()["view"])
    assert (dispatched, intake.handled) == ([], 1)
    async with world.app.sessions() as session:
        [stored] = (await session.execute(sa.select(Answer))).scalars().all()
    assert stored.text == "ReLU keeps positives"

    # any other request still goes through Bolt
    await world.slack.command("help", user="U1")
    assert len(dispatched) == 1
