"""Recompute the numbers stated in the vision-transformers references: token counts and FLOP
shares across resolutions, position-embedding interpolation sizes, Swin window arithmetic,
layer-wise learning-rate decay, ViTDet token counts, the ViT-B/16 parameter count and token
merging."""

from __future__ import annotations

import math

from tests.questions.numeric import assert_states, thousands


def patches(image: int, patch: int) -> int:
    assert image % patch == 0
    return (image // patch) ** 2


def layer_flops(tokens: int, width: int) -> tuple[float, float]:
    """(linear, attention) FLOPs of one encoder layer with a 4x MLP: 2 FLOPs per MAC."""
    linear_macs = tokens * (4 * width * width + 2 * width * 4 * width)  # QKV+out, MLP
    attention_macs = 2 * tokens * tokens * width  # Q K^T and attention × V
    return 2.0 * linear_macs, 2.0 * attention_macs


def test_resolution_compute_scaling() -> None:
    qid = "vision-transformers-resolution-compute-scaling"
    width = 768
    low, high = patches(224, 16), patches(448, 16)
    lin_low, att_low = layer_flops(low, width)
    lin_high, att_high = layer_flops(high, width)
    assert lin_low == 24 * low * width**2 and att_low == 4 * low**2 * width
    assert lin_high / lin_low == 4 and att_high / att_low == 16
    crossover = 6 * width
    assert layer_flops(crossover, width)[0] == layer_flops(crossover, width)[1]
    side_pixels = math.sqrt(crossover) * 16
    assert_states(
        qid,
        f"14 × 14 = {low} patch tokens",
        f"28 × 28 = {high}, four times",
        f"about {100 * att_low / (lin_low + att_low):.1f}% of a layer's FLOPs "
        f"({att_low / 1e9:.3f} of {(lin_low + att_low) / 1e9:.2f} GFLOPs)",
        f"at 448 it is about {100 * att_high / (lin_high + att_high):.1f}%",
        f"N > 6d = {thousands(crossover)} tokens",
        f"roughly a {thousands(round(side_pixels))} × {thousands(round(side_pixels))} image",
    )


def test_position_embedding_interpolation() -> None:
    qid = "vision-transformers-position-embedding-interpolation"
    old, new, width = patches(224, 16), patches(384, 16), 768
    assert_states(
        qid,
        f"(384 / 16)^2 = 24 × 24 = {new} instead of 14 × 14 = {old}",
        f"{new + 1} position embeddings, {new} + 1, or {thousands((new + 1) * width)} parameters",
    )


def test_swin_window_arithmetic() -> None:
    qid = "vision-transformers-swin-shifted-windows"
    side, window = 224 // 4, 7
    tokens = side * side
    windows = (side // window) ** 2
    global_scores = tokens**2
    windowed_scores = windows * (window * window) ** 2
    assert global_scores // windowed_scores == tokens // (window * window) == windows
    assert_states(
        qid,
        f"56 × 56 = {thousands(tokens)} tokens",
        f"8 × 8 = {windows} windows",
        f"3,136^2 = {thousands(global_scores)}",
        f"64 × 49^2 = {thousands(windowed_scores)}",
        f"which is {global_scores // windowed_scores} times fewer",
        f"({window // 2} tokens here)",
        ", ".join(str(side // 2**k) for k in range(3)) + f" and {side // 8} tokens per side",
    )


def test_layerwise_learning_rate_decay() -> None:
    qid = "vision-transformers-layerwise-lr-decay"
    base, decay, blocks = 1e-3, 0.75, 12
    rates = {k: base * decay ** (blocks - k) for k in range(1, blocks + 1)}
    assert rates[blocks] == base and rates[blocks - 1] == base * decay
    patch_embedding = base * decay**blocks
    assert_states(
        qid,
        f"0.75 × 1e-3 = {rates[11]:.1e}".replace("e-0", "e-"),
        f"1e-3 × 0.75^11 = {rates[1]:.1e}".replace("e-0", "e-"),
        f"about {round(base / rates[1])} times less",
        f"1e-3 × 0.75^12 = {patch_embedding:.1e}".replace("e-0", "e-"),
    )


def test_vitdet_token_count() -> None:
    qid = "vision-transformers-plain-vit-detection"
    assert_states(qid, f"64 × 64 = {thousands(patches(1_024, 16))} tokens")


def test_vit_b_16_parameter_count() -> None:
    qid = "vision-transformers-vit-b-parameter-count"
    width, mlp, layers, classes, patch = 768, 3_072, 12, 1_000, 16
    tokens = patches(224, patch) + 1
    patch_embedding = patch * patch * 3 * width + width
    class_token = width
    position = tokens * width
    qkv = width * 3 * width + 3 * width
    out = width * width + width
    attention = qkv + out
    mlp_params = width * mlp + mlp + mlp * width + width
    norms = 2 * 2 * width
    per_layer = attention + mlp_params + norms
    encoder = per_layer * layers
    final_norm = 2 * width
    head = width * classes + classes
    total = patch_embedding + class_token + position + encoder + final_norm + head
    assert (patch_embedding + class_token + position) / total < 0.01
    assert_states(
        qid,
        f"768 biases = {thousands(patch_embedding)}",
        f"197 × 768 = {thousands(position)}",
        f"(768 × 2,304 + 2,304 = {thousands(qkv)})",
        f"(768 × 768 + 768 = {thousands(out)}), {thousands(attention)} in total",
        f"{thousands(mlp_params)} in total",
        f"each, {thousands(norms)}",
        f"makes {thousands(per_layer)} per layer and {thousands(encoder)} for 12 layers",
        f"adds {thousands(final_norm)}",
        f"768 × 1,000 + 1,000 = {thousands(head)}",
        f"The total is {thousands(total)}, the familiar {total / 1e6:.1f}M",
        f"{100 * encoder / total:.1f}%, sits in the 12 encoder layers",
    )
    assert round(3 * mlp_params / per_layer) == 2  # two thirds of each layer is the MLP


def test_token_merging_count() -> None:
    qid = "vision-transformers-token-merging"
    start, per_layer, layers = patches(224, 16), 8, 12
    assert_states(
        qid,
        f"reduces {start} patch tokens to {start} - {per_layer * layers} = "
        f"{start - per_layer * layers}",
    )
