"""Prometheus metrics of the bot (served at ``/metrics`` in server mode).

The services count what happens (answers received and graded, LLM errors and tokens, messages
delivered, posts made); gauges that live in the database (the outbox's depth) are read when
``refresh_gauges`` runs (the health check and each scrape), and the event loop's lag is sampled by
``LoopLagMonitor``. Names follow Prometheus conventions (``_total`` counters, base units).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # no "_created" timestamp series beside every counter
REGISTRY = CollectorRegistry(auto_describe=True)

ANSWERS_RECEIVED = Counter(
    "interview_answers_received_total",
    "Answers stored, by kind (daily, practice, mock).",
    ["kind"],
    registry=REGISTRY,
)
ANSWERS_GRADED = Counter(
    "interview_answers_graded_total",
    "Grades stored, by grader and whether they are provisional.",
    ["grader", "provisional"],
    registry=REGISTRY,
)
GRADING_FAILED = Counter(
    "interview_grading_failed_total",
    "Answers set aside after every grading attempt failed.",
    registry=REGISTRY,
)
GRADING_SECONDS = Histogram(
    "interview_grading_seconds",
    "From an answer's submission to its stored grade.",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 900),
    registry=REGISTRY,
)
LLM_ERRORS = Counter(
    "interview_llm_errors_total",
    "LLM grading errors, by kind (the error's class).",
    ["kind"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "interview_llm_tokens_total",
    "Tokens used by LLM grading, by direction (prompt, completion).",
    ["direction"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "interview_outbox_depth",
    "Messages not delivered yet, by status (pending, sending, dead).",
    ["status"],
    registry=REGISTRY,
)
DELIVERED = Counter(
    "interview_messages_delivered_total",
    "Messages delivered to a chat platform, by platform and outcome (sent, retried, dead).",
    ["platform", "outcome"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "interview_delivery_seconds",
    "From a message's creation to its delivery.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
POSTS = Counter("interview_posts_total", "Daily questions opened.", registry=REGISTRY)
LOOP_LAG = Gauge(
    "interview_event_loop_lag_seconds",
    "The event loop's worst delay over the last sampling window.",
    registry=REGISTRY,
)


class LoopLagMonitor:
    """Samples how late the event loop runs a short sleep; keeps the worst of each window."""

    def __init__(self, interval: float = 0.1, window: int = 50):
        self._interval = interval
        self._window = window
        self._task: asyncio.Task[None] | None = None
        self.worst = 0.0

    async def _run(self) -> None:
        worst, count = 0.0, 0
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self._interval)
            worst = max(worst, time.perf_counter() - started - self._interval)
            count += 1
            if count >= self._window:
                self.worst = worst
                LOOP_LAG.set(worst)
                worst, count = 0.0, 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="loop-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
