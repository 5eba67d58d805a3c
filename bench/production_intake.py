"""Production figures of the core on a database holding a million answers: how fast an answer is
acknowledged while grading waits on a slow LLM, and how many answers the grading worker gets
through that LLM per second.

    python bench/production_intake.py [--answers 1000000] [--concurrent 500] [--repeats 5]
        [--llm-seconds 1.0] [--intake-concurrency 32] [--concurrency 8,32,64]
        [--rounds 10] [--throughput-repeats 3] [--postgres URL] [--no-sqlite]
        [--skip-intake] [--profile PREFIX] [--grader-answers 256] [--worker-ceiling]

Set-up, per database (a temp SQLite file, and a throwaway PostgreSQL database when
``--postgres`` or ``$TEST_POSTGRES_URL`` names a server): ``BotApp.create`` migrates the empty
database and syncs the shipped bank, then ``bench/filldb.py`` adds ``--answers`` graded answers
(5,000 members, 50 channels, grades and score events) through the real schema; on PostgreSQL
the fill ends with ANALYZE, as autovacuum would soon after a bulk load (without statistics the
first round of submissions took 3.85 s; SQLite is left unanalysed, as a team's file would be
unless someone runs ANALYZE). The bot is built
as in production (``BotApp``: the real ``LLMGrader`` with its SQL grade cache and the offline
grader's relatedness, the cost guard, the outbox dispatcher delivering to an in-memory notifier)
against an OpenAI-compatible fake (``tests/fakes/openai_server.py``) in its own process that
answers every request after ``--llm-seconds``.

1. Acknowledgement: a new channel of the filled workspace opens today's question; ``--concurrent``
   members who already have a history there submit at the same instant through
   ``AnswerService.submit`` (the answer is durable when it returns), while the grading worker
   (``--intake-concurrency`` slots) has answers in flight behind the LLM; the bench waits until
   it has before measuring. One unmeasured round, then ``--repeats`` rounds (resubmissions, the
   supersede path); per round p50 and p99 of the call's latency and the process's CPU time
   during the round (the intake's and the worker's: less sensitive to a busy machine than the
   latencies); the medians. Goal p99 <= 50 ms.
2. Grading throughput: for each C in ``--concurrency``, a bot whose worker has C slots
   (``GRADING_CONCURRENCY``) grades ``--rounds`` x C queued answers (distinct texts: no cache
   hits); answers stored per second from the worker's start to the last grade stored, against
   the ideal C per second (C grades per LLM second). Also the bench process's CPU time per
   graded answer (the LLM grader's checks, the claims and stores) and how many grades fell back
   to the offline grader (should be none). Medians over ``--throughput-repeats``. Goal: within
   10 % of C per second. Printed beside it: the rate after the first C grades are stored (the
   steady state, without the worker's start-up and first claim), and the LLM fake's own CPU
   per answer (it shares the machine).
3. ``--worker-ceiling``: the same runs with a grader that only waits ``--llm-seconds`` and
   returns a fixed grade: the rate the worker's claims and stores allow when grading costs no
   CPU, to tell the grader's share of a shortfall from the worker's.
4. The LLM grader alone: ``--grader-answers`` (0: skipped) distinct answers graded straight
   through the grader the app builds, ``max(C)`` at a time, no worker and no store: the CPU per
   answer of grading itself (the client, the checks, the grade cache).

``--skip-intake`` fills the database and opens the question but measures only the throughput (a
quicker loop while working on grading). ``--profile PREFIX`` runs each throughput run under
cProfile, the event loop's thread and the LLM grader's off-loop thread separately, and writes
``PREFIX-<db>-C<C>-<n>-{loop,pool}.prof`` (read them with ``python -m pstats``); profiling slows
the bot down, so the rates of a profiled run are not figures.

Printed first: the core count. ``make bench`` runs the defaults (a million answers, about 2 to 4
minutes per database on a shared 2-core machine, most of it filling); ``--answers 100000`` is a
quick look.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from filldb import WORKSPACE, History, fill_history
from harness import (
    ROOT,
    add_database_flags,
    announce,
    cpu_seconds,
    machine_line,
    median,
    percentile,
    postgres_server,
    run,
    scratch_postgres,
    spawn,
    stop,
)

ANSWER = (
    "Dropout randomly zeroes a fraction of the activations during training, so units cannot "
    "co-adapt and the network behaves like an ensemble of thinner networks; at test time every "
    "unit is kept and the activations are scaled so their expected value matches training."
)
BENCH_CHANNEL = "CBENCH"


async def run_llm(seconds: float) -> None:
    """The helper process: the OpenAI-compatible fake, every answer after ``seconds``."""
    from tests.fakes.openai_server import FakeOpenAI

    async with FakeOpenAI() as llm:
        llm.delay = seconds
        announce(llm.base_url)
        await asyncio.Event().wait()


@dataclass
class Backend:
    name: str
    url: str


def bot_settings(url: str, llm_url: str, concurrency: int) -> object:
    from bot.config import load_settings

    return load_settings(
        database_url=url,
        questions_dir=ROOT / "questions",
        openai_api_key="sk-bench",
        openai_base_url=llm_url,
        grading_concurrency=concurrency,
        log_level="WARNING",
    )


async def grading_now(app: object) -> int:
    """Answers being graded right now (claimed by the worker, waiting on the LLM)."""
    from bot.app import BotApp
    from bot.storage.models import Answer, AnswerStatus

    assert isinstance(app, BotApp)
    async with app.sessions() as session:
        count = await session.execute(
            sa.select(sa.func.count()).where(Answer.status == AnswerStatus.GRADING)
        )
        return int(count.scalar_one())


async def intake(
    backend: Backend, llm_url: str, args: argparse.Namespace, clock: object
) -> dict[str, float]:
    """Fill the database and open today's question in the bench channel; then, unless
    ``--skip-intake``, measure the acknowledgement."""
    from bot.app import BotApp
    from bot.services.answers import AnswerTarget
    from bot.services.channels import ConfigChange
    from bot.storage.models import Platform
    from tests.fakes.notifier import RecordingNotifier

    app = await BotApp.create(
        bot_settings(backend.url, llm_url, args.intake_concurrency),  # type: ignore[arg-type]
        clock=clock,  # type: ignore[arg-type]
        rng=random.Random(7),
    )
    try:
        history = History(answers=args.answers)
        filled = await fill_history(app.engine, app.clock.now(), history)
        print(
            f"  {backend.name}: filled {filled.answers:,} answers ({filled.posts:,} posts, "
            f"{filled.members:,} members, a grade and a score event each) in "
            f"{filled.seconds:.0f} s",
            flush=True,
        )
        admin = await app.directory.resolve(
            Platform.SLACK, WORKSPACE, "UADMIN", channel_external_id=BENCH_CHANNEL, is_admin=True
        )
        assert admin.channel_id is not None
        await app.channels.update(
            admin, admin.channel_id, ConfigChange(enabled=True, days="daily", post_time="00:00")
        )
        opened = await app.daily.open_due(admin.channel_id)
        assert opened is not None and opened.post.id is not None
        if args.skip_intake:
            return {"fill seconds": filled.seconds}
        target = AnswerTarget.daily(opened.post.id)
        members = [
            await app.directory.resolve(
                Platform.SLACK, WORKSPACE, f"U{index}", channel_external_id=BENCH_CHANNEL
            )
            for index in range(args.concurrent)
        ]  # they clicked Answer first: from here on ``resolve`` is a cache hit
        await app.start([RecordingNotifier(Platform.SLACK)], schedule=False)

        async def round_of_submissions(label: str) -> list[float]:
            async def one(index: int) -> float:
                actor = await app.directory.resolve(
                    Platform.SLACK, WORKSPACE, f"U{index}", channel_external_id=BENCH_CHANNEL
                )
                started = time.perf_counter()
                await app.answers.submit(actor, target, f"{ANSWER} ({label}, member {index})")
                return 1000 * (time.perf_counter() - started)

            return list(await asyncio.gather(*(one(index) for index in range(len(members)))))

        await round_of_submissions("warm-up")
        deadline = time.monotonic() + 60
        while await grading_now(app) < args.intake_concurrency:
            if time.monotonic() > deadline:
                raise RuntimeError("the grading worker never filled its slots")
            await asyncio.sleep(0.05)
        p50s, p99s, in_flight, cpus = [], [], [], []
        for number in range(args.repeats):
            await asyncio.sleep(1.0)
            in_flight.append(await grading_now(app))
            cpu_before = time.process_time()
            latencies = await round_of_submissions(f"round {number}")
            # the whole process: the intake and whatever the worker did meanwhile
            cpus.append(1000 * (time.process_time() - cpu_before))
            p50s.append(percentile(latencies, 0.5))
            p99s.append(percentile(latencies, 0.99))
            print(
                f"  {backend.name} round {number + 1}: {len(latencies)} submissions with "
                f"{in_flight[-1]} answers being graded: p50 {p50s[-1]:.1f} ms, "
                f"p99 {p99s[-1]:.1f} ms, the process's CPU during the round {cpus[-1]:.0f} ms",
                flush=True,
            )
        return {
            "intake p50 ms": median(p50s),
            "intake p99 ms": median(p99s),
            "answers in grading": median(in_flight),
            "round cpu ms": median(cpus),
            "fill seconds": filled.seconds,
        }
    finally:
        await app.close()


class SleepingGrader:
    """The worker's ceiling: waits like the LLM, then returns the offline grader's grade of the
    first answer it saw for the question (computed once), labelled as the LLM's. What the
    worker, its claims and stores reach when grading itself costs nothing."""

    name = "llm"

    def __init__(self, seconds: float) -> None:
        from bot.grading.offline import OfflineGrader

        self.seconds = seconds
        self.offline = OfflineGrader()
        self.grades: dict[str, object] = {}

    async def grade(self, item: object, answer: str) -> object:
        import dataclasses

        from bot.grading.base import GradingItem

        assert isinstance(item, GradingItem)
        if item.version not in self.grades:
            grade = await self.offline.grade(item, answer)
            self.grades[item.version] = dataclasses.replace(grade, grader="llm", model="sleep")
        await asyncio.sleep(self.seconds)
        return self.grades[item.version]


async def throughput(
    backend: Backend,
    llm_url: str,
    args: argparse.Namespace,
    clock: object,
    slots: int,
    profile_prefix: str | None = None,
    ceiling: bool = False,
) -> dict[str, float]:
    """One measured run: ``rounds * slots`` queued answers graded by a worker with ``slots``
    (``ceiling``: by a :class:`SleepingGrader` instead of the LLM grader)."""
    from bot.app import BotApp
    from bot.grading.offline import OfflineGrader
    from bot.services.answers import AnswerTarget
    from bot.storage.models import Answer, AnswerStatus, GradeRecord, Platform
    from tests.fakes.notifier import RecordingNotifier

    app = await BotApp.create(
        bot_settings(backend.url, llm_url, slots),  # type: ignore[arg-type]
        clock=clock,  # type: ignore[arg-type]
        rng=random.Random(11),
        graders=(
            (SleepingGrader(args.llm_seconds), OfflineGrader())  # type: ignore[arg-type]
            if ceiling
            else None
        ),
    )
    try:
        async with app.engine.begin() as connection:
            # what earlier runs left queued is set aside, so this run grades exactly its own
            await connection.execute(
                sa.update(Answer)
                .where(Answer.status.in_([AnswerStatus.PENDING, AnswerStatus.GRADING]))  # type: ignore[attr-defined]
                .values(status=AnswerStatus.FAILED, claim_token=None)
            )
            last_grade = (
                await connection.execute(
                    sa.select(sa.func.coalesce(sa.func.max(GradeRecord.id), 0))
                )
            ).scalar_one()
        post = await app.daily.current_post(
            (
                await app.directory.resolve(
                    Platform.SLACK, WORKSPACE, "UADMIN", channel_external_id=BENCH_CHANNEL
                )
            ).channel_id
            or 0
        )
        assert post is not None and post.post.id is not None
        target = AnswerTarget.daily(post.post.id)
        total = args.rounds * slots
        stamp = time.monotonic_ns()
        actors = [
            await app.directory.resolve(
                Platform.SLACK, WORKSPACE, f"U{index}", channel_external_id=BENCH_CHANNEL
            )
            for index in range(min(total, args.concurrent))
        ]
        await asyncio.gather(
            *(
                app.answers.submit(
                    actors[index % len(actors)], target, f"{ANSWER} (run {stamp}, answer {index})"
                )
                for index in range(total)
            )
        )
        profiles = Profiles() if profile_prefix else None
        llm_cpu_before = cpu_seconds(args.llm_pid)
        cpu_before = time.process_time()
        started = time.perf_counter()
        if profiles:
            profiles.enable()
        await app.start([RecordingNotifier(Platform.SLACK)], schedule=False)
        first_round = None
        while app.worker.stored < total:
            await asyncio.sleep(0.01)
            if first_round is None and app.worker.stored >= slots:
                first_round = (time.perf_counter(), app.worker.stored)
        elapsed = time.perf_counter() - started
        assert first_round is not None
        steady = (total - first_round[1]) / max(1e-9, started + elapsed - first_round[0])
        cpu = time.process_time() - cpu_before
        llm_cpu = cpu_seconds(args.llm_pid) - llm_cpu_before
        if profiles and profile_prefix:
            profiles.disable_and_dump(profile_prefix)
        async with app.sessions() as session:
            rows = await session.execute(
                sa.select(GradeRecord.grader, GradeRecord.provisional, sa.func.count())
                .where(GradeRecord.id > last_grade)
                .group_by(GradeRecord.grader, GradeRecord.provisional)
            )
            by_kind = {(grader, provisional): count for grader, provisional, count in rows.all()}
        return {
            "answers/s": total / elapsed,
            "steady answers/s": steady,
            "cpu ms per answer": 1000 * cpu / total,
            "llm fake cpu ms per answer": 1000 * llm_cpu / total,
            "graded by the LLM": float(by_kind.get(("llm", False), 0)),
            "fallback grades": float(sum(v for k, v in by_kind.items() if k != ("llm", False))),
            "answers": float(total),
        }
    finally:
        await app.close()


async def grader_cpu(
    backend: Backend, llm_url: str, args: argparse.Namespace, clock: object
) -> dict[str, float]:
    """The LLM grader alone, as the app builds it (its SQL grade cache, the offline grader's
    relatedness): ``--grader-answers`` distinct answers to the bench question, ``max(C)`` at a
    time, straight through ``grade`` (no worker, no store). The bench process's CPU per answer
    is what grading itself costs, apart from the worker's claims and stores."""
    from bot.app import BotApp, build_graders
    from bot.services.grading import grading_item
    from bot.storage.models import DailyPost, Platform, QuestionVersion

    app = await BotApp.create(
        bot_settings(backend.url, llm_url, 1),  # type: ignore[arg-type]
        clock=clock,  # type: ignore[arg-type]
        rng=random.Random(13),
    )
    try:
        admin = await app.directory.resolve(
            Platform.SLACK, WORKSPACE, "UADMIN", channel_external_id=BENCH_CHANNEL
        )
        post = await app.daily.current_post(admin.channel_id or 0)
        assert post is not None
        async with app.sessions() as session:
            daily = await session.get(DailyPost, post.post.id)
            assert daily is not None
            question = await session.get(QuestionVersion, daily.question_id)
            assert question is not None
        item = grading_item(question)
        # the app's client: closed with the app
        grader, _ = build_graders(app.settings, app.sessions, client=app.llm_client)
        slots = max(args.concurrency)
        stamp = time.monotonic_ns()
        texts = [f"{ANSWER} (cpu {stamp}, answer {index})" for index in range(args.grader_answers)]
        semaphore = asyncio.Semaphore(slots)

        async def one(text: str) -> None:
            async with semaphore:
                await grader.grade(item, text)

        cpu_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(one(text) for text in texts))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        flush = getattr(getattr(grader, "cache", None), "flush", None)
        if flush is not None:
            await flush()
        return {
            "cpu ms per answer": 1000 * cpu / len(texts),
            "answers/s": len(texts) / elapsed,
            "slots": float(slots),
        }
    finally:
        await app.close()


class Profiles:
    """cProfile on the event loop's thread and on the LLM grader's off-loop thread (one thread,
    :data:`bot.grading.offloop.WORKERS`): a profiler enabled in a thread sees only that thread."""

    def __init__(self) -> None:
        import cProfile

        from bot.grading import offloop

        assert offloop.WORKERS == 1, "one profiler per pool thread"
        self.loop = cProfile.Profile()
        self.pool = cProfile.Profile()
        self.offloop = offloop

    def enable(self) -> None:
        self.offloop.executor().submit(self.pool.enable).result()
        self.loop.enable()

    def disable_and_dump(self, prefix: str) -> None:
        self.loop.disable()
        self.offloop.executor().submit(self.pool.disable).result()
        self.loop.dump_stats(f"{prefix}-loop.prof")
        self.pool.dump_stats(f"{prefix}-pool.prof")
        print(f"  profiles written: {prefix}-loop.prof, {prefix}-pool.prof", flush=True)


async def run_backend(backend: Backend, llm_url: str, args: argparse.Namespace) -> list[str]:
    from bot.clock import ManualClock

    clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    lines = []
    figures = await intake(backend, llm_url, args, clock)
    if not args.skip_intake:
        lines.append(
            f"{backend.name}: acknowledgement of {args.concurrent} concurrent submissions on "
            f"{args.answers:,} answers, with {figures['answers in grading']:.0f} answers being graded "
            f"behind a {args.llm_seconds:g} s LLM (medians of {args.repeats} rounds): "
            f"p50 {figures['intake p50 ms']:.1f} ms, p99 {figures['intake p99 ms']:.1f} ms "
            f"(goal p99 <= 50 ms: {'met' if figures['intake p99 ms'] <= 50 else 'missed'}); "
            f"the process's CPU during a round {figures['round cpu ms']:.0f} ms (the intake's and "
            "the worker's)"
        )
    for slots in args.concurrency if args.throughput_repeats else ():
        runs = []
        for number in range(args.throughput_repeats):
            prefix = None
            if args.profile:
                prefix = f"{args.profile}-{backend.name.lower()}-C{slots}-{number + 1}"
            runs.append(await throughput(backend, llm_url, args, clock, slots, prefix))
            print(
                f"  {backend.name} C={slots}: {runs[-1]['answers/s']:.1f} answers/s "
                f"({runs[-1]['steady answers/s']:.1f} after the first round), "
                f"{runs[-1]['cpu ms per answer']:.1f} ms CPU per answer "
                f"(the LLM fake: {runs[-1]['llm fake cpu ms per answer']:.1f} ms), "
                f"{runs[-1]['fallback grades']:.0f} fallback grades",
                flush=True,
            )
        rate = statistics.median(run["answers/s"] for run in runs)
        steady = statistics.median(run["steady answers/s"] for run in runs)
        ideal = slots / args.llm_seconds
        lines.append(
            f"{backend.name}: grading throughput at C={slots}: {rate:.1f} answers/s, ideal "
            f"{ideal:.0f}/s, ratio {rate / ideal:.2f} (goal >= 0.90: "
            f"{'met' if rate >= 0.9 * ideal else 'missed'}); after the first round (start-up "
            f"left out) {steady:.1f} answers/s, ratio {steady / ideal:.2f}; CPU per answer "
            f"{statistics.median(run['cpu ms per answer'] for run in runs):.1f} ms (the LLM "
            f"fake's {statistics.median(run['llm fake cpu ms per answer'] for run in runs):.1f} "
            "ms); "
            f"{sum(run['fallback grades'] for run in runs):.0f} of "
            f"{sum(run['answers'] for run in runs):.0f} grades from the fallback "
            f"(medians of {len(runs)} runs of {runs[0]['answers']:.0f} answers)"
        )
    if args.worker_ceiling and args.throughput_repeats:
        for slots in args.concurrency:
            ceilings = [
                await throughput(backend, llm_url, args, clock, slots, ceiling=True)
                for _ in range(args.throughput_repeats)
            ]
            rate = statistics.median(run["answers/s"] for run in ceilings)
            ideal = slots / args.llm_seconds
            lines.append(
                f"{backend.name}: the worker's ceiling at C={slots} (a grader that only waits "
                f"{args.llm_seconds:g} s): {rate:.1f} answers/s, ratio {rate / ideal:.2f}; "
                f"CPU per answer "
                f"{statistics.median(run['cpu ms per answer'] for run in ceilings):.1f} ms"
            )
            print(f"  {lines[-1]}", flush=True)
    if args.grader_answers:
        alone = await grader_cpu(backend, llm_url, args, clock)
        lines.append(
            f"{backend.name}: the LLM grader alone ({args.grader_answers} answers through "
            f"grade, {alone['slots']:.0f} at a time, no worker): {alone['cpu ms per answer']:.1f} "
            f"ms CPU per answer, {alone['answers/s']:.1f} answers/s"
        )
        print(f"  {lines[-1]}", flush=True)
    return lines


async def main_async(args: argparse.Namespace) -> None:
    print(machine_line(), flush=True)
    llm, (llm_url,) = spawn(__file__, "--role", "llm", "--llm-seconds", str(args.llm_seconds))
    args.llm_pid = llm.pid
    lines: list[str] = []
    try:
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{Path(folder) / 'bench.db'}"
                lines += await run_backend(Backend("SQLite", url), llm_url, args)
        server = postgres_server(args.postgres)
        if server:
            async with scratch_postgres(server, "production_intake") as url:
                lines += await run_backend(Backend("PostgreSQL", url), llm_url, args)
    finally:
        stop([llm])
    print(machine_line())
    for line in lines:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--concurrent", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--llm-seconds", type=float, default=1.0)
    parser.add_argument("--intake-concurrency", type=int, default=32)
    parser.add_argument(
        "--concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[8, 32, 64],
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--throughput-repeats", type=int, default=3)
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--grader-answers", type=int, default=256)
    parser.add_argument("--worker-ceiling", action="store_true")
    parser.add_argument("--profile", metavar="PREFIX")
    add_database_flags(parser)
    parser.add_argument("--role", default="bench", choices=["bench", "llm"])
    args = parser.parse_args()
    run(run_llm(args.llm_seconds) if args.role == "llm" else main_async(args))


if __name__ == "__main__":
    main()
