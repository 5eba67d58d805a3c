"""Recompute the numbers stated in the tokenization and embedding questions (cosine similarity,
embedding tables, BPE merges, Unigram segmentation)."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np

from tests.questions.numeric import assert_states, prompt, thousands


def test_cosine_similarity_example() -> None:
    a = np.array([1.0, 2.0, 2.0])
    b = np.array([2.0, 1.0, 2.0])
    cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert_states(
        "tokenization-embeddings-cosine-similarity",
        f"a·b = 2 + 2 + 4 = {int(a @ b)}",
        f"‖a‖ = sqrt(1 + 4 + 4) = {int(np.linalg.norm(a))}",
        f"cos = 8/9 ≈ {cosine:.3f}",
    )


def test_embedding_table_size() -> None:
    assert_states(
        "tokenization-embeddings-embedding-lookup-one-hot",
        f"50,257 × 768 = {thousands(50_257 * 768)}",
    )


def test_weight_tying_saving() -> None:
    assert_states(
        "tokenization-embeddings-weight-tying",
        f"50,257 × 768 = {thousands(50_257 * 768)}",
    )


def test_gpt2_vocabulary_size() -> None:
    byte_tokens, merges, special = 256, 50_000, 1
    assert_states(
        "tokenization-embeddings-byte-level-bpe",
        f"{byte_tokens} + {thousands(merges)} + {special} = "
        f"{thousands(byte_tokens + merges + special)}",
    )


def test_vocabulary_embedding_table_size() -> None:
    assert_states(
        "tokenization-embeddings-vocabulary-size-tradeoffs",
        f"128,000 × 2048 table is {thousands(128_000 * 2048)}",
    )


def test_negative_sampling_dot_products() -> None:
    k = 5
    assert_states(
        "tokenization-embeddings-negative-sampling",
        f"that is {k + 1} instead of 100,000",
    )


def _bpe_train(word_counts: dict[str, int], merges: int) -> list[tuple[str, str]]:
    words = {tuple(word): count for word, count in word_counts.items()}
    learned: list[tuple[str, str]] = []
    for _ in range(merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, count in words.items():
            for pair in itertools.pairwise(symbols):
                pairs[pair] += count
        ranked = pairs.most_common()
        best, best_count = ranked[0]
        assert len(ranked) == 1 or ranked[1][1] < best_count, "the example must have no ties"
        learned.append(best)
        words = {_apply_merge(symbols, best): count for symbols, count in words.items()}
    return learned


def _apply_merge(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def _bpe_encode(word: str, merges: list[tuple[str, str]]) -> tuple[str, ...]:
    symbols = tuple(word)
    for pair in merges:
        symbols = _apply_merge(symbols, pair)
    return symbols


def test_bpe_worked_example() -> None:
    counts = {"low": 6, "lot": 4, "slow": 3, "plot": 2}
    merges = _bpe_train(counts, merges=3)
    tokens = _bpe_encode("plow", merges)
    merge_list = ", ".join(f"({a}, {b})" for a, b in merges)
    lo = sum(n for word, n in counts.items() if "lo" in word)
    low = sum(n for word, n in counts.items() if "low" in word)
    lot = sum(n for word, n in counts.items() if "lot" in word)
    assert_states(
        "tokenization-embeddings-bpe-worked-example",
        f"The learned merge list is {merge_list}",
        f"tokenized as [{', '.join(tokens)}]",
        f'"lo" (count {lo})',
        f'"low" (count {low})',
        f'"lot" (count {lot})',
    )


def _segmentations(word: str, vocab: dict[str, float]):
    if not word:
        yield ()
        return
    for end in range(1, len(word) + 1):
        piece = word[:end]
        if piece in vocab:
            for rest in _segmentations(word[end:], vocab):
                yield (piece, *rest)


def test_unigram_best_segmentation() -> None:
    vocab = {
        "t": 0.01,
        "o": 0.01,
        "k": 0.005,
        "e": 0.01,
        "n": 0.01,
        "s": 0.05,
        "to": 0.01,
        "tok": 0.01,
        "ken": 0.01,
        "ens": 0.01,
        "token": 0.02,
        "tokens": 0.0005,
    }
    scored = {seg: math.prod(vocab[p] for p in seg) for seg in _segmentations("tokens", vocab)}
    best = max(scored, key=scored.__getitem__)
    ranked = sorted(scored.values(), reverse=True)
    assert ranked[1] < scored[best], "the example must have a unique best segmentation"
    first, second = best
    assert_states(
        "tokenization-embeddings-unigram-sentencepiece",
        f"chooses [{first}, {second}] with probability {scored[best]:g}",
        f"{vocab[first]:g} × {vocab[second]:g} = {scored[best]:g}",
    )
    # The prompt's vocabulary is the one recomputed here.
    question_prompt = prompt("tokenization-embeddings-unigram-sentencepiece")
    for piece, prob in vocab.items():
        assert f"{piece} {prob:g}" in question_prompt, piece
