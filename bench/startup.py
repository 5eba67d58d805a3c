"""Start-up time and memory of the bot process, measured from outside like a user or an
orchestrator would.

    python bench/startup.py [--runs 5] [--idle-seconds 5]

Server mode (``python -m bot serve``: SQLite, the offline grader, no chat tokens, ``HTTP_PORT``
on a free port):

- start-up: from spawning the process to the first ``GET /healthz`` answered 200, and the CPU
  time the process had used by then (less sensitive to a busy machine than the wall time); on a
  fresh SQLite file (schema built, bank synced) and on an existing one (a restart). Goal <= 1.5 s.
  The parsed-bank cache (``BANK_CACHE_DIR``) is the bench's own: the first start of each run
  finds it empty (a first start ever), the restart finds it filled, and a second fresh database
  is started with it filled too (a new database on a machine that has run the bot before).
- idle RSS: ``VmRSS`` from ``/proc/<pid>/status`` after ``--idle-seconds`` of idling, on both
  databases. Goal <= 150 MB.

Terminal mode (``python -m bot run``):

- start to first question: from spawning ``python -m bot run`` (terminal mode, offline grader,
  the shipped bank) to the moment today's question is on its standard output; on a fresh SQLite
  file with an empty bank cache and on the same file again (a restart, the cache filled).
- peak RSS after grading an answer: the same process answers today's question, waits for its
  grade and quits; the peak resident memory of that process (``wait4``'s ``ru_maxrss``).

Medians over ``--runs``; the core count is printed. ``make bench`` runs the defaults (about a
minute).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness import ROOT, cpu_seconds, machine_line, no_proxy

MARKER = "Today's interview question"
ANSWER = (
    "Dropout zeroes a random subset of activations during training so that units cannot rely on "
    "each other; at inference every unit is kept and activations are scaled to match.\n.\n"
)


def environment(database: Path, bank_cache: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_", "OPENAI_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        QUESTIONS_DIR=str(ROOT / "questions"),
        BANK_CACHE_DIR=str(bank_cache),
        PYTHONIOENCODING="utf-8",
    )
    return env


def bot_process(command: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m bot <command>`` in the project folder; its stdin and stdout are pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB -> MiB
    raise RuntimeError("no VmRSS in /proc")


def serve_once(database: Path, bank_cache: Path, idle_seconds: float) -> tuple[float, float, float]:
    """(seconds to a healthy /healthz, CPU seconds used by then, idle RSS in MiB)."""
    port = free_port()
    env = environment(database, bank_cache) | {"HTTP_PORT": str(port), "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    process = bot_process("serve", env)  # logs go to stderr (dropped); stdout stays empty
    try:
        while not healthy(port):
            if process.poll() is not None:
                raise RuntimeError("python -m bot serve exited before it was healthy")
            if time.perf_counter() - started > 60:
                raise RuntimeError("python -m bot serve was not healthy within 60 s")
            time.sleep(0.01)
        ready = time.perf_counter() - started
        cpu = cpu_seconds(process.pid)
        time.sleep(idle_seconds)
        rss = resident_mib(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return ready, cpu, rss


def time_to_first_question(database: Path, bank_cache: Path) -> float:
    started = time.perf_counter()
    process = bot_process("run", environment(database, bank_cache))
    assert process.stdout is not None and process.stdin is not None
    elapsed = None
    for line in process.stdout:
        if MARKER in line:
            elapsed = time.perf_counter() - started
            break
    process.stdin.write("/quit\n")
    process.stdin.close()
    process.wait(timeout=60)
    if elapsed is None:
        raise RuntimeError("the bot never showed a question")
    return elapsed


def peak_rss_after_grading(database: Path, bank_cache: Path) -> float:
    process = bot_process("run", environment(database, bank_cache))
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(ANSWER + "/quit\n")
    process.stdin.close()
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if "Your grade:" not in output:
        raise RuntimeError("the answer was not graded")
    return usage.ru_maxrss / 1024  # KiB on Linux -> MiB


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    args = parser.parse_args()
    no_proxy()
    print(machine_line(), flush=True)
    serve: dict[str, list[tuple[float, float, float]]] = {
        "fresh database, empty bank cache": [],
        "existing database": [],
        "fresh database, filled bank cache": [],
    }
    kinds = list(serve)
    fresh, restart, rss = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):
            cache = Path(folder) / f"serve-cache-{run}"
            database = Path(folder) / f"serve-{run}.db"
            serve[kinds[0]].append(serve_once(database, cache, args.idle_seconds))
            serve[kinds[1]].append(serve_once(database, cache, args.idle_seconds))
            database = Path(folder) / f"serve-second-{run}.db"
            serve[kinds[2]].append(serve_once(database, cache, args.idle_seconds))
            cache = Path(folder) / f"run-cache-{run}"
            database = Path(folder) / f"fresh-{run}.db"
            fresh.append(time_to_first_question(database, cache))
            restart.append(time_to_first_question(database, cache))
            rss.append(peak_rss_after_grading(database, cache))
    median = statistics.median
    print(f"{machine_line()}; medians of {args.runs} runs")
    for kind, runs in serve.items():
        ready = median(run[0] for run in runs)
        memory = median(run[2] for run in runs)
        print(
            f"server start-up to a healthy /healthz, {kind:33} {ready:6.2f} s "
            f"({median(run[1] for run in runs):.2f} s of CPU; goal <= 1.5 s: "
            f"{'met' if ready <= 1.5 else 'missed'})"
        )
        print(
            f"server idle RSS after {args.idle_seconds:g} s, {kind:33}         "
            f"{memory:6.1f} MiB (goal <= 150 MB: {'met' if memory * 1.048576 <= 150 else 'missed'})"
        )
    print(
        f"terminal: start to first question, fresh database, empty bank cache {median(fresh):6.2f} s"
    )
    print(
        f"terminal: start to first question, existing database               {median(restart):6.2f} s"
    )
    print(f"terminal: peak RSS after grading an answer           {median(rss):6.1f} MiB")


if __name__ == "__main__":
    main()
