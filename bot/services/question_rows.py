"""The bank in the database: loading the configured banks (built-in and custom, with their
scopes) and synchronising them into the question table by id and content hash.

Scopes: the built-in bank and the top level of ``CUSTOM_QUESTIONS_DIR`` are global (scope "");
a sub-folder of ``CUSTOM_QUESTIONS_DIR`` named ``<platform>-<workspace id>`` (for example
``slack-T0123ABCD`` or ``discord-81234567890``) holds that workspace's own questions, which never
show up in another workspace. Custom ids may not reuse built-in ones.

An edited question gets a new version row; earlier versions stay (inactive) so old answers keep
the text they answered. A question removed from its bank becomes inactive. One-off queued
questions (scope ``oneoff:...``) are never touched by the sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.clock import Clock
from bot.domain.bank import Bank, BankError, BankValidationError, Question, load_bank
from bot.domain.bank_cache import ParsedYamlCache
from bot.storage.db import transaction
from bot.storage.models import Platform, QuestionVersion

GLOBAL_SCOPE = ""
_WORKSPACE_FOLDER = re.compile(r"^(slack|discord|console)-([A-Za-z0-9_.-]{1,64})$")


@dataclass(frozen=True)
class ScopedBank:
    """Every configured question, by scope ("" = every workspace)."""

    banks: dict[str, Bank]

    @property
    def builtin(self) -> Bank:
        return self.banks.get(GLOBAL_SCOPE, Bank(()))

    def all_questions(self) -> tuple[Question, ...]:
        return tuple(question for bank in self.banks.values() for question in bank.questions)


def load_banks(
    questions_dir: Path, custom_dir: Path | None = None, cache: ParsedYamlCache | None = None
) -> ScopedBank:
    """The built-in bank plus custom files; every error of every file is reported at once. A
    ``cache`` of parsed YAML is used for every file and saved at the end."""
    try:
        return _load_banks(questions_dir, custom_dir, cache)
    finally:
        if cache is not None:
            cache.save()


def _load_banks(
    questions_dir: Path, custom_dir: Path | None, cache: ParsedYamlCache | None
) -> ScopedBank:
    errors: list[BankError] = []
    builtin = Bank(())
    try:
        builtin = load_bank(questions_dir, cache=cache)
    except BankValidationError as exc:
        errors.extend(exc.errors)
    banks: dict[str, Bank] = {}
    builtin_ids = frozenset(builtin.by_id())
    if custom_dir is not None:
        if not custom_dir.is_dir():
            problem = "a file, not a directory" if custom_dir.exists() else "no such directory"
            errors.append(BankError(custom_dir, None, "", problem))
        else:
            shared_files = sorted(custom_dir.glob("*.yaml")) + sorted(custom_dir.glob("*.yml"))
            if shared_files:
                try:
                    shared = load_bank(*shared_files, builtin_ids=builtin_ids, cache=cache)
                    builtin = Bank(builtin.questions + shared.questions)
                except BankValidationError as exc:
                    errors.extend(exc.errors)
            for folder in sorted(path for path in custom_dir.iterdir() if path.is_dir()):
                match = _WORKSPACE_FOLDER.match(folder.name)
                if match is None:
                    errors.append(
                        BankError(
                            folder,
                            None,
                            "",
                            "a workspace folder is named <platform>-<workspace id>, e.g. "
                            "slack-T0123ABCD or discord-81234567890",
                        )
                    )
                    continue
                scope = f"{Platform(match.group(1)).value}:{match.group(2)}"
                try:
                    banks[scope] = load_bank(
                        folder, builtin_ids=frozenset(builtin.by_id()), cache=cache
                    )
                except BankValidationError as exc:
                    errors.extend(exc.errors)
    if errors:
        raise BankValidationError(errors)
    return ScopedBank({GLOBAL_SCOPE: builtin, **banks})


@dataclass(frozen=True)
class SyncReport:
    added: int
    new_versions: int
    unchanged: int
    retired: int


def question_values(
    question: Question, clock: Clock, *, scope: str = GLOBAL_SCOPE, active: bool = True
) -> dict[str, Any]:
    """The column values of a question's row."""
    return {
        "scope": scope,
        "bank_id": question.id,
        "content_hash": question.content_hash,
        "track": question.track,
        "topic": question.topic,
        "difficulty": question.difficulty,
        "llm_only": question.llm_only,
        "prompt": question.prompt,
        "reference": question.reference,
        "key_points": [point.model_dump(exclude_defaults=True) for point in question.key_points],
        "tags": list(question.tags),
        "active": active,
        "created_at": clock.now(),
    }


def question_row(
    question: Question, clock: Clock, *, scope: str = GLOBAL_SCOPE, active: bool = True
) -> QuestionVersion:
    return QuestionVersion(**question_values(question, clock, scope=scope, active=active))


#: The columns a sync compares; the graded content (prompt, reference, key points) is behind
#: ``content_hash``, so it is never read back.
_COMPARED = ("track", "topic", "difficulty", "llm_only", "tags", "active")


async def sync_bank(
    sessions: async_sessionmaker[AsyncSession], bank: Bank | ScopedBank, clock: Clock
) -> SyncReport:
    """Make the question table match the configured banks (one transaction).

    Only the compared columns of the existing rows are read; new rows go in with one bulk
    INSERT and changed ones with one bulk UPDATE by primary key, so a restart on an unchanged
    bank reads one narrow result and writes nothing."""
    scoped = bank if isinstance(bank, ScopedBank) else ScopedBank({GLOBAL_SCOPE: bank})
    columns = [col(getattr(QuestionVersion, name)) for name in _COMPARED]
    async with transaction(sessions) as session:
        rows = (
            await session.execute(
                sa.select(
                    col(QuestionVersion.id),
                    col(QuestionVersion.scope),
                    col(QuestionVersion.bank_id),
                    col(QuestionVersion.content_hash),
                    *columns,
                ).where(sa.not_(col(QuestionVersion.scope).startswith("oneoff:")))
            )
        ).all()
        by_key = {(row.scope, row.bank_id, row.content_hash): row for row in rows}
        known_ids = {(row.scope, row.bank_id) for row in rows}
        live: set[tuple[str, str, str]] = set()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        added = new_versions = unchanged = 0
        for scope, scope_bank in scoped.banks.items():
            for question in scope_bank.questions:
                key = (scope, question.id, question.content_hash)
                live.add(key)
                row = by_key.get(key)
                if row is None:
                    if (scope, question.id) in known_ids:
                        new_versions += 1
                    else:
                        added += 1
                    inserts.append(question_values(question, clock, scope=scope))
                    continue
                unchanged += 1
                # track, topic, difficulty, tags and llm_only are not graded content: kept
                # current in place
                wanted = {
                    "track": question.track,
                    "topic": question.topic,
                    "difficulty": question.difficulty,
                    "llm_only": question.llm_only,
                    "tags": list(question.tags),
                    "active": True,
                }
                if any(getattr(row, name) != value for name, value in wanted.items()):
                    updates.append({"id": row.id, **wanted})
        retired = 0
        for row in rows:
            if row.active and (row.scope, row.bank_id, row.content_hash) not in live:
                updates.append({"id": row.id, "active": False})
                retired += 1
        if inserts:
            await session.execute(sa.insert(QuestionVersion), inserts)
        for values in _same_columns(updates):
            await session.execute(sa.update(QuestionVersion), values)
    return SyncReport(added, new_versions, unchanged, retired)


def _same_columns(updates: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Bulk updates grouped by the columns they set (one executemany each)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in updates:
        groups.setdefault(tuple(values), []).append(values)
    return list(groups.values())
