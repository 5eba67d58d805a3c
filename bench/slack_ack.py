"""Slack acknowledgement latency: concurrent signed answer submissions through the real HTTP
endpoint while grading is pending behind a slow LLM, beside a trivial aiohttp handler.

    python bench/slack_ack.py [--answers 500] [--rounds 5] [--llm-seconds 1.0]
                              [--database-url postgresql://postgres@127.0.0.1:5432/test]

Five processes on this machine: the bot (``BotApp`` + ``SlackAdapter`` + the runtime's aiohttp
server, SQLite by default, the LLM grader), the fakes it calls (Slack's Web API and an
OpenAI-compatible endpoint answering after ``--llm-seconds``), a trivial aiohttp handler (reads
the body, answers a small JSON), Bolt alone (the same signature check and dispatch, a listener
that only acknowledges: Bolt's own share of the bot's time), and this client. ``--answers`` members first click the Answer
button (the bot resolves them and opens the form, as in real use), then each round sends every
member's signed ``view_submission`` at the same instant to the bot, and the same signed bodies to
the trivial handler; the order alternates between rounds. One unmeasured round comes first (the
first answers and grades, when the grader loads its model); later rounds are resubmissions. Latency is measured per request in the
client, from sending to the full response. The LLM takes ``--llm-seconds`` per answer at the
bot's grading concurrency, so grading stays pending for the whole run.

Printed: the core count, p50 and p99 of each per round, the ratio of the p99s, the CPU time each
server process spent per request during its batch (from /proc: less sensitive to other load on
the machine than latency), and the medians over the rounds (the machine is shared: compare
ratios, not absolute figures). ``SLACK_ACK_PROFILE=/tmp/bot.prof`` writes a cProfile of the
bot process over the measured rounds (for tuning; it slows the bot down).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.parse
from contextlib import suppress
from typing import Any

import aiohttp
from aiohttp import web
from harness import ROOT, announce, cpu_seconds, percentile, scratch_postgres
from harness import spawn as spawn_helper

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
ANSWER = (
    "ReLU outputs max(0, x): negative inputs become zero and positive inputs pass unchanged. "
    "Its gradient is 1 for positive inputs, which reduces vanishing gradients, it is cheap to "
    "compute and gives sparse activations; units can die and get stuck at zero."
)


async def forever() -> None:
    await asyncio.Event().wait()


# --- the processes -----------------------------------------------------------------------------


async def run_fakes(llm_seconds: float, members: int) -> None:
    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.slack_api import FakeSlack

    async with FakeSlack() as slack, FakeOpenAI() as llm:
        slack.add_team(TOKEN, "T1", "Bench")
        for index in range(members):
            slack.add_user(f"U{index:05d}", f"Member {index}")
        llm.delay = llm_seconds
        slack.calls = _Discard()  # type: ignore[assignment]  # keep memory flat
        announce(slack.port, llm.port)
        await forever()


class _Discard(list):  # type: ignore[type-arg]
    def append(self, item: object) -> None:
        pass


async def run_trivial() -> None:
    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"response_action": "clear"})

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    announce(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await forever()


async def run_bolt_only(slack_port: int) -> None:
    """Bolt alone: the same AsyncApp set-up (signature check, authorization, process before
    response) with a listener that acknowledges at once, no service call: Bolt's own share."""
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    bolt = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=f"http://127.0.0.1:{slack_port}/api/"),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @bolt.view("interview-answer")
    async def answered(ack: Any) -> None:
        await ack(response_action="clear")

    async def handle(request: web.Request) -> web.Response:
        from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    announce(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await forever()


async def run_bot(slack_port: int, llm_port: int, database_url: str) -> None:
    import logging

    from bot.adapters.slack.app import SlackAdapter
    from bot.app import BotApp
    from bot.config import load_settings
    from bot.runtime import Server
    from bot.services.channels import ConfigChange
    from bot.storage.models import Platform

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(
        database_url=database_url,
        questions_dir=ROOT / "tests" / "data" / "mini_bank",
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=f"http://127.0.0.1:{slack_port}/api/",
        openai_api_key="sk-bench",
        openai_base_url=f"http://127.0.0.1:{llm_port}/v1",
        grading_timeout_seconds=60,
        log_level="WARNING",
    )
    app = await BotApp.create(settings)
    adapter = SlackAdapter(settings)
    server = Server(app, [adapter], port=0, host="127.0.0.1")

    profile: Any = None

    async def idle(request: web.Request) -> web.Response:
        nonlocal profile
        assert adapter.bridge is not None
        await adapter.bridge.tasks.idle(within=120)
        if os.environ.get("SLACK_ACK_PROFILE"):  # profile the measured rounds, for tuning
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
        return web.json_response({"resolve_writes": app.directory.writes})

    server.http.router.add_get("/bench/idle", idle)  # the benchmark's own probe
    await server.start()
    admin = await app.directory.resolve(
        Platform.SLACK, "T1", "UADMIN", channel_external_id="C1", is_admin=True
    )
    assert admin.channel_id is not None
    await app.channels.update(
        admin,
        admin.channel_id,
        ConfigChange(enabled=True, days="daily", post_time="00:00", answer_window="23h59m"),
    )
    opened = await app.daily.open_due(admin.channel_id)
    assert opened is not None and opened.post.id is not None
    announce(server.bound_port, opened.post.id)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        if profile is not None:
            profile.disable()
            profile.dump_stats(os.environ["SLACK_ACK_PROFILE"])
        await server.stop()


# --- the client --------------------------------------------------------------------------------


def spawn(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    return spawn_helper(__file__, *args)


def signed(body: str) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    stamp = str(int(time.time()))
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(
            timestamp=stamp, body=body
        ),
    }


def click_body(user: str, post_id: int, slack_port: int) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "bench"},
        "user": {"id": user, "team_id": "T1"},
        "trigger_id": f"{user}.trigger",
        "channel": {"id": "C1", "name": "bench"},
        "container": {"type": "message", "channel_id": "C1", "message_ts": "1.1"},
        "response_url": f"http://127.0.0.1:{slack_port}/hooks/{user}",
        "actions": [{"type": "button", "action_id": "answer-daily#0", "value": str(post_id)}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def submission_body(user: str, post_id: int) -> str:
    payload = {
        "type": "view_submission",
        "team": {"id": "T1", "domain": "bench"},
        "user": {"id": user, "team_id": "T1"},
        "view": {
            "id": f"V{user}",
            "type": "modal",
            "callback_id": "interview-answer",
            "private_metadata": json.dumps({"t": f"daily:{post_id}", "c": "C1"}),
            "state": {
                "values": {"answer": {"text": {"type": "plain_text_input", "value": ANSWER}}}
            },
        },
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


async def fire(url: str, bodies: list[str], *, modal: bool = True) -> tuple[list[float], int]:
    """Send every body at once; per-request latency (seconds) and the count of bad replies."""
    prepared = [(body, signed(body)) for body in bodies]
    connector = aiohttp.TCPConnector(limit=0)
    latencies: list[float] = []
    bad = 0
    start = asyncio.Event()
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: str, headers: dict[str, str]) -> None:
            nonlocal bad
            await start.wait()
            began = time.perf_counter()
            async with session.post(url, data=body.encode(), headers=headers) as response:
                text = await response.text()
            latencies.append(time.perf_counter() - began)
            if response.status != 200 or (modal and '"response_action"' not in text):
                bad += 1

        tasks = [asyncio.create_task(one(body, headers)) for body, headers in prepared]
        await asyncio.sleep(0.05)
        start.set()
        await asyncio.gather(*tasks)
    return latencies, bad


async def client(args: argparse.Namespace) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores available: {cores} (os.cpu_count() = {os.cpu_count()})")
    workdir = tempfile.mkdtemp(prefix="slack-ack-")
    database_url = args.database_url or f"sqlite:///{workdir}/bench.db"
    scratch = None
    if args.database_url and args.database_url.startswith("postgresql"):
        scratch = scratch_postgres(args.database_url, "slack_ack")
        database_url = await scratch.__aenter__()
    fakes, (slack_port, llm_port) = spawn(
        "--role", "fakes", "--llm-seconds", str(args.llm_seconds), "--answers", str(args.answers)
    )  # fmt: skip
    processes = [fakes]
    try:
        bot, (bot_port, post_id) = spawn(
            "--role", "bot", "--slack-port", slack_port, "--llm-port", llm_port,
            "--database-url", database_url,
        )  # fmt: skip
        processes.append(bot)
        trivial, (trivial_port,) = spawn("--role", "trivial")
        processes.append(trivial)
        bolt_only, (bolt_port,) = spawn("--role", "bolt", "--slack-port", slack_port)
        processes.append(bolt_only)
        bolt_url = f"http://127.0.0.1:{bolt_port}/slack/events"
        bot_url = f"http://127.0.0.1:{bot_port}/slack/events"
        trivial_url = f"http://127.0.0.1:{trivial_port}/slack/events"
        users = [f"U{index:05d}" for index in range(args.answers)]

        clicks, bad = await fire(
            bot_url, [click_body(u, int(post_id), int(slack_port)) for u in users], modal=False
        )
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{bot_port}/bench/idle") as probe,
        ):
            warm = await probe.json()
        print(
            f"warm-up: {len(users)} Answer clicks acknowledged, p99 {percentile(clicks, 0.99) * 1000:.0f} ms"
            f" ({bad} bad); members resolved with {warm['resolve_writes']} directory writes"
        )
        bodies = [submission_body(user, int(post_id)) for user in users]
        # one unmeasured round: first answers, first grades (the grader loads its model once)
        await fire(bot_url, bodies)
        await fire(trivial_url, bodies)
        await fire(bolt_url, bodies)
        await asyncio.sleep(min(2 * args.llm_seconds, 5))
        rows = []
        idle_rates = []
        for round_number in range(args.rounds):
            before = cpu_seconds(bot.pid)
            await asyncio.sleep(1.0)  # no requests: the bot grades and delivers in the background
            idle_rates.append(cpu_seconds(bot.pid) - before)
            order = [
                ("bot", bot_url, bot),
                ("trivial", trivial_url, trivial),
                ("bolt", bolt_url, bolt_only),
            ]
            order = order[round_number % 3 :] + order[: round_number % 3]
            figures: dict[str, tuple[float, float, int, float]] = {}
            for name, url, process in order:
                cpu_before = cpu_seconds(process.pid)
                latencies, bad = await fire(url, bodies)
                cpu = (cpu_seconds(process.pid) - cpu_before) / len(bodies)
                figures[name] = (
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.99),
                    bad,
                    cpu,
                )
                await asyncio.sleep(0.5)
            ratio = figures["bot"][1] / figures["trivial"][1]
            rows.append((figures, ratio))
            print(
                f"round {round_number + 1}: bot p50 {figures['bot'][0] * 1000:.0f} ms "
                f"p99 {figures['bot'][1] * 1000:.0f} ms ({figures['bot'][2]} bad) | trivial p50 "
                f"{figures['trivial'][0] * 1000:.0f} ms p99 {figures['trivial'][1] * 1000:.0f} ms "
                f"| bolt alone p99 {figures['bolt'][1] * 1000:.0f} ms | p99 ratio {ratio:.2f} | "
                f"server CPU per request: bot {figures['bot'][3] * 1000:.2f} ms, trivial "
                f"{figures['trivial'][3] * 1000:.2f} ms"
            )
        med = statistics.median
        print(
            f"median over {args.rounds} rounds of {args.answers} concurrent submissions "
            f"({args.llm_seconds:g} s LLM, {'PostgreSQL' if 'postgresql' in database_url else 'SQLite'}): "
            f"bot p50 {med(r[0]['bot'][0] for r in rows) * 1000:.0f} ms, "
            f"p99 {med(r[0]['bot'][1] for r in rows) * 1000:.0f} ms; "
            f"trivial p50 {med(r[0]['trivial'][0] for r in rows) * 1000:.0f} ms, "
            f"p99 {med(r[0]['trivial'][1] for r in rows) * 1000:.0f} ms; "
            f"p99 ratio {med(r[1] for r in rows):.2f} (goal <= 1.5); Bolt alone (signature check "
            f"and dispatch, no service call) p50 {med(r[0]['bolt'][0] for r in rows) * 1000:.0f} ms,"
            f" p99 {med(r[0]['bolt'][1] for r in rows) * 1000:.0f} ms. Server CPU per request "
            f"(less noisy): bot {med(r[0]['bot'][3] for r in rows) * 1000:.2f} ms, Bolt alone "
            f"{med(r[0]['bolt'][3] for r in rows) * 1000:.2f} ms, trivial "
            f"{med(r[0]['trivial'][3] for r in rows) * 1000:.2f} ms; the bot's background work "
            f"(grading, delivery) with no requests: {med(idle_rates) * 1000:.0f} ms of CPU per second"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(10)
        if scratch is not None:
            await scratch.__aexit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--llm-seconds", type=float, default=1.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--role", default="client", choices=["client", "fakes", "bot", "trivial", "bolt"]
    )
    parser.add_argument("--slack-port", default="0")
    parser.add_argument("--llm-port", default="0")
    args = parser.parse_args()
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        os.environ.pop(name, None)
    if args.role == "fakes":
        asyncio.run(run_fakes(args.llm_seconds, args.answers))
    elif args.role == "trivial":
        asyncio.run(run_trivial())
    elif args.role == "bolt":
        asyncio.run(run_bolt_only(int(args.slack_port)))
    elif args.role == "bot":
        asyncio.run(run_bot(int(args.slack_port), int(args.llm_port), args.database_url))
    else:
        asyncio.run(client(args))


if __name__ == "__main__":
    main()
