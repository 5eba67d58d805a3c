"""Mock interviews and disputes through Slack: the turn's Answer button opens the form, the next
question arrives privately, Skip/Stop drive the interview; a grade's Dispute button opens a
reason form, the re-grade comes privately with Accept / ask-an-admin buttons."""

from __future__ import annotations

from tests.fakes.slack_api import Failure, all_text, answer_values, text_value

ANSWER = "ReLU outputs max(0, x), zero for negative inputs; its gradient is 1 for positives."


def buttons(blocks):
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def button(blocks, name):
    return next(b for b in buttons(blocks) if b["action_id"].split("#")[0] == name)


async def test_a_mock_interview_in_slack(world):
    fake, slack = world.fake, world.slack
    await slack.command("mock 2", user="U1", hook="mock")
    await world.settle()
    [first] = await fake.wait_until(lambda: fake.hook("mock"))
    assert first["response_type"] == "ephemeral"
    answer = button(first["blocks"], "answer-mock")
    assert {"mock-skip", "mock-stop"} <= {
        b["action_id"].split("#")[0] for b in buttons(first["blocks"])
    }

    await slack.click(answer["action_id"], answer["value"], user="U1")
    [modal] = await fake.wait_for("views.open")
    reply = await slack.submit(modal.view, answer_values(ANSWER), user="U1")
    assert reply.json()["response_action"] == "update"
    await world.settle()
    privately = await fake.wait_for("chat.postEphemeral", 2)
    texts = [all_text(call.blocks) for call in privately]
    assert all(call.data["user"] == "U1" and call.data["channel"] == "C1" for call in privately)
    assert any("Your grade:" in text for text in texts)
    follow_up = next(call for call in privately if any(
        b["action_id"].startswith("answer-mock") for b in buttons(call.blocks)
    ))  # fmt: skip
    stop = button(follow_up.blocks, "mock-stop")
    await slack.click(stop["action_id"], stop.get("value", ""), user="U1", hook="stop")
    await world.settle()
    [stopped] = await fake.wait_until(lambda: fake.hook("stop"))
    assert stopped["response_type"] == "ephemeral" and all_text(stopped["blocks"])
    # the report's transcript cannot be ephemeral: it goes to the member's direct message
    assert "Sent to your direct messages with the bot" in all_text(stopped["blocks"])
    [(title, transcript)] = await fake.wait_until(lambda: fake.uploaded("DU1"))
    assert title and ANSWER.encode() in transcript


async def test_a_refused_file_leaves_the_card_delivered_once(world):
    fake, slack = world.fake, world.slack
    fake.fail("files.getUploadURLExternal", Failure(200, "missing_scope"))  # an older install
    await slack.command("mock 1", user="U1", hook="mock")
    await world.settle()
    [first] = await fake.wait_until(lambda: fake.hook("mock"))
    stop = button(first["blocks"], "mock-stop")
    await slack.click(stop["action_id"], stop.get("value", ""), user="U1", hook="stop")
    await world.settle()
    [stopped] = await fake.wait_until(lambda: fake.hook("stop"))
    assert "Mock interview" in all_text(stopped["blocks"])
    assert fake.of("files.getUploadURLExternal") and fake.uploaded("DU1") == []


async def test_a_grade_can_be_disputed_then_accepted(world):
    fake, slack = world.fake, world.slack
    await slack.click("practice#0", "", user="U1", hook="p")
    await world.settle()
    [practice] = await fake.wait_until(lambda: fake.hook("p"))
    answer = button(practice["blocks"], "answer-practice")
    await slack.click(answer["action_id"], answer["value"], user="U1")
    [modal] = await fake.wait_for("views.open")
    await slack.submit(modal.view, answer_values(ANSWER), user="U1")
    await world.settle()
    [grade] = await fake.wait_for("chat.postEphemeral")
    dispute = button(grade.blocks, "dispute")

    await slack.click(dispute["action_id"], dispute["value"], user="U1")
    form = (await fake.wait_for("views.open", 2))[-1].view
    assert form["callback_id"] == "interview-dispute"
    empty = await slack.submit(form, {"reason": {"value": text_value("  ")}}, user="U1")
    assert empty.json()["response_action"] == "errors"
    assert "reason" in empty.json()["errors"]
    sent = await slack.submit(
        form, {"reason": {"value": text_value("I did explain the gradient.")}}, user="U1"
    )
    assert sent.json()["response_action"] == "update"
    assert "Dispute received" in all_text(sent.json()["view"]["blocks"])
    again = await slack.submit(form, {"reason": {"value": text_value("Once more.")}}, user="U1")
    assert "one dispute per answer" in again.json()["errors"]["reason"]

    await world.settle()
    regraded = (await fake.wait_for("chat.postEphemeral", 2))[-1]
    assert "after your dispute" in all_text(regraded.blocks)
    accept = button(regraded.blocks, "dispute-accept")
    await slack.click(accept["action_id"], accept["value"], user="U1", hook="accept")
    await world.settle()
    [accepted] = await fake.wait_until(lambda: fake.hook("accept"))
    assert "the new grade stands" in all_text(accepted["blocks"])
    await slack.click(accept["action_id"], accept["value"], user="U1", hook="twice")
    await world.settle()
    [twice] = await fake.wait_until(lambda: fake.hook("twice"))
    assert "not waiting for your answer" in all_text(twice["blocks"])
