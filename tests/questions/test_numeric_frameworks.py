"""Recompute the numbers stated in the frameworks questions (strides, broadcasting, autograd,
JAX derivatives, FSDP2 memory)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.questions.numeric import assert_states, assert_states_number, fmt_list


def test_tensor_strides_and_transpose() -> None:
    x = np.arange(6).reshape(2, 3)
    strides = tuple(s // x.itemsize for s in x.strides)
    t_strides = tuple(s // x.itemsize for s in x.T.strides)
    assert not x.T.flags["C_CONTIGUOUS"]
    assert_states(
        "frameworks-tensor-memory-layout",
        f"strides {strides}",
        f"strides {t_strides}",
        f"returns {fmt_list(x.T.reshape(6))}",
    )


def test_broadcasting_shapes() -> None:
    cases = [((3, 1), (1, 4)), ((2, 3), (3,)), ((8, 1, 5), (7, 1))]
    expected = [f"{a} + {b} gives {np.broadcast_shapes(a, b)}" for a, b in cases]
    with pytest.raises(ValueError):
        np.broadcast_shapes((2, 3), (2,))
    assert_states("frameworks-broadcasting-shapes", *expected, "(2, 3) + (2,) is an error")


def test_autograd_by_hand() -> None:
    x = 3.0
    y = x**2 + 2 * x
    grad = 2 * x + 2  # d/dx (x² + 2x)
    assert_states(
        "frameworks-autograd-by-hand",
        f"It prints {y} and {grad}",
        f"{grad:g} + {grad:g} = {2 * grad:g}",
    )


def _derivative(f, x: float, h: float = 1e-4) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


def test_jax_grad_values() -> None:
    def f(x: float) -> float:
        return x**3 + 2 * x

    first = _derivative(f, 2.0)
    second = _derivative(lambda x: _derivative(f, x), 2.0)
    assert_states_number("frameworks-jax-transformations", first, rel=1e-6)
    assert_states_number("frameworks-jax-transformations", second, rel=1e-4)
    assert_states("frameworks-jax-transformations", f"returns {round(first):.1f}")
    assert_states("frameworks-jax-transformations", f"returns {round(second):.1f}")


def test_fsdp2_memory() -> None:
    params, gpus = 7e9, 8
    bytes_per_param = 4 + 4 + 2 * 4  # fp32 weights, fp32 gradients, two fp32 AdamW moments
    ddp = params * bytes_per_param
    fsdp = ddp / gpus
    assert ddp > 80e9, "the reference says DDP does not fit an 80 GB card"
    assert_states(
        "frameworks-fsdp2-fully-shard",
        f"4 + 4 + 8 = {bytes_per_param} bytes",
        f"= {ddp / 1e9:g} GB ({ddp / 2**30:.1f} GiB)",
        f"= {fsdp / 1e9:g} GB ({fsdp / 2**30:.1f} GiB)",
    )
