"""Composition root: builds the engine, the bank, the graders and the services from Settings.

Adapters (terminal, Slack, Discord) receive a ready ``BotApp`` and never build core objects.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.domain.bank import Bank, load_bank
from bot.grading.base import Grader
from bot.grading.cache import GradeCache
from bot.grading.offline import OfflineGrader
from bot.grading.worker import GradingWorker
from bot.services.answers import AnswerService
from bot.services.bank_sync import SyncReport, sync_bank
from bot.services.daily import DailyService
from bot.services.directory import Directory
from bot.services.leaderboard import LeaderboardService
from bot.services.practice import PracticeService
from bot.storage.db import check_connection, create_engine, session_factory
from bot.storage.grade_cache import SqlGradeCache
from bot.storage.migrate import upgrade_async

log = logging.getLogger(__name__)


def load_configured_bank(settings: Settings) -> Bank:
    """The built-in bank plus the team's own directory; custom ids may not reuse built-in ones."""
    builtin = load_bank(settings.questions_dir)
    if settings.custom_questions_dir is None:
        return builtin
    custom = load_bank(settings.custom_questions_dir, builtin_ids=frozenset(builtin.by_id()))
    return Bank(builtin.questions + custom.questions)


def build_llm_grader(
    settings: Settings,
    offline: OfflineGrader,
    *,
    cache: GradeCache | None = None,
    client_retries: int = 0,
) -> Grader:
    """The LLM grader for the configured OpenAI-compatible endpoint; the offline grader's
    relatedness guards it against high scores for unrelated answers."""
    from openai import AsyncOpenAI

    from bot.grading.llm import LLMGrader

    assert settings.openai_api_key is not None, "the LLM grader needs OPENAI_API_KEY"
    client = AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        max_retries=client_retries,
        timeout=settings.grading_timeout_seconds,
    )
    return LLMGrader(
        client,
        model=settings.grading_model,
        timeout=settings.grading_timeout_seconds,
        max_tokens=settings.grading_max_tokens,
        cache=cache,
        relatedness=offline.relatedness,
    )


def build_graders(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> tuple[Grader, Grader]:
    """(primary, fallback): the LLM grader when an API key is set, else the offline grader twice.
    Retries belong to the grading worker, so the client itself does not retry."""
    offline = OfflineGrader()
    if settings.openai_api_key is None:
        return offline, offline
    return build_llm_grader(settings, offline, cache=SqlGradeCache(sessions)), offline


@dataclass
class BotApp:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    rng: random.Random
    bank: Bank
    directory: Directory
    daily: DailyService
    answers: AnswerService
    leaderboards: LeaderboardService
    practice: PracticeService
    worker: GradingWorker
    sync_report: SyncReport | None = None
    extras: dict[str, object] = field(default_factory=dict)

    @classmethod
    async def create(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        graders: tuple[Grader, Grader] | None = None,
        migrate: bool = True,
    ) -> BotApp:
        clock = clock or SystemClock()
        rng = rng or random.Random()
        bank = load_configured_bank(settings)
        engine = create_engine(settings.database_url)
        try:
            await check_connection(engine)
            if migrate:
                await upgrade_async(settings.database_url)
        except BaseException:
            await engine.dispose()
            raise
        sessions = session_factory(engine)
        report = await sync_bank(sessions, bank, clock)
        primary, fallback = graders or build_graders(settings, sessions)
        worker = GradingWorker(
            sessions,
            primary,
            fallback,
            clock,
            concurrency=settings.grading_concurrency,
            max_attempts=settings.grading_max_attempts,
            rng=rng,
        )
        answers = AnswerService(sessions, clock, wake_grader=worker.wake)
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            clock=clock,
            rng=rng,
            bank=bank,
            directory=Directory(
                sessions,
                clock,
                default_timezone=settings.default_timezone,
                default_post_time=settings.default_post_time,
                default_answer_window_minutes=settings.default_answer_window_minutes,
            ),
            daily=DailyService(sessions, clock, rng),
            answers=answers,
            leaderboards=LeaderboardService(sessions, clock),
            practice=PracticeService(sessions, rng),
            worker=worker,
            sync_report=report,
        )

    async def close(self) -> None:
        await self.worker.stop()
        await self.engine.dispose()
