"""Recompute the numbers stated in the speech references.

Frame counts, word error rate (by edit distance), CTC collapsing, path sums and the forward
algorithm, transducer memory, masking coverage and codec bitrates are recomputed from their
definitions; each test checks that the reference states the result (tests/questions/numeric.py).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tests.questions.numeric import assert_states, thousands

BLANK = "_"


def collapse(path: list[str]) -> str:
    """CTC collapsing: merge consecutive repeats, then drop blanks."""
    merged = [symbol for symbol, _ in itertools.groupby(path)]
    return "".join(symbol for symbol in merged if symbol != BLANK)


def word_edit_counts(reference: list[str], hypothesis: list[str]) -> tuple[int, int, int]:
    """(substitutions, deletions, insertions) of a minimum-cost word alignment."""
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    cost = np.zeros((rows, cols), dtype=int)
    cost[:, 0] = np.arange(rows)
    cost[0, :] = np.arange(cols)
    for i in range(1, rows):
        for j in range(1, cols):
            same = reference[i - 1] == hypothesis[j - 1]
            cost[i, j] = min(
                cost[i - 1, j - 1] + (0 if same else 1), cost[i - 1, j] + 1, cost[i, j - 1] + 1
            )
    i, j, subs, dels, ins = len(reference), len(hypothesis), 0, 0, 0
    while i > 0 or j > 0:
        if (
            i > 0
            and j > 0
            and cost[i, j] == cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1])
        ):
            subs += reference[i - 1] != hypothesis[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            dels, i = dels + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return subs, dels, ins


def test_log_mel_frame_arithmetic() -> None:
    qid = "speech-log-mel-features"
    rate, window, hop = 16_000, 0.025, 0.010
    window_samples, hop_samples = round(rate * window), round(rate * hop)
    frames_per_second = rate // hop_samples
    samples = 30 * rate
    assert_states(
        qid, f"0.025 × 16,000 = {window_samples} samples", f"hop is {hop_samples} samples"
    )
    assert_states(qid, f"16,000 / 160 = {frames_per_second} frames per second")
    assert_states(qid, f"overlap by {round(1000 * (window - hop))} ms")
    assert_states(
        qid, f"has {thousands(samples)} samples", f"30 × 100 = {thousands(30 * frames_per_second)}"
    )
    # padding conventions: no padding vs centred frames; both within two frames of 3,000
    unpadded = 1 + (samples - window_samples) // hop_samples
    centred = 1 + samples // hop_samples
    assert abs(unpadded - 3000) <= 2 and abs(centred - 3000) <= 2
    assert_states(
        qid, f"has {window_samples // 2 + 1} frequency bins spaced 16,000 / 400 = {rate // 400} Hz"
    )


def test_word_error_rate() -> None:
    qid = "speech-wer-worked-example"
    reference = "turn the kitchen lights off now".split()
    hypothesis = "turn kitchen light off now please".split()
    subs, dels, ins = word_edit_counts(reference, hypothesis)
    assert (subs, dels, ins) == (1, 1, 1)
    wer = (subs + dels + ins) / len(reference)
    assert_states(qid, f"the reference has {len(reference)} words")
    assert_states(qid, f"S = {subs}, D = {dels}, I = {ins} and WER = 3 / 6 = {wer}, or {wer:.0%}")


def test_ctc_collapsing() -> None:
    qid = "speech-ctc-blank-collapse"
    first = "h h _ e _ l l _ l o o".split()
    merged = " ".join(symbol for symbol, _ in itertools.groupby(first))
    assert_states(qid, f'merging repeats gives "{merged}"')
    assert_states(qid, f'the first sequence collapses to "{collapse(first)}"')
    assert_states(qid, f'without blanks, collapses to "{collapse("h e l l o".split())}"')


def test_greedy_versus_best_transcript() -> None:
    qid = "speech-ctc-greedy-vs-beam"
    probs = {"a": 0.4, BLANK: 0.6}
    totals: dict[str, float] = {}
    for path in itertools.product(probs, repeat=2):
        totals[collapse(list(path))] = totals.get(collapse(list(path)), 0.0) + math.prod(
            probs[s] for s in path
        )
    best_path = max(
        itertools.product(probs, repeat=2), key=lambda p: math.prod(probs[s] for s in p)
    )
    assert collapse(list(best_path)) == ""
    assert max(totals, key=totals.__getitem__) == "a"
    assert_states(qid, f"0.6 × 0.6 = {totals['']:.2f}")
    assert_states(qid, f'P("a") = {totals["a"]:.2f}')
    path_probability = {
        " ".join("blank" if s == BLANK else s for s in path): math.prod(probs[s] for s in path)
        for path in itertools.product(probs, repeat=2)
    }
    assert_states(qid, f"a a (0.4 × 0.4 = {path_probability['a a']:.2f})")
    assert_states(qid, f"a blank ({path_probability['a blank']:.2f})")
    assert_states(qid, f"blank a ({path_probability['blank a']:.2f})")
    assert_states(qid, f"far more than {totals['']:.2f}")


def minimum_ctc_frames(label: str) -> int:
    return len(label) + sum(a == b for a, b in itertools.pairwise(label))


def test_ctc_minimum_frames() -> None:
    qid = "speech-ctc-assumptions"
    assert_states(qid, f"so it needs {minimum_ctc_frames('hello')} frames")
    assert_states(qid, f"so it needs {minimum_ctc_frames('bookkeeper')} frames")
    assert_states(qid, f'"bookkeeper" has {len("bookkeeper")} letters')
    assert_states(qid, f'"hello" has {len("hello")} letters')


def test_whisper_encoder_positions() -> None:
    qid = "speech-whisper-architecture"
    frames = 30 * 100
    positions = frames // 2
    assert_states(qid, f"{thousands(frames)} frames at 10 ms", f"to {thousands(positions)} encoder")
    assert_states(qid, f"each covering {round(30_000 / positions)} ms")


def test_streaming_lookahead() -> None:
    assert_states("speech-streaming-asr", f"12 × 3 × 40 = {thousands(12 * 3 * 40)} ms")


def test_diarisation_error_rate() -> None:
    qid = "speech-speaker-diarisation"
    errors = 12 + 30 + 18
    assert_states(qid, f"(12 + 30 + 18) / 600 = {errors} / 600 = {errors / 600:.0%}")


def test_transducer_joint_tensor() -> None:
    qid = "speech-rnnt-transducer"
    t, u, v = 500, 100, 1024
    logits = t * (u + 1) * v
    per_utterance = logits * 4
    assert_states(qid, f"500 × {u + 1} × 1,024 = {thousands(logits)}")
    assert_states(
        qid, f"about {per_utterance / 1e6:.1f} MB", f"about {16 * per_utterance / 1e9:.2f} GB"
    )


def test_ctc_path_sum_and_forward_algorithm() -> None:
    qid = "speech-ctc-forward-algorithm"
    probs = {"a": 0.5, "b": 0.3, BLANK: 0.2}
    frames = 3
    valid = [p for p in itertools.product(probs, repeat=frames) if collapse(list(p)) == "ab"]
    assert len(valid) == 5
    total = sum(math.prod(probs[s] for s in path) for path in valid)
    assert_states(qid, f"A valid path has {frames} symbols")
    for path in valid:
        written = " ".join("blank" if s == BLANK else s for s in path)
        value = f"{math.prod(probs[s] for s in path):.3f}".rstrip("0")
        assert_states(qid, f"{written} ({value})" if path != ("a", "a", "b") else written)
    assert_states(qid, "a a b (0.5 × 0.5 × 0.3 = 0.075)")
    assert_states(qid, f'P("ab") = {total:.2f}', f"-ln 0.21 ≈ {-math.log(total):.3f}")
    # forward algorithm over the extended sequence _ a _ b _
    extended = [BLANK, "a", BLANK, "b", BLANK]
    alpha = np.zeros(len(extended))
    alpha[0], alpha[1] = probs[BLANK], probs["a"]
    for _ in range(1, frames):
        previous = alpha.copy()
        for s, symbol in enumerate(extended):
            reach = previous[s] + (previous[s - 1] if s >= 1 else 0.0)
            if s >= 2 and symbol != BLANK and symbol != extended[s - 2]:
                reach += previous[s - 2]
            alpha[s] = reach * probs[symbol]
    assert alpha[-1] + alpha[-2] == pytest.approx(total)
    assert_states(qid, f"of length 2U + 1 = {len(extended)}")


def test_wav2vec_frame_rate_and_masking() -> None:
    qid = "speech-self-supervised-pretraining"
    assert_states(
        qid, f"16,000 / 320 = {16_000 // 320} frames per second, one per {320 / 16:.0f} ms"
    )
    masked = 1 - (1 - 0.065) ** 10
    assert_states(qid, f"≈ {masked:.3f}, about {masked:.0%} of frames")
    rng = np.random.default_rng(0)
    starts = rng.random((2_000, 1_000)) < 0.065
    covered = np.zeros_like(starts)
    for offset in range(10):
        covered[:, offset:] |= starts[:, : starts.shape[1] - offset]
    assert covered[:, 10:].mean() == pytest.approx(masked, abs=0.005)


def test_codec_bitrate() -> None:
    qid = "speech-codec-language-model-tts"
    frames, codebooks, entries = 75, 8, 1024
    bits = int(math.log2(entries))
    bitrate = frames * codebooks * bits
    pcm_kbps = 24_000 * 16 // 1000
    assert_states(qid, f"2^{bits} entries carries {bits} bits")
    assert_states(qid, f"75 frames × 8 codebooks × 10 bits = {thousands(bitrate)} bits per second")
    assert_states(qid, f"{bitrate // 1000} kbps, against {pcm_kbps} kbps")
    tokens = frames * codebooks
    assert_states(qid, f"75 × 8 = {tokens} tokens per second", f"{thousands(10 * tokens)} tokens")
