"""Discord: how fast a modal submit is acknowledged while grading is busy.

    python bench/discord_defer.py [--submissions 500] [--repeats 5] [--backlog 40]
                                  [--postgres postgresql://postgres@127.0.0.1:5432/test]

A separate process serves the loopback fake of Discord (REST and gateway) and an OpenAI fake
whose every answer takes 1 s, so the bot's event loop carries only the bot. The bot process runs
the real ``DiscordAdapter`` on a ``BotApp`` (SQLite temp file, or ``--postgres``) with the grading
worker and the outbox dispatcher running, and ``--backlog`` answers already waiting for the slow
LLM. The fake then sends ``--submissions`` answer-modal submits of distinct members as fast as
its socket allows, and measures, for each, the time from sending the INTERACTION_CREATE frame to
receiving the defer callback (and the receipt that replaces it). The same burst against a
client whose handler only defers gives the floor: the difference is what the bot's own work on
the loop costs the acknowledgement.

The core count is printed; the machine is shared, so each figure is the median over
``--repeats`` runs of that run's p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession, web  # noqa: E402

ANSWER = (
    "ReLU outputs max(0, x), so negative inputs become zero; its gradient is 1 for positive "
    "inputs, which reduces vanishing gradients, and it is cheap to compute."
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- the fake process -----------------------------------------------------------------------


async def serve_fakes() -> None:
    """Serve the Discord and OpenAI fakes plus a control endpoint; print the ports; run until
    stdin closes."""
    from tests.fakes.discord_api import FakeDiscord, user
    from tests.fakes.openai_server import FakeOpenAI

    fake = FakeDiscord()
    await fake.start()
    openai = FakeOpenAI()
    openai.delay = 1.0
    await openai.start()

    async def burst(request: web.Request) -> web.Response:
        spec = await request.json()
        count = int(spec["count"])
        refs = []
        for index in range(count):
            member = user(str(2_200_000_000_000_000_000 + index), f"member{index}")
            ref, payload = fake.modal_submit_payload(
                spec["custom_id"], {"answer": ANSWER}, member=member
            )
            refs.append((ref, payload))
        sent: dict[str, float] = {}
        first_call = len(fake.calls)
        for ref, payload in refs:
            sent[ref.token] = time.perf_counter()
            await fake.send_interaction(payload)
        tokens = set(sent)
        await fake.wait_for(
            lambda call: call.path.endswith("/callback") and call.path.split("/")[2] in tokens,
            within=120,
            count=count,
        )
        if spec.get("receipts"):
            await fake.wait_for(
                lambda call: (
                    call.method == "PATCH"
                    and call.path.endswith("@original")
                    and call.path.split("/")[2] in tokens
                ),
                within=120,
                count=count,
            )
        defer: list[float] = []
        receipt: list[float] = []
        for call in fake.calls[first_call:]:
            parts = call.path.split("/")
            if call.path.endswith("/callback") and parts[2] in sent:
                defer.append(call.at - sent[parts[2]])
            elif call.method == "PATCH" and call.path.endswith("@original") and parts[2] in sent:
                receipt.append(call.at - sent[parts[2]])
        return web.json_response({"defer": defer, "receipt": receipt})

    control = web.Application()
    control.router.add_post("/burst", burst)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"discord": fake.port, "openai": openai.port, "control": control_port}))
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()
    await openai.close()
    await fake.close()


# --- the bot process ------------------------------------------------------------------------


async def run_bot(ports: dict[str, int], database_url: str, args: argparse.Namespace) -> dict:
    import discord
    import yarl

    from bot.adapters.discord.app import DiscordAdapter
    from bot.app import BotApp
    from bot.config import load_settings
    from bot.services.answers import AnswerTarget
    from bot.services.channels import ConfigChange
    from bot.storage.models import Platform

    api = f"http://127.0.0.1:{ports['discord']}/api/v10"
    gateway = f"ws://127.0.0.1:{ports['discord']}/gw/"
    settings = load_settings(
        database_url=database_url,
        questions_dir=ROOT / "tests" / "data" / "mini_bank",
        discord_token="bench-token",
        discord_api_url=api,
        discord_gateway_url=gateway,
        openai_api_key="sk-bench",
        openai_base_url=f"http://127.0.0.1:{ports['openai']}/v1",
        log_level="WARNING",
    )
    discord.http.Route.BASE = api
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    app = await BotApp.create(settings)
    adapter = DiscordAdapter(settings, identify_spacing=0, guild_ready_timeout=0.05)
    await adapter.start(app, web.Application())
    await app.start([adapter.notifier], schedule=False)
    await asyncio.wait_for(adapter.ready.wait(), 30)
    try:
        admin = await app.directory.resolve(
            Platform.DISCORD, "3100000000000000001", "1", channel_external_id="4100000000000000001",
            is_admin=True,
        )  # fmt: skip
        now = app.clock.now()
        await app.channels.update(
            admin,
            admin.channel_id,
            ConfigChange(enabled=True, days="daily", post_time=f"{now:%H}:00", answer_window="23h"),
        )
        opened = await app.daily.open_due(admin.channel_id)
        assert opened is not None
        target = AnswerTarget.daily(opened.post.id)
        # the grading backlog: answers already waiting for the 1 s LLM
        for index in range(args.backlog):
            member = await app.directory.resolve(
                Platform.DISCORD, "3100000000000000001", f"9{index}",
                channel_external_id="4100000000000000001",
            )  # fmt: skip
            await app.answers.submit(member, target, ANSWER)
        # the members click first (that resolves them), as they would before the form opens
        for index in range(args.submissions):
            await app.directory.resolve(
                Platform.DISCORD, "3100000000000000001", str(2_200_000_000_000_000_000 + index),
                channel_external_id="4100000000000000001", member_name=f"member{index}",
            )  # fmt: skip
        async with ClientSession() as http:
            response = await http.post(
                f"http://127.0.0.1:{ports['control']}/burst",
                json={
                    "count": args.submissions,
                    "custom_id": f"iv:ma:daily:{opened.post.id}:3100000000000000001",
                    "receipts": True,
                },
                timeout=None,
            )
            result = await response.json()
        result["pending_grades"] = await _pending(app)
        return result
    finally:
        await adapter.stop()
        await app.close()


async def _pending(app: Any) -> int:
    import sqlalchemy as sa

    from bot.storage.models import Answer, AnswerStatus

    async with app.sessions() as session:
        return int(
            (
                await session.execute(
                    sa.select(sa.func.count(Answer.id)).where(
                        Answer.status.in_([AnswerStatus.PENDING, AnswerStatus.GRADING])
                    )
                )
            ).scalar_one()
        )


async def run_defer_only(ports: dict[str, int], args: argparse.Namespace) -> dict:
    """The floor: a client whose only handler defers."""
    import discord
    import yarl

    api = f"http://127.0.0.1:{ports['discord']}/api/v10"
    discord.http.Route.BASE = api
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(
        f"ws://127.0.0.1:{ports['discord']}/gw/"
    )
    client = discord.Client(intents=discord.Intents.none())
    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        ready.set()

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)

    task = asyncio.create_task(client.start("bench-token"))
    await asyncio.wait_for(ready.wait(), 30)
    try:
        async with ClientSession() as http:
            response = await http.post(
                f"http://127.0.0.1:{ports['control']}/burst",
                json={"count": args.submissions, "custom_id": "iv:ma:daily:1:1"},
                timeout=None,
            )
            return await response.json()
    finally:
        await client.close()
        task.cancel()


async def bench(args: argparse.Namespace) -> None:
    fakes = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve-fakes",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert fakes.stdout is not None and fakes.stdin is not None
    ports = json.loads((await fakes.stdout.readline()).decode())
    backends = {"sqlite": None}
    if args.postgres:
        backends["postgresql"] = args.postgres
    figures: dict[str, list[dict]] = {"defer only": []}
    try:
        for repeat in range(args.repeats):
            # alternate the order: on a shared machine the first run of a round is often slower
            if repeat % 2 == 0:
                figures["defer only"].append(await run_defer_only(ports, args))
            for name, url in backends.items():
                figures.setdefault(f"bot ({name})", []).append(await _bot_run(ports, url, args))
            if repeat % 2 == 1:
                figures["defer only"].append(await run_defer_only(ports, args))
    finally:
        fakes.stdin.close()
        await fakes.wait()

    print(f"cores: {os.cpu_count()}  submissions: {args.submissions}  repeats: {args.repeats}  "
          f"LLM fake: 1.0 s per answer  backlog: {args.backlog}")  # fmt: skip
    print(f"{'handler':<20} {'defer p50':>10} {'defer p99':>10} {'receipt p50':>12} "
          f"{'receipt p99':>12} {'grades pending':>15}")  # fmt: skip
    for name, runs in figures.items():

        def median(key: str, share: float, runs: list[dict] = runs) -> str:
            values = [percentile(run[key], share) * 1000 for run in runs if run.get(key)]
            return f"{statistics.median(values):.0f} ms" if values else "—"

        pending = [run["pending_grades"] for run in runs if "pending_grades" in run]
        for run in runs:
            assert len(run["defer"]) == args.submissions, f"{name}: missing acknowledgements"
        print(
            f"{name:<20} {median('defer', 0.5):>10} {median('defer', 0.99):>10} "
            f"{median('receipt', 0.5):>12} {median('receipt', 0.99):>12} "
            f"{(str(int(statistics.median(pending))) if pending else '—'):>15}"
        )


async def _bot_run(ports: dict[str, int], url: str | None, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        database = url or f"sqlite:///{Path(folder) / 'bench.db'}"
        if url:
            database = await _scratch_postgres(url)
        try:
            return await run_bot(ports, database, args)
        finally:
            if url:
                await _drop_postgres(database)


async def _scratch_postgres(server: str) -> str:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from bot.storage.db import create_engine

    url = server.replace("postgresql://", "postgresql+asyncpg://", 1)
    name = f"bench_discord_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url).set(database="postgres").render_as_string(False))
    async with admin.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(url).set(database=name).render_as_string(False)


async def _drop_postgres(url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from bot.storage.db import create_engine

    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres").render_as_string(False))
    async with admin.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backlog", type=int, default=40)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--serve-fakes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fakes:
        asyncio.run(serve_fakes())
    else:
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
