"""A team's own question files: validated like the built-in bank, no id collisions, selectable."""

from __future__ import annotations

import pytest

from bot.app import BotApp, load_configured_bank
from bot.config import load_settings
from bot.domain.bank import BankValidationError
from bot.services.directory import ScheduleChange
from tests.adapters.test_console import MINI_BANK
from tests.fakes.graders import ScriptedGrader

TEAM_QUESTION = """\
questions:
  - id: {qid}
    topic: team-platform
    difficulty: intermediate
    prompt: How does our feature store keep training and serving features consistent?
    reference: >-
      The feature store computes each feature once with the same code path for both training
      and serving, stores point-in-time snapshots so training joins never leak future values,
      and serves the latest values online from a low-latency store.
    key_points:
      - text: same code path computes features for training and serving
        weight: 4
      - text: point-in-time snapshots prevent leaking future values
        weight: 3
      - text: latest values served online from a low-latency store
        weight: 3
"""


def team_dir(tmp_path, qid: str = "team-feature-store"):
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "platform.yaml").write_text(TEAM_QUESTION.format(qid=qid), encoding="utf-8")
    return folder


def test_custom_questions_join_the_bank(tmp_path):
    settings = load_settings(questions_dir=MINI_BANK, custom_questions_dir=team_dir(tmp_path))
    bank = load_configured_bank(settings)
    assert "team-feature-store" in bank.by_id() and "basics-relu" in bank.by_id()


def test_custom_id_colliding_with_a_builtin_one_is_refused_clearly(tmp_path):
    settings = load_settings(
        questions_dir=MINI_BANK, custom_questions_dir=team_dir(tmp_path, "basics-relu")
    )
    with pytest.raises(BankValidationError) as caught:
        load_configured_bank(settings)
    [error] = caught.value.errors
    assert error.path.name == "platform.yaml" and error.line == 2
    assert "'basics-relu' is already a built-in question id" in str(error)


def test_malformed_custom_file_names_file_and_line(tmp_path):
    folder = team_dir(tmp_path)
    (folder / "broken.yaml").write_text("questions:\n  - id: team-x\n    difficulty: hard\n")
    settings = load_settings(questions_dir=MINI_BANK, custom_questions_dir=folder)
    with pytest.raises(BankValidationError) as caught:
        load_configured_bank(settings)
    assert any(e.path.name == "broken.yaml" and e.line == 3 for e in caught.value.errors)


async def test_a_channel_topic_filter_selects_team_questions(tmp_path, clock, rng):
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'team.db'}",
        questions_dir=MINI_BANK,
        custom_questions_dir=team_dir(tmp_path),
    )
    grader = ScriptedGrader()
    app = await BotApp.create(settings, clock=clock, rng=rng, graders=(grader, grader))
    try:
        workspace = await app.directory.workspace("discord", "G1")
        channel = await app.directory.channel(workspace.id, "C1")
        await app.directory.update_schedule(channel.id, ScheduleChange(topics=["team-platform"]))
        opened = await app.daily.open_today(channel.id)
        assert opened.question.bank_id == "team-feature-store"
    finally:
        await app.close()
