"""Start-up time and memory of the bot process, measured from outside like a user would.

    python bench/startup.py [--runs 5]

- start to first question: from spawning ``python -m bot run`` (terminal mode, offline grader,
  the shipped bank) to the moment today's question is on its standard output; on a fresh SQLite
  file (migrations included) and on an existing one (a restart).
- peak RSS after grading an answer: the same process answers today's question, waits for its
  grade and quits; the peak resident memory of that process (``wait4``'s ``ru_maxrss``).

Medians over ``--runs``; the core count is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "Today's interview question"
ANSWER = (
    "Dropout zeroes a random subset of activations during training so that units cannot rely on "
    "each other; at inference every unit is kept and activations are scaled to match.\n.\n"
)


def environment(database: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_", "OPENAI_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        QUESTIONS_DIR=str(ROOT / "questions"),
        PYTHONIOENCODING="utf-8",
    )
    return env


def time_to_first_question(database: Path) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment(database),
        cwd=ROOT,
    )
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


def peak_rss_after_grading(database: Path) -> float:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment(database),
        cwd=ROOT,
    )
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
    args = parser.parse_args()
    fresh, restart, rss = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(args.runs):
            database = Path(folder) / f"fresh-{run}.db"
            fresh.append(time_to_first_question(database))
            restart.append(time_to_first_question(database))
            rss.append(peak_rss_after_grading(database))
    print(f"{os.cpu_count()} cores; medians of {args.runs} runs")
    print(f"start to first question, fresh database   {statistics.median(fresh):6.2f} s")
    print(f"start to first question, existing database {statistics.median(restart):6.2f} s")
    print(f"peak RSS after grading an answer           {statistics.median(rss):6.1f} MiB")


if __name__ == "__main__":
    main()
