"""The bank loader: schema, file:line:field errors, duplicate and built-in id collisions, hashes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.domain.bank import BankValidationError, load_bank

GOOD = """\
questions:
  - id: cnn-pooling
    topic: cnn
    difficulty: beginner
    prompt: What does max pooling do in a CNN?
    reference: Max pooling keeps the largest value in each window, shrinking the feature map.
    key_points:
      - text: keeps the largest value in each window
        weight: 6
      - text: shrinks the feature map
        weight: 4
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path):
    write(tmp_path, "cnn.yaml", GOOD)
    bank = load_bank(tmp_path)
    assert [question.id for question in bank.questions] == ["cnn-pooling"]


def test_schema_errors_name_file_line_and_field_and_load_nothing(tmp_path):
    bad = GOOD.replace("difficulty: beginner", "difficulty: expert")
    path = write(tmp_path, "cnn.yaml", bad)
    with pytest.raises(BankValidationError) as caught:
        load_bank(tmp_path)
    messages = [str(error) for error in caught.value.errors]
    assert f"{path}:4: questions[0](id=cnn-pooling).difficulty: Input should be" in messages[0]


def test_rubric_weights_must_add_up_to_ten(tmp_path):
    path = write(tmp_path, "cnn.yaml", GOOD.replace("weight: 4", "weight: 3"))
    with pytest.raises(BankValidationError, match="weights add up to 9; they must add up to 10"):
        load_bank(tmp_path)
    with pytest.raises(BankValidationError) as caught:
        load_bank(tmp_path)
    # the check's own message, without pydantic's "Value error, " in front of it
    assert str(caught.value.errors[0]) == (
        f"{path}:2: questions[0](id=cnn-pooling): key_points weights add up to 9; "
        "they must add up to 10"
    )


def test_malformed_yaml_reports_the_line(tmp_path):
    path = write(tmp_path, "broken.yaml", "questions:\n  - id: [unclosed\n    topic: cnn\n")
    with pytest.raises(BankValidationError) as caught:
        load_bank(tmp_path)
    [error] = caught.value.errors
    assert error.path == path and error.line is not None and "invalid YAML" in error.message


def test_missing_field_and_unknown_field(tmp_path):
    text = GOOD.replace("    topic: cnn\n", "").replace(
        "    prompt:", "    promt: typo\n    prompt:"
    )
    write(tmp_path, "cnn.yaml", text)
    with pytest.raises(BankValidationError) as caught:
        load_bank(tmp_path)
    fields = {error.field.split(".")[-1] for error in caught.value.errors}
    assert {"topic", "promt"} <= fields


def test_duplicate_ids_across_files_and_builtin_collisions(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(BankValidationError, match="duplicate id 'cnn-pooling'"):
        load_bank(tmp_path)
    custom = tmp_path / "custom"
    custom.mkdir()
    write(custom, "team.yaml", GOOD)
    with pytest.raises(BankValidationError, match="already a built-in question id"):
        load_bank(custom, builtin_ids=frozenset({"cnn-pooling"}))


def test_content_hash_changes_with_graded_content_only(tmp_path):
    write(tmp_path, "cnn.yaml", GOOD)
    original = load_bank(tmp_path).questions[0]
    write(tmp_path, "cnn.yaml", GOOD.replace("topic: cnn", "topic: vision"))
    retagged = load_bank(tmp_path).questions[0]
    write(
        tmp_path,
        "cnn.yaml",
        GOOD.replace("largest value in each window,", "maximum in each window,"),
    )
    edited = load_bank(tmp_path).questions[0]
    assert original.content_hash == retagged.content_hash != edited.content_hash


def test_overlong_key_point_is_refused(tmp_path):
    long_point = " ".join(["word"] * 26)
    write(tmp_path, "cnn.yaml", GOOD.replace("shrinks the feature map", long_point))
    with pytest.raises(BankValidationError, match="at most 25 words"):
        load_bank(tmp_path)
