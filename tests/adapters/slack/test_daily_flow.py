"""The whole daily flow through real Slack requests: scheduled post -> Answer -> views.open ->
submission -> acknowledgement -> ephemeral grade -> close -> chat.update + reveal in thread."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from bot.storage.models import OutboxMessage
from tests.fakes.slack_api import all_text, answer_values

ANSWER = "ReLU outputs max(0, x); its gradient is 1 for positive inputs and it is cheap."


async def test_scheduled_post_answer_grade_close_and_reveal(world):
    fake, slack = world.fake, world.slack
    await world.schedule()
    await world.app.scheduler.sweep()  # 09:00 Berlin: the post is due
    await world.settle()

    [post] = await fake.wait_for("chat.postMessage")
    assert post.data["channel"] == "C1" and post.token == "xoxb-team-one"
    post_ts = await _message_ts(world)
    [answer_button] = [
        element
        for block in post.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert answer_button["action_id"].startswith("answer-daily")
    assert "Closes <!date^" in all_text(post.blocks)

    clicked = await slack.click(answer_button["action_id"], answer_button["value"], user="U1")
    assert clicked.status == 200 and clicked.seconds < 3
    [opened] = await fake.wait_for("views.open")
    view = opened.view
    assert view["callback_id"] == "interview-answer"
    answer_input = next(block for block in view["blocks"] if block["type"] == "input")
    assert answer_input["element"]["max_length"] == 3000
    assert "3,000 characters" in answer_input["hint"]["text"]
    assert "Only you see" in all_text(view["blocks"])

    submitted = await slack.submit(view, answer_values(ANSWER), user="U1")
    assert submitted.status == 200 and submitted.seconds < 3
    ack = submitted.json()
    assert ack["response_action"] == "update"
    assert "Received" in all_text(ack["view"]["blocks"])

    await world.settle()
    [grade] = await fake.wait_for("chat.postEphemeral")
    assert grade.data["channel"] == "C1" and grade.data["user"] == "U1"
    grade_text = all_text(grade.blocks)
    assert "Your grade:" in grade_text and "✅" in grade_text

    # a resubmission's form says it replaces the earlier answer and shows its score
    await slack.click(answer_button["action_id"], answer_button["value"], user="U1")
    opened_again = (await fake.wait_for("views.open", 2))[-1]
    assert "This replaces your answer of" in all_text(opened_again.view["blocks"])
    assert "/100" in all_text(opened_again.view["blocks"])

    world.app.clock.advance(timedelta(hours=23, minutes=1))
    await world.app.scheduler.sweep()
    await world.settle()
    question_ts = post_ts
    [closed] = await fake.wait_for("chat.update")
    assert closed.data["channel"] == "C1" and closed.data["ts"] == question_ts
    assert "Closed · 1 answer" in all_text(closed.blocks)
    assert not [b for b in closed.blocks if b["type"] == "actions"]  # no Answer button any more
    reveal = await fake.wait_until(
        lambda: [call for call in fake.of("chat.postMessage") if call.data.get("thread_ts")]
    )
    assert reveal[0].data["channel"] == "C1" and reveal[0].data["thread_ts"] == question_ts
    reveal_text = all_text(reveal[0].blocks)
    assert "reference answer" in reveal_text.lower() and "Alice" in reveal_text


async def _message_ts(world) -> str:
    """The ts Slack returned for the question post, as the outbox recorded it."""
    async with world.app.sessions() as session:
        ref = (
            await session.execute(
                sa.select(OutboxMessage.message_ref).where(OutboxMessage.topic == "question")
            )
        ).scalar_one()
    channel, _, ts = ref.partition(":")
    assert channel == "C1"
    return ts
