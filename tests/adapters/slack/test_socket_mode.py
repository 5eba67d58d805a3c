"""Socket Mode: with SLACK_APP_TOKEN the adapter opens Slack's websocket (here the fake's) and
handles envelopes there: a slash command and an answer submission, acknowledged on the socket."""

from __future__ import annotations

import urllib.parse

from tests.adapters.slack.conftest import slack_settings, start_world, stop_world
from tests.fakes.slack_api import SlackSim, all_text, answer_values


async def test_socket_mode_handles_a_slash_command_and_an_answer(
    engine, database_url, fake_slack, clock, rng
):
    fake_slack.app_tokens.add("xapp-1-test")
    settings = slack_settings(
        database_url, fake_slack, slack_signing_secret=None, slack_app_token="xapp-1-test"
    )
    assert settings.chat_adapters == ["slack"]
    world = await start_world(settings, fake_slack, clock, rng)
    try:
        await fake_slack.socket_connected()
        [opened] = fake_slack.of("apps.connections.open")
        assert opened.token == "xapp-1-test"
        assert world.adapter.connected()
        # no events endpoint in Socket Mode (the server still answers /healthz)
        async with world.slack.session.post(world.slack.url, data=b"x") as response:
            assert response.status in {404, 405}

        sim = world.slack
        form = dict(urllib.parse.parse_qsl(sim.command_body("help", user="U1", hook="socket")))
        await fake_slack.send_envelope(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": form,
            }
        )
        ack = await fake_slack.socket_ack("env-1")
        assert ack == {"envelope_id": "env-1"}
        await world.settle()
        [reply] = await fake_slack.wait_until(lambda: fake_slack.hook("socket"))
        assert "/interview today" in all_text(reply["blocks"])

        await world.schedule()
        await world.app.scheduler.sweep()
        await world.settle()
        [post] = await fake_slack.wait_for("chat.postMessage")
        button = next(e for b in post.blocks if b["type"] == "actions" for e in b["elements"])
        click = {
            "type": "block_actions",
            "team": {"id": "T1", "domain": "t1"},
            "user": {"id": "U1", "team_id": "T1"},
            "trigger_id": "7.7.trigger",
            "channel": {"id": "C1", "name": "interview-prep"},
            "container": {"type": "message", "channel_id": "C1", "message_ts": "1.2"},
            "response_url": fake_slack.hook_url("socket-click"),
            "actions": [
                {"type": "button", "action_id": button["action_id"], "value": button["value"]}
            ],
        }
        await fake_slack.send_envelope(
            {"envelope_id": "env-2", "type": "interactive", "payload": click}
        )
        await fake_slack.socket_ack("env-2")
        [modal] = await fake_slack.wait_for("views.open")
        submission = SlackSim.submission(
            modal.view, answer_values("ReLU outputs max(0, x)."), user="U1"
        )
        await fake_slack.send_envelope(
            {
                "envelope_id": "env-3",
                "type": "interactive",
                "accepts_response_payload": True,
                "payload": submission,
            }
        )
        ack = await fake_slack.socket_ack("env-3")
        assert ack["payload"]["response_action"] == "update"
        await world.settle()
        [grade] = await fake_slack.wait_for("chat.postEphemeral")
        assert grade.data["user"] == "U1"
    finally:
        await stop_world(world)
