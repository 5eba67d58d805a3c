"""Composition root: builds the engine, the bank, the graders and the services from Settings, and
runs the background parts (grading worker, outbox dispatcher, scheduler) for the platforms this
process serves.

Adapters (terminal, Slack, Discord) receive a ready ``BotApp``, implement ``Notifier`` and call
the services; they never build core objects.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from filelock import FileLock
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.domain.bank import FastLoader
from bot.domain.bank_cache import ParsedYamlCache
from bot.grading.base import Grader
from bot.grading.cache import GradeCache
from bot.grading.followup import FollowUpWriter
from bot.grading.offline import OfflineGrader
from bot.grading.separate_process import SeparateProcessGrader
from bot.services.answers import AnswerService
from bot.services.channels import ChannelSettings
from bot.services.commands import InterviewCommands
from bot.services.costs import CostGuard
from bot.services.daily import DailyService
from bot.services.delivery import Dispatcher, Notifier
from bot.services.directory import ChannelDefaults, Directory
from bot.services.disputes import Disputes
from bot.services.engagement import Engagement
from bot.services.grading import GradingWorker
from bot.services.home import HomeService
from bot.services.interviews import MockInterviews
from bot.services.leaderboard import LeaderboardService
from bot.services.practice import PracticeService
from bot.services.question_rows import ScopedBank, SyncReport, load_banks, sync_bank
from bot.services.review import SpacedRepetition
from bot.storage.db import check_connection, create_engine, session_factory
from bot.storage.grade_cache import SqlGradeCache
from bot.storage.migrate import build_schema, is_empty, upgrade_async, upgrade_needed
from bot.storage.models import Platform

if TYPE_CHECKING:
    from bot.services.scheduler import DailyScheduler

log = logging.getLogger(__name__)

#: The PostgreSQL advisory lock key that serialises start-up work (migrations, bank sync).
STARTUP_LOCK_KEY = 0x1B07_0001

#: Parallel intake transactions per database dialect: PostgreSQL checks and writes a batch in
#: its own process while the bot prepares the next part; SQLite has one writer (one, the
#: default, for any other dialect).
INTAKE_PARALLEL_BATCHES = {"postgresql": 2}


def load_configured_bank(settings: Settings) -> ScopedBank:
    """The built-in bank plus the team's own files (see ``bot.services.question_rows``), with
    the parsed-YAML cache unless ``BANK_CACHE_DIR`` is empty."""
    cache = None
    if settings.bank_cache_dir is not None:
        cache = ParsedYamlCache(settings.bank_cache_dir, FastLoader)
    return load_banks(settings.questions_dir, settings.custom_questions_dir, cache)


def grading_prefetch(concurrency: int) -> int:
    """Answers the grading worker claims ahead of its grader slots: a full round (at least two).
    Replies to a round of requests arrive together; with a round claimed ahead, every slot they
    free starts its next answer at once, instead of waiting for the transaction that stores the
    round's grades and claims more. A quarter left about a third of the slots waiting at each
    round at C = 64, and the delays drifted the slots apart, so the last round ended ragged
    (bench/production_intake.py at C = 64: 39-42 idle slot-seconds in 640 answers against 13-22)."""
    return max(2, concurrency)


#: Connections the LLM client keeps open at most; well above ``GRADING_CONCURRENCY``'s maximum
#: (64) plus the follow-up writer's calls, so a grading slot never waits for a connection.
LLM_MAX_CONNECTIONS = 256


def openai_client(settings: Settings, client_retries: int = 0) -> Any:
    """The process's one client for the OpenAI-compatible endpoint (the grader and the
    follow-up writer share it, and so its connection pool).

    Requests go through aiohttp (the openai package's own aiohttp transport) rather than
    httpx's pool: per request, httpx's pool probes every idle keep-alive connection's socket
    (two system calls each), which at 64 concurrent calls cost about as much CPU as the rest of
    the client together; aiohttp's connector does not. The close belongs to whoever asked for
    the client (``BotApp.close``)."""
    import httpx2
    from openai import AsyncOpenAI, DefaultAioHttpClient

    assert settings.openai_api_key is not None, "the LLM needs OPENAI_API_KEY"
    timeout = settings.grading_timeout_seconds
    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        max_retries=client_retries,
        timeout=timeout,
        http_client=DefaultAioHttpClient(
            timeout=timeout,
            limits=httpx2.Limits(
                max_connections=LLM_MAX_CONNECTIONS,
                max_keepalive_connections=LLM_MAX_CONNECTIONS,
            ),
        ),
    )


def build_llm_grader(
    settings: Settings,
    offline: OfflineGrader,
    *,
    cache: GradeCache | None = None,
    client: Any = None,
    client_retries: int = 0,
) -> Grader:
    """The LLM grader for the configured OpenAI-compatible endpoint (through ``client``, else a
    client of its own); the offline grader's relatedness guards it against high scores for
    unrelated answers."""
    from bot.grading.llm import LLMGrader

    return LLMGrader(
        client if client is not None else openai_client(settings, client_retries),
        model=settings.grading_model,
        timeout=settings.grading_timeout_seconds,
        max_tokens=settings.grading_max_tokens,
        cache=cache,
        relatedness=offline.relatedness,
        reasoning_effort=settings.grading_reasoning_effort,
        max_reasoning_tokens=settings.grading_max_reasoning_tokens,
    )


def build_graders(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], *, client: Any = None
) -> tuple[Grader, Grader]:
    """(primary, fallback): the LLM grader when an API key is set, else the offline grader twice
    (in a child process with ``GRADING_PROCESS``). Retries belong to the grading worker, so the
    client itself does not retry. The LLM grader's relatedness check stays in this process.
    ``client``: the process's LLM client, to share (else the grader makes its own)."""
    offline = OfflineGrader()
    grading: Grader = SeparateProcessGrader() if settings.grading_process else offline
    if settings.openai_api_key is None:
        return grading, grading
    llm = build_llm_grader(settings, offline, cache=SqlGradeCache(sessions), client=client)
    return llm, grading


def settle_memory() -> None:
    """After start-up: collect once, then move every object alive now (modules, the bank, the
    embedding index) out of the garbage collector's sight. A full collection otherwise walks
    them all and holds the interpreter for ~100 ms, which the event loop feels as lag."""
    gc.collect()
    gc.freeze()


@asynccontextmanager
async def startup_lock(engine: AsyncEngine, database_url: str) -> AsyncIterator[None]:
    """One process at a time runs migrations and the bank sync: a PostgreSQL advisory lock, or a
    lock file beside the SQLite database."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execute(sa.text(f"SELECT pg_advisory_lock({STARTUP_LOCK_KEY})"))
            try:
                yield
            finally:
                await connection.execute(sa.text(f"SELECT pg_advisory_unlock({STARTUP_LOCK_KEY})"))
                await connection.commit()
        return
    database = make_url(database_url).database
    if not database or database == ":memory:":
        yield
        return
    lock = FileLock(str(Path(database).with_suffix(".startup.lock")))
    await asyncio.to_thread(lock.acquire)
    try:
        yield
    finally:
        lock.release()


@dataclass
class BotApp:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    rng: random.Random
    banks: ScopedBank
    directory: Directory
    channels: ChannelSettings
    daily: DailyService
    answers: AnswerService
    leaderboards: LeaderboardService
    practice: PracticeService
    review: SpacedRepetition
    interviews: MockInterviews
    disputes: Disputes
    commands: InterviewCommands
    worker: GradingWorker
    dispatcher: Dispatcher
    engagement: Engagement
    home: HomeService
    llm_available: bool
    sync_report: SyncReport | None = None
    scheduler: DailyScheduler | None = None
    #: waits for the grade cache's queued writes (see ``bot.storage.grade_cache``)
    flush_grade_cache: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)
    #: the process's client for the LLM endpoint (an ``openai.AsyncOpenAI``), closed on close
    llm_client: Any = field(default=None, repr=False)
    _started: bool = field(default=False, repr=False)

    @classmethod
    async def create(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        graders: tuple[Grader, Grader] | None = None,
        follow_ups: FollowUpWriter | None = None,
        migrate: bool = True,
    ) -> BotApp:
        clock = clock or SystemClock()
        rng = rng or random.Random()
        banks = load_configured_bank(settings)
        engine = create_engine(settings.database_url)
        try:
            await check_connection(engine)
            sessions = session_factory(engine)
            async with startup_lock(engine, settings.database_url):
                if migrate and await upgrade_needed(engine):
                    if await is_empty(engine):  # a new database: built in one step
                        await build_schema(engine)
                    else:
                        await upgrade_async(settings.database_url)
                report = await sync_bank(sessions, banks, clock)
        except BaseException:
            await engine.dispose()
            raise
        # one client (and connection pool) for every LLM call this process makes
        llm_client: Any = (
            openai_client(settings)
            if settings.openai_api_key is not None and graders is None
            else None
        )
        primary, fallback = graders or build_graders(settings, sessions, client=llm_client)
        llm_available = primary is not fallback
        dispatcher = Dispatcher(sessions, clock, {}, rng=rng)
        review = SpacedRepetition(sessions, clock)
        practice = PracticeService(sessions, rng, llm_available=llm_available, review=review)
        interviews = MockInterviews(
            sessions,
            clock,
            practice,
            follow_ups=follow_ups is not None or (llm_available and graders is None),
            default_length=settings.mock_default_length,
            max_length=settings.mock_max_length,
            idle=timedelta(minutes=settings.mock_idle_minutes),
            after_commit=dispatcher.wake,
        )
        if follow_ups is None and llm_available and graders is None:
            from bot.grading.followup import LLMFollowUpWriter

            follow_ups = LLMFollowUpWriter(
                llm_client,
                settings.grading_model,
                timeout=settings.grading_timeout_seconds,
                reasoning_effort=settings.grading_reasoning_effort,
            )
        worker = GradingWorker(
            sessions,
            primary,
            fallback,
            clock,
            concurrency=settings.grading_concurrency,
            prefetch=grading_prefetch(settings.grading_concurrency),
            max_attempts=settings.grading_max_attempts,
            rng=rng,
            after_commit=dispatcher.wake,
            interviews=interviews,
            follow_ups=follow_ups,
            costs=CostGuard(
                sessions,
                clock,
                practice_per_hour=settings.llm_practice_per_hour,
                daily_token_budget=settings.llm_daily_token_budget,
            ),
        )
        directory = Directory(
            sessions,
            clock,
            ChannelDefaults(
                timezone=settings.default_timezone,
                post_time=settings.default_post_time,
                answer_window_minutes=settings.default_answer_window_minutes,
            ),
        )
        app_ref: list[BotApp] = []

        def schedule_changed() -> None:
            if app_ref and app_ref[0].scheduler is not None:
                app_ref[0].scheduler.schedule_changed()

        channels = ChannelSettings(sessions, clock, on_change=schedule_changed)
        # a refused question post is explained in private to who last saved the settings
        dispatcher.on_refused = channels.question_refused
        daily = DailyService(
            sessions, clock, rng, llm_available=llm_available, after_commit=dispatcher.wake
        )
        leaderboards = LeaderboardService(sessions, clock)
        disputes = Disputes(sessions, clock, wake_grader=worker.wake, after_commit=dispatcher.wake)
        app = cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            clock=clock,
            rng=rng,
            banks=banks,
            directory=directory,
            channels=channels,
            daily=daily,
            answers=AnswerService(
                sessions,
                clock,
                wake_grader=worker.wake,
                parallel_batches=INTAKE_PARALLEL_BATCHES.get(engine.dialect.name, 1),
            ),
            leaderboards=leaderboards,
            practice=practice,
            review=review,
            interviews=interviews,
            disputes=disputes,
            commands=InterviewCommands(
                directory=directory,
                daily=daily,
                practice=practice,
                leaderboards=leaderboards,
                channels=channels,
                interviews=interviews,
                review=review,
                disputes=disputes,
                sessions=sessions,
            ),
            worker=worker,
            dispatcher=dispatcher,
            engagement=Engagement(
                sessions,
                clock,
                nudge_hours_before=settings.nudge_hours_before_close,
                after_commit=dispatcher.wake,
            ),
            home=HomeService(sessions, clock, leaderboards),
            llm_available=llm_available,
            sync_report=report,
            flush_grade_cache=getattr(getattr(primary, "cache", None), "flush", None),
            llm_client=llm_client,
        )
        app_ref.append(app)
        # everything loaded at start-up (modules, the bank, the embedding index) is in memory
        # now: collecting here keeps that long first collection out of the running bot's loop
        settle_memory()
        return app

    async def start(
        self, notifiers: Sequence[Notifier], *, schedule: bool = True, grade: bool | None = None
    ) -> None:
        """Run the background parts: the grading worker (``grade``; by default the
        ``GRADING_WORKER`` setting: a web replica leaves grading to another process), the
        dispatcher for these notifiers' platforms, and (``schedule``) the scheduler of their
        channels."""
        for notifier in notifiers:
            self.dispatcher.add_notifier(notifier)
        if self.settings.grading_worker if grade is None else grade:
            await self.worker.start()
        else:
            log.info("grading worker off (GRADING_WORKER=false): another replica grades")
        await self.dispatcher.start()
        platforms: Collection[Platform] = {notifier.platform for notifier in notifiers}
        if schedule and platforms:
            # APScheduler is loaded only by a process that schedules (not the terminal session,
            # not a worker replica): its import reads every installed package's entry points
            from bot.services.scheduler import DailyScheduler

            self.scheduler = DailyScheduler(
                self.sessions,
                self.daily,
                self.clock,
                platforms=platforms,
                engagement=self.engagement,
                interviews=self.interviews,
            )
            await self.scheduler.start()
        self._started = True
        settle_memory()  # what start loaded (the scheduler's imports); cheap after create's

    async def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
        await self.answers.close()
        await self.worker.stop()
        await self.dispatcher.stop()
        if self.flush_grade_cache is not None:
            await self.flush_grade_cache()
        if self.llm_client is not None:
            await self.llm_client.close()
        await self.engine.dispose()
