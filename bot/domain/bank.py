"""The question bank: the schema of a question and the YAML loader that reports file:line:field.

A bank file is a YAML mapping with one key, ``questions``, holding a list of questions. Every
error is reported with the file, the line of the offending node and the field path, and a file
with any error contributes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from bot.domain.bank_cache import ParsedYamlCache

#: Files in a bank directory that hold something other than questions.
NON_QUESTION_FILES = frozenset({"coverage.yaml"})
#: Every rubric's weights add up to this, so scores of different questions compare.
RUBRIC_TOTAL_WEIGHT = 10
ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_KEY_POINT_WORDS = 25


class Difficulty(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Track(StrEnum):
    """A family of interview questions a team can choose; topics live inside a track."""

    DEEP_LEARNING = "deep-learning"
    ML_SYSTEM_DESIGN = "ml-system-design"
    STATISTICS = "statistics"
    CLASSICAL_ML = "classical-ml"
    LLM_ENGINEERING = "llm-engineering"
    BEHAVIOURAL = "behavioural"


@dataclass(frozen=True)
class TrackLimits:
    """How long a reference answer may be and how many key points a rubric may have."""

    max_reference_words: int
    max_key_points: int


#: System-design answers are longer and have more parts than a conceptual question's.
TRACK_LIMITS: dict[Track, TrackLimits] = {
    Track.DEEP_LEARNING: TrackLimits(260, 6),
    Track.ML_SYSTEM_DESIGN: TrackLimits(400, 8),
    Track.STATISTICS: TrackLimits(260, 6),
    Track.CLASSICAL_ML: TrackLimits(260, 6),
    Track.LLM_ENGINEERING: TrackLimits(300, 7),
    Track.BEHAVIOURAL: TrackLimits(300, 6),
}


class KeyPoint(BaseModel):
    """One checkable idea of the rubric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=3)
    weight: int = Field(ge=1, le=RUBRIC_TOTAL_WEIGHT)
    #: Other ways a correct answer may state this point (equivalent numbers, units, symbol
    #: names, wordings); graders accept any of them as the point itself.
    accept: tuple[str, ...] = ()

    @field_validator("text")
    @classmethod
    def _one_short_idea(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value.split()) > MAX_KEY_POINT_WORDS:
            raise ValueError(f"a key point has at most {MAX_KEY_POINT_WORDS} words")
        return value

    @field_validator("accept")
    @classmethod
    def _short_alternatives(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(" ".join(item.split()) for item in value)
        for item in cleaned:
            if not item:
                raise ValueError("an accepted form may not be empty")
            if len(item.split()) > MAX_KEY_POINT_WORDS:
                raise ValueError(f"an accepted form has at most {MAX_KEY_POINT_WORDS} words")
        return cleaned


class Question(BaseModel):
    """A bank question as written in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN, max_length=80)
    track: Track = Track.DEEP_LEARNING
    topic: str = Field(pattern=ID_PATTERN, max_length=60)
    difficulty: Difficulty
    #: Only an LLM can grade it fairly (behavioural stories, open design answers): the offline
    #: grader declines instead of scoring it.
    llm_only: bool = False
    prompt: str = Field(min_length=10, max_length=2000)
    reference: str = Field(min_length=20, max_length=4000)
    key_points: tuple[KeyPoint, ...] = Field(min_length=1, max_length=8)
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @field_validator("prompt", "reference")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _weights_add_up(self) -> Question:
        total = sum(point.weight for point in self.key_points)
        if total != RUBRIC_TOTAL_WEIGHT:
            raise ValueError(
                f"key_points weights add up to {total}; they must add up to {RUBRIC_TOTAL_WEIGHT}"
            )
        return self

    @model_validator(mode="after")
    def _within_track_limits(self) -> Question:
        limits = TRACK_LIMITS[self.track]
        words = len(self.reference.split())
        if words > limits.max_reference_words:
            raise ValueError(
                f"the reference has {words} words; the {self.track.value} track allows "
                f"{limits.max_reference_words}"
            )
        if len(self.key_points) > limits.max_key_points:
            raise ValueError(
                f"{len(self.key_points)} key points; the {self.track.value} track allows "
                f"{limits.max_key_points}"
            )
        if self.track is Track.BEHAVIOURAL and not self.llm_only:
            raise ValueError("behavioural questions are graded by an LLM only: set llm_only: true")
        return self

    @property
    def content_hash(self) -> str:
        """A stable hash of everything a grade depends on; an edit makes a new version.

        Defaults are left out, so adding an optional field does not re-version every question.
        """
        payload = self.model_dump(
            mode="json", include={"prompt", "reference", "key_points"}, exclude_defaults=True
        )
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


class BankFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[Question] = Field(min_length=1)


@dataclass(frozen=True)
class BankError:
    """One problem in a bank file, located as precisely as the YAML allows."""

    path: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class BankValidationError(Exception):
    """Raised when a bank cannot be loaded; carries every error found."""

    def __init__(self, errors: Sequence[BankError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


@dataclass(frozen=True)
class Bank:
    questions: tuple[Question, ...]

    def by_id(self) -> dict[str, Question]:
        return {question.id: question for question in self.questions}

    def topics(self) -> list[str]:
        return sorted({question.topic for question in self.questions})

    def tracks(self) -> list[Track]:
        return sorted({question.track for question in self.questions})


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """Walk a composed YAML node along a pydantic error location; return a 1-based line."""
    if node is None:
        return None
    best = node.start_mark.line + 1
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            child = next(
                (value for key, value in node.value if getattr(key, "value", None) == step), None
            )
            if child is None:
                break
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
        else:
            break
        best = node.start_mark.line + 1
    return best


def _field_name(loc: Sequence[int | str], data: Any) -> str:
    """Render a location like ``questions[3].key_points[0].weight`` with the question id."""
    parts: list[str] = []
    cursor = data
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            if isinstance(cursor, list) and step < len(cursor):
                cursor = cursor[step]
                if isinstance(cursor, dict) and "id" in cursor and "prompt" in cursor:
                    label = f"[{step}](id={cursor['id']})"
            parts.append(label)
        else:
            parts.append(f".{step}" if parts else str(step))
            cursor = cursor.get(step) if isinstance(cursor, dict) else None
    return "".join(parts)


try:  # libyaml's C loader is about 20x faster; the pure-Python one is the fallback
    from yaml import CSafeLoader as FastLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as FastLoader  # type: ignore[assignment]


def _yaml_error(path: Path, exc: yaml.YAMLError) -> BankError:
    """A YAML syntax error with the parser's own context ("while scanning a quoted scalar")."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    parts = [
        getattr(exc, "context", None),
        getattr(exc, "problem", None),
    ]
    context_mark = getattr(exc, "context_mark", None)
    if context_mark is not None and mark is not None and context_mark.line != mark.line:
        parts[0] = f"{parts[0]} (started on line {context_mark.line + 1})"
    text = ", ".join(part for part in parts if part) or str(exc).splitlines()[0]
    return BankError(path, line, "", f"invalid YAML: {text}")


def parse_questions(
    data: Any, path: Path, text: str
) -> tuple[list[tuple[int, Question]], list[BankError]]:
    """Validate a loaded bank file question by question, so one bad question does not hide the
    others' errors; return (index, question) pairs and every error with its line."""
    if not isinstance(data, dict) or set(data) != {"questions"}:
        extra = sorted(set(data) - {"questions"}) if isinstance(data, dict) else []
        message = (
            f"unexpected top-level key(s) {', '.join(map(str, extra))}; a bank file holds only "
            "'questions'"
            if extra
            else "expected a mapping with a 'questions' list"
        )
        return [], [BankError(path, 1, "", message)]
    items = data["questions"]
    if not isinstance(items, list) or not items:
        return [], [BankError(path, 1, "questions", "must be a non-empty list of questions")]
    node: yaml.Node | None = None
    questions: list[tuple[int, Question]] = []
    errors: list[BankError] = []
    for index, item in enumerate(items):
        try:
            questions.append((index, Question.model_validate(item)))
        except ValidationError as exc:
            if node is None:  # composing keeps line numbers; only needed when reporting errors
                node = yaml.compose(text, Loader=yaml.SafeLoader)
            for err in exc.errors():
                loc = ("questions", index, *err["loc"])
                errors.append(
                    BankError(path, _line_of(node, loc), _field_name(loc, data), _message(err))
                )
    return questions, errors


def _message(error: Any) -> str:
    """pydantic's message without the "Value error, " its own validators' messages start with."""
    return str(error["msg"]).removeprefix("Value error, ")


def parse_bank_file(
    path: Path, cache: ParsedYamlCache | None = None
) -> tuple[list[tuple[int, Question]], list[BankError], str]:
    """Parse one file; return its valid questions (with their index), every error, and the text.
    With a ``cache``, the YAML step is skipped when this exact text was parsed before."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [BankError(path, None, "", f"cannot read file: {exc}")], ""
    found, data = cache.get(text) if cache is not None else (False, None)
    if not found:
        try:
            data = yaml.load(text, Loader=FastLoader)
        except yaml.YAMLError as exc:
            return [], [_yaml_error(path, exc)], text
        if cache is not None:
            cache.put(text, data)
    questions, errors = parse_questions(data, path, text)
    return questions, errors, text


def parse_question_text(text: str, name: str = "question") -> Question:
    """One question written as YAML (a queued custom question); errors name line and field."""
    path = Path(name)
    try:
        data = yaml.load(text, Loader=FastLoader)  # CSafeLoader: a safe loader
    except yaml.YAMLError as exc:
        raise BankValidationError([_yaml_error(path, exc)]) from None
    if not isinstance(data, dict):
        raise BankValidationError([BankError(path, 1, "", "write one question as a mapping")])
    try:
        return Question.model_validate(data)
    except ValidationError as exc:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raise BankValidationError(
            [
                BankError(
                    path, _line_of(node, err["loc"]), _field_name(err["loc"], data), _message(err)
                )
                for err in exc.errors()
            ]
        ) from None


def bank_files(directories: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for directory in directories:
        if directory.is_file():
            files.append(directory)
            continue
        files.extend(
            path
            for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
            if path.name not in NON_QUESTION_FILES
        )
    return files


#: What a missing bank folder is told; the settings name the folders.
MISSING_FOLDER = (
    "no such file or folder (the settings QUESTIONS_DIR and CUSTOM_QUESTIONS_DIR name the bank)"
)


def load_bank(
    *directories: Path,
    builtin_ids: frozenset[str] = frozenset(),
    cache: ParsedYamlCache | None = None,
) -> Bank:
    """Load and validate every bank file; raise BankValidationError listing all problems.

    ``builtin_ids`` names ids that a custom bank may not reuse; ``cache`` (see
    ``bot.domain.bank_cache``) spares the YAML parsing of files seen before.
    """
    errors: list[BankError] = []
    questions: list[Question] = []
    seen: dict[str, Path] = {}
    for directory in directories:
        if not directory.exists():
            errors.append(BankError(directory, None, "", MISSING_FOLDER))
    for path in bank_files(d for d in directories if d.exists()):
        parsed, file_errors, text = parse_bank_file(path, cache)
        errors.extend(file_errors)
        node: yaml.Node | None = None
        for index, question in parsed:
            problem = None
            if question.id in builtin_ids:
                problem = f"'{question.id}' is already a built-in question id"
            elif question.id in seen:
                problem = f"duplicate id '{question.id}' (also in {seen[question.id]})"
            if problem is None:
                seen[question.id] = path
                questions.append(question)
                continue
            if node is None:
                node = yaml.compose(text, Loader=yaml.SafeLoader)
            errors.append(
                BankError(path, _line_of(node, ["questions", index, "id"]), "id", problem)
            )
    if errors:
        raise BankValidationError(errors)
    return Bank(tuple(questions))
