"""Recompute the numbers stated in the low-precision references.

Small floating-point formats (FP8 E4M3 and E5M2, FP4 E2M1) are decoded here from their bit
layouts by enumerating every bit pattern, bf16 rounding is emulated on float32 bit patterns, and
memory figures come from parameter counts; each test checks that the reference states the
result (tests/questions/numeric.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.questions.numeric import assert_states, thousands


def minifloat_values(
    exponent_bits: int, mantissa_bits: int, bias: int, *, ieee_specials: bool, nan_pattern: bool
) -> list[float]:
    """Every finite value of a small float format, decoded from all of its bit patterns.

    ``ieee_specials``: the all-ones exponent holds infinities and NaN (E5M2).
    ``nan_pattern``: only the all-ones exponent *and* mantissa is NaN (E4M3 "FN").
    """
    values = []
    top_exponent = 2**exponent_bits - 1
    for sign in (1, -1):
        for exponent in range(2**exponent_bits):
            for mantissa in range(2**mantissa_bits):
                if ieee_specials and exponent == top_exponent:
                    continue
                if nan_pattern and exponent == top_exponent and mantissa == 2**mantissa_bits - 1:
                    continue
                fraction = mantissa / 2**mantissa_bits
                if exponent == 0:
                    value = 2.0 ** (1 - bias) * fraction
                else:
                    value = 2.0 ** (exponent - bias) * (1 + fraction)
                values.append(sign * value)
    return values


E4M3 = sorted(set(minifloat_values(4, 3, 7, ieee_specials=False, nan_pattern=True)))
E5M2 = sorted(set(minifloat_values(5, 2, 15, ieee_specials=True, nan_pattern=False)))
E2M1 = sorted(set(minifloat_values(2, 1, 1, ieee_specials=False, nan_pattern=False)))


def nearest(grid: list[float], x: float) -> float:
    """Round to nearest; a tie goes to the value whose mantissa is even (its index among the
    non-negative values is even)."""
    positives = [v for v in grid if v >= 0]
    magnitude = min(abs(x), max(positives))
    best = min(positives, key=lambda v: (abs(v - magnitude), positives.index(v) % 2))
    return math.copysign(best, x)


def smallest_normal(grid: list[float], mantissa_bits: int) -> float:
    """The smallest positive value whose successor is one mantissa step of its own exponent."""
    subnormal_step = min(v for v in grid if v > 0)
    return subnormal_step * 2**mantissa_bits


def bf16_round(x: float) -> float:
    """Round a float32 to bfloat16 (round to nearest, ties to even) on its bit pattern."""
    bits = np.array([x], dtype=np.float32).view(np.uint32)[0]
    rounding = np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    rounded = (bits + rounding) & np.uint32(0xFFFF0000)
    return float(np.array([rounded], dtype=np.uint32).view(np.float32)[0])


def test_weight_memory_by_format() -> None:
    qid = "low-precision-weight-memory-by-format"
    params = 70e9
    for bytes_per_param, stated in ((4, "280 GB"), (2, "140 GB"), (1, "70 GB"), (0.5, "35 GB")):
        assert f"{params * bytes_per_param / 1e9:.0f} GB" == stated
        assert_states(qid, stated)
    assert_states(qid, f"about {params * 2 / 2**30:.1f} GiB")
    bits = 4 + 8 / 32
    assert_states(qid, f"8 / 32 = {8 / 32} bits", f"costs {bits} bits")
    assert_states(qid, f"about {params * bits / 8 / 1e9:.2f} GB")


def test_e4m3_rounding_examples() -> None:
    qid = "low-precision-e4m3-rounding"
    between = [v for v in E4M3 if 1 <= v < 2]
    assert len(between) == 8
    assert_states(qid, ", ".join(f"{v:g}" for v in between[:-1]) + f" and {between[-1]:g}")
    assert_states(qid, f"a step of {between[1] - between[0]}")

    def neighbours(x: float) -> tuple[float, float]:
        return max(v for v in E4M3 if v <= x), min(v for v in E4M3 if v >= x)

    assert neighbours(1.3) == (1.25, 1.375)
    assert_states(qid, "1.3 lies between 1.25 and 1.375 and is closer to 1.25")
    assert neighbours(300) == (288, 320)
    assert_states(qid, "the neighbours are 288 and 320 and it rounds to 288")
    assert neighbours(0.3) == (0.28125, 0.3125)
    assert_states(qid, "it rounds to 0.3125 rather than 0.28125")
    assert_states(qid, "in the interval from 256 to 512", "0.3 lies between 0.25 and 0.5")
    assert nearest(E4M3, 500) == 448  # the saturating conversion
    assert_states(qid, "saturates it to 448")
    assert nearest(E4M3, 1.3) == 1.25
    assert_states(qid, f"relative error of about {abs(1.3 - 1.25) / 1.3:.1%}")
    assert nearest(E4M3, 300) == 288
    step_256 = sorted(v for v in E4M3 if v >= 256)[1] - 256
    assert_states(qid, f"the step is 256 / 8 = {step_256:.0f}", f"an error of {12 / 300:.0%}")
    assert nearest(E4M3, 0.3) == 0.3125
    step_quarter = sorted(v for v in E4M3 if v >= 0.25)[1] - 0.25
    assert_states(qid, f"the step is {step_quarter}", f"error of about {0.0125 / 0.3:.1%}")
    assert_states(qid, f"below 2^-4 = {2**-4:.2%}")
    assert max(E4M3) == 448
    assert_states(qid, f"largest value, {max(E4M3):.0f}")


def test_int8_and_e4m3_spacing() -> None:
    qid = "low-precision-int8-vs-fp8-grid"
    top = max(E4M3)
    assert_states(qid, f"448 / 127 ≈ {top / 127:.2f}")
    gap_at_top = top - sorted(E4M3)[-2]
    gap_at_one = min(v for v in E4M3 if v > 1) - 1
    assert_states(
        qid, f"step is {gap_at_top:.0f} near the top", f"about {gap_at_top / top:.0%} of 448"
    )
    assert_states(qid, f"but only {gap_at_one} near 1")
    assert_states(qid, "the 255 levels from -127 to 127")
    assert len(range(-127, 128)) == 255


def test_bf16_sum_stalls_at_256() -> None:
    qid = "low-precision-accumulation-stall"
    total = 0.0
    for _ in range(1000):
        total = bf16_round(total + 1.0)
    assert total == 256
    assert bf16_round(257.0) == 256 and bf16_round(258.0) == 258
    assert bf16_round(255.0) == 255
    assert_states(qid, "the result is 256 instead of 1000", f"an error of {1000 - int(total)}")
    significant = 7 + 1
    assert all(bf16_round(float(n)) == n for n in range(2**significant + 1))
    assert_states(qid, f"{significant} significant bits (7 stored", f"only up to {2**significant}")
    spacing = bf16_round(256 + 2.0) - 256
    assert spacing == 2 and bf16_round(511.0) != 511
    assert_states(
        qid, f"Between 256 and 512 the spacing between neighbouring bf16 values is {spacing:.0f}"
    )
    assert_states(qid, "adding 1 gives 257", "halfway between 256 and 258", "picks 256")
    fp32_total = np.float32(0)
    for _ in range(1000):
        fp32_total += np.float32(1)
    assert fp32_total == 1000
    assert_states(qid, "the sum reaches 1000 exactly")


def sci(value: float) -> str:
    """6.1e-5, as the references write small numbers (no leading zero in the exponent)."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def test_fp8_format_limits() -> None:
    qid = "low-precision-fp8-e4m3-vs-e5m2"
    e4_max, e5_max = max(E4M3), max(E5M2)
    assert e4_max == 2.0 ** (15 - 7) * 1.75 == 448
    assert e5_max == 2.0 ** (30 - 15) * 1.75 == 57344
    assert_states(qid, f"2^(15 - 7) × 1.75 = 256 × 1.75 = {e4_max:.0f}")
    assert_states(qid, "(exponent 15, mantissa 111) for NaN", "exponent field 15 and mantissa 110")
    assert 1 + 0b110 / 8 == 1.75 and 2**4 - 1 == 15 and 2**5 - 1 == 31
    assert_states(qid, "exponent field 31 is reserved", "with bias 7", "with bias 15")
    assert_states(qid, f"2^(30 - 15) × 1.75 = 32768 × 1.75 = {e5_max:.0f}")
    e4_normal, e5_normal = smallest_normal(E4M3, 3), smallest_normal(E5M2, 2)
    e4_sub, e5_sub = min(v for v in E4M3 if v > 0), min(v for v in E5M2 if v > 0)
    assert e4_normal == 2**-6 and e4_sub == 2**-9 and e5_normal == 2**-14 and e5_sub == 2**-16
    assert_states(qid, f"2^(1 - 7) = 2^-6 = {e4_normal}", f"2^-6 / 8 = 2^-9 ≈ {e4_sub:.5f}")
    assert_states(qid, f"2^-14 ≈ {sci(e5_normal)}", f"2^-16 ≈ {sci(e5_sub)}")
    assert_states(qid, f"only {thousands(round(e4_max / e4_normal))}")
    assert_states(qid, f"covers {thousands(round(e5_max / e5_normal))}")
    assert_states(qid, f"{len([v for v in E4M3 if 1 <= v < 2])} steps per power of two against 4")
    assert len([v for v in E5M2 if 1 <= v < 2]) == 4


def test_per_tensor_scale_flushes_small_values() -> None:
    qid = "low-precision-per-tensor-scale-outlier"
    top = max(E4M3)
    scale = 1000 / top
    scaled = 0.002 / scale
    assert nearest(E4M3, scaled) == 0
    assert_states(qid, f"1000 / 448 ≈ {scale:.3f}", f"0.002 / 2.232 ≈ {scaled:.6f}")
    smallest = min(v for v in E4M3 if v > 0)
    assert_states(qid, f"2^-9 ≈ {smallest:.5f}", f"about {smallest / 2:.6f}")
    clean_scale = 4 / top
    assert_states(qid, f"4 / 448 ≈ {clean_scale:.5f}", f"0.002 maps to {0.002 / clean_scale:.3f}")
    assert 0.002 / clean_scale > smallest_normal(E4M3, 3)
    assert_states(qid, "the largest magnitude is 4", "keeps about 3 bits of relative precision")


def test_mxfp4_block() -> None:
    qid = "low-precision-mxfp4-block-quantisation"
    magnitudes = [v for v in E2M1 if v >= 0]
    assert magnitudes == [0, 0.5, 1, 1.5, 2, 3, 4, 6]
    assert_states(qid, "0, 0.5, 1, 1.5, 2, 3, 4 and 6")
    assert_states(qid, f"4 + 8 / 32 = {4 + 8 / 32} bits")
    block = [2.8, -10.4, 22, 0.8]
    amax = max(abs(v) for v in block)
    exponent = math.floor(math.log2(amax))
    scale = 2.0 ** (exponent - math.floor(math.log2(max(E2M1))))
    scaled = [v / scale for v in block]
    codes = [nearest(E2M1, v) for v in scaled]
    restored = [c * scale for c in codes]
    assert_states(qid, f"⌊log2 22⌋ = {exponent}", f"2^(4 - 2) = {scale:g}")
    assert_states(qid, "gives [" + ", ".join(f"{v:g}" for v in scaled) + "]")
    assert_states(qid, "value gives [" + ", ".join(f"{v:g}" for v in codes) + "]")
    assert_states(qid, "gives [" + ", ".join(f"{v:g}" for v in restored) + "]")
    assert_states(qid, f"the exponent of 6 is {math.floor(math.log2(max(E2M1)))}")
    assert_states(qid, f"Dividing by {scale:g}", f"multiplying back by {scale:g}")
    assert (restored[3], restored[0]) == (0, 2)
    assert_states(qid, "0.8 vanishes and 2.8 becomes 2", f"only {len(magnitudes)} magnitudes")


def test_fake_quantisation() -> None:
    qid = "low-precision-fake-quant-ste"
    s = 0.1

    def fake_quant(x: float) -> tuple[float, float]:
        level = round(x / s)
        clipped = min(127, max(-127, level))
        gradient = 1.0 if -127 * s <= x <= 127 * s else 0.0
        return clipped * s, gradient

    small, grad_small = fake_quant(0.27)
    large, grad_large = fake_quant(20)
    assert (round(small, 10), grad_small) == (0.3, 1.0)
    assert (round(large, 10), grad_large) == (12.7, 0.0)
    assert_states(qid, f"0.27 / 0.1 = {0.27 / s:.1f} rounds to {round(0.27 / s)}")
    assert_states(qid, f"20 / 0.1 = {20 / s:.0f} is clamped to 127, so the output is {large:.1f}")
    assert_states(qid, f"from -{127 * s:.1f} to {127 * s:.1f}")
    assert_states(qid, "clamp(round(x / s), -127, 127)")
    assert_states(
        qid,
        f"a factor of {grad_small:.0f} for x = 0.27",
        f"gradient is {grad_large:.0f} for x = 20",
    )


def test_fine_grained_scale_overhead() -> None:
    qid = "low-precision-fine-grained-fp8-training"
    assert_states(qid, f"32 / 128 = {32 / 128} bits")
    assert_states(qid, f"32 / {thousands(128 * 128)} ≈ {32 / 128**2:.3f} bits")
    assert_states(qid, f"4,096 that is {4096 // 128} promotions", "every 128 elements")


def test_nvfp4_versus_mxfp4() -> None:
    qid = "low-precision-nvfp4-vs-mxfp4"
    assert_states(qid, f"4 + 8 / 16 = {4 + 8 / 16} bits", f"4 + 8 / 32 = {4 + 8 / 32}")
    top = max(E2M1)
    assert nearest(E2M1, 7) == top
    assert_states(qid, f"an error of 1/7 ≈ {1 / 7:.1%}", f"giving {7 / 2}")
    assert_states(
        qid, "scaled by 1, giving 7, which must be clamped to 6", "scaled by 1/2, giving 3.5"
    )
    unused = [v for v in E2M1 if v > 7 / 2]
    assert unused == [4, 6]
    assert_states(qid, "the grid's top values 4 and 6")
    assert_states(
        qid, f"tops out at {top:g} with only {len([v for v in E2M1 if v >= 0])} magnitudes"
    )
    extra_bits = (4 + 8 / 16) - (4 + 8 / 32)
    assert_states(qid, f"The price of NVFP4 is {extra_bits} more bits per element")


def test_serving_405b_on_one_node() -> None:
    qid = "low-precision-serving-405b-node"
    params, node = 405e9, 8 * 80
    bf16, fp8, nvfp4 = params * 2 / 1e9, params / 1e9, params * 4.5 / 8 / 1e9
    assert_states(qid, f"8 × 80 = {node} GB", f"405 × 2 = {bf16:.0f} GB")
    assert_states(qid, f"exceeds the node by {bf16 - node:.0f} GB")
    assert_states(qid, f"take {fp8:.0f} GB, leaving {node - fp8:.0f} GB")
    assert_states(qid, f"405e9 × 4.5 / 8 ≈ {nvfp4:.1f} GB, leaving about {node - nvfp4:.1f} GB")
    per_token = 2 * 126 * 8 * 128
    assert_states(qid, f"2 × 126 × 8 × 128 = {thousands(per_token)} values")
    assert_states(qid, f"{thousands(per_token)} bytes in FP8")
    assert_states(qid, f"about {node - fp8:.0f}e9 / {thousands(per_token)}")
    tokens = (node - fp8) * 1e9 / per_token
    assert_states(qid, f"≈ {tokens / 1e6:.2f} million tokens")
    assert_states(qid, f"(about {thousands(int(round(tokens, -4)))})")
    assert bf16 > node > fp8 > nvfp4


def test_e2m1_grid_is_the_documented_one() -> None:
    # guards the decoder used above: E2M1 has 15 distinct values (zero once) and tops out at 6
    assert len(E2M1) == 15 and max(E2M1) == 6
    assert pytest.approx(min(v for v in E2M1 if v > 0)) == 0.5
