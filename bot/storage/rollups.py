"""Leaderboard rollups: each member's totals per scope and period in ``leaderboard_total``,
changed by the score event's own transaction, so boards and ranks are read in index order
instead of aggregating ``score_event``.

A row holds a member's all-time totals in one scope (the workspace: ``channel_id`` 0, or one
channel) and their totals of the latest week and month in which they scored there. Periods are
local dates in the scope's zone (the workspace's; the channel's for a channel row): weeks start
on Monday, months on the 1st, as ``bot.services.leaderboard`` chooses them. A board of the
current week reads the rows whose ``week_start`` is this week; an older week's row is simply not
this week's.

Every score event change is a delta: a new event adds its points and one answer; a replacement
(a resubmission, a re-grade, an admin override) adds the difference. A period total moves forward
when an event of a later period arrives and ignores events of periods it has left, which keeps
it exact for the period it holds. The all-time row also sums the grade scores of its events
(``score_sum``: with ``answers``, the member's average score). The totals are order-independent
sums, so concurrent graders cannot lose an update; the rare change that moves an event back in time is recomputed from the
member's events instead.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Channel, LeaderboardTotal, ScoreEvent, Workspace

#: ``channel_id`` of a workspace-wide row.
WORKSPACE_SCOPE = 0
#: The rows one statement writes when rebuilding (well under every driver's parameter limit).
_CHUNK = 500


def week_key(instant: datetime, zone: str) -> date:
    """The local Monday that starts the instant's week in the zone."""
    day = instant.astimezone(ZoneInfo(zone)).date()
    return day - timedelta(days=day.weekday())


def month_key(instant: datetime, zone: str) -> date:
    """The local first of the instant's month in the zone."""
    return instant.astimezone(ZoneInfo(zone)).date().replace(day=1)


@dataclass(frozen=True)
class Scored:
    """One score event's points, time and grade score (what the rollups depend on)."""

    points: int
    occurred_at: datetime
    #: The 0-100 score of the grade that earned the points (member stats' average).
    score: int = 0


@dataclass(frozen=True)
class Scope:
    """Where an event counts: the workspace (channel 0) or a channel, with the zone of its
    periods."""

    workspace_id: int
    channel_id: int
    zone: str


def _delta_row(scope: Scope, member_id: int, old: Scored | None, new: Scored) -> dict[str, Any]:
    """The values to add (or to start a new period with) for the change ``old`` -> ``new``."""
    row: dict[str, Any] = {
        "workspace_id": scope.workspace_id,
        "channel_id": scope.channel_id,
        "member_id": member_id,
        "points": new.points - (old.points if old else 0),
        "answers": 0 if old else 1,
        "score_sum": new.score - (old.score if old else 0),
        "last_at": new.occurred_at,
    }
    for period, key in (("week", week_key), ("month", month_key)):
        start = key(new.occurred_at, scope.zone)
        same = old is not None and key(old.occurred_at, scope.zone) == start
        # another period: the old event stays in a period the row has left (it only moves
        # forward), so the new one counts whole
        row[f"{period}_start"] = start
        row[f"{period}_points"] = new.points - old.points if same and old else new.points
        row[f"{period}_answers"] = 0 if same else 1
        row[f"{period}_last_at"] = new.occurred_at
    return row


def _later(first: Any, second: Any) -> Any:
    return sa.case((second > first, second), else_=first)


def _merge(excluded: Any) -> dict[str, Any]:
    """ON CONFLICT assignments that add a delta row to the stored one."""
    table = LeaderboardTotal.__table__.c  # type: ignore[attr-defined]
    values: dict[str, Any] = {
        "points": table.points + excluded.points,
        "answers": table.answers + excluded.answers,
        "score_sum": table.score_sum + excluded.score_sum,
        "last_at": _later(table.last_at, excluded.last_at),
    }
    for period in ("week", "month"):
        start, new_start = table[f"{period}_start"], excluded[f"{period}_start"]
        for name in ("points", "answers"):
            column = f"{period}_{name}"
            values[column] = sa.case(
                (new_start > start, excluded[column]),
                (new_start == start, table[column] + excluded[column]),
                else_=table[column],
            )
        last = f"{period}_last_at"
        values[last] = sa.case(
            (new_start > start, excluded[last]),
            (new_start == start, _later(table[last], excluded[last])),
            else_=table[last],
        )
        values[f"{period}_start"] = _later(start, new_start)
    return values


async def apply_score_change(
    session: AsyncSession,
    scopes: Iterable[Scope],
    member_id: int,
    old: Scored | None,
    new: Scored,
) -> None:
    """Add the change of one score event (``old`` None: a new event) to the member's rows."""
    ordered = sorted(scopes, key=lambda scope: (scope.workspace_id, scope.channel_id))
    if old is not None and new.occurred_at < old.occurred_at:
        # an event moved back in time (nothing does this today): a delta cannot say which
        # period's latest answer it took away, so recompute the member's rows
        await rebuild_rollups(session, member_id=member_id)
        return
    bind = session.bind
    upsert = _upsert(bind.dialect.name if bind is not None else "sqlite")
    await session.execute(upsert, [_delta_row(scope, member_id, old, new) for scope in ordered])


@functools.cache
def _upsert(dialect: str) -> Any:
    """The rollup upsert, built once per dialect and run with one parameter set per row (a
    statement SQLAlchemy compiles once, unlike a multi-row VALUES)."""
    table = LeaderboardTotal.__table__  # type: ignore[attr-defined]
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return statement.on_conflict_do_update(
        index_elements=["workspace_id", "channel_id", "member_id"],
        set_=_merge(statement.excluded),
    )


# --- recomputing from the score events (the migration's backfill, a channel's new zone) ---


@dataclass
class _Total:
    points: int = 0
    answers: int = 0
    last_at: datetime | None = None
    score_sum: int = 0

    def add(self, points: int, occurred_at: datetime, score: int = 0) -> None:
        self.points += points
        self.answers += 1
        self.score_sum += score
        if self.last_at is None or occurred_at > self.last_at:
            self.last_at = occurred_at


@dataclass
class _Row:
    all: _Total
    week: tuple[date, _Total] | None = None
    month: tuple[date, _Total] | None = None


def _add_to_period(
    current: tuple[date, _Total] | None, start: date, points: int, occurred_at: datetime
) -> tuple[date, _Total]:
    if current is None or start > current[0]:
        current = (start, _Total())
    if start == current[0]:
        current[1].add(points, occurred_at)
    return current


class RollupBuilder:
    """Totals recomputed from score events fed in any order (the backfill's and the tests'
    reference)."""

    def __init__(
        self,
        workspace_zones: Mapping[int, str],
        channel_zones: Mapping[int, str],
        *,
        scores: bool = True,
    ):
        self._workspace_zones = workspace_zones
        self._channel_zones = channel_zones
        #: whether rows carry ``score_sum`` (False: the schema of revision 0005, before it)
        self._scores = scores
        self._rows: dict[tuple[int, int, int], _Row] = {}

    def add(
        self,
        workspace_id: int,
        channel_id: int | None,
        member_id: int,
        points: int,
        occurred_at: datetime,
        score: int = 0,
        *,
        workspace_row: bool = True,
        channel_row: bool = True,
    ) -> None:
        workspace_zone = self._workspace_zones.get(workspace_id, "UTC")
        scopes = []
        if workspace_row:
            scopes.append((WORKSPACE_SCOPE, workspace_zone))
        if channel_row and channel_id is not None:
            scopes.append((channel_id, self._channel_zones.get(channel_id, workspace_zone)))
        for scope_id, zone in scopes:
            row = self._rows.get((workspace_id, scope_id, member_id))
            if row is None:
                row = self._rows[(workspace_id, scope_id, member_id)] = _Row(_Total())
            row.all.add(points, occurred_at, score)
            week, month = week_key(occurred_at, zone), month_key(occurred_at, zone)
            row.week = _add_to_period(row.week, week, points, occurred_at)
            row.month = _add_to_period(row.month, month, points, occurred_at)

    def rows(self) -> list[dict[str, Any]]:
        """The ``leaderboard_total`` rows, as column values."""
        rows = []
        for (workspace_id, channel_id, member_id), row in self._rows.items():
            assert row.week is not None and row.month is not None
            values: dict[str, Any] = {
                "workspace_id": workspace_id,
                "channel_id": channel_id,
                "member_id": member_id,
                "points": row.all.points,
                "answers": row.all.answers,
                "last_at": row.all.last_at,
            }
            if self._scores:
                values["score_sum"] = row.all.score_sum
            for period, (start, total) in (("week", row.week), ("month", row.month)):
                values[f"{period}_start"] = start
                values[f"{period}_points"] = total.points
                values[f"{period}_answers"] = total.answers
                values[f"{period}_last_at"] = total.last_at
            rows.append(values)
        return rows


def _event_query(
    member_id: int | None, channel_id: int | None, *, scores: bool = True
) -> sa.Select[Any]:
    events = ScoreEvent.__table__.c  # type: ignore[attr-defined]
    query = sa.select(
        events.workspace_id,
        events.channel_id,
        events.member_id,
        events.points,
        events.occurred_at,
        events.score if scores else sa.literal(0, sa.Integer),
    )
    if member_id is not None:
        query = query.where(events.member_id == member_id)
    if channel_id is not None:
        query = query.where(events.channel_id == channel_id)
    return query


def _stale_rows(member_id: int | None, channel_id: int | None) -> sa.Delete:
    statement = sa.delete(LeaderboardTotal)
    if member_id is not None:
        statement = statement.where(LeaderboardTotal.member_id == member_id)  # type: ignore[arg-type]
    if channel_id is not None:
        statement = statement.where(LeaderboardTotal.channel_id == channel_id)  # type: ignore[arg-type]
    return statement


def _zones_query() -> tuple[sa.Select[Any], sa.Select[Any]]:
    workspaces = Workspace.__table__.c  # type: ignore[attr-defined]
    channels = Channel.__table__.c  # type: ignore[attr-defined]
    return (
        sa.select(workspaces.id, workspaces.timezone),
        sa.select(channels.id, channels.timezone),
    )


async def rebuild_rollups(
    session: AsyncSession, *, member_id: int | None = None, channel_id: int | None = None
) -> int:
    """Recompute rows from the score events: one member's (every scope), one channel's
    (its channel rows only: after its zone changed), or all of them. Returns the rows written."""
    workspaces, channels = _zones_query()
    builder = RollupBuilder(
        dict((await session.execute(workspaces)).all()),
        dict((await session.execute(channels)).all()),
    )
    await session.execute(_stale_rows(member_id, channel_id))
    result = await session.stream(_event_query(member_id, channel_id))
    async for workspace_id, event_channel, event_member, points, occurred_at, score in result:
        builder.add(
            workspace_id,
            event_channel,
            event_member,
            points,
            occurred_at,
            score,
            workspace_row=channel_id is None,
        )
    rows = builder.rows()
    for first in range(0, len(rows), _CHUNK):
        await session.execute(_insert(rows[0]), rows[first : first + _CHUNK])
    return len(rows)


def rebuild_rollups_sync(connection: sa.Connection, *, scores: bool = True) -> int:
    """``rebuild_rollups`` of everything on a plain connection (a migration's backfill;
    ``scores`` False: the schema of revision 0005, which had no ``score_sum``)."""
    workspaces, channels = _zones_query()
    builder = RollupBuilder(
        dict(connection.execute(workspaces).all()),
        dict(connection.execute(channels).all()),
        scores=scores,
    )
    connection.execute(_stale_rows(None, None))
    # pages by id (a server-side cursor is not available through an async driver)
    last_id, page = 0, 20_000
    table = ScoreEvent.__table__  # type: ignore[attr-defined]
    while True:
        query = _event_query(None, None, scores=scores).add_columns(table.c.id)
        events = connection.execute(
            query.where(table.c.id > last_id).order_by(table.c.id).limit(page)
        ).all()
        for workspace_id, channel_id, member_id, points, occurred_at, score, _ in events:
            builder.add(workspace_id, channel_id, member_id, points, occurred_at, score)
        if len(events) < page:
            break
        last_id = events[-1][-1]
    rows = builder.rows()
    for first in range(0, len(rows), _CHUNK):
        connection.execute(_insert(rows[0]), rows[first : first + _CHUNK])
    return len(rows)


def _insert(row: Mapping[str, Any]) -> sa.Insert:
    """An INSERT of exactly the row's columns (the model's defaults would name columns an older
    revision's table, as a migration sees it, does not have)."""
    columns = LeaderboardTotal.__table__.c  # type: ignore[attr-defined]
    return sa.insert(
        sa.table("leaderboard_total", *(sa.column(name, columns[name].type) for name in row))
    )
