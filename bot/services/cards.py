"""Neutral messages ("cards") and the one place every card is built.

The services build every card a member or a channel sees from typed results; each adapter only
renders a card (Block Kit, an embed and a view, plain text) and never maps fields itself. Cards
are pydantic models, so the outbox stores them as JSON and rebuilds them unchanged.

Every piece of member-written text that goes into a card passes through ``quote_user_text``, so
it can never ping ``@everyone``/``@here``/``@channel``, a member, a role or a channel.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator

from bot.domain.rubric import Coverage, KeyPointVerdict

if TYPE_CHECKING:
    from bot.services.leaderboard import LeaderboardRow, MemberStats, Period

_MASS_MENTION = re.compile(r"@(everyone|here|channel)", re.IGNORECASE)
_SLACK_SPECIAL = re.compile(r"<\s*[!@#][^>]*>")
_DISCORD_MENTION = re.compile(r"<(@[!&]?|#)\d+>")
ZERO_WIDTH_SPACE = "\u200b"

STATUS_MARK = {
    Coverage.COVERED: "✅",
    Coverage.PARTIAL: "🟡",
    Coverage.MISSING: "❌",
}
DIFFICULTY_BADGE = {
    "beginner": "🟢 beginner",
    "intermediate": "🟠 intermediate",
    "advanced": "🔴 advanced",
}


def quote_user_text(text: str, limit: int | None = None) -> str:
    """Make user text inert: no mass mentions, no user/role/channel mention syntax."""
    text = _MASS_MENTION.sub(lambda m: "@" + ZERO_WIDTH_SPACE + m.group(1), text)
    text = _SLACK_SPECIAL.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    text = _DISCORD_MENTION.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary and ended with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


class CardKind(StrEnum):
    """What a card is; renderers use it for accents (colour, emoji), never for content."""

    QUESTION = "question"
    PRACTICE = "practice"
    RECEIPT = "receipt"
    GRADE = "grade"
    REVEAL = "reveal"
    CLOSED = "closed"
    LEADERBOARD = "leaderboard"
    STATS = "stats"
    CONFIG = "config"
    HELP = "help"
    NOTICE = "notice"
    ERROR = "error"
    CHAMPIONS = "champions"
    NUDGE = "nudge"
    MOCK = "mock"
    REPORT = "report"


class ButtonAction(StrEnum):
    """What a button does; its ``value`` carries the argument (a post or question id)."""

    ANSWER_DAILY = "answer-daily"
    ANSWER_PRACTICE = "answer-practice"
    #: value = the mock-interview turn's id
    ANSWER_MOCK = "answer-mock"
    PRACTICE = "practice"
    TODAY = "today"
    NUDGES_OFF = "nudges-off"
    MOCK_SKIP = "mock-skip"
    MOCK_STOP = "mock-stop"
    #: the next due review question
    REVIEW = "review"
    #: value = the answer's id: opens a form for the reason
    DISPUTE = "dispute"
    #: value = the dispute's id
    DISPUTE_ACCEPT = "dispute-accept"
    DISPUTE_ESCALATE = "dispute-escalate"


class CardField(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    value: str
    inline: bool = False


class CardButton(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: ButtonAction
    label: str
    value: str = ""
    primary: bool = False


def _file_bytes(value: object) -> bytes:
    """Raw bytes as given, or the base64 text they were stored as (outbox JSON)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return base64.b64decode(value, validate=True)
    raise ValueError("expected bytes or base64 text")


FileBytes = Annotated[
    bytes,
    PlainValidator(_file_bytes),
    PlainSerializer(lambda data: base64.b64encode(data).decode("ascii"), when_used="json"),
]


class Attachment(BaseModel):
    """A file sent with a card (a progress chart, an interview transcript)."""

    model_config = ConfigDict(frozen=True)

    filename: str
    content_type: str
    data: FileBytes
    description: str = ""


class Card(BaseModel):
    """A platform-neutral message: title, body, fields, buttons, footer, and whether only one
    member sees it. ``deadline`` is shown in the platform's own time format (a Discord
    timestamp, a Slack date token); ``mention_member_ids`` are the only members a renderer may
    ping (a monthly champion, on a channel's choice), and ``grant_role_id`` a role the platform
    gives the first of them (Discord)."""

    model_config = ConfigDict(frozen=True)

    kind: CardKind
    title: str
    body: str = ""
    fields: tuple[CardField, ...] = ()
    buttons: tuple[CardButton, ...] = ()
    footer: str = ""
    private: bool = False
    deadline: datetime | None = None
    mention_member_ids: tuple[str, ...] = ()
    grant_role_id: str | None = None
    attachments: tuple[Attachment, ...] = ()

    def as_text(self) -> str:
        """A plain-text rendering (terminal, notification fallbacks)."""
        lines = [self.title]
        if self.body:
            lines += ["", self.body]
        for card_field in self.fields:
            lines += ["", f"{card_field.name}:", card_field.value]
        if self.deadline is not None:
            lines += ["", f"Closes {self.deadline:%a %d %b %H:%M} UTC"]
        if self.footer:
            lines += ["", self.footer]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_defaults=True)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Card:
        return cls.model_validate(data)


def notice_card(title: str, body: str = "", *, private: bool = True) -> Card:
    return Card(kind=CardKind.NOTICE, title=title, body=body, private=private)


def error_card(message: str) -> Card:
    """A refusal or a usage message: always private, one short message."""
    return Card(kind=CardKind.ERROR, title="⚠️ " + message, private=True)


# --- questions ------------------------------------------------------------------------------


def _question_fields(topic: str, difficulty: str, track: str | None) -> tuple[CardField, ...]:
    fields = [
        CardField(name="Topic", value=topic, inline=True),
        CardField(name="Level", value=DIFFICULTY_BADGE.get(difficulty, difficulty), inline=True),
    ]
    if track and track != "deep-learning":
        fields.append(CardField(name="Track", value=track, inline=True))
    return tuple(fields)


def question_card(
    *,
    prompt: str,
    topic: str,
    difficulty: str,
    track: str | None,
    post_id: int,
    closes_at: datetime,
    title: str = "🧠 Today's interview question",
) -> Card:
    """The channel's question, with the button that opens the private answer form."""
    return Card(
        kind=CardKind.QUESTION,
        title=title,
        body=prompt,
        fields=_question_fields(topic, difficulty, track),
        buttons=(
            CardButton(
                action=ButtonAction.ANSWER_DAILY,
                label="Answer privately",
                value=str(post_id),
                primary=True,
            ),
        ),
        footer="Answers are private: nobody else sees yours. "
        "The reference answer and the results come when the question closes.",
        deadline=closes_at,
    )


def practice_card(
    *, prompt: str, topic: str, difficulty: str, track: str | None, question_id: int, note: str = ""
) -> Card:
    """A private practice question (no points) with its answer button."""
    footer = "Practice: graded privately, no points."
    if note:
        footer = f"{note} {footer}"
    return Card(
        kind=CardKind.PRACTICE,
        title="🧪 Practice question",
        body=prompt,
        fields=_question_fields(topic, difficulty, track),
        buttons=(
            CardButton(
                action=ButtonAction.ANSWER_PRACTICE,
                label="Answer",
                value=str(question_id),
                primary=True,
            ),
        ),
        footer=footer,
        private=True,
    )


def closed_card(
    *, prompt: str, topic: str, difficulty: str, track: str | None, answer_count: int
) -> Card:
    """What the channel's question post becomes when it closes (edited in place)."""
    answers = "1 answer" if answer_count == 1 else f"{answer_count} answers"
    return Card(
        kind=CardKind.CLOSED,
        title=f"🔒 Closed · {answers}",
        body=prompt,
        fields=_question_fields(topic, difficulty, track),
        footer="The reference answer and the results are in the thread.",
    )


# --- answers and grades ---------------------------------------------------------------------


def receipt_card(message: str) -> Card:
    return Card(kind=CardKind.RECEIPT, title="📨 " + message, private=True)


def grade_card(
    *,
    score: int,
    verdicts: Sequence[KeyPointVerdict],
    feedback: str,
    reference: str | None,
    provisional: bool,
    points: int | None,
    flags: Sequence[str] = (),
    rubric_revealed: bool = True,
    prompt: str = "",
    replaced_score: int | None = None,
    answer_id: int | None = None,
    dispute_id: int | None = None,
    disputable: bool = False,
    unscored_label: str = "practice: no points",
) -> Card:
    """A member's private result. Until the daily question closes (``rubric_revealed`` False) it
    shows the score and the points already covered, never the missing ones, hints, feedback
    that names them, or the reference answer."""
    lines = []
    hidden = 0
    for verdict in verdicts:
        status = verdict.status
        if not rubric_revealed and status is Coverage.MISSING:
            hidden += 1
            continue
        line = f"{STATUS_MARK[status]} {verdict.key_point}"
        if verdict.evidence and status is not Coverage.MISSING:
            line += f"\n    “{quote_user_text(verdict.evidence, 200)}”"
        if rubric_revealed and verdict.hint and status is not Coverage.COVERED:
            line += f"\n    hint: {quote_user_text(verdict.hint, 300)}"
        lines.append(line)
    if hidden:
        lines.append(
            f"❔ {hidden} more key point(s) not covered yet: revealed when the question closes"
        )
    fields = [CardField(name="Key points", value="\n".join(lines) or "—")]
    if feedback and rubric_revealed:
        fields.append(CardField(name="Feedback", value=quote_user_text(feedback, 1500)))
    if reference and rubric_revealed:
        fields.append(CardField(name="Reference answer", value=reference))
    footer_bits = [unscored_label if points is None else f"+{points} points"]
    if replaced_score is not None:
        footer_bits.append(f"replaces your earlier answer ({replaced_score}/100)")
    if not rubric_revealed:
        footer_bits.append("you may improve your answer until the question closes")
    if provisional and "llm-limit" in flags:
        footer_bits.append(
            "provisional grade (offline grader: LLM grading limit reached); re-graded later"
        )
    elif provisional:
        footer_bits.append(
            "provisional grade (offline grader); it will be re-graded when the LLM is back"
        )
    if "needs-review" in flags or "injection-suspected" in flags:
        footer_bits.append("flagged for review")
    if answer_id is not None:
        footer_bits.append(f"answer #{answer_id}")
    buttons: tuple[CardButton, ...] = ()
    title = f"Your grade: {score}/100"
    if dispute_id is not None:
        title = f"Your grade after your dispute: {score}/100"
        buttons = (
            CardButton(action=ButtonAction.DISPUTE_ACCEPT, label="Accept", value=str(dispute_id)),
            CardButton(
                action=ButtonAction.DISPUTE_ESCALATE,
                label="Still disagree: ask an admin",
                value=str(dispute_id),
            ),
        )
    elif disputable and answer_id is not None:
        buttons = (CardButton(action=ButtonAction.DISPUTE, label="Dispute", value=str(answer_id)),)
    return Card(
        kind=CardKind.GRADE,
        title=title,
        body=prompt,
        fields=tuple(fields),
        buttons=buttons,
        footer=" · ".join(footer_bits),
        private=True,
    )


def grading_failed_card(reason: str) -> Card:
    return Card(
        kind=CardKind.ERROR,
        title="⚠️ Your answer is stored but could not be graded",
        body=reason,
        footer="An admin can re-grade it later; nothing is lost.",
        private=True,
    )


# --- reveal ---------------------------------------------------------------------------------


def reveal_card(
    *,
    prompt: str,
    reference: str,
    key_points: Sequence[str],
    answer_count: int,
    graded_count: int,
    average_score: float | None,
    top: Sequence[tuple[str, int, bool]],
) -> Card:
    """The reference answer and the channel's results; ``top`` is (name, score, provisional)."""
    podium = "\n".join(
        f"{medal} {quote_user_text(name, 80)} — {score}/100{' (provisional)' if provisional else ''}"
        for medal, (name, score, provisional) in zip(("🥇", "🥈", "🥉"), top, strict=False)
    )
    average = f"{average_score:.0f}/100" if average_score is not None else "—"
    answers = str(answer_count)
    if graded_count < answer_count:
        answers += f" ({answer_count - graded_count} still grading)"
    return Card(
        kind=CardKind.REVEAL,
        title="⏰ Answers are closed — here is the reference answer",
        body=prompt,
        fields=(
            CardField(name="Reference answer", value=reference),
            CardField(name="Key points", value="\n".join(f"• {point}" for point in key_points)),
            CardField(name="Answers", value=answers, inline=True),
            CardField(name="Average score", value=average, inline=True),
            CardField(name="Top answers", value=podium or "No graded answers this time."),
        ),
    )


# --- leaderboards and stats -----------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def leaderboard_card(period: Period, scope: str, rows: Sequence[LeaderboardRow]) -> Card:
    body = "\n".join(
        f"{row.rank:>2}. {quote_user_text(row.display_name, 80)} — {row.points} pts"
        f" ({_plural(row.answers, 'answer')})"
        for row in rows
    )
    return Card(
        kind=CardKind.LEADERBOARD,
        title=f"🏆 Leaderboard — {period.label} · {scope}",
        body=body or "No points yet. Be the first!",
    )


def stats_card(stats: MemberStats) -> Card:
    average = f"{stats.average_score:.0f}/100" if stats.average_score is not None else "—"
    streak = stats.streak
    streak_text = f"{_plural(streak.current, 'post')} (best {streak.longest})"
    freezes = f"{streak.freezes} held"
    if streak.freezes_used:
        freezes += f" · used on {', '.join(day.isoformat() for day in streak.freezes_used[-3:])}"
    return Card(
        kind=CardKind.STATS,
        # a member the bot has never seen (``stats @someone`` before they played) has no name
        title=f"📈 Stats for {quote_user_text(stats.display_name, 80)}"
        if stats.display_name.strip()
        else "📈 Stats",
        fields=(
            CardField(name="Points", value=str(stats.points), inline=True),
            CardField(name="Rank", value=f"#{stats.rank}" if stats.rank else "—", inline=True),
            CardField(name="Streak", value=streak_text, inline=True),
            CardField(name="Streak freezes", value=freezes, inline=True),
            CardField(name="Daily answers", value=str(stats.daily_answers), inline=True),
            CardField(name="Average daily score", value=average, inline=True),
            CardField(name="Practice answers", value=str(stats.practice_answers), inline=True),
        ),
        footer=stats.streak_note,
        private=True,
    )


# --- engagement -----------------------------------------------------------------------------


def nudge_card(*, post_id: int, prompt: str, streak: int, closes_at: datetime) -> Card:
    """A private reminder: the open question closes soon and the member's streak is at stake."""
    return Card(
        kind=CardKind.NUDGE,
        title=f"⏳ Your {streak}-post streak is at stake",
        body=prompt,
        buttons=(
            CardButton(
                action=ButtonAction.ANSWER_DAILY,
                label="Answer privately",
                value=str(post_id),
                primary=True,
            ),
            CardButton(action=ButtonAction.NUDGES_OFF, label="Stop reminders"),
        ),
        footer="You get this because you turned nudges on. One click stops them.",
        deadline=closes_at,
        private=True,
    )


def champions_card(
    *,
    month_label: str,
    top: Sequence[tuple[str, int]],
    best_streak: tuple[str, int] | None,
    champion_external_id: str | None = None,
    grant_role_id: str | None = None,
) -> Card:
    """The month-end post: top three by points and the best current streak."""
    podium = "\n".join(
        f"{medal} {quote_user_text(name, 80)} — {points} pts"
        for medal, (name, points) in zip(("🥇", "🥈", "🥉"), top, strict=False)
    )
    fields = [CardField(name="Top three", value=podium or "No points this month.")]
    if best_streak is not None:
        name, streak = best_streak
        fields.append(
            CardField(
                name="Best streak", value=f"🔥 {quote_user_text(name, 80)} — {streak} in a row"
            )
        )
    body = "A new month starts now: everyone is back at zero on the monthly board."
    return Card(
        kind=CardKind.CHAMPIONS,
        title=f"🏆 Champions of {month_label}",
        body=body,
        fields=tuple(fields),
        mention_member_ids=(champion_external_id,) if champion_external_id else (),
        grant_role_id=grant_role_id if champion_external_id else None,
    )
