"""Slack acknowledgement latency: concurrent signed answer submissions through the real HTTP
endpoint while grading is pending behind a slow LLM, beside a trivial aiohttp handler.

    python bench/slack_ack.py [--answers 500] [--rounds 5] [--llm-seconds 1.0]
                              [--configurations both|in-process|separate] [--identical-answers]
                              [--database-url postgresql://postgres@127.0.0.1:5432/test]

The processes on this machine: the fakes the bot calls (Slack's Web API and an OpenAI-compatible
endpoint answering after ``--llm-seconds``), a trivial aiohttp handler (reads the body, answers a
small JSON), Bolt alone (the same signature check and dispatch, a listener that only
acknowledges: Bolt's own share of the bot's time), this client, and the bot in one or both of two
configurations, each on its own database (SQLite by default):

- ``in-process``: one ``BotApp`` + ``SlackAdapter`` + the runtime's aiohttp server that also runs
  the grading worker (``GRADING_WORKER=true``, the default deployment);
- ``separate``: the same web process with ``GRADING_WORKER=false`` (it stores answers, delivers
  the outbox, never grades) and a second process, ``python -m bot serve`` with no chat settings
  and the worker on, that grades what the first stores (the replica split the README describes).

``--answers`` members first click the Answer button on each bot (the bot resolves them and opens
the form, as in real use), then each round sends every member's signed ``view_submission`` at the
same instant to each server in turn (the order rotates between rounds). Each member's answer text
is their own and changes every round, so the LLM grade cache never answers and grading really
waits on the LLM (``--identical-answers``: one text for everybody, as this bench first did; the
cache then grades every resubmission at CPU speed). One unmeasured round comes first (first
answers and grades). Latency is measured per request in the client, from sending to the full
response. The LLM takes ``--llm-seconds`` per answer at the bot's grading concurrency, so grading
stays pending for the whole run.

Printed: the core count and load average, per round the p50 and p99 of each server, the ratio of
each bot's p99 to the trivial handler's, the CPU time each server process spent per request
during its batch (from /proc: less sensitive to other load than latency), and the load average;
then the medians over the rounds (the machine is shared: compare ratios, not absolute figures).
``SLACK_ACK_PROFILE=/tmp/bot.prof`` writes a cProfile of each bot web process over the measured
rounds (``/tmp/bot.prof.in-process``, ``/tmp/bot.prof.separate``; it slows them down).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import aiohttp
from aiohttp import web
from harness import ROOT, announce, cpu_seconds, percentile, scratch_postgres
from harness import spawn as spawn_helper

from bot.runtime import LISTEN_BACKLOG  # the bot's listen backlog: every server here gets it

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
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
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
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=LISTEN_BACKLOG)
    await site.start()
    announce(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await forever()


async def run_bot(
    slack_port: int, llm_port: int, database_url: str, grading_worker: bool, label: str
) -> None:
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
        grading_worker=grading_worker,
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
            profile.dump_stats(f"{os.environ['SLACK_ACK_PROFILE']}.{label}")
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


def submission_body(user: str, post_id: int, text: str = ANSWER, round_number: int = 0) -> str:
    """A member's answer form submitted; each round is a form opened anew (its own view id, as
    in Slack: the bot treats the same view submitted twice with the same text as one answer)."""
    payload = {
        "type": "view_submission",
        "team": {"id": "T1", "domain": "bench"},
        "user": {"id": user, "team_id": "T1"},
        "view": {
            "id": f"V{user}-{round_number}",
            "type": "modal",
            "callback_id": "interview-answer",
            "private_metadata": json.dumps({"t": f"daily:{post_id}", "c": "C1"}),
            "state": {"values": {"answer": {"text": {"type": "plain_text_input", "value": text}}}},
        },
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def answer_text(user: str, round_number: int, identical: bool) -> str:
    """The member's answer in a round: their own words (no grade cache hit) unless
    ``identical``."""
    if identical:
        return ANSWER
    return f"{ANSWER} Member {user} adds, in round {round_number}, that leaky ReLU avoids it."


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


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "load n/a"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def launch_worker_replica(database_url: str, llm_port: str, port: int) -> subprocess.Popen[bytes]:
    """``python -m bot serve`` with no chat settings and the grading worker on: the replica
    that grades what a ``GRADING_WORKER=false`` web process stores."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_")) and "PROXY" not in key.upper()
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database_url,
        QUESTIONS_DIR=str(ROOT / "tests" / "data" / "mini_bank"),
        OPENAI_API_KEY="sk-bench",
        OPENAI_BASE_URL=f"http://127.0.0.1:{llm_port}/v1",
        GRADING_TIMEOUT_SECONDS="60",
        GRADING_WORKER="true",
        HTTP_PORT=str(port),
        LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], env=env, cwd=str(ROOT), stderr=subprocess.DEVNULL
    )


async def start_worker_replica(
    database_url: str, llm_port: str
) -> tuple[subprocess.Popen[bytes], int]:
    """The worker replica, ready when its /healthz answers 200."""
    port = free_port()
    process = launch_worker_replica(database_url, llm_port, port)
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit("the worker replica (python -m bot serve) failed to start")
            with suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process, port
            await asyncio.sleep(0.1)
    raise SystemExit("the worker replica did not become healthy within 60 s")


class Server:
    """One server under test: where to send, and the processes whose CPU counts for it."""

    def __init__(
        self, name: str, port: str | int, processes: Sequence[Any], extra: Sequence[Any] = ()
    ):
        self.name = name
        self.port = int(port)
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.processes = list(processes)  # the process that answers
        self.extra = list(extra)  # processes working for it in the background (the worker)

    def cpu(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.processes)

    def extra_cpu(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.extra)


BOT_LABELS = {
    "in-process": "bot, grading in the same process",
    "separate": "bot web replica (GRADING_WORKER=false), worker in another process",
}


async def client(args: argparse.Namespace) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores available: {cores} (os.cpu_count() = {os.cpu_count()}); {load()} at start")
    configurations = (
        ["in-process", "separate"] if args.configurations == "both" else [args.configurations]
    )
    workdir = tempfile.mkdtemp(prefix="slack-ack-")
    scratches = []
    database_urls: dict[str, str] = {}
    for name in configurations:
        if args.database_url and args.database_url.startswith("postgresql"):
            scratch = scratch_postgres(args.database_url, "slack_ack")
            database_urls[name] = await scratch.__aenter__()
            scratches.append(scratch)
        else:
            database_urls[name] = args.database_url or f"sqlite:///{workdir}/{name}.db"
    fakes, (slack_port, llm_port) = spawn(
        "--role", "fakes", "--llm-seconds", str(args.llm_seconds), "--answers", str(args.answers)
    )  # fmt: skip
    processes: list[Any] = [fakes]
    try:
        servers: list[Server] = []
        post_ids: dict[str, int] = {}
        for name in configurations:
            bot, (bot_port, post_id) = spawn(
                "--role", "bot", "--slack-port", slack_port, "--llm-port", llm_port,
                "--database-url", database_urls[name], "--label", name,
                "--grading-worker", "on" if name == "in-process" else "off",
            )  # fmt: skip
            processes.append(bot)
            extra = []
            if name == "separate":
                worker, _ = await start_worker_replica(database_urls[name], llm_port)
                processes.append(worker)
                extra.append(worker)
            servers.append(Server(name, bot_port, [bot], extra))
            post_ids[name] = int(post_id)
        trivial, (trivial_port,) = spawn("--role", "trivial")
        processes.append(trivial)
        bolt_only, (bolt_port,) = spawn("--role", "bolt", "--slack-port", slack_port)
        processes.append(bolt_only)
        bots = list(servers)
        servers += [
            Server("trivial", trivial_port, [trivial]),
            Server("bolt", bolt_port, [bolt_only]),
        ]
        users = [f"U{index:05d}" for index in range(args.answers)]

        for bot_server in bots:
            post_id = post_ids[bot_server.name]
            clicks, bad = await fire(
                bot_server.url,
                [click_body(u, post_id, int(slack_port)) for u in users],
                modal=False,
            )
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{bot_server.port}/bench/idle") as probe,
            ):
                warm = await probe.json()
            print(
                f"warm-up ({bot_server.name}): {len(users)} Answer clicks acknowledged, p99 "
                f"{percentile(clicks, 0.99) * 1000:.0f} ms ({bad} bad); members resolved with "
                f"{warm['resolve_writes']} directory writes"
            )

        def bodies_for(server: Server, round_number: int) -> list[str]:
            post_id = post_ids.get(server.name, post_ids[bots[0].name])
            return [
                submission_body(
                    user,
                    post_id,
                    answer_text(user, round_number, args.identical_answers),
                    round_number,
                )
                for user in users
            ]

        # one unmeasured round: first answers, first grades
        for server in servers:
            await fire(server.url, bodies_for(server, 0))
        await asyncio.sleep(min(2 * args.llm_seconds, 5))
        rows: list[dict[str, tuple[float, float, int, float, float]]] = []
        idle_rates: dict[str, list[tuple[float, float]]] = {bot.name: [] for bot in bots}
        for round_number in range(args.rounds):
            before = {bot.name: (bot.cpu(), bot.extra_cpu()) for bot in bots}
            await asyncio.sleep(1.0)  # no requests: the bots grade and deliver in the background
            for bot in bots:
                idle_rates[bot.name].append(
                    (bot.cpu() - before[bot.name][0], bot.extra_cpu() - before[bot.name][1])
                )
            shift = round_number % len(servers)
            order = servers[shift:] + servers[:shift]
            figures: dict[str, tuple[float, float, int, float, float]] = {}
            for server in order:
                bodies = bodies_for(server, round_number + 1)
                cpu_before, extra_before = server.cpu(), server.extra_cpu()
                latencies, bad = await fire(server.url, bodies)
                figures[server.name] = (
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.99),
                    bad,
                    (server.cpu() - cpu_before) / len(bodies),
                    (server.extra_cpu() - extra_before) / len(bodies),
                )
                await asyncio.sleep(0.5)
            rows.append(figures)
            trivial_p99 = figures["trivial"][1]
            parts = [
                f"{bot.name} p50 {figures[bot.name][0] * 1000:.0f} ms p99 "
                f"{figures[bot.name][1] * 1000:.0f} ms ({figures[bot.name][2]} bad, ratio "
                f"{figures[bot.name][1] / trivial_p99:.2f}, CPU/request "
                f"{figures[bot.name][3] * 1000:.2f} ms)"
                for bot in bots
            ]
            print(
                f"round {round_number + 1} ({load()}): " + " | ".join(parts) + " | trivial p50 "
                f"{figures['trivial'][0] * 1000:.0f} ms p99 {trivial_p99 * 1000:.0f} ms "
                f"(CPU/request {figures['trivial'][3] * 1000:.2f} ms) | bolt alone p99 "
                f"{figures['bolt'][1] * 1000:.0f} ms"
            )
        med = statistics.median
        database = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
        answers = "one identical answer" if args.identical_answers else "distinct answers"
        print(
            f"medians over {args.rounds} rounds of {args.answers} concurrent submissions "
            f"({args.llm_seconds:g} s LLM, {database}, {answers}; {load()} at the end):"
        )
        for bot in bots:
            name = bot.name
            print(
                f"  {BOT_LABELS[name]}: p50 {med(r[name][0] for r in rows) * 1000:.0f} ms, "
                f"p99 {med(r[name][1] for r in rows) * 1000:.0f} ms, p99 ratio to trivial "
                f"{med(r[name][1] / r['trivial'][1] for r in rows):.2f} (goal <= 1.5); "
                f"CPU per request {med(r[name][3] for r in rows) * 1000:.2f} ms in the web "
                f"process"
                + (
                    f" (+ {med(r[name][4] for r in rows) * 1000:.2f} ms in the worker replica)"
                    if bot.extra
                    else ""
                )
                + f"; background work with no requests: "
                f"{med(rate[0] for rate in idle_rates[name]) * 1000:.0f} ms CPU/s in the web "
                f"process"
                + (
                    f", {med(rate[1] for rate in idle_rates[name]) * 1000:.0f} ms CPU/s in the "
                    f"worker"
                    if bot.extra
                    else ""
                )
            )
        print(
            f"  trivial handler: p50 {med(r['trivial'][0] for r in rows) * 1000:.0f} ms, "
            f"p99 {med(r['trivial'][1] for r in rows) * 1000:.0f} ms, CPU per request "
            f"{med(r['trivial'][3] for r in rows) * 1000:.2f} ms"
        )
        print(
            f"  Bolt alone (signature check and dispatch, no service call): p50 "
            f"{med(r['bolt'][0] for r in rows) * 1000:.0f} ms, p99 "
            f"{med(r['bolt'][1] for r in rows) * 1000:.0f} ms, CPU per request "
            f"{med(r['bolt'][3] for r in rows) * 1000:.2f} ms"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(10)
        for scratch in scratches:
            await scratch.__aexit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--llm-seconds", type=float, default=1.0)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--configurations",
        default="both",
        choices=["both", "in-process", "separate"],
        help="the bot with grading in its own process, a web replica plus a worker, or both",
    )
    parser.add_argument(
        "--identical-answers",
        action="store_true",
        help="every member sends the same text (the grade cache then answers every regrade)",
    )
    parser.add_argument(
        "--role", default="client", choices=["client", "fakes", "bot", "trivial", "bolt"]
    )
    parser.add_argument("--slack-port", default="0")
    parser.add_argument("--llm-port", default="0")
    parser.add_argument("--grading-worker", default="on", choices=["on", "off"])
    parser.add_argument("--label", default="in-process")
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
        asyncio.run(
            run_bot(
                int(args.slack_port),
                int(args.llm_port),
                args.database_url,
                args.grading_worker == "on",
                args.label,
            )
        )
    else:
        asyncio.run(client(args))


if __name__ == "__main__":
    main()
