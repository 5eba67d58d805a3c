"""Recompute the numbers stated in the LLM fine-tuning questions (LoRA and QLoRA)."""

from __future__ import annotations

from tests.questions.numeric import assert_states, thousands


def test_lora_parameter_count() -> None:
    d = k = 4096
    rank, alpha, layers = 8, 16, 32
    per_factor = rank * d
    lora = rank * (d + k)
    full = d * k
    assert_states(
        "llms-lora-parameter-count",
        thousands(per_factor),
        thousands(lora),
        thousands(full),
        f"{100 * lora / full:g}%",
        f"{alpha} / {rank} = {alpha // rank}",
        thousands(2 * layers * lora),
    )


def test_qlora_memory() -> None:
    params, block = 7e9, 64
    scale_bits = 32 / block
    double_quant_bits = 8 / block + 32 / (block * 256)
    assert_states(
        "llms-qlora-memory",
        f"{params * 2 / 1e9:g} GB",
        f"{params * 0.5 / 1e9:g} GB",
        f"{params * 16 / 1e9:g} GB",
        f"{scale_bits:g} bits",
        f"{double_quant_bits:.3f} bits",
    )
