"""The offline grader run in a child process, so grading never competes with the event loop.

The offline grader is pure-Python CPU work (about 10-15 ms an answer). In a thread of the bot's
process it holds the interpreter lock while the event loop stores grades, acknowledges Slack
requests and answers Discord's heartbeat, and everything the loop does waits for it; the two then
share one core even on a machine with several. In a child process the grader has a core of its
own: the loop keeps its latency and the worker stores grades while the next ones are graded.

One child per bot process (shared by its graders), started on the first grade (or by :meth:`warm_up`) from
a fork server that imports nothing but the grader, so it inherits no thread, socket or lock of
the bot. Items and grades cross the process boundary pickled (a few kilobytes). A child that
dies (killed, out of memory) breaks the pool: the grade in progress fails with a
:class:`TransientGradingError`, which the grading worker retries, and the next grade starts a
fresh child. The terminal grades in a thread instead (``GRADING_PROCESS``): a single player has
no loop to protect, and one process uses less memory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.domain.bank import KeyPoint
from bot.grading.base import Grade, GradingItem, TransientGradingError
from bot.grading.offline import OfflineGrader

#: What the fork server imports before forking a child: the grader and its dependencies.
PRELOAD = ["bot.grading.offline"]
#: Children per bot process: the grader's throughput, one core.
WORKERS = 1

#: A tiny grade that loads everything a real one needs (the embeddings, the caches' code).
WARM_UP = (
    GradingItem(
        prompt="What does dropout do?",
        reference="Dropout zeroes random activations during training to reduce overfitting.",
        key_points=(KeyPoint(text="zeroes random activations during training", weight=1),),
    ),
    "It randomly zeroes activations while training.",
)

_child_graders: dict[bool, OfflineGrader] = {}


def _grade_in_child(use_embeddings: bool, item: GradingItem, answer: str) -> Grade:
    """Runs in the child: one grader per configuration, kept for the child's life."""
    grader = _child_graders.get(use_embeddings)
    if grader is None:
        grader = _child_graders[use_embeddings] = OfflineGrader(use_embeddings=use_embeddings)
    return grader.grade_sync(item, answer)


def _child_pid() -> int:
    return os.getpid()


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


_pool_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _get_pool() -> ProcessPoolExecutor:
    """The process-wide pool of one child, created on first use and kept for the process's life
    (every grader of the process shares it, as they share the in-process grader's thread)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=WORKERS, mp_context=_context())
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


class SeparateProcessGrader:
    """The offline grader's results, computed in a child process (see the module docstring)."""

    name = "offline"

    def __init__(self, *, use_embeddings: bool = True):
        self._use_embeddings = use_embeddings

    async def grade(self, item: GradingItem, answer: str) -> Grade:
        pool = _get_pool()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                pool, _grade_in_child, self._use_embeddings, item, answer
            )
        except BrokenProcessPool as exc:
            _discard(pool)
            raise TransientGradingError("the grading process stopped; it is restarted") from exc

    async def warm_up(self) -> int:
        """Start the child now (it imports the grader and loads the embeddings) instead of on the
        first grade; its pid."""
        pool = _get_pool()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(pool, _grade_in_child, self._use_embeddings, *WARM_UP)
        return await loop.run_in_executor(pool, _child_pid)
