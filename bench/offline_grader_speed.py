"""Offline grader speed: answers per second and cold start.

    python bench/offline_grader_speed.py [--answers 400] [--runs 5]

Throughput grades real-looking answers (the Mohler set when ``shared/`` is beside the repo,
otherwise generated text) against a five-point rubric and in reference-only mode, through the
blocking ``grade_sync`` and through the async ``grade`` (one worker thread per answer), and
prints the median of several runs. Every run uses fresh answer text so no cache flatters it.
Cold start runs a fresh interpreter that imports the grader and grades one answer; it prints
the time inside the process (import + model load + first grade) and the wall time of the
whole process. Peak memory runs a fresh interpreter that imports the whole bot (its composition
root, ``bot.app``, and the CLI), grades one answer offline and reports the process's peak
resident set size (``VmHWM``; ``ru_maxrss`` would report the parent's size, since Linux keeps
it across fork and exec).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bot.domain.bank import KeyPoint
from bot.grading.base import GradingItem
from bot.grading.embeddings import require_embedder
from bot.grading.offline import OfflineGrader

REPO_ROOT = Path(__file__).resolve().parents[1]
MOHLER = REPO_ROOT.parent / "shared" / "datasets" / "mohler" / "mohler_dataset_edited.csv"

ITEM = GradingItem(
    prompt="Why does batch normalization speed up training of deep networks?",
    reference=(
        "Batch normalization standardizes each feature over the mini-batch to zero mean and unit "
        "variance, then applies a learned scale and shift. Keeping layer inputs in a stable range "
        "lets the network train with larger learning rates and makes it less sensitive to the "
        "initialization. The noise of batch statistics also acts as a mild regularizer. At "
        "inference it uses running averages of the mean and variance collected during training."
    ),
    key_points=(
        KeyPoint(
            text="Standardizes each feature over the mini-batch to zero mean, unit variance",
            weight=3,
        ),
        KeyPoint(text="Applies a learned scale and shift", weight=2),
        KeyPoint(
            text="Allows larger learning rates and less sensitivity to initialization", weight=2
        ),
        KeyPoint(text="Batch statistics noise acts as a mild regularizer", weight=1),
        KeyPoint(text="Inference uses running averages of mean and variance", weight=2),
    ),
)

COLD_START = """
import time
t0 = time.perf_counter()
from bot.grading.base import GradingItem
from bot.grading.offline import OfflineGrader
item = GradingItem(prompt={prompt!r}, reference={reference!r})
OfflineGrader().grade_sync(item, "It normalizes activations using batch statistics.")
print(time.perf_counter() - t0)
"""


PEAK_RSS = """
import re
import bot.app, bot.cli
from bot.grading.base import GradingItem
from bot.grading.offline import OfflineGrader
item = GradingItem(prompt={prompt!r}, reference={reference!r}, key_points=())
OfflineGrader().grade_sync(item, "It normalizes activations using batch statistics.")
status = open("/proc/self/status").read()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024)
"""


def answers(count: int, seed: int) -> list[str]:
    """Distinct answers: Mohler student answers when available, else shuffled reference words."""
    rng = random.Random(seed)
    if MOHLER.is_file():
        with MOHLER.open(newline="", encoding="utf-8") as handle:
            pool = [r["student_answer"] for r in csv.DictReader(handle)]
        picked = rng.sample(pool, min(count, len(pool)))
        return [f"{text} (run {seed})" for text in picked]
    words = ITEM.reference.split()
    return [
        " ".join(rng.sample(words, k=rng.randint(12, len(words)))) + f" {seed}"
        for _ in range(count)
    ]


def throughput(
    grader: OfflineGrader, item: GradingItem, count: int, runs: int, clock=time.perf_counter
) -> float:
    """Median answers per second of ``clock`` (wall time by default; ``time.process_time``
    gives answers per CPU-second, which other load on a shared machine does not distort)."""
    rates = []
    for run in range(runs):
        texts = answers(count, seed=run + (100 if item.key_points else 0))
        start = clock()
        for text in texts:
            grader.grade_sync(item, text)
        rates.append(len(texts) / (clock() - start))
    return statistics.median(rates)


def async_throughput(grader: OfflineGrader, count: int, runs: int) -> float:
    async def go(texts: list[str]) -> float:
        start = time.perf_counter()
        await asyncio.gather(*(grader.grade(ITEM, text) for text in texts))
        return len(texts) / (time.perf_counter() - start)

    return statistics.median(
        asyncio.run(go(answers(count, seed=1000 + run))) for run in range(runs)
    )


def cold_start(runs: int) -> tuple[float, float]:
    code = COLD_START.format(prompt=ITEM.prompt, reference=ITEM.reference)
    inside, wall = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
        )
        wall.append(time.perf_counter() - start)
        inside.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(inside), statistics.median(wall)


def peak_rss_mb(runs: int) -> float:
    """Median peak RSS (MiB) of a fresh process that loads the bot and grades one answer."""
    code = PEAK_RSS.format(prompt=ITEM.prompt, reference=ITEM.reference)
    peaks = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
        )
        peaks.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(peaks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    inside, wall = cold_start(args.runs)
    require_embedder()
    grader = OfflineGrader()
    reference_only = GradingItem(prompt=ITEM.prompt, reference=ITEM.reference)
    figures = {
        "rubric_answers_per_s": throughput(grader, ITEM, args.answers, args.runs),
        "reference_only_answers_per_s": throughput(grader, reference_only, args.answers, args.runs),
        "rubric_answers_per_cpu_s": throughput(
            grader, ITEM, args.answers, args.runs, clock=time.process_time
        ),
        "async_rubric_answers_per_s": async_throughput(grader, args.answers, args.runs),
        "cold_start_in_process_s": inside,
        "cold_start_process_wall_s": wall,
        "peak_rss_after_one_grade_mib": peak_rss_mb(min(args.runs, 3)),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    source = "Mohler answers" if MOHLER.is_file() else "generated answers"
    print(f"offline grader, {args.answers} {source} per run, median of {args.runs} runs")
    print(f"  rubric (5 key points), grade_sync : {figures['rubric_answers_per_s']:8.0f} answers/s")
    print(
        f"  rubric, per CPU-second           : "
        f"{figures['rubric_answers_per_cpu_s']:8.0f} answers/CPU-s"
    )
    print(
        f"  reference only, grade_sync       : "
        f"{figures['reference_only_answers_per_s']:8.0f} answers/s"
    )
    print(
        f"  rubric, async grade (to_thread)  : "
        f"{figures['async_rubric_answers_per_s']:8.0f} answers/s"
    )
    print(f"  cold start, import+load+1st grade: {inside:8.2f} s")
    print(f"  cold start, whole process        : {wall:8.2f} s")
    print(
        f"  peak RSS, bot + one offline grade: {figures['peak_rss_after_one_grade_mib']:8.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
