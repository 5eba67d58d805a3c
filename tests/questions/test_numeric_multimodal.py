"""Recompute the numbers stated in the multimodal references.

Visual token counts, hallucination and circular-evaluation rates, frame-rate ratios, pair
counts and codebook sizes are recomputed from the settings each question gives; each test checks
that the reference states the result (tests/questions/numeric.py).
"""

from __future__ import annotations

import math
from fractions import Fraction

from tests.questions.numeric import assert_states, thousands


def patch_tokens(side: int, patch: int) -> int:
    assert side % patch == 0
    return (side // patch) ** 2


def test_image_token_count() -> None:
    qid = "multimodal-image-token-count"
    per_side = 336 // 14
    tokens = patch_tokens(336, 14)
    prompt_length = tokens + 60
    assert_states(
        qid, f"336 / 14 = {per_side} patches per side", f"{per_side} × {per_side} = {tokens}"
    )
    assert_states(qid, f"the prompt has {prompt_length} tokens")
    assert_states(qid, f"{tokens} / {prompt_length} ≈ {100 * tokens / prompt_length:.1f}%")
    assert_states(qid, f"6 × {tokens} = {thousands(6 * tokens)}")


def test_high_resolution_tiling() -> None:
    qid = "multimodal-high-resolution-tiling"
    tiles = (672 // 336) ** 2
    inputs = tiles + 1
    tokens = inputs * patch_tokens(336, 14)
    assert_states(qid, f"2 × 2 = {tiles} tiles", f"runs {inputs} times")
    assert_states(qid, f"{inputs} × 576 = {thousands(tokens)}")
    assert_states(qid, f"cuts this by 4 to {tokens // 4} tokens")


def test_chair_scores() -> None:
    qid = "multimodal-vlm-hallucination"
    assert_states(qid, f"48 / 640 = {48 / 640:.3f}", f"30 / 100 = {30 / 100:.2f}")


def test_circular_evaluation_chance() -> None:
    qid = "multimodal-vlm-benchmark-pitfalls"
    options = 4
    chance = Fraction(1, options) ** options
    assert chance == Fraction(1, 256)
    assert_states(qid, f"(1/4)^4 = {chance} ≈ {100 * float(chance):.2f}%")
    assert_states(qid, f"instead of {100 // options}%")


def test_audio_video_frame_ratio() -> None:
    qid = "multimodal-audio-visual-alignment"
    hop_seconds, video_fps = 0.010, 25
    audio_fps = round(1 / hop_seconds)
    per_video_frame = audio_fps // video_fps
    assert_states(qid, f"gives {audio_fps} audio feature frames per second")
    assert_states(qid, f"100 / 25 = {per_video_frame} audio frames, {1000 // video_fps} ms")
    assert_states(qid, f"merging {per_video_frame} consecutive audio frames")
    assert_states(qid, f"to reach {video_fps} steps per second")
    assert_states(qid, f"repeating each video feature {per_video_frame} times")


def test_siglip_pair_counts() -> None:
    qid = "multimodal-siglip-sigmoid-loss"
    batch = 32_768
    assert_states(qid, f"one step sees {thousands(batch)} positives")
    assert_states(qid, f"{thousands(batch)}² - {thousands(batch)} = {thousands(batch**2 - batch)}")


def test_discrete_image_tokens() -> None:
    qid = "multimodal-discrete-image-tokens"
    grid, codebook = 32, 8_192
    tokens = grid * grid
    bits_per_token = int(math.log2(codebook))
    assert 2**bits_per_token == codebook
    total_bits = tokens * bits_per_token
    raw_bytes = 512 * 512 * 3
    assert_states(qid, f"{thousands(tokens)} image tokens", f"2^{bits_per_token} entries")
    assert_states(qid, f"{grid} × {grid} grid is", f"it carries {bits_per_token} bits")
    assert_states(
        qid, f"1,024 × 13 = {thousands(total_bits)} bits, or {thousands(total_bits // 8)}"
    )
    assert_states(qid, f"512 × 512 × 3 = {thousands(raw_bytes)} bytes")
    assert_states(qid, f"about {raw_bytes / (total_bits / 8):.0f} times smaller")


def test_video_token_budget() -> None:
    qid = "multimodal-video-token-budget"
    per_frame, context = 576, 32_768
    frames = 60 * 1  # one minute at 1 frame per second
    assert_states(qid, f"is {frames} frames")
    full = frames * per_frame
    pooled_per_frame = per_frame // 4
    assert full > context
    assert_states(qid, f"60 × 576 = {thousands(full)}")
    assert_states(qid, f"576 / 4 = {pooled_per_frame} tokens")
    assert_states(qid, f"60 × {pooled_per_frame} = {thousands(frames * pooled_per_frame)}")
    hour = 3_600 * pooled_per_frame
    assert_states(qid, f"3,600 × {pooled_per_frame} = {thousands(hour)}")
