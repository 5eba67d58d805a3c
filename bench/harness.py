"""What the benchmarks share: the machine line every bench prints first, percentiles and medians,
a throwaway PostgreSQL database, helper processes that announce themselves, and CPU time read
from /proc.

The benches run as scripts (``python bench/<name>.py``), so this module is imported by its plain
name (``from harness import ...``); importing it also puts the project root on ``sys.path`` so a
bench can use ``tests.fakes``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Where ``make bench`` and the benches find a PostgreSQL server when no flag names one.
POSTGRES_ENV = "TEST_POSTGRES_URL"


def machine_line() -> str:
    """The core count (``os.cpu_count()``) and how many of them this process may use."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ""
    if hasattr(os, "getloadavg"):
        load = f"; load average {os.getloadavg()[0]:.1f} when it started"
    return f"{os.cpu_count()} cores (os.cpu_count()), {usable} usable by this process{load}"


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def postgres_server(flag: str | None) -> str | None:
    """The PostgreSQL server to use: the flag's URL, else ``$TEST_POSTGRES_URL``, else none."""
    return flag or os.environ.get(POSTGRES_ENV) or None


def asyncpg_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    raise ValueError(f"not a PostgreSQL URL: {url}")


async def _admin(server_url: str, statement: str) -> None:
    from sqlalchemy.engine import make_url

    from bot.storage.db import create_engine

    url = make_url(asyncpg_url(server_url)).set(database="postgres")
    admin = create_engine(url.render_as_string(hide_password=False))
    try:
        async with admin.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql(statement)
    finally:
        await admin.dispose()


@asynccontextmanager
async def scratch_postgres(server_url: str, prefix: str = "bench") -> AsyncIterator[str]:
    """A new, empty database on the server for the duration of the block (dropped after);
    yields its ``postgresql+asyncpg://`` URL."""
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(asyncpg_url(server_url)).set(database=name).render_as_string(False)
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def announce(*values: object) -> None:
    """A helper process's first line: ``READY`` and what the parent needs (ports, ids)."""
    print("READY", *values, flush=True)


def spawn(script: str, *args: str, stdin: bool = False) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``python <script> <args>`` and wait for its ``READY`` line; return the process and
    the values it announced. ``stdin``: a pipe to talk to it (else it inherits ours)."""
    process = subprocess.Popen(
        [sys.executable, script, *args],
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise SystemExit(f"{Path(script).name} {' '.join(args)}: the process failed to start")
        if line.startswith("READY"):
            return process, line.split()[1:]


def stop(processes: Sequence[subprocess.Popen[str]]) -> None:
    """Terminate helper processes this bench started, and reap them."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def add_database_flags(parser: argparse.ArgumentParser) -> None:
    """``--postgres`` (default ``$TEST_POSTGRES_URL``) and ``--no-sqlite``."""
    parser.add_argument("--postgres", help=f"a server URL; default ${POSTGRES_ENV}")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a bench's (or a helper process's) main coroutine: no proxy, warnings only."""
    no_proxy()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main)


def no_proxy() -> None:
    """Loopback traffic must not go through a proxy configured in the environment."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        os.environ.pop(name, None)
