"""Fill a database (already migrated, bank already synced) with a played history: one workspace,
its channels and members, years of closed daily posts and, for every answer, its grade and its
score event, all pointing at real rows (members, posts, the bank's question versions).

The rows are made by the database itself, ``INSERT ... SELECT`` over a generated series
(``generate_series`` on PostgreSQL, a recursive CTE on SQLite), so a million answers take
seconds, not the hours an ORM would. Ids are explicit and arithmetic: answer ``i`` belongs to
post ``(i - 1) // answers_per_post + 1``, its grade and score event have id ``i``; a post's
member list is a window of consecutive members, so no member answers a post twice. On PostgreSQL
the id sequences are moved past the filled rows and the tables analysed, as autovacuum would.

Member ``k`` has the platform id ``U{k - 1}`` in workspace ``TFILL`` (channels ``CFILL{n}``), so a
bench can resolve the same people through ``Directory`` and find them already known. With several
``workspaces`` (``TFILL``, ``TFILL2``, ...), channel ``c`` and member ``k`` belong to workspace
``1 + (c - 1) % workspaces`` and ``1 + (k - 1) % workspaces``, and a post's answers come from its
channel's workspace. When the schema has ``leaderboard_total``, it is rebuilt from the filled score
events (``bot.storage.rollups``), as the bot would have kept it.

Answers and grades are realistic in size: each question's answer is the first third or so of its
reference, graded once by the offline grader (``graded_samples``), and every answer to that
question stores that text (and its own number, so no two texts are equal) and those verdicts
(real key-point counts, whole answer sentences as evidence, reference sentences as hints) and
feedback. From revision 0008 each grade's body is packed here against its own answer's text, as
the bot packs it when it stores a grade (about 30 s of CPU per million answers). Every answer
has a random intake key, as the intake gives it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.bank import KeyPoint
from bot.grading.base import GradingError, GradingItem, grade_to_dict
from bot.grading.offline import OfflineGrader
from bot.storage.rollups import rebuild_rollups_sync
from bot.storage.verdicts import CompactVerdicts

WORKSPACE = "TFILL"
#: How much of its question's reference a filled answer repeats (its first sentences).
ANSWER_SHARE = 0.35


@dataclass(frozen=True)
class History:
    """How much history to make; ``answers`` is rounded down to whole posts."""

    answers: int = 1_000_000
    members: int = 5_000
    channels: int = 50
    answers_per_post: int = 20
    workspaces: int = 1

    @property
    def posts(self) -> int:
        return self.answers // self.answers_per_post

    @property
    def days(self) -> int:
        return -(-self.posts // self.channels)


@dataclass(frozen=True)
class Filled:
    answers: int
    posts: int
    members: int
    seconds: float


class _Sql:
    """The few expressions that differ between the two databases."""

    def __init__(self, dialect: str, now: datetime):
        self.postgres = dialect == "postgresql"
        self.now = now.astimezone(UTC)

    def series(self, count: int) -> tuple[str, str]:
        """(a prefix to put before INSERT, the FROM item) yielding ``i`` = 1..count."""
        if self.postgres:
            return "", f"generate_series(1, {count}) AS s(i)"
        prefix = (
            f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) "
        )
        return prefix, "s"

    def instant(self, days_back: str, seconds: str = "0") -> str:
        """``now`` minus ``days_back`` days plus ``seconds`` seconds, as the column stores it."""
        if self.postgres:
            base = self.now.strftime("%Y-%m-%d %H:%M:%S+00")
            return (
                f"(TIMESTAMPTZ '{base}' - ({days_back}) * INTERVAL '1 day' "
                f"+ ({seconds}) * INTERVAL '1 second')"
            )
        base = self.now.strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"(datetime('{base}', '-' || ({days_back}) || ' days', '+' || ({seconds}) || "
            "' seconds') || '.000000')"
        )

    def day(self, days_back: str) -> str:
        if self.postgres:
            return f"(DATE '{self.now.date().isoformat()}' - ({days_back}))"
        return f"date('{self.now.date().isoformat()}', '-' || ({days_back}) || ' days')"

    def uuid(self) -> str:
        """A random UUID as ``sa.Uuid`` stores it (the intake key every answer gets)."""
        return "gen_random_uuid()" if self.postgres else "lower(hex(randomblob(16)))"

    def boolean(self, value: bool) -> str:
        if self.postgres:
            return "true" if value else "false"
        return "1" if value else "0"


@dataclass(frozen=True)
class Sample:
    """One question's filled answer and the grade the offline grader gives it."""

    question_id: int
    answer: str
    verdicts: list[dict[str, Any]]
    feedback: str


async def graded_samples(connection: AsyncConnection) -> list[Sample]:
    """An answer per bank question (the first sentences of its reference, about a third of it)
    and what the offline grader says of it: the real key points, whole sentences of the answer
    as evidence, reference sentences as hints, as a member's grade would hold them."""
    grader = OfflineGrader(use_embeddings=False)
    rows = await connection.exec_driver_sql(
        "SELECT id, prompt, reference, key_points FROM question ORDER BY id"
    )
    samples = []
    for question_id, prompt, reference, points in rows.all():
        points = json.loads(points) if isinstance(points, str) else points
        sentences = [sentence for sentence in reference.split(". ") if sentence]
        answer = ". ".join(sentences[: max(1, round(len(sentences) * ANSWER_SHARE))])
        item = GradingItem(
            prompt=prompt,
            reference=reference,
            key_points=tuple(KeyPoint(**point) for point in points),
        )
        try:
            grade = grade_to_dict(await grader.grade(item, answer))
        except GradingError:  # a question only an LLM grades: a judge's verdicts, written here
            grade = {
                "verdicts": [
                    {
                        "key_point": point["text"],
                        "status": "covered",
                        "evidence": answer[:160],
                        "hint": "",
                    }
                    for point in points
                ],
                "feedback": "Covered every key point.",
            }
        samples.append(Sample(question_id, answer, grade["verdicts"], grade["feedback"]))
    return samples


async def fill_history(engine: AsyncEngine, now: datetime, history: History) -> Filled:
    """Add the history to an empty, migrated database whose bank is synced."""
    started = time.perf_counter()
    sql = _Sql(engine.dialect.name, now)
    if history.members % history.workspaces or history.channels < history.workspaces:
        raise ValueError("members must split evenly over the workspaces, each with a channel")
    if history.answers_per_post > history.members // history.workspaces:
        raise ValueError("a post needs at least as many members as answers")
    async with engine.connect() as connection:
        # the rows are valid by construction: foreign keys are not checked row by row, and the
        # big tables' secondary indexes are built once at the end instead of row by row
        if not sql.postgres:  # outside a transaction, where SQLite honours it
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        async with connection.begin():
            await _fill(connection, sql, history)
            tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
            if "leaderboard_total" in tables:
                await connection.run_sync(rebuild_rollups_sync)
        if not sql.postgres:
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            await connection.commit()
    if sql.postgres:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("ANALYZE")
    return Filled(
        history.posts * history.answers_per_post,
        history.posts,
        history.members,
        time.perf_counter() - started,
    )


#: The tables that get a row per answer.
BIG_TABLES = ("answer", "grade", "score_event")


async def _secondary_indexes(connection: AsyncConnection, sql: _Sql) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the big tables' indexes that are not constraints."""
    tables = ", ".join(f"'{table}'" for table in BIG_TABLES)
    if sql.postgres:
        query = (
            f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ({tables}) AND "
            "indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
    else:
        query = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND "
            f"tbl_name IN ({tables})"
        )
    return [(name, statement) for name, statement in (await connection.exec_driver_sql(query))]


async def _fill(connection: AsyncConnection, sql: _Sql, history: History) -> None:
    per = history.answers_per_post
    members, channels = history.members, history.channels
    answers = history.posts * per
    low, high, count = (
        await connection.exec_driver_sql("SELECT min(id), max(id), count(*) FROM question")
    ).one()
    if not count or high - low + 1 != count:
        raise RuntimeError("fill_history needs the synced bank's question ids, contiguous")
    for table in ("workspace", "channel", "member", "daily_post", "answer"):
        existing = (await connection.exec_driver_sql(f"SELECT count(*) FROM {table}")).one()
        if existing[0]:
            raise RuntimeError(f"fill_history needs an empty {table} table")
    if sql.postgres:
        await connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    indexes = await _secondary_indexes(connection, sql)
    for name, _ in indexes:
        await connection.exec_driver_sql(f'DROP INDEX "{name}"')
    true, false = sql.boolean(True), sql.boolean(False)
    samples, bodies = await _fill_samples(connection, sql)
    created = sql.instant(str(history.days + 30))
    spaces = history.workspaces
    prefix, source = sql.series(spaces)
    await connection.exec_driver_sql(
        f"{prefix}INSERT INTO workspace (id, platform, external_id, name, timezone, enabled, "
        f"admin_ids, created_at) SELECT i, 'slack', '{WORKSPACE}' || CASE WHEN i = 1 THEN '' "
        f"ELSE CAST(i AS VARCHAR(12)) END, 'Filled', 'UTC', {true}, '[]', {created} "
        f"FROM {source}"
    )
    prefix, source = sql.series(channels)
    await connection.exec_driver_sql(
        f"{prefix}INSERT INTO channel (id, workspace_id, external_id, name, post_time, "
        "timezone, post_days, cadence, topics, answer_window_minutes, enabled, paused, "
        "pause_reason, skip_dates, announce_champions, mention_champion, created_at, "
        f"updated_at) SELECT i, 1 + (i - 1) % {spaces}, 'CFILL' || i, 'filled-' || i, "
        "'09:00:00', 'UTC', "
        f"'[0, 1, 2, 3, 4, 5, 6]', 'daily', '[]', 1380, {true}, {false}, '', '[]', "
        f"{true}, {false}, {created}, {created} FROM {source}"
    )
    prefix, source = sql.series(members)
    await connection.exec_driver_sql(
        f"{prefix}INSERT INTO member (id, workspace_id, external_id, display_name, "
        f"nudges, spaced_repetition, created_at) SELECT i, 1 + (i - 1) % {spaces}, "
        "'U' || (i - 1), "
        f"'member ' || i, {false}, {true}, {created} FROM {source}"
    )
    # post p: channel 1 + (p - 1) % channels, day (p - 1) // channels counted from the
    # oldest; it opened at 09:00 that day and closed 23 hours later
    days_back = f"({history.days} - (i - 1) / {channels})"
    prefix, source = sql.series(history.posts)
    await connection.exec_driver_sql(
        f"{prefix}INSERT INTO daily_post (id, channel_id, local_date, question_id, "
        "opened_at, closes_at, closed_at) SELECT i, 1 + (i - 1) % "
        f"{channels}, {sql.day(days_back)}, {low} + (i - 1) % {count}, "
        f"{sql.instant(days_back)}, {sql.instant(days_back, str(23 * 3600))}, "
        f"{sql.instant(days_back, str(23 * 3600))} FROM {source}"
    )
    # answer i: post p = 1 + (i - 1) // per, the j-th of its answers, by the workspace's
    # member number (p * per + j) % (its members); submitted j minutes after the post opened
    post = f"(1 + (i - 1) / {per})"
    slot = f"((i - 1) % {per})"
    post_days_back = f"({history.days} - ({post} - 1) / {channels})"
    submitted = sql.instant(post_days_back, f"60 * (1 + {slot})")
    workspace = f"(1 + (({post} - 1) % {channels}) % {spaces})"
    member = f"({workspace} + (({post} * {per} + {slot}) % {members // spaces}) * {spaces})"
    prefix, source = sql.series(answers)
    question = f"({low} + ({post} - 1) % {count})"
    sample = f"(SELECT {{}} FROM fill_sample WHERE fill_sample.question_id = {question})"
    await connection.exec_driver_sql(
        f"{prefix}INSERT INTO answer (id, member_id, question_id, daily_post_id, kind, "
        "text, status, scored, superseded, attempts, claimed_at, current_grade_id, "
        f"reply_context, intake_key, submitted_at, updated_at) SELECT i, {member}, {question}, "
        f"{post}, 'daily', {sample.format('answer')} || {_SUFFIX_SQL}, "
        f"'graded', {true}, {false}, 1, {submitted}, i, '{{}}', {sql.uuid()}, {submitted}, "
        f"{submitted} FROM {source}"
    )
    score = "((i * 37) % 101)"
    if bodies:  # revision 0008 on: each grade's body packed against its own answer
        await _fill_bodies(connection, samples, answers, per, low, count)
        content_columns = "body"
        content = "(SELECT body FROM fill_body WHERE fill_body.id = i)"
    else:
        content_columns = "verdicts, feedback"
        content = f"{sample.format('verdicts')}, {sample.format('feedback')}"
    await connection.exec_driver_sql(
        f"{prefix}INSERT INTO grade (id, answer_id, grader, model, score, {content_columns}, "
        "factual_errors, flags, provisional, prompt_tokens, "
        f"completion_tokens, created_at) SELECT i, i, 'offline', 'offline', {score}, "
        f"{content}, '[]', '[]', {false}, 0, 0, {submitted} FROM {source}"
    )
    await connection.exec_driver_sql("DROP TABLE fill_sample")
    if bodies:
        await connection.exec_driver_sql("DROP TABLE fill_body")
    # the grade's score on the event too, when the schema keeps it (revision 0006 and later)
    kept = await connection.run_sync(
        lambda sync: [column["name"] for column in sa.inspect(sync).get_columns("score_event")]
    )
    score_column, score_value = (", score", f", {score}") if "score" in kept else ("", "")
    await connection.exec_driver_sql(
        f"{prefix}INSERT INTO score_event (id, workspace_id, channel_id, member_id, "
        f"answer_id, daily_post_id, points{score_column}, member_local_date, occurred_at) "
        f"SELECT i, {workspace}, "
        f"1 + ({post} - 1) % {channels}, {member}, i, {post}, {score} / 5{score_value}, "
        f"{sql.day(post_days_back)}, {submitted} FROM {source}"
    )
    for _, statement in indexes:
        await connection.exec_driver_sql(statement)
    if sql.postgres:
        for table in (
            "workspace",
            "channel",
            "member",
            "daily_post",
            "answer",
            "grade",
            "score_event",
        ):
            await connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )


#: What makes filled answer ``i``'s text its own: its sample's text, then this (SQL, then Python).
_SUFFIX_SQL = "' (' || i || ')'"


def _suffix(i: int) -> str:
    return f" ({i})"


_BODY_PAGE = 20_000


async def _fill_bodies(
    connection: AsyncConnection, samples: list[Sample], answers: int, per: int, low: int, count: int
) -> None:
    """``fill_body``: grade ``i``'s body, its sample's verdicts and feedback packed against
    answer ``i``'s own text (revision 0008 on), computed here as the bot would when it stores
    a grade."""
    from bot.storage.grade_body import GradeContext, pack_grade

    rows = await connection.exec_driver_sql(
        "SELECT fill_sample.question_id, answer, reference, key_points FROM fill_sample "
        "JOIN question ON question.id = fill_sample.question_id"
    )
    contexts = {}
    for question_id, answer, reference, points in rows.all():
        points = json.loads(points) if isinstance(points, str) else points
        contexts[question_id] = (answer, reference, points)
    graded = {sample.question_id: sample for sample in samples}
    await connection.exec_driver_sql(
        "CREATE TABLE fill_body (id INTEGER PRIMARY KEY, body "
        f"{'BYTEA' if connection.dialect.name == 'postgresql' else 'BLOB'})"
    )
    table = sa.table("fill_body", sa.column("id"), sa.column("body", sa.LargeBinary()))
    page = []
    for i in range(1, answers + 1):
        question_id = low + ((i - 1) // per) % count
        answer, reference, points = contexts[question_id]
        sample = graded[question_id]
        context = GradeContext.of(answer + _suffix(i), reference, points)
        page.append({"id": i, "body": pack_grade(sample.verdicts, sample.feedback, context)})
        if len(page) == _BODY_PAGE or i == answers:
            await connection.execute(sa.insert(table), page)
            page = []


async def _fill_samples(connection: AsyncConnection, sql: _Sql) -> tuple[list[Sample], bool]:
    """``fill_sample``: each question's answer, verdicts (as the schema stores them: packed
    from revision 0007, JSON before; none from 0008, where ``fill_body`` holds each grade's
    body) and feedback, for the answers and grades to copy. The samples, and whether the
    schema packs grade bodies."""
    columns = await connection.run_sync(
        lambda sync: {
            column["name"]: column["type"] for column in sa.inspect(sync).get_columns("grade")
        }
    )
    if "body" in columns:
        samples = await graded_samples(connection)
        await connection.exec_driver_sql(
            "CREATE TABLE fill_sample (question_id INTEGER PRIMARY KEY, answer TEXT)"
        )
        table = sa.table("fill_sample", sa.column("question_id"), sa.column("answer"))
        await connection.execute(
            sa.insert(table),
            [{"question_id": sample.question_id, "answer": sample.answer} for sample in samples],
        )
        return samples, True
    packed = isinstance(columns["verdicts"], sa.LargeBinary)
    kind = ("BYTEA" if sql.postgres else "BLOB") if packed else ("JSON" if sql.postgres else "TEXT")
    await connection.exec_driver_sql(
        "CREATE TABLE fill_sample (question_id INTEGER PRIMARY KEY, answer TEXT, "
        f"verdicts {kind}, feedback TEXT)"
    )
    table = sa.table(
        "fill_sample",
        sa.column("question_id"),
        sa.column("answer"),
        sa.column("verdicts", CompactVerdicts() if packed else sa.JSON()),
        sa.column("feedback"),
    )
    samples = await graded_samples(connection)
    await connection.execute(
        sa.insert(table),
        [
            {
                "question_id": sample.question_id,
                "answer": sample.answer,
                "verdicts": sample.verdicts,
                "feedback": sample.feedback,
            }
            for sample in samples
        ],
    )
    return samples, False


def oldest_post_day(now: datetime, history: History) -> datetime:
    """When the first filled post opened (for benches that place later events)."""
    return now - timedelta(days=history.days)
