"""Daily fan-out: the morning question opened in every channel and delivered to a chat platform
that enforces Slack's posting limits.

    python bench/fanout.py [--channels 10000] [--global-rate 200] [--postgres URL] [--no-sqlite]

A loopback fake of Slack's Web API (``tests/fakes/slack_api.py`` with ``RateLimits``) runs in its
own process and refuses ``chat.postMessage`` with HTTP 429 and a Retry-After when a channel gets
a second message within a second, or when more than ``--global-rate`` messages arrive in any
second. The bot's side is the production path: ``BotApp`` (migrated database, the shipped bank),
``--channels`` channels of one workspace all scheduled for this minute, ``DailyScheduler``'s
catch-up (what a start and every sweep run) opening each channel's post through
``DailyService.open_due``, and the outbox ``Dispatcher`` (the bot's own settings) delivering
through the real ``SlackNotifier`` and ``slack_sdk`` client. The posts are opened first and
timed on their own; then the dispatcher starts and delivers them all, so its figure is the
dispatcher's and the platform's alone (in the bot it runs while the posts open).

Printed: the core count; the time from the dispatcher's start to the platform accepting the last
post, the ideal (channels / global rate), their ratio, the bot's CPU time per post; how many 429s
the platform sent; from the platform's own log, how many channels got exactly one post, none, or
more than one (the proof: every channel exactly one); and how long opening the posts took.
SQLite always, PostgreSQL with ``--postgres`` or ``$TEST_POSTGRES_URL``. ``make bench`` runs the
defaults, the issue's size: 10,000 channels at 200/s (ideal 50 s); it takes 4 to 10 minutes per
database on a shared 2-core machine, most of it opening the posts (8-20 ms of CPU each in
``DailyService.open_due``). ``--channels 2000`` is a quicker look.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness import (
    ROOT,
    add_database_flags,
    announce,
    machine_line,
    postgres_server,
    run,
    scratch_postgres,
    spawn,
    stop,
)

TOKEN = "xoxb-fanout"
TEAM = "TFAN"


async def run_platform(global_rate: float) -> None:
    """The helper process: the rate-limited Slack fake; on a ``report`` line on stdin it prints
    what it accepted, per channel, and how many calls it refused."""
    from tests.fakes.slack_api import FakeSlack, RateLimits

    async with FakeSlack(rate_limits=RateLimits(per_second=global_rate)) as slack:
        slack.add_team(TOKEN, TEAM, "Fan-out")
        announce(slack.api_url)
        loop = asyncio.get_running_loop()
        while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "report":
            accepted = [c for c in slack.of("chat.postMessage") if not c.failed]
            print(
                json.dumps(
                    {
                        "per_channel": Counter(str(c.data.get("channel")) for c in accepted),
                        "rejected": slack.rate_limits.rejected if slack.rate_limits else 0,
                        "last": max((c.at for c in accepted), default=None),
                    }
                ),
                flush=True,
            )


def report(platform: Any) -> dict[str, Any]:
    platform.stdin.write("report\n")
    platform.stdin.flush()
    return dict(json.loads(platform.stdout.readline()))


async def add_channels(app: Any, count: int, post_time: datetime) -> list[str]:
    """``count`` channels of one workspace, daily at ``post_time`` (UTC), all enabled."""
    from bot.storage.db import transaction
    from bot.storage.models import Channel, Platform

    admin = await app.directory.resolve(Platform.SLACK, TEAM, "UADMIN", is_admin=True)
    names = [f"C{index:06d}" for index in range(count)]
    now = app.clock.now()
    async with transaction(app.sessions) as session:
        session.add_all(
            Channel(
                workspace_id=admin.workspace_id,
                external_id=name,
                name=f"interview-{index}",
                post_time=post_time.time().replace(second=0, microsecond=0),
                timezone="UTC",
                post_days=[0, 1, 2, 3, 4, 5, 6],
                created_at=now,
                updated_at=now,
            )
            for index, name in enumerate(names)
        )
    return names


async def fan_out(
    name: str, url: str, api_url: str, platform: Any, args: argparse.Namespace
) -> str:
    import aiohttp

    from bot.adapters.slack.app import build_web_client
    from bot.adapters.slack.installations import StaticTokens
    from bot.adapters.slack.notifier import SlackNotifier
    from bot.app import BotApp
    from bot.config import load_settings
    from bot.services.scheduler import DailyScheduler
    from bot.storage.models import Platform

    settings = load_settings(
        database_url=url,
        questions_dir=ROOT / "questions",
        slack_api_url=api_url,
        log_level="WARNING",
    )
    app = await BotApp.create(settings)
    session = aiohttp.ClientSession()
    try:
        channels = await add_channels(app, args.channels, app.clock.now() - timedelta(minutes=1))
        scheduler = DailyScheduler(app.sessions, app.daily, app.clock, platforms={Platform.SLACK})
        started = time.monotonic()
        opened = await scheduler.catch_up()
        opening = time.monotonic() - started
        before = report(platform)
        notifier = SlackNotifier(build_web_client(settings, session=session), StaticTokens(TOKEN))
        app.dispatcher.add_notifier(notifier)
        started, cpu = time.monotonic(), time.process_time()
        await app.dispatcher.start()
        deadline = started + args.timeout
        while app.dispatcher.delivered < len(opened):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        cpu = time.process_time() - cpu
        after = report(platform)
    finally:
        await app.close()
        await session.close()
    counts = Counter(after["per_channel"]) - Counter(before["per_channel"])
    exactly_one = sum(1 for channel in channels if counts.get(channel) == 1)
    none = sum(1 for channel in channels if not counts.get(channel))
    more = sum(1 for channel in channels if counts.get(channel, 0) > 1)
    elapsed = (after["last"] or time.monotonic()) - started
    ideal = len(channels) / args.global_rate
    rejected = after["rejected"] - before["rejected"]
    return (
        f"{name}: fan-out to {len(channels):,} channels at {args.global_rate:g} messages/s and "
        f"1 per channel per second: delivering the {len(opened):,} opened posts took "
        f"{elapsed:.1f} s (dispatcher start to the last post accepted); ideal {ideal:.1f} s; "
        f"ratio {elapsed / ideal:.2f}; {1000 * cpu / max(1, len(opened)):.1f} ms of the bot's CPU "
        f"a post; {rejected:,} HTTP 429s; per channel (the platform's "
        f"log): {exactly_one:,} exactly one post, {none:,} none, {more:,} more than one "
        f"({'every channel exactly once' if exactly_one == len(channels) else 'NOT exactly once'})"
        f"; opening the posts (scheduler catch-up, before delivery) took {opening:.1f} s, "
        f"{1000 * opening / max(1, len(opened)):.1f} ms a post"
    )


async def main_async(args: argparse.Namespace) -> None:
    print(machine_line(), flush=True)
    platform, (api_url,) = spawn_platform(args.global_rate)
    lines = []
    try:
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{Path(folder) / 'fanout.db'}"
                lines.append(await fan_out("SQLite", url, api_url, platform, args))
                print(lines[-1], flush=True)
        server = postgres_server(args.postgres)
        if server:
            async with scratch_postgres(server, "fanout") as url:
                lines.append(await fan_out("PostgreSQL", url, api_url, platform, args))
                print(lines[-1], flush=True)
    finally:
        assert platform.stdin is not None
        platform.stdin.close()
        stop([platform])
    print(machine_line())
    for line in lines:
        print(line)


def spawn_platform(global_rate: float) -> tuple[Any, list[str]]:
    return spawn(__file__, "--role", "platform", "--global-rate", str(global_rate), stdin=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--global-rate", type=float, default=200.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (seconds)")
    add_database_flags(parser)
    parser.add_argument("--role", default="bench", choices=["bench", "platform"])
    args = parser.parse_args()
    run(run_platform(args.global_rate) if args.role == "platform" else main_async(args))


if __name__ == "__main__":
    main()
