"""Slack's 3-second deadline: an answer is acknowledged at once even while the LLM takes
5 seconds per grade; the grade follows privately when it is ready."""

from __future__ import annotations

import asyncio

import pytest

from tests.adapters.slack.conftest import slack_settings, start_world, stop_world
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import all_text, answer_values

ANSWER = "ReLU outputs max(0, x), zero for negative inputs. Its gradient is 1 for positive inputs."


@pytest.fixture
async def slow_llm_world(engine, database_url, fake_slack, clock, rng):
    async with FakeOpenAI() as openai:
        openai.delay = 5.0
        settings = slack_settings(
            database_url,
            fake_slack,
            openai_api_key="sk-test",
            openai_base_url=openai.base_url,
            grading_timeout_seconds=20,
        )
        world = await start_world(settings, fake_slack, clock, rng, real_graders=True)
        yield world, openai
        await stop_world(world)


async def test_answers_are_acknowledged_at_once_while_the_llm_takes_5_seconds(slow_llm_world):
    world, openai = slow_llm_world
    fake, slack = world.fake, world.slack
    members = [f"U{index}" for index in range(1, 9)]
    for member in members:
        fake.add_user(member, f"Member {member}")
    await world.schedule()
    await world.app.scheduler.sweep()
    await world.settle()
    [post] = await fake.wait_for("chat.postMessage")
    button = next(e for b in post.blocks if b["type"] == "actions" for e in b["elements"])
    for member in members:
        await slack.click(button["action_id"], button["value"], user=member)
    opened = await fake.wait_for("views.open", len(members))
    view = opened[0].view

    first = await slack.submit(view, answer_values(ANSWER), user=members[0])
    assert first.status == 200 and first.seconds < 3
    assert first.json()["response_action"] == "update"
    await asyncio.wait_for(_until(lambda: openai.requests), 10)  # the LLM is grading now

    # more answers while that grade is pending: each acknowledged well within the deadline
    rest = await asyncio.gather(
        *(slack.submit(view, answer_values(ANSWER), user=member) for member in members[1:])
    )
    assert all(r.status == 200 and r.json()["response_action"] == "update" for r in rest)
    assert max(r.seconds for r in rest) < 3
    assert fake.of("chat.postEphemeral") == []  # no grade yet: the LLM is still thinking

    grades = await fake.wait_for("chat.postEphemeral", len(members), within=60)
    assert {grade.data["user"] for grade in grades} == set(members)
    assert all("Your grade:" in all_text(grade.blocks) for grade in grades)


async def _until(condition) -> None:
    """Poll a list the fake appends to (it has no event to wait on); the caller bounds it."""
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
