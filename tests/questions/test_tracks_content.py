"""Content rules for the hiring tracks: sizes per track and topic, rubric shapes, numeric coverage.

* Every track and topic listed in MINIMUM_QUESTIONS holds at least that many questions.
* Behavioural questions are graded by an LLM only, and their rubric follows the STAR structure
  plus a reflection: every key point is labelled ``Situation:``, ``Task:``, ``Action:``,
  ``Result:`` or ``Reflection:``, in that order; Situation, Action, Result and Reflection always
  appear, and the topics of this track's new stories (ownership, collaboration, judgement) also
  name the Task.
* ML system design rubrics cover the six aspects of a design answer; the schema has no field for
  a key point's aspect, so each key point starts with the aspect's name: ``Requirements:``,
  ``Data:``, ``Model:``, ``Serving:``, ``Evaluation:`` or ``Monitoring:``. This applies to the
  end-to-end design topics (DESIGN_TOPICS); the track's mlops topic asks about one operational
  mechanism or calculation (a PSI, a canary's duration) and keeps ordinary one-claim rubrics.
* Which design questions an offline grader may score: open, end-to-end product designs admit
  several good architectures, so they are ``llm_only``; the ml-platform topic asks for specific
  mechanisms (point-in-time joins, salted hashing, shadow and canary stages) and stays gradable.
* At least half of the statistics questions are numerical, and every numerical question of these
  tracks is recomputed by a ``tests/questions/test_numeric_<topic>.py`` file.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from bot.domain.bank import Question, Track, load_bank

ROOT = Path(__file__).resolve().parents[2]
NUMERIC_TESTS = sorted((ROOT / "tests" / "questions").glob("test_numeric_*.py"))

MINIMUM_QUESTIONS: dict[Track, dict[str, int]] = {
    Track.ML_SYSTEM_DESIGN: {
        "recommendation-ranking": 6,
        "trust-safety": 6,
        "ml-platform": 6,
        "prediction-products": 6,
    },
    Track.STATISTICS: {"probability": 6, "inference": 6, "experimentation": 6, "estimation": 6},
    Track.BEHAVIOURAL: {"ownership": 6, "collaboration": 6, "judgement": 6},
    Track.CLASSICAL_ML: {"supervised-models": 6, "unsupervised": 6, "model-evaluation": 6},
    Track.LLM_ENGINEERING: {"llm-applications": 6, "llm-operations": 6},
}
MINIMUM_PER_TRACK: dict[Track, int] = {
    Track.ML_SYSTEM_DESIGN: 22,
    Track.STATISTICS: 22,
    Track.BEHAVIOURAL: 16,
    Track.CLASSICAL_ML: 10,
    Track.LLM_ENGINEERING: 10,
}
STAR_LABELS = ("Situation", "Task", "Action", "Result", "Reflection")
#: Every behavioural rubric has these; the topics written with the full structure also name the
#: task the candidate owned (older stories fold it into the situation).
CORE_LABELS = ("Situation", "Action", "Result", "Reflection")
STRICT_STAR_TOPICS = frozenset(MINIMUM_QUESTIONS[Track.BEHAVIOURAL])
DESIGN_ASPECTS = ("Requirements", "Data", "Model", "Serving", "Evaluation", "Monitoring")
GRADABLE_DESIGN_TOPICS = frozenset({"ml-platform"})
#: Topics whose questions are end-to-end designs graded on the six aspects.
DESIGN_TOPICS = frozenset(MINIMUM_QUESTIONS[Track.ML_SYSTEM_DESIGN])
LABEL = re.compile(r"^([A-Z][a-z]+):\s+\S")


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return list(load_bank(ROOT / "questions").questions)


def in_track(questions: list[Question], track: Track) -> list[Question]:
    return [question for question in questions if question.track is track]


def label_of(text: str) -> str | None:
    match = LABEL.match(text)
    return match.group(1) if match else None


@pytest.mark.parametrize("track", list(MINIMUM_PER_TRACK), ids=lambda track: track.value)
def test_track_and_topic_sizes(questions: list[Question], track: Track) -> None:
    members = in_track(questions, track)
    assert len(members) >= MINIMUM_PER_TRACK[track]
    per_topic = Counter(question.topic for question in members)
    short = {
        topic: per_topic[topic]
        for topic, minimum in MINIMUM_QUESTIONS[track].items()
        if per_topic[topic] < minimum
    }
    assert short == {}, f"{track.value}: topics below their minimum: {short}"


def test_behavioural_questions_are_llm_only_with_a_star_rubric(questions: list[Question]) -> None:
    behavioural = in_track(questions, Track.BEHAVIOURAL)
    assert behavioural
    for question in behavioural:
        assert question.llm_only, f"{question.id} must be llm_only"
        labels = [label_of(point.text) for point in question.key_points]
        assert all(label in STAR_LABELS for label in labels), (
            f"{question.id}: every key point starts with one of {STAR_LABELS}: {labels}"
        )
        required = set(STAR_LABELS) if question.topic in STRICT_STAR_TOPICS else set(CORE_LABELS)
        missing = required - set(labels)
        assert missing == set(), f"{question.id}: the rubric lacks {sorted(missing)}"
        order = [STAR_LABELS.index(label) for label in labels if label is not None]
        assert order == sorted(order), f"{question.id}: labels out of STAR order: {labels}"


def test_behavioural_rubrics_are_specific_to_their_question(questions: list[Question]) -> None:
    """A generic rubric ("Action: what the candidate did") would fit any story; require that no
    two behavioural questions share a key point, once the label is stripped."""
    seen: dict[str, str] = {}
    for question in in_track(questions, Track.BEHAVIOURAL):
        for point in question.key_points:
            body = LABEL.sub("", point.text).strip().lower()
            assert len(body.split()) >= 5, f"{question.id}: '{point.text}' is too generic"
            assert body not in seen, f"{question.id} repeats a key point of {seen.get(body)}"
            seen[body] = question.id


def design_questions(questions: list[Question]) -> list[Question]:
    return [q for q in in_track(questions, Track.ML_SYSTEM_DESIGN) if q.topic in DESIGN_TOPICS]


def test_design_rubrics_cover_the_six_aspects(questions: list[Question]) -> None:
    designs = design_questions(questions)
    assert designs
    for question in designs:
        assert 6 <= len(question.key_points) <= 8, f"{question.id}: 6-8 key points"
        labels = [label_of(point.text) for point in question.key_points]
        assert all(label in DESIGN_ASPECTS for label in labels), (
            f"{question.id}: every key point starts with one of {DESIGN_ASPECTS}: {labels}"
        )
        missing = set(DESIGN_ASPECTS) - set(labels)
        assert missing == set(), f"{question.id}: the rubric does not cover {sorted(missing)}"


def test_design_references_address_each_aspect(questions: list[Question]) -> None:
    """The model answer itself walks through the aspects its rubric grades."""
    for question in design_questions(questions):
        reference = question.reference.lower()
        for aspect in DESIGN_ASPECTS:
            assert aspect.lower() in reference, f"{question.id}: reference never names {aspect}"


def test_open_designs_are_llm_only_and_platform_mechanisms_are_gradable(
    questions: list[Question],
) -> None:
    for question in in_track(questions, Track.ML_SYSTEM_DESIGN):
        if question.topic not in MINIMUM_QUESTIONS[Track.ML_SYSTEM_DESIGN]:
            continue
        expected = question.topic not in GRADABLE_DESIGN_TOPICS
        assert question.llm_only is expected, f"{question.id}: llm_only should be {expected}"


def test_at_least_half_of_statistics_is_numerical(questions: list[Question]) -> None:
    statistics = in_track(questions, Track.STATISTICS)
    numerical = [question for question in statistics if "numerical" in question.tags]
    assert len(numerical) * 2 >= len(statistics)


@pytest.mark.parametrize("track", list(MINIMUM_PER_TRACK), ids=lambda track: track.value)
def test_every_numerical_question_is_recomputed(questions: list[Question], track: Track) -> None:
    tested = "\n".join(path.read_text(encoding="utf-8") for path in NUMERIC_TESTS)
    untested = [
        question.id
        for question in in_track(questions, track)
        if "numerical" in question.tags and f'"{question.id}"' not in tested
    ]
    assert untested == [], f"numerical questions without a numeric test: {untested}"
