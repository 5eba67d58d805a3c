"""The Slack notifier against the fake Web API: posts, thread replies, edits, ephemeral grades
with the direct-message fallback, the workspace's own token, and Slack's errors turned into
the outbox's retry / give-up decisions (a 429's Retry-After is honoured)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.adapters.slack.app import build_web_client
from bot.adapters.slack.installations import NotInstalled, StaticTokens
from bot.adapters.slack.notifier import SlackNotifier
from bot.config import load_settings
from bot.services.cards import notice_card
from bot.services.delivery import Delivery, DeliveryError, PermanentDeliveryError, RetryLater
from bot.storage.models import DeliveryAction, OutboxMessage, OutboxStatus, Platform
from tests.fakes.slack_api import Failure


class NoTokens:
    async def bot_token(self, team_id: str) -> str:
        raise NotInstalled(team_id)


@pytest.fixture
def notifier(fake_slack) -> SlackNotifier:
    settings = load_settings(slack_api_url=fake_slack.api_url)
    return SlackNotifier(build_web_client(settings), StaticTokens("xoxb-team-one"))


def delivery(action: DeliveryAction, **values) -> Delivery:
    defaults = {
        "id": 1,
        "platform": Platform.SLACK,
        "workspace_external_id": "T1",
        "channel_external_id": "C1",
        "member_external_id": "U1",
        "action": action,
        "card": notice_card("Hello <!channel>", "body & more", private=False),
        "topic": "question",
        "attempt": 1,
    }
    return Delivery(**{**defaults, **values})


async def test_post_reply_and_edit(notifier, fake_slack):
    ref = await notifier.deliver(delivery(DeliveryAction.POST))
    channel, ts = ref.split(":")
    assert channel == "C1"
    [post] = fake_slack.of("chat.postMessage")
    assert post.token == "xoxb-team-one" and "thread_ts" not in post.data
    header, body = post.blocks[:2]
    assert header["text"] == {"type": "plain_text", "text": "Hello <!channel>", "emoji": True}
    assert body["text"]["text"] == "body &amp; more"  # mrkdwn: escaped
    assert post.data["text"].startswith("Hello &lt;!channel&gt;")  # the fallback is mrkdwn too
    assert post.data["unfurl_links"] is False and post.data["link_names"] is False

    await notifier.deliver(delivery(DeliveryAction.REPLY, parent_ref=ref))
    assert fake_slack.of("chat.postMessage")[1].data["thread_ts"] == ts
    await notifier.deliver(delivery(DeliveryAction.REPLY, parent_ref=None))  # parent never sent
    assert "thread_ts" not in fake_slack.of("chat.postMessage")[2].data

    assert await notifier.edit(delivery(DeliveryAction.EDIT, parent_ref=ref)) == ref
    [update] = fake_slack.of("chat.update")
    assert update.data["channel"] == "C1" and update.data["ts"] == ts


async def test_private_is_ephemeral_in_the_answer_channel(notifier, fake_slack):
    private = delivery(DeliveryAction.PRIVATE, reply_context={"channel": "C7"}, topic="grade")
    ref = await notifier.deliver(private)
    [ephemeral] = fake_slack.of("chat.postEphemeral")
    assert ephemeral.data["channel"] == "C7" and ephemeral.data["user"] == "U1"
    assert ref.startswith("ephemeral:C7:")
    assert fake_slack.of("conversations.open") == []


@pytest.mark.parametrize("error", ["user_not_in_channel", "channel_not_found", "not_in_channel"])
async def test_private_falls_back_to_a_direct_message(notifier, fake_slack, error):
    fake_slack.fail("chat.postEphemeral", Failure(error=error))
    ref = await notifier.deliver(delivery(DeliveryAction.PRIVATE, topic="grade"))
    [opened] = fake_slack.of("conversations.open")
    assert opened.data["users"] == "U1"
    [direct] = fake_slack.of("chat.postMessage")
    assert direct.data["channel"] == "DU1" and ref.startswith("DU1:")


async def test_private_without_a_channel_or_in_a_dm_goes_straight_to_the_dm(notifier, fake_slack):
    await notifier.deliver(delivery(DeliveryAction.PRIVATE, channel_external_id=None))
    await notifier.deliver(delivery(DeliveryAction.PRIVATE, reply_context={"channel": "D42"}))
    assert fake_slack.of("chat.postEphemeral") == []
    assert len(fake_slack.of("conversations.open")) == 2


async def test_errors_become_retry_or_give_up_without_message_text(notifier, fake_slack):
    fake_slack.fail("chat.postMessage", Failure(error="channel_not_found"))
    with pytest.raises(PermanentDeliveryError) as gone:
        await notifier.deliver(delivery(DeliveryAction.POST))
    assert gone.value.code == "channel_not_found" and "Hello" not in str(gone.value)

    fake_slack.fail("chat.postMessage", Failure(status=503, error="service_unavailable"))
    with pytest.raises(RetryLater):
        await notifier.deliver(delivery(DeliveryAction.POST))

    fake_slack.fail("chat.postMessage", Failure(error="something_new"))
    with pytest.raises(DeliveryError) as unknown:
        await notifier.deliver(delivery(DeliveryAction.POST))
    assert not isinstance(unknown.value, PermanentDeliveryError | RetryLater)

    uninstalled = SlackNotifier(notifier._client, NoTokens())
    with pytest.raises(PermanentDeliveryError) as missing:
        await uninstalled.deliver(delivery(DeliveryAction.POST))
    assert missing.value.code == "not_installed"


async def test_a_429_is_retried_by_the_client_after_retry_after(notifier, fake_slack):
    fake_slack.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=1))
    ref = await notifier.deliver(delivery(DeliveryAction.POST))
    first, second = fake_slack.of("chat.postMessage")
    assert second.at - first.at >= 1.0
    assert ref.startswith("C1:")


async def test_a_persistent_429_makes_the_outbox_wait_retry_after(world):
    """The client retried once; Slack still says 429: the dispatcher schedules the row for
    after Retry-After (on the bot's clock) and sends it then."""
    fake, app = world.fake, world.app
    fake.fail(
        "chat.postMessage",
        Failure(status=429, error="ratelimited", retry_after=1),
        Failure(status=429, error="ratelimited", retry_after=40),
    )
    await world.schedule()
    await app.scheduler.sweep()
    await fake.wait_for("chat.postMessage", 2)
    await world.settle()
    async with app.sessions() as session:
        row = (await session.execute(sa.select(OutboxMessage))).scalars().one()
    assert row.status is OutboxStatus.PENDING and row.last_error == "RetryLater:ratelimited"
    wait = (row.next_attempt_at - app.clock.now()).total_seconds()
    assert 40 <= wait <= 40.5
    app.clock.advance(timedelta(seconds=41))
    await world.settle()
    assert len(fake.of("chat.postMessage")) == 3
    async with app.sessions() as session:
        row = (await session.execute(sa.select(OutboxMessage))).scalars().one()
    assert row.status is OutboxStatus.SENT and row.message_ref.startswith("C1:")


async def test_429s_and_5xx_at_random_deliver_every_message_once_and_late(world):
    """A quarter of Slack's answers are 429 (Retry-After 1) or 5xx while 120 messages go out to
    twelve channels: each message reaches Slack successfully exactly once."""
    import random

    from bot.services.delivery import Target, enqueue
    from tests.fakes.slack_api import RandomFailures

    fake, app = world.fake, world.app
    fake.random_failures = RandomFailures(
        rate=0.25,
        rng=random.Random(14),
        failures=(
            Failure(status=429, error="ratelimited", retry_after=1),
            Failure(status=500, error="internal_error"),
            Failure(status=503, error="service_unavailable"),
        ),
    )
    count = 120
    async with app.sessions() as session:
        for index in range(count):
            target = Target(Platform.SLACK, "T1", channel_external_id=f"C{index % 12}")
            card = notice_card(f"message {index}", "body", private=False)
            enqueue(session, target, card, action=DeliveryAction.POST, topic="notice",
                    now=app.clock.now())  # fmt: skip
        await session.commit()
    for _ in range(100):
        await world.settle(within=120)
        async with app.sessions() as session:
            statuses = (await session.execute(sa.select(OutboxMessage.status))).scalars().all()
        if all(status is OutboxStatus.SENT for status in statuses):
            break
        app.clock.advance(timedelta(minutes=2))  # past every backoff
    posts = fake.of("chat.postMessage")
    delivered = [call.data["text"].split("\n")[0] for call in posts if not call.failed]
    assert sorted(delivered) == sorted(f"message {index}" for index in range(count))
    failed = [call for call in posts if call.failed]
    assert failed, "some calls failed"
    async with app.sessions() as session:
        rows = (await session.execute(sa.select(OutboxMessage))).scalars().all()
    assert all(row.status is OutboxStatus.SENT and row.message_ref for row in rows)
    assert any(row.attempts > 1 for row in rows), "some messages went out late, on a retry"
