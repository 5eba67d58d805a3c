"""Recompute the numbers stated in the llm-engineering track's llm-operations questions.

Judge-human agreement and Cohen's kappa, the paired sign test of two prompt versions, token
cost with and without prompt caching, the latency budget and the KV-cache size of a shared
prefix are recomputed from their definitions.
"""

from __future__ import annotations

import math

import numpy as np

from tests.questions.numeric import assert_states, thousands


def test_cohens_kappa_of_judge_against_human() -> None:
    qid = "llm-engineering-judge-human-agreement"
    # rows: judge pass / fail; columns: human pass / fail
    table = np.array([[120, 30], [10, 40]], dtype=float)
    total = table.sum()
    observed = np.trace(table) / total
    judge_pass = table[0].sum() / total
    human_pass = table[:, 0].sum() / total
    chance = judge_pass * human_pass + (1 - judge_pass) * (1 - human_pass)
    kappa = (observed - chance) / (1 - chance)
    assert_states(
        qid,
        f"(120 + 40) / 200 = {observed:.2f}",
        f"130 of 200 ({human_pass:.2f})",
        f"150 ({judge_pass:.2f})",
        f"0.65 × 0.75 + 0.35 × 0.25 = {chance:.3f}",
        f"≈ {kappa:.3f}",
        f"by {round((judge_pass - human_pass) * 100)} points",
    )


def test_prompt_versions_standard_error_and_sign_test() -> None:
    qid = "llm-engineering-prompt-regression-suite"
    cases, passes_v1, fixed, broken = 200, 170, 14, 8
    rate = passes_v1 / cases
    standard_error = math.sqrt(rate * (1 - rate) / cases)
    discordant = fixed + broken
    tail = sum(math.comb(discordant, i) for i in range(fixed, discordant + 1)) / 2**discordant
    assert passes_v1 + fixed - broken == 176
    assert_states(
        qid,
        f"√(0.85 × 0.15 / 200) ≈ {standard_error:.3f}",
        f"only the {discordant} cases",
        f"about {2 * tail:.3f}",
    )


def test_token_cost_with_and_without_prompt_caching() -> None:
    qid = "llm-engineering-token-cost-budget"
    requests, prompt_tokens, cached_tokens, output_tokens = 40_000, 2_500, 2_000, 400
    price_in, price_out, price_cached = 3.0, 15.0, 0.30
    daily_in = requests * prompt_tokens / 1e6 * price_in
    daily_out = requests * output_tokens / 1e6 * price_out
    cached = requests * cached_tokens / 1e6 * price_cached
    uncached = requests * (prompt_tokens - cached_tokens) / 1e6 * price_in
    without, with_cache = daily_in + daily_out, cached + uncached + daily_out
    assert_states(
        qid,
        f"costing ${daily_in:.0f}",
        f"costing ${daily_out:.0f}",
        f"${without:.0f} a day, ${thousands(round(30 * without))} a month",
        f"(${cached:.0f})",
        f"(${uncached:.0f})",
        f"input drops to ${cached + uncached:.0f} and the day to ${with_cache:.0f}",
        f"${thousands(round(30 * with_cache))} a month, a {1 - with_cache / without:.0%} saving",
    )


def test_latency_budget() -> None:
    qid = "llm-engineering-latency-budget-ttft-tpot"
    overhead, prompt_tokens, prefill_rate, per_token, budget = 0.2, 3_000, 10_000, 0.04, 3.0
    ttft = overhead + prompt_tokens / prefill_rate
    total = ttft + (250 - 1) * per_token
    max_tokens = (budget - ttft) / per_token + 1
    assert_states(
        qid,
        f"0.2 + 3,000 / 10,000 = {ttft:g} s",
        f"0.5 + 249 × 0.04 = {total:.2f} s",
        f"2.5 / 0.04 + 1 = {max_tokens:g}, that is {math.floor(max_tokens)} tokens",
    )


def test_shared_prefix_kv_cache_size() -> None:
    qid = "llm-engineering-prefix-caching-memory"
    layers, kv_heads, head_dim, fp16, prefix, concurrent = 32, 8, 128, 2, 2_000, 64
    per_token = 2 * layers * kv_heads * head_dim * fp16
    per_request = per_token * prefix
    assert_states(
        qid,
        f"2 × 32 × 8 × 128 × 2 bytes = {thousands(per_token)} bytes, {per_token // 1024} KiB",
        f"{thousands(per_request)} bytes, {per_request / 2**20:g} MiB",
        f"about {concurrent * per_request / 2**30:.1f} GiB",
    )
