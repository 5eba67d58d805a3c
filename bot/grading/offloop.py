"""A small shared thread pool for the LLM grader's CPU work, so it never runs on the event loop.

Evidence location, support checks, injection screening and the offline grader's relatedness are
milliseconds each but add up under concurrency; running them on the loop would delay every
other task (heartbeats, chat events, the scheduler). The work is mostly pure Python, which holds
the interpreter lock, so more threads would not run it faster; one thread keeps the loop's
thread from queueing behind several lock holders (tests/grading/test_loop_lag.py measures it).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: Threads of the shared pool.
WORKERS = 1

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    """The process-wide pool, created on first use."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="llm-grader")
        return _executor


async def run_off_loop(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``func(*args, **kwargs)`` in the shared pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), functools.partial(func, *args, **kwargs))
