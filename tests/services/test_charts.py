"""The progress picture: a PNG of the expected size whose data are the member's grades read
from the database."""

from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa
from matplotlib.image import imread

from bot.services.answers import AnswerTarget
from bot.services.charts import HEIGHT_PX, WIDTH_PX, progress_data, progress_png, rolling_mean
from bot.services.grading import GradingWorker
from bot.storage.models import QuestionVersion
from tests.fakes.graders import ScriptedGrader

TEXTS = ["no idea", "gradients only", "gradients weights loss", "weights and loss"]


async def test_the_chart_is_a_png_of_the_members_graded_answers(world, sessions, clock):
    async with sessions() as session:
        questions = (await session.execute(sa.select(QuestionVersion))).scalars().all()
    grader = ScriptedGrader()
    for question, text in zip(questions, TEXTS, strict=False):
        await world.answers.submit(world.alice, AnswerTarget.practice(question.id), text)
        clock.advance(timedelta(hours=1))
    await world.answers.submit(world.bob, AnswerTarget.practice(questions[0].id), "gradients")
    await GradingWorker(sessions, grader, grader, clock).drain()
    data = await progress_data(sessions, world.alice.member_id)
    assert [score for _, score in data.scores] == [0, 40, 100, 60]  # Alice's, in time order
    assert {topic for topic, _, _ in data.topics} == {q.topic for q in questions[:4]}
    png, same = await progress_png(sessions, world.alice.member_id, "Progress of Alice")
    assert same == data
    image = imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (HEIGHT_PX, WIDTH_PX)
    empty_png, empty = await progress_png(sessions, 999_999, "Nobody")
    assert empty.scores == () and imread(io.BytesIO(empty_png)).shape[:2] == (HEIGHT_PX, WIDTH_PX)
    assert empty_png != png


def test_rolling_mean():
    assert rolling_mean([0, 100, 50, 50, 50, 50], window=2) == [0, 50, 75, 50, 50, 50]


def test_a_single_answer_draws_without_a_date_axis_warning():
    import warnings
    from datetime import UTC, datetime

    from bot.services.charts import ProgressData, render_progress

    data = ProgressData(
        scores=((datetime(2026, 11, 30, 21, 0, tzinfo=UTC), 40),), topics=(("cnn", 40.0, 1),)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "unable to pick an interval" fails here
        png = render_progress(data, "one answer")
    assert png.startswith(b"\x89PNG")
