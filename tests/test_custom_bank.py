"""A team's own question files: validated like the built-in bank, no id collisions, selectable."""

from __future__ import annotations

import pytest

from bot.app import BotApp, load_configured_bank
from bot.config import load_settings
from bot.domain.bank import BankValidationError
from bot.services.channels import ConfigChange, SettingsRejected
from bot.storage.models import Platform
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
    bank = load_configured_bank(settings).builtin
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


@pytest.mark.parametrize(
    ("make_file", "problem"), [(True, "a file, not a directory"), (False, "no such directory")]
)
def test_a_custom_questions_path_that_is_not_a_folder_is_named(tmp_path, make_file, problem):
    path = tmp_path / "team.yaml"
    if make_file:
        path.write_text("questions: []\n")
    settings = load_settings(questions_dir=MINI_BANK, custom_questions_dir=path)
    with pytest.raises(BankValidationError) as caught:
        load_configured_bank(settings)
    assert [str(error) for error in caught.value.errors] == [f"{path}: {problem}"]


def test_a_badly_named_workspace_folder_is_refused(tmp_path):
    folder = tmp_path / "team"
    (folder / "acme").mkdir(parents=True)
    settings = load_settings(questions_dir=MINI_BANK, custom_questions_dir=folder)
    with pytest.raises(BankValidationError, match="<platform>-<workspace id>"):
        load_configured_bank(settings)


async def _channel_with_topics(app, platform: Platform, workspace: str, topics: list[str]):
    admin = await app.directory.resolve(
        platform, workspace, "U1", channel_external_id="C1", is_admin=True
    )
    await app.channels.update(
        admin,
        admin.channel_id,
        ConfigChange(enabled=True, days="daily", post_time="00:00", topics=topics),
    )
    return admin


async def test_a_channel_topic_filter_selects_team_questions(tmp_path, clock, rng):
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'team.db'}",
        questions_dir=MINI_BANK,
        custom_questions_dir=team_dir(tmp_path),
    )
    grader = ScriptedGrader()
    app = await BotApp.create(settings, clock=clock, rng=rng, graders=(grader, grader))
    try:
        admin = await _channel_with_topics(app, Platform.DISCORD, "G1", ["team-platform"])
        opened = await app.daily.open_due(admin.channel_id)
        assert opened.question.bank_id == "team-feature-store"
    finally:
        await app.close()


async def test_a_workspace_folder_is_that_workspaces_alone(tmp_path, clock, rng):
    folder = tmp_path / "team"
    (folder / "slack-T42").mkdir(parents=True)
    (folder / "slack-T42" / "ours.yaml").write_text(
        TEAM_QUESTION.format(qid="acme-feature-store"), encoding="utf-8"
    )
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'team.db'}",
        questions_dir=MINI_BANK,
        custom_questions_dir=folder,
    )
    grader = ScriptedGrader()
    app = await BotApp.create(settings, clock=clock, rng=rng, graders=(grader, grader))
    try:
        ours = await _channel_with_topics(app, Platform.SLACK, "T42", ["team-platform"])
        assert (await app.daily.open_due(ours.channel_id)).question.bank_id == "acme-feature-store"
        with pytest.raises(SettingsRejected, match="unknown topic"):
            await _channel_with_topics(app, Platform.SLACK, "T7", ["team-platform"])
        other = await app.directory.resolve(Platform.SLACK, "T7", "U2", channel_external_id="C2")
        reply = await app.commands.run_text(other, "practice team-platform")
        assert "Unknown topic" in reply.cards[0].title
    finally:
        await app.close()
