"""Recompute the exact answers stated in the attention and tokenization references.

Each test finds its question by id in ``questions/*.yaml``, recomputes the value from first
principles, and checks that the reference states it.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from tests.questions.bank_lookup import QUESTIONS_DIR, bank_questions

MIB = 1024**2
GIB = 1024**3


_all_questions = bank_questions


def reference(question_id: str) -> str:
    question = _all_questions().get(question_id)
    if question is None:
        pytest.fail(f"question {question_id!r} not found in {QUESTIONS_DIR}")
    return " ".join(str(question["reference"]).split())


def n(value: int) -> str:
    """Format an integer the way the references do: 1,050,624."""
    return f"{value:,}"


def assert_states(text: str, *expected: str) -> None:
    for value in expected:
        assert value in text, f"reference does not state {value!r}"


# --- attention-transformers -------------------------------------------------------------


def test_sqrt_dk_scaling() -> None:
    d_k = 64
    rng = np.random.default_rng(0)
    q = rng.standard_normal((200_000, d_k))
    k = rng.standard_normal((200_000, d_k))
    scores = (q * k).sum(axis=1)
    assert scores.var() == pytest.approx(d_k, rel=0.02)
    assert (scores / math.sqrt(d_k)).var() == pytest.approx(1.0, rel=0.02)
    std = math.isqrt(d_k)
    assert std * std == d_k == 64
    assert_states(
        reference("attention-transformers-sqrt-dk-scaling"),
        f"variance is {d_k}",
        f"standard deviation is {std}",
        f"sqrt(d_k) = {std}",
    )


def test_multi_head_dimension() -> None:
    d_model, heads = 512, 8
    assert_states(
        reference("attention-transformers-multi-head-attention"),
        f"d_k = {d_model // heads}",
    )


def test_alibi_slopes_for_eight_heads() -> None:
    heads = 8
    slopes = [2 ** (-8 * (i + 1) / heads) for i in range(heads)]
    assert slopes[0] == 1 / 2
    assert slopes[-1] == 1 / 256
    assert_states(reference("attention-transformers-alibi"), "1/2, 1/4, ..., 1/256")


def test_attention_score_matrix_memory() -> None:
    seq_len, fp16_bytes, heads = 8192, 2, 32
    entries = seq_len**2
    per_head = entries * fp16_bytes
    assert per_head == 128 * MIB
    assert per_head * heads == 4 * GIB
    assert_states(
        reference("attention-transformers-quadratic-complexity"),
        n(entries),
        n(per_head),
        "128 MiB",
        "4 GiB for 32 heads",
    )


def test_transformer_base_layer_parameter_count() -> None:
    d_model, d_ff = 512, 2048
    attention = 4 * (d_model * d_model + d_model)
    ffn_in = d_model * d_ff + d_ff
    ffn_out = d_ff * d_model + d_model
    layer_norms = 2 * 2 * d_model
    total = attention + ffn_in + ffn_out + layer_norms
    rule_of_thumb = 12 * d_model**2
    assert 4 * d_model**2 + 2 * d_model * d_ff == rule_of_thumb
    assert_states(
        reference("attention-transformers-layer-parameter-count"),
        n(attention),
        n(ffn_in),
        n(ffn_out),
        n(ffn_in + ffn_out),
        n(layer_norms),
        n(total),
        n(rule_of_thumb),
    )
    assert total == 3_152_384


def test_vit_patch_tokens() -> None:
    image, patch, channels = 224, 16, 3
    patches = (image // patch) ** 2
    assert_states(
        reference("attention-transformers-vit-patches"),
        f"{patches} patches",
        f"{patches + 1} tokens",
        f"16 × 16 × 3 = {patch * patch * channels}",
    )


def test_gqa_cache_reduction() -> None:
    query_heads, kv_heads = 32, 8
    mha_layer_bytes = 2 * query_heads * 128 * 2
    gqa_layer_bytes = 2 * kv_heads * 128 * 2
    assert mha_layer_bytes // gqa_layer_bytes == query_heads // kv_heads == 4
    assert_states(
        reference("attention-transformers-mqa-gqa"),
        f"{query_heads // kv_heads}× for {query_heads} query heads sharing {kv_heads} KV heads",
    )


def test_mla_cache_per_token() -> None:
    latent, rope_key, heads, head_dim = 512, 64, 128, 128
    mla = latent + rope_key
    mha = 2 * heads * head_dim
    assert round(mha / mla) == 57
    assert mla / (2 * head_dim) == 2.25
    assert_states(
        reference("attention-transformers-multi-head-latent-attention"),
        f"caches {mla} values",
        n(mha),
        "about 57× smaller",
        "2.25 groups",
    )


# --- tokenization-embeddings ------------------------------------------------------------


def test_cosine_similarity_example() -> None:
    a = np.array([1.0, 2.0, 2.0])
    b = np.array([2.0, 1.0, 2.0])
    cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    assert cosine == pytest.approx(8 / 9)
    assert_states(
        reference("tokenization-embeddings-cosine-similarity"),
        f"a·b = 2 + 2 + 4 = {int(a @ b)}",
        f"‖a‖ = sqrt(1 + 4 + 4) = {int(np.linalg.norm(a))}",
        f"cos = 8/9 ≈ {cosine:.3f}",
    )


def test_embedding_lookup_is_one_hot_matmul() -> None:
    rng = np.random.default_rng(0)
    vocab, dim, token = 50, 8, 17
    table = rng.standard_normal((vocab, dim))
    one_hot = np.zeros(vocab)
    one_hot[token] = 1.0
    np.testing.assert_array_equal(one_hot @ table, table[token])
    assert_states(
        reference("tokenization-embeddings-embedding-lookup-one-hot"),
        f"50,257 × 768 = {n(50_257 * 768)}",
    )


def test_weight_tying_saving() -> None:
    assert_states(
        reference("tokenization-embeddings-weight-tying"),
        f"50,257 × 768 = {n(50_257 * 768)}",
    )


def test_gpt2_vocabulary_size() -> None:
    byte_tokens, merges, special = 256, 50_000, 1
    assert_states(
        reference("tokenization-embeddings-byte-level-bpe"),
        f"{byte_tokens} + {n(merges)} + {special} = {n(byte_tokens + merges + special)}",
    )


def test_vocabulary_embedding_table_size() -> None:
    assert_states(
        reference("tokenization-embeddings-vocabulary-size-tradeoffs"),
        f"128,000 × 2048 table is {n(128_000 * 2048)}",
    )


def test_negative_sampling_dot_products() -> None:
    k = 5
    assert_states(
        reference("tokenization-embeddings-negative-sampling"),
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
    merges = _bpe_train({"low": 6, "lot": 4, "slow": 3, "plot": 2}, merges=3)
    assert merges == [("l", "o"), ("lo", "w"), ("lo", "t")]
    tokens = _bpe_encode("plow", merges)
    assert tokens == ("p", "low")
    text = reference("tokenization-embeddings-bpe-worked-example")
    merge_list = ", ".join(f"({a}, {b})" for a, b in merges)
    assert_states(
        text,
        f"The learned merge list is {merge_list}",
        f"tokenized as [{', '.join(tokens)}]",
        '"lo" (count 15)',
        '"low" (count 9)',
        '"lot" (count 6)',
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
    assert best == ("token", "s")
    assert scored[best] == pytest.approx(0.001)
    ranked = sorted(scored.values(), reverse=True)
    assert ranked[1] < scored[best]
    text = reference("tokenization-embeddings-unigram-sentencepiece")
    assert_states(text, "chooses [token, s] with probability 0.001", "0.02 × 0.05 = 0.001")
    # The prompt's vocabulary is the one recomputed here.
    prompt = _all_questions()["tokenization-embeddings-unigram-sentencepiece"]["prompt"]
    prompt = " ".join(prompt.split())
    for piece, prob in vocab.items():
        assert f"{piece} {prob:g}" in prompt, piece
