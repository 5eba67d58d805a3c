"""Bounded LLM cost: a per-member rate limit on LLM-graded practice and mock answers, a
per-workspace daily token budget, and the usage report.

When a member goes over their hourly limit, or their workspace over its daily token budget,
their answers are still graded at once, by the offline grader, as *provisional* grades
(``grades requeue`` re-grades them with the LLM later); LLM-only questions, which the offline
grader cannot grade fairly, wait instead. The daily channel question is never rate-limited (one
answer per member per day), but it counts against the budget.

The rate limit is per process (aiolimiter's leaky bucket); with several processes each enforces
it separately, so a member can get up to that many times the limit. The budget is read from the
database (tokens recorded with every grade, cached for a minute), so it holds across processes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.grading.pricing import Prices, estimate_cost
from bot.storage.models import Answer, AnswerKind, GradeRecord, Member, Workspace

BUDGET_CACHE_SECONDS = 60.0
MAX_LIMITERS = 10_000


class LlmUse(StrEnum):
    ALLOWED = "allowed"
    #: over a limit: grade offline now (provisional)
    OFFLINE = "offline"


@dataclass(frozen=True)
class Decision:
    use: LlmUse
    reason: str = ""


@dataclass(frozen=True)
class DayUsage:
    day: date
    workspace: str
    grades: int
    prompt_tokens: int
    completion_tokens: int
    cost: float


class CostGuard:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        practice_per_hour: int = 30,
        daily_token_budget: int = 0,
    ):
        self._sessions = sessions
        self._clock = clock
        self._per_hour = practice_per_hour
        self._budget = daily_token_budget
        self._limiters: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self._spent: dict[int, tuple[float, int]] = {}  # workspace -> (read at, tokens today)

    async def decide(self, answer: Answer, member: Member, workspace: Workspace) -> Decision:
        """May this answer be graded by the LLM now?"""
        if self._budget > 0 and workspace.id is not None:
            spent = await self._tokens_today(workspace)
            if spent >= self._budget:
                return Decision(LlmUse.OFFLINE, "the workspace's daily LLM budget is used up")
        if answer.kind is not AnswerKind.DAILY and self._per_hour > 0 and member.id is not None:
            limiter = self._limiter(member.id)
            if not limiter.has_capacity():
                return Decision(
                    LlmUse.OFFLINE,
                    f"more than {self._per_hour} LLM-graded practice answers an hour",
                )
            await limiter.acquire()
        return Decision(LlmUse.ALLOWED)

    def spend(self, workspace_id: int, tokens: int) -> None:
        """Count a grade's tokens at once (the cache would only see them a minute later)."""
        read_at, spent = self._spent.get(workspace_id, (0.0, 0))
        self._spent[workspace_id] = (read_at, spent + tokens)

    def _limiter(self, member_id: int) -> AsyncLimiter:
        limiter = self._limiters.get(member_id)
        if limiter is None:
            limiter = AsyncLimiter(self._per_hour, 3600)
            self._limiters[member_id] = limiter
            while len(self._limiters) > MAX_LIMITERS:
                self._limiters.popitem(last=False)
        self._limiters.move_to_end(member_id)
        return limiter

    async def _tokens_today(self, workspace: Workspace) -> int:
        assert workspace.id is not None
        cached = self._spent.get(workspace.id)
        if cached is not None and time.monotonic() - cached[0] < BUDGET_CACHE_SECONDS:
            return cached[1]
        zone = ZoneInfo(workspace.timezone)
        start = datetime.combine(self._clock.now().astimezone(zone).date(), day_time(0), zone)
        async with self._sessions() as session:
            spent = (
                await session.execute(
                    sa.select(
                        sa.func.coalesce(
                            sa.func.sum(
                                col(GradeRecord.prompt_tokens) + GradeRecord.completion_tokens
                            ),
                            0,
                        )
                    )
                    .select_from(GradeRecord)
                    .join(Answer, col(Answer.id) == GradeRecord.answer_id)
                    .join(Member, col(Member.id) == Answer.member_id)
                    .where(
                        col(Member.workspace_id) == workspace.id,
                        col(GradeRecord.created_at) >= start.astimezone(UTC),
                    )
                )
            ).scalar_one()
        self._spent[workspace.id] = (time.monotonic(), int(spent))
        return int(spent)


async def usage_by_day(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    days: int,
    price_in: float,
    price_out: float,
) -> list[DayUsage]:
    """LLM grades, tokens and estimated cost per UTC day and workspace, newest first."""
    since = datetime.combine((now - timedelta(days=days - 1)).date(), day_time(0), UTC)
    async with sessions() as session:
        rows = (
            await session.execute(
                sa.select(
                    col(GradeRecord.created_at),
                    col(Workspace.platform),
                    col(Workspace.external_id),
                    col(GradeRecord.prompt_tokens),
                    col(GradeRecord.completion_tokens),
                )
                .join(Answer, col(Answer.id) == GradeRecord.answer_id)
                .join(Member, col(Member.id) == Answer.member_id)
                .join(Workspace, col(Workspace.id) == Member.workspace_id)
                .where(
                    col(GradeRecord.created_at) >= since,
                    col(GradeRecord.prompt_tokens) + GradeRecord.completion_tokens > 0,
                )
            )
        ).all()
    totals: dict[tuple[date, str], list[int]] = {}
    for created_at, platform, external_id, prompt, completion in rows:
        key = (created_at.astimezone(UTC).date(), f"{platform.value}:{external_id}")
        entry = totals.setdefault(key, [0, 0, 0])
        entry[0] += 1
        entry[1] += prompt
        entry[2] += completion
    return [
        DayUsage(
            day,
            workspace,
            grades,
            prompt,
            completion,
            estimate_cost(prompt, completion, Prices(price_in, price_out)),
        )
        for (day, workspace), (grades, prompt, completion) in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1]), reverse=True
        )
    ]
