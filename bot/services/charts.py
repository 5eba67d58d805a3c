"""Pictures of progress: a member's score over time (with a rolling mean) and strength per topic,
as a PNG drawn with matplotlib's Agg canvas (no display, no pyplot global state).

The data come from the database (every graded answer of the member: daily, practice, mock); the
drawing runs in a worker thread and matplotlib is imported only when a chart is asked for.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.storage.models import Answer, GradeRecord, QuestionVersion

#: Pixel size: readable in a chat preview (Slack and Discord shrink to about 400-600 px wide).
WIDTH_PX, HEIGHT_PX, DPI = 1200, 600, 100
ROLLING = 5
MAX_TOPICS = 12


@dataclass(frozen=True)
class ProgressData:
    scores: tuple[tuple[datetime, int], ...]
    topics: tuple[tuple[str, float, int], ...]  # topic, mean score, answers


async def progress_data(sessions: async_sessionmaker[AsyncSession], member_id: int) -> ProgressData:
    async with sessions() as session:
        rows = await session.execute(
            sa.select(col(Answer.submitted_at), col(GradeRecord.score), col(QuestionVersion.topic))
            .join(GradeRecord, col(GradeRecord.id) == Answer.current_grade_id)
            .join(QuestionVersion, col(QuestionVersion.id) == Answer.question_id)
            .where(col(Answer.member_id) == member_id)
            .order_by(col(Answer.submitted_at), col(Answer.id))
        )
        points = rows.all()
    by_topic: dict[str, list[int]] = {}
    for _, score, topic in points:
        by_topic.setdefault(topic, []).append(score)
    topics = sorted(
        ((topic, sum(values) / len(values), len(values)) for topic, values in by_topic.items()),
        key=lambda item: (-item[2], item[0]),
    )[:MAX_TOPICS]
    return ProgressData(
        scores=tuple((when, score) for when, score, _ in points),
        topics=tuple(sorted(topics, key=lambda item: item[1])),
    )


def rolling_mean(values: list[int], window: int = ROLLING) -> list[float]:
    means = []
    for index in range(len(values)):
        chunk = values[max(0, index - window + 1) : index + 1]
        means.append(sum(chunk) / len(chunk))
    return means


def render_progress(data: ProgressData, title: str) -> bytes:
    """The two panels as a PNG (blocking: call it in a thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    figure.suptitle(title, fontsize=16)
    scores = [score for _, score in data.scores]
    if scores:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        moments = [moment for moment, _ in data.scores]
        locator = AutoDateLocator(maxticks=8)
        left.xaxis.set_major_locator(locator)
        left.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        left.plot(moments, scores, "o", color="#8aa4c8", label="answer")
        left.plot(
            moments,
            rolling_mean(scores),
            "-",
            color="#1f4e8c",
            linewidth=3,
            label=f"mean of last {ROLLING}",
        )
        left.legend(loc="lower right", fontsize=11)
        first, last = min(moments), max(moments)
        if last - first < timedelta(days=2):  # one day of answers: give the date axis a span
            left.set_xlim(first - timedelta(days=1), last + timedelta(days=1))
    else:
        left.text(0.5, 0.5, "no graded answers yet", ha="center", va="center", fontsize=14)
    left.set_ylim(0, 105)
    left.set_xlabel("date answered", fontsize=12)
    left.set_ylabel("score", fontsize=12)
    left.set_title("Score over time", fontsize=14)
    left.grid(alpha=0.3)
    if data.topics:
        names = [topic for topic, _, _ in data.topics]
        means = [mean for _, mean, _ in data.topics]
        colours = [
            "#c0504d" if mean < 50 else "#f0a030" if mean < 75 else "#4f9a4f" for mean in means
        ]
        right.barh(names, means, color=colours)
        for index, (_, mean, count) in enumerate(data.topics):
            label = f"{mean:.0f} ({count})"
            if mean > 80:  # no room to the right: write it inside the bar's end
                right.text(mean - 2, index, label, va="center", ha="right", color="white")
            else:
                right.text(mean + 2, index, label, va="center", fontsize=10)
    right.set_xlim(0, 100)
    right.set_title("Strength per topic (mean score, answers)", fontsize=14)
    right.tick_params(axis="y", labelsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def progress_png(
    sessions: async_sessionmaker[AsyncSession], member_id: int, title: str
) -> tuple[bytes, ProgressData]:
    data = await progress_data(sessions, member_id)
    return await asyncio.to_thread(render_progress, data, title), data
