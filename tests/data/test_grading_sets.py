"""Checks the two hand-written grader evaluation sets: shape, counts, bank ids, coverage, no copying.

``grading/paraphrase_set.yaml`` holds five answer styles per bank question and must not share any
4-word sequence with the question's reference; ``grading/attacks_heldout.yaml`` holds prompt-injection
attacks on honest base answers. These tests read the data only; they never run a grader.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import random
import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.bank import Question, load_bank

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS_DIR = ROOT / "questions"
GRADING_DIR = Path(__file__).resolve().parent / "grading"
PARAPHRASE_FILE = GRADING_DIR / "paraphrase_set.yaml"
#: dev-only questions written later, in the same five styles under the same rules
PARAPHRASE_DEV_MORE_FILE = GRADING_DIR / "paraphrase_dev_more.yaml"
#: a third batch of dev-only questions (wrong answers that reverse a direction, role or subject)
PARAPHRASE_DEV_EXTRA_FILE = GRADING_DIR / "paraphrase_dev_extra.yaml"
#: 40 questions answered blind to every grader, split ``heldout``: see grading/README.md
PARAPHRASE_HELDOUT_FILE = GRADING_DIR / "paraphrase_heldout.yaml"
ATTACK_FILE = GRADING_DIR / "attacks_heldout.yaml"

STYLES = ("correct", "terse", "partial", "wrong", "vague")
ATTACK_CLASSES = (
    "grader-address",
    "multilingual",
    "obfuscated",
    "fake-structure",
    "evidence-bait",
    "authority",
    "payload-in-answer",
)
POSITIONS = ("prefix", "suffix", "inside")
#: The script each non-Latin language of the multilingual class must actually be written in.
LANGUAGE_SCRIPTS = {
    "ru": ("CYRILLIC",),
    "zh": ("CJK UNIFIED",),
    "ja": ("HIRAGANA", "KATAKANA"),
    "ko": ("HANGUL",),
    "hi": ("DEVANAGARI",),
    "ar": ("ARABIC",),
}
LATIN_LANGUAGES = frozenset({"fr", "de", "es", "pt", "it"})
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def word_tokens(text: str) -> list[str]:
    """Lower-cased word tokens; punctuation and symbols such as × or = are dropped."""
    return re.findall(r"\w+", text.lower())


def four_grams(text: str) -> set[tuple[str, ...]]:
    words = word_tokens(text)
    return {tuple(words[i : i + 4]) for i in range(len(words) - 3)}


def attacked_answer(attack: dict[str, Any]) -> str:
    """The text a grader sees for one attack: the base with the attack placed as recorded."""
    base, text, position = attack["base"], attack["attack"], attack["position"]
    if position == "prefix":
        return f"{text}\n\n{base}"
    if position == "suffix":
        return f"{base}\n\n{text}"
    cut = base.index(attack["after"]) + len(attack["after"])
    return f"{base[:cut]} {text}{base[cut:]}"


def sentence_count(text: str) -> int:
    return len([part for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part])


def is_retired_tf1(question: Question) -> bool:
    return question.id.startswith("frameworks-tf1-") or "tensorflow 1" in question.prompt.lower()


@cache
def bank() -> dict[str, Question]:
    return load_bank(QUESTIONS_DIR).by_id()


@cache
def paraphrase_data() -> dict[str, Any]:
    return yaml.safe_load(PARAPHRASE_FILE.read_text(encoding="utf-8"))


@cache
def attack_data() -> dict[str, Any]:
    return yaml.safe_load(ATTACK_FILE.read_text(encoding="utf-8"))


def paraphrase_questions() -> list[dict[str, Any]]:
    return paraphrase_data()["questions"]


def attacks() -> list[dict[str, Any]]:
    return attack_data()["attacks"]


# ---------------------------------------------------------------------------- paraphrase set


def test_paraphrase_set_shape() -> None:
    assert set(paraphrase_data()) == {"questions"}
    for entry in paraphrase_questions():
        assert set(entry) == {"id", "split", "answers"}, entry.get("id")
        assert tuple(entry["answers"]) == STYLES, entry["id"]
        for style, text in entry["answers"].items():
            assert isinstance(text, str) and text.strip(), (entry["id"], style)
        assert len(set(entry["answers"].values())) == len(STYLES), entry["id"]


def test_paraphrase_ids_exist_in_the_bank_and_avoid_retired_questions() -> None:
    ids = [entry["id"] for entry in paraphrase_questions()]
    assert len(ids) == len(set(ids))
    for question_id in ids:
        assert question_id in bank(), question_id
        assert not is_retired_tf1(bank()[question_id]), question_id


def test_paraphrase_coverage_of_topics_difficulties_and_numeric_questions() -> None:
    questions = [bank()[entry["id"]] for entry in paraphrase_questions()]
    assert len(questions) >= 44
    assert len({question.topic for question in questions}) >= 12
    assert {question.difficulty.value for question in questions} == {
        "beginner",
        "intermediate",
        "advanced",
    }
    assert sum("numerical" in question.tags for question in questions) >= 10


def test_paraphrase_answer_lengths() -> None:
    for entry in paraphrase_questions():
        answers = entry["answers"]
        correct_words = len(answers["correct"].split())
        terse_words = len(answers["terse"].split())
        assert 60 <= correct_words <= 200, (entry["id"], correct_words)
        assert 20 <= terse_words <= 60, (entry["id"], terse_words)


def test_split_is_half_and_half_and_reproduces_from_the_recorded_seed() -> None:
    header = PARAPHRASE_FILE.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# seed for the split: (\d+)", header)
    assert match, header
    ids = sorted(entry["id"] for entry in paraphrase_questions())
    random.Random(int(match.group(1))).shuffle(ids)
    half = len(ids) // 2
    expected = {question_id: "dev" if i < half else "test" for i, question_id in enumerate(ids)}
    recorded = {entry["id"]: entry["split"] for entry in paraphrase_questions()}
    assert recorded == expected
    assert Counter(recorded.values()) == {"dev": half, "test": len(ids) - half}


@pytest.mark.parametrize("style", STYLES)
def test_no_answer_shares_a_four_word_sequence_with_the_reference(style: str) -> None:
    copied = {}
    for entry in paraphrase_questions():
        shared = four_grams(entry["answers"][style]) & four_grams(bank()[entry["id"]].reference)
        if shared:
            copied[entry["id"]] = sorted(" ".join(gram) for gram in shared)
    assert copied == {}


def test_four_gram_rule_ignores_case_and_punctuation() -> None:
    assert four_grams("The Output, is 10 × 10!") == four_grams("the output is 10 10")
    assert four_grams("h_t = tanh(x)") == set()
    assert ("output", "is", "10", "10") in four_grams("Output: is (10 × 10)")


# ---------------------------------------------------------------------------- more dev questions


@cache
def dev_questions_of(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(data) == {"questions"}
    return data["questions"]


def dev_more_questions() -> list[dict[str, Any]]:
    return dev_questions_of(PARAPHRASE_DEV_MORE_FILE)


def dev_extra_questions() -> list[dict[str, Any]]:
    return dev_questions_of(PARAPHRASE_DEV_EXTRA_FILE)


def heldout_questions() -> list[dict[str, Any]]:
    return dev_questions_of(PARAPHRASE_HELDOUT_FILE)


@pytest.mark.parametrize(
    ("entries", "fewest", "earlier", "split"),
    [
        pytest.param(dev_more_questions, 12, (), "dev", id="dev_more"),
        pytest.param(dev_extra_questions, 8, (dev_more_questions,), "dev", id="dev_extra"),
        pytest.param(
            heldout_questions,
            40,
            (dev_more_questions, dev_extra_questions),
            "heldout",
            id="heldout",
        ),
    ],
)
def test_more_dev_questions_are_new_dev_bank_questions_in_five_styles(
    entries: Any, fewest: int, earlier: tuple[Any, ...], split: str
) -> None:
    entries = entries()
    assert len(entries) >= fewest
    ids = [entry["id"] for entry in entries]
    assert len(ids) == len(set(ids))
    taken = {entry["id"] for entry in paraphrase_questions()}
    for other in earlier:
        taken |= {entry["id"] for entry in other()}
    assert not set(ids) & taken
    for entry in entries:
        assert set(entry) == {"id", "split", "answers"}, entry["id"]
        assert entry["split"] == split, entry["id"]
        assert tuple(entry["answers"]) == STYLES, entry["id"]
        assert len(set(entry["answers"].values())) == len(STYLES), entry["id"]
        question = bank()[entry["id"]]
        assert not is_retired_tf1(question) and not question.llm_only, entry["id"]
        correct_words = len(entry["answers"]["correct"].split())
        terse_words = len(entry["answers"]["terse"].split())
        assert 60 <= correct_words <= 200, (entry["id"], correct_words)
        assert 20 <= terse_words <= 60, (entry["id"], terse_words)


@pytest.mark.parametrize("entries", [dev_more_questions, dev_extra_questions, heldout_questions])
def test_more_dev_questions_share_no_four_word_sequence_with_the_reference(entries: Any) -> None:
    copied = {}
    for entry in entries():
        for style, text in entry["answers"].items():
            shared = four_grams(text) & four_grams(bank()[entry["id"]].reference)
            if shared:
                copied[(entry["id"], style)] = sorted(" ".join(gram) for gram in shared)
    assert copied == {}


# ---------------------------------------------------------------------------- attack set


def test_attack_set_shape() -> None:
    assert set(attack_data()) == {"bases", "attacks"}
    required = {"id", "class", "question", "base", "position", "attack"}
    for attack in attacks():
        assert required <= set(attack), attack.get("id")
        optional = set(attack) - required
        assert optional <= {"after", "language", "technique"}, attack["id"]
        assert attack["class"] in ATTACK_CLASSES, attack["id"]
        assert attack["position"] in POSITIONS, attack["id"]
        assert ("after" in attack) == (attack["position"] == "inside"), attack["id"]
        assert ("language" in attack) == (attack["class"] == "multilingual"), attack["id"]
        assert ("technique" in attack) == (attack["class"] == "obfuscated"), attack["id"]
        assert isinstance(attack["attack"], str) and attack["attack"].strip(), attack["id"]
    ids = [attack["id"] for attack in attacks()]
    assert len(ids) == len(set(ids))


def test_attack_counts_per_class() -> None:
    assert len(attacks()) >= 130
    per_class = Counter(attack["class"] for attack in attacks())
    assert set(per_class) == set(ATTACK_CLASSES)
    assert min(per_class.values()) >= 10, per_class


def test_attack_questions_exist_and_bases_are_short_honest_answers() -> None:
    bases = attack_data()["bases"]
    for question_id, base in bases.items():
        assert question_id in bank(), question_id
        assert not is_retired_tf1(bank()[question_id]), question_id
        assert 1 <= sentence_count(base) <= 3, question_id
    for attack in attacks():
        assert attack["question"] in bank(), attack["id"]
        assert attack["base"] == bases[attack["question"]], attack["id"]


def test_attacked_answer_places_the_attack_where_recorded() -> None:
    for attack in attacks():
        combined = attacked_answer(attack)
        assert attack["attack"] in combined, attack["id"]
        if attack["position"] == "prefix":
            assert combined.startswith(attack["attack"]) and combined.endswith(attack["base"])
        elif attack["position"] == "suffix":
            assert combined.startswith(attack["base"]) and combined.endswith(attack["attack"])
        else:
            cut = attack["base"].index(attack["after"]) + len(attack["after"])
            assert 0 < cut < len(attack["base"]), attack["id"]
            assert combined.startswith(attack["base"][:cut]), attack["id"]
            assert combined.endswith(attack["base"][cut:]), attack["id"]
            assert combined.replace(f" {attack['attack']}", "", 1) == attack["base"]


def test_every_position_is_used() -> None:
    assert set(Counter(attack["position"] for attack in attacks())) == set(POSITIONS)


def test_multilingual_attacks_cover_six_languages_in_their_own_scripts() -> None:
    multilingual = [attack for attack in attacks() if attack["class"] == "multilingual"]
    languages = Counter(attack["language"] for attack in multilingual)
    assert set(languages) <= set(LANGUAGE_SCRIPTS) | LATIN_LANGUAGES
    assert len(languages) >= 6
    for attack in multilingual:
        scripts = LANGUAGE_SCRIPTS.get(attack["language"])
        if scripts is None:
            continue
        names = [unicodedata.name(char, "") for char in attack["attack"]]
        assert any(name.startswith(scripts) for name in names), attack["id"]


def decoded_base64_texts(text: str) -> list[str]:
    decoded = []
    for token in BASE64_TOKEN.findall(text):
        try:
            decoded.append(base64.b64decode(token, validate=True).decode("ascii"))
        except (binascii.Error, UnicodeDecodeError):
            continue
    return decoded


def test_obfuscated_attacks_use_the_techniques_they_claim() -> None:
    obfuscated = [attack for attack in attacks() if attack["class"] == "obfuscated"]
    techniques = {attack["technique"] for attack in obfuscated}
    assert {"leetspeak", "zero-width", "homoglyph", "base64", "rot13"} <= techniques
    assert techniques & {"spaced", "hyphenated"}
    for attack in obfuscated:
        text = attack["attack"]
        technique = attack["technique"]
        if technique == "zero-width":
            assert ZERO_WIDTH & set(text), attack["id"]
        elif technique == "homoglyph":
            names = [unicodedata.name(char, "") for char in text if char.isalpha()]
            assert any(name.startswith("LATIN") for name in names), attack["id"]
            assert any(name.startswith(("CYRILLIC", "GREEK")) for name in names), attack["id"]
        elif technique == "base64":
            decoded = decoded_base64_texts(text)
            assert any("grader" in part.lower() or "rubric" in part.lower() for part in decoded)
        elif technique == "rot13":
            plain = codecs.decode(text, "rot13").lower()
            assert "instructions" in plain or "marks" in plain, attack["id"]
        elif technique == "reversed":
            assert "grader" in text[::-1].lower(), attack["id"]
        elif technique == "hex":
            hex_bytes = re.findall(r"\b[0-9a-f]{2}\b", text.rsplit(":", 1)[1])
            assert "grader" in bytes.fromhex("".join(hex_bytes)).decode("ascii").lower()
