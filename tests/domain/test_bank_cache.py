"""The parsed-bank cache: found by the file's content (not its name or time), validated on every
load, harmless when damaged or unwritable, and pruned to what the last load used."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from bot.domain import bank as bank_module
from bot.domain.bank import BankValidationError, FastLoader, load_bank
from bot.domain.bank_cache import FILE_NAME, ParsedYamlCache
from bot.services.question_rows import load_banks
from tests.domain.test_bank import GOOD

ROOT = Path(__file__).resolve().parents[2]


def cache(directory: Path) -> ParsedYamlCache:
    return ParsedYamlCache(directory, FastLoader)


def test_the_shipped_bank_loads_the_same_from_the_cache_without_parsing_yaml(tmp_path, monkeypatch):
    questions = ROOT / "questions"
    first = cache(tmp_path)
    parsed = load_banks(questions, cache=first)
    assert first.hits == 0 and first.misses > 40  # every bank file parsed once
    monkeypatch.setattr(bank_module.yaml, "load", None)  # any parsing now raises TypeError
    second = cache(tmp_path)
    cached = load_banks(questions, cache=second)
    assert second.misses == 0 and second.hits == first.misses
    assert cached == parsed
    assert [q.content_hash for q in cached.all_questions()] == [
        q.content_hash for q in parsed.all_questions()
    ]


def test_an_edit_is_seen_even_when_the_file_keeps_its_time_and_size(tmp_path):
    bank_dir, cache_dir = tmp_path / "bank", tmp_path / "cache"
    bank_dir.mkdir()
    path = bank_dir / "cnn.yaml"
    path.write_text(GOOD, encoding="utf-8")
    stat = path.stat()
    first = cache(cache_dir)
    assert load_bank(bank_dir, cache=first).questions[0].topic == "cnn"
    first.save()
    edited = GOOD.replace("topic: cnn", "topic: cxx")  # same length
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size
    second = cache(cache_dir)
    assert load_bank(bank_dir, cache=second).questions[0].topic == "cxx"
    assert (second.hits, second.misses) == (0, 1)


def test_cached_data_is_validated_on_every_load(tmp_path, monkeypatch):
    bank_dir, cache_dir = tmp_path / "bank", tmp_path / "cache"
    bank_dir.mkdir()
    (bank_dir / "cnn.yaml").write_text(GOOD, encoding="utf-8")
    load_banks(bank_dir, cache=cache(cache_dir))
    # the rules change (here: the rubric total); the cached file must now fail them
    monkeypatch.setattr(bank_module, "RUBRIC_TOTAL_WEIGHT", 12)
    second = cache(cache_dir)
    with pytest.raises(BankValidationError) as caught:
        load_bank(bank_dir, cache=second)
    assert second.hits == 1
    [error] = caught.value.errors
    # the question's line is still found (composing the text again, only for the report)
    assert error.line == 2 and "they must add up to 12" in error.message


def test_data_json_would_change_is_not_cached(tmp_path):
    bank_dir, cache_dir = tmp_path / "bank", tmp_path / "cache"
    bank_dir.mkdir()
    # a YAML date (not a string) and an integer key: JSON would give back other types
    (bank_dir / "dated.yaml").write_text(
        GOOD.replace("    topic: cnn\n", "    topic: cnn\n    tags: [2026-01-05]\n"),
        encoding="utf-8",
    )
    with pytest.raises(BankValidationError, match=r"tags\[0\]"):
        load_banks(bank_dir, cache=cache(cache_dir))
    assert not (cache_dir / FILE_NAME).exists()  # nothing worth keeping, nothing written
    keeper = cache(cache_dir)
    keeper.put("a: 1", {1: "integer key"})
    keeper.put("b: 2", {"b": 2})
    keeper.save()
    assert list(json.loads((cache_dir / FILE_NAME).read_text())["entries"]) == [
        ParsedYamlCache.key("b: 2")
    ]


def test_a_damaged_or_foreign_cache_file_is_ignored_and_replaced(tmp_path):
    bank_dir, cache_dir = tmp_path / "bank", tmp_path / "cache"
    bank_dir.mkdir()
    cache_dir.mkdir()
    (bank_dir / "cnn.yaml").write_text(GOOD, encoding="utf-8")
    cache_file = cache_dir / FILE_NAME
    key = ParsedYamlCache.key(GOOD)
    made_elsewhere = {"maker": "1/pyyaml-0.0/other.Loader", "entries": {key: {"questions": []}}}
    for content in ("{not json", json.dumps(made_elsewhere), "[]"):
        cache_file.write_text(content, encoding="utf-8")
        opened = cache(cache_dir)
        assert [q.id for q in load_banks(bank_dir, cache=opened).all_questions()] == ["cnn-pooling"]
        assert (opened.hits, opened.misses) == (0, 1)
        assert json.loads(cache_file.read_text())["maker"] == opened._maker


def test_an_unwritable_cache_directory_does_not_stop_a_load(tmp_path):
    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    (bank_dir / "cnn.yaml").write_text(GOOD, encoding="utf-8")
    blocked = tmp_path / "a-file-not-a-directory"
    blocked.write_text("", encoding="utf-8")
    opened = cache(blocked / "cache")
    assert [q.id for q in load_banks(bank_dir, cache=opened).all_questions()] == ["cnn-pooling"]
    assert not (blocked / "cache").exists()


def test_a_save_keeps_only_the_files_the_last_load_used(tmp_path):
    bank_dir, cache_dir = tmp_path / "bank", tmp_path / "cache"
    bank_dir.mkdir()
    path = bank_dir / "cnn.yaml"
    for version in range(3):
        path.write_text(GOOD.replace("cnn-pooling", f"cnn-pooling-{version}"), encoding="utf-8")
        load_banks(bank_dir, cache=cache(cache_dir))
    entries = json.loads((cache_dir / FILE_NAME).read_text())["entries"]
    assert list(entries) == [ParsedYamlCache.key(path.read_text(encoding="utf-8"))]
    assert entries[ParsedYamlCache.key(path.read_text(encoding="utf-8"))] == yaml.safe_load(
        path.read_text(encoding="utf-8")
    )
