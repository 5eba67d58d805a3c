"""Neutral messages ("cards") the core sends; each adapter renders them once (Block Kit, embed, text).

Every piece of user-written text that goes into a card passes through ``quote_user_text`` so it
can never ping ``@everyone``/``@here``/``@channel`` or a role, on any platform.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.domain.rubric import Coverage
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


def quote_user_text(text: str, limit: int | None = None) -> str:
    """Make user text inert: no mass mentions, no user/role/channel mention syntax."""
    text = _MASS_MENTION.sub(lambda m: "@" + ZERO_WIDTH_SPACE + m.group(1), text)
    text = _SLACK_SPECIAL.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    text = _DISCORD_MENTION.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text


@dataclass(frozen=True)
class CardField:
    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True)
class CardButton:
    action: str
    label: str
    value: str = ""


@dataclass(frozen=True)
class Card:
    """A platform-neutral message: title, body, fields, buttons, and whether only one member sees it."""

    title: str
    body: str = ""
    fields: tuple[CardField, ...] = ()
    buttons: tuple[CardButton, ...] = ()
    footer: str = ""
    private: bool = False
    kind: str = "info"
    extra: dict[str, str] = field(default_factory=dict)

    def as_text(self) -> str:
        """A plain-text rendering (terminal, notification fallbacks)."""
        lines = [self.title]
        if self.body:
            lines += ["", self.body]
        for card_field in self.fields:
            lines += ["", f"{card_field.name}:", card_field.value]
        if self.footer:
            lines += ["", self.footer]
        return "\n".join(lines)


# --- builders: every card the core sends is made here, once ------------------------------------

DIFFICULTY_BADGE = {
    "beginner": "🟢 beginner",
    "intermediate": "🟠 intermediate",
    "advanced": "🔴 advanced",
}
ANSWER_ACTION = "answer-daily"


def question_card(
    prompt: str,
    topic: str,
    difficulty: str,
    *,
    closes_at_text: str = "",
    post_id: int | None = None,
) -> Card:
    footer = "Answer privately with the button; nobody else sees your answer." if post_id else ""
    if closes_at_text:
        footer = f"{footer} Closes {closes_at_text}.".strip()
    buttons = (CardButton(ANSWER_ACTION, "Answer privately", str(post_id)),) if post_id else ()
    return Card(
        title="🧠 Today's deep-learning interview question",
        body=prompt,
        fields=(
            CardField("Topic", topic, inline=True),
            CardField("Level", DIFFICULTY_BADGE.get(difficulty, difficulty), inline=True),
        ),
        buttons=buttons,
        footer=footer,
        kind="question",
    )


def grade_card(
    *,
    score: int,
    verdicts: list[dict[str, str]],
    feedback: str,
    reference: str | None,
    provisional: bool,
    points: int | None,
    flags: list[str] | None = None,
    rubric_revealed: bool = True,
) -> Card:
    """A member's private result. Until the daily question closes (``rubric_revealed`` False) it
    shows the score and the points already covered, never the missing ones, hints, feedback
    that names them, or the reference answer."""
    lines = []
    hidden = 0
    for verdict in verdicts:
        status = Coverage(verdict["status"])
        if not rubric_revealed and status is Coverage.MISSING:
            hidden += 1
            continue
        line = f"{STATUS_MARK[status]} {verdict['key_point']}"
        if verdict.get("evidence") and status is not Coverage.MISSING:
            line += f"\n    “{quote_user_text(verdict['evidence'], 200)}”"
        if rubric_revealed and verdict.get("hint") and status is not Coverage.COVERED:
            line += f"\n    hint: {quote_user_text(verdict['hint'], 300)}"
        lines.append(line)
    if hidden:
        lines.append(
            f"❔ {hidden} more key point(s) not covered yet: revealed when the question closes"
        )
    fields = [CardField("Key points", "\n".join(lines) or "—")]
    if feedback and rubric_revealed:
        fields.append(CardField("Feedback", quote_user_text(feedback, 1500)))
    if reference and rubric_revealed:
        fields.append(CardField("Reference answer", reference))
    footer_bits = []
    if points is not None:
        footer_bits.append(f"+{points} points")
    else:
        footer_bits.append("practice: no points")
    if not rubric_revealed:
        footer_bits.append("you may improve your answer until the question closes")
    if provisional:
        footer_bits.append(
            "provisional grade (offline grader); it will be re-graded when the LLM is back"
        )
    if flags and "needs-review" in flags:
        footer_bits.append("flagged for review")
    return Card(
        title=f"Your grade: {score}/100",
        fields=tuple(fields),
        footer=" · ".join(footer_bits),
        private=True,
        kind="grade",
    )


def reveal_card(
    *,
    prompt: str,
    reference: str,
    key_points: list[str],
    answer_count: int,
    average_score: float | None,
    top: list[tuple[str, int]],
) -> Card:
    podium = "\n".join(
        f"{medal} {quote_user_text(name, 80)} — {score}/100"
        for medal, (name, score) in zip(("🥇", "🥈", "🥉"), top, strict=False)
    )
    average = f"{average_score:.0f}/100" if average_score is not None else "—"
    return Card(
        title="⏰ Answers are closed — here is the reference answer",
        body=prompt,
        fields=(
            CardField("Reference answer", reference),
            CardField("Key points", "\n".join(f"• {point}" for point in key_points)),
            CardField("Answers", str(answer_count), inline=True),
            CardField("Average score", average, inline=True),
            CardField("Top answers", podium or "No graded answers this time."),
        ),
        kind="reveal",
    )


def leaderboard_card(period: Period, rows: Sequence[LeaderboardRow]) -> Card:
    body = "\n".join(
        f"{row.rank:>2}. {quote_user_text(row.display_name, 80)} — {row.points} pts"
        f" ({row.answers} answers)"
        for row in rows
    )
    return Card(
        title=f"🏆 Leaderboard — {period.label}",
        body=body or "No points yet. Be the first!",
        kind="leaderboard",
    )


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def stats_card(stats: MemberStats) -> Card:
    average = f"{stats.average_score:.0f}/100" if stats.average_score is not None else "—"
    streak = f"{_days(stats.streak.current)} (best {_days(stats.streak.longest)})"
    return Card(
        title=f"📈 Stats for {quote_user_text(stats.display_name, 80)}",
        fields=(
            CardField("Points", str(stats.points), inline=True),
            CardField("Rank", f"#{stats.rank}" if stats.rank else "—", inline=True),
            CardField("Streak", streak, inline=True),
            CardField("Daily answers", str(stats.daily_answers), inline=True),
            CardField("Graded answers", str(stats.answers_graded), inline=True),
            CardField("Average score", average, inline=True),
        ),
        private=True,
        kind="stats",
    )
