"""Recompute the numbers stated in the detection-segmentation references.

IoU, NMS, average precision, Hungarian matching, soft-NMS and FPN level assignment are
reimplemented here from their definitions; each test checks that the reference states the result
(tests/questions/numeric.py).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from tests.questions.numeric import assert_states, thousands

Box = tuple[float, float, float, float]


def area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def intersection(a: Box, b: Box) -> float:
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    return inter / (area(a) + area(b) - inter)


def greedy_nms(boxes: dict[str, Box], scores: dict[str, float], threshold: float) -> list[str]:
    remaining = sorted(boxes, key=lambda name: -scores[name])
    kept: list[str] = []
    while remaining:
        best = remaining.pop(0)
        kept.append(best)
        remaining = [n for n in remaining if iou(boxes[best], boxes[n]) <= threshold]
    return kept


def test_iou_worked_example() -> None:
    qid = "detection-segmentation-iou-worked-example"
    truth, prediction = (10, 10, 50, 50), (30, 20, 70, 60)
    inter = intersection(truth, prediction)
    union = area(truth) + area(prediction) - inter
    value = iou(truth, prediction)
    x_overlap = (max(truth[0], prediction[0]), min(truth[2], prediction[2]))
    y_overlap = (max(truth[1], prediction[1]), min(truth[3], prediction[3]))
    assert_states(qid, f"spans x from {x_overlap[0]} to {x_overlap[1]}")
    assert_states(qid, f"and y from {y_overlap[0]} to {y_overlap[1]}")
    side = truth[2] - truth[0]
    assert_states(qid, f"Each box is {side} × {side} = {area(truth):.0f}")
    assert_states(qid, f"20 × 30 = {inter:.0f}", f"1600 + 1600 - 600 = {union:.0f}")
    assert_states(qid, f"600 / 2600 = 3/13 ≈ {value:.3f}")
    assert value < 0.5
    assert value == 3 / 13


def test_anchor_count() -> None:
    qid = "detection-segmentation-anchor-boxes"
    anchors = 38 * 50 * (3 * 3)
    assert_states(qid, f"there are {3 * 3} anchors per location")
    assert_states(qid, f"38 × 50 × 9 = {thousands(anchors)}")
    assert_states(qid, f"{thousands(anchors)} × 4 = {thousands(anchors * 4)}")


def test_nms_worked_example() -> None:
    qid = "detection-segmentation-nms-worked-example"
    boxes: dict[str, Box] = {
        "A": (0, 0, 10, 10),
        "B": (1, 1, 11, 11),
        "C": (20, 20, 30, 30),
        "D": (5, 0, 15, 10),
        "E": (21, 21, 31, 31),
    }
    scores = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.6, "E": 0.5}
    assert greedy_nms(boxes, scores, 0.5) == ["A", "C", "D"]
    assert_states(qid, "The survivors are A, C and D")
    ab, ad, ce = (
        iou(boxes["A"], boxes["B"]),
        iou(boxes["A"], boxes["D"]),
        iou(boxes["C"], boxes["E"]),
    )
    assert ab == ce
    assert_states(qid, f"81 / (100 + 100 - 81) = 81/119 ≈ {ab:.3f}", f"50 / 150 ≈ {ad:.3f}")
    assert iou(boxes["C"], boxes["D"]) == 0
    assert_states(qid, "D, with IoU 0 to C")
    a, b, d = boxes["A"], boxes["B"], boxes["D"]
    ab_sides = (min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1]))
    ad_sides = (min(a[2], d[2]) - max(a[0], d[0]), min(a[3], d[3]) - max(a[1], d[1]))
    assert_states(
        qid,
        f"in a {ab_sides[0]} × {ab_sides[1]} square",
        f"in a {ad_sides[0]} × {ad_sides[1]} strip",
    )
    assert_states(qid, f"IoU ≈ {ce:.3f}, so E is suppressed")


def short(value: float) -> str:
    """0.5, 0.667, 1.0: three decimals at most, trailing zeros dropped but one kept."""
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def spoken_list(values: np.ndarray) -> str:
    """[1, 0.5, 0.6] as the reference writes it: 1.0, 0.5 and 0.6."""
    items = [short(float(v)) for v in values]
    return ", ".join(items[:-1]) + " and " + items[-1]


def test_average_precision_all_points() -> None:
    qid = "detection-segmentation-average-precision"
    hits = np.array([1, 0, 1, 1, 0])
    n_truth = 4
    true_positives = np.cumsum(hits)
    precision = true_positives / np.arange(1, len(hits) + 1)
    recall = true_positives / n_truth
    assert_states(qid, f"The precisions are {spoken_list(precision)}")
    assert_states(qid, f"recalls {spoken_list(recall)}")
    # all-point interpolation: area under the monotone envelope, stepping at each recall change
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    previous_recall, ap = 0.0, 0.0
    for r, p in zip(recall, envelope, strict=True):
        ap += (r - previous_recall) * p
        previous_recall = r
    assert_states(qid, f"0.25 × 1.0 + 0.25 × 0.75 + 0.25 × 0.75 = {ap:.3f}")
    interpolated = {float(r): float(precision[recall >= r].max()) for r in np.unique(recall)}
    assert interpolated == {0.25: 1.0, 0.5: 0.75, 0.75: 0.75}
    assert_states(qid, "1.0 up to recall 0.25, then 0.75 up to recall 0.75")
    assert_states(qid, f"caps recall at {recall.max()}")
    assert not (precision[recall > recall.max()]).size  # nothing beyond: interpolated precision 0
    assert_states(qid, "up to recall 0.75, and 0 beyond")
    thresholds = np.arange(0.50, 0.951, 0.05)
    assert_states(qid, f"{len(thresholds)} IoU thresholds from 0.50 to 0.95 in steps of 0.05")
    assert_states(qid, f"recall at {len(np.linspace(0, 1, 101))} points")


def test_yolo_v1_output_size() -> None:
    s, b, c = 7, 2, 20
    per_cell = b * 5 + c
    assert_states(
        "detection-segmentation-yolo-family",
        f"7 × 7 × (2 × 5 + 20) = 7 × 7 × {per_cell} = {thousands(s * s * per_cell)}",
    )


def test_roi_coordinate_rounding() -> None:
    qid = "detection-segmentation-roialign"
    stride, x = 16, 100
    exact = x / stride
    rounded = round(exact)
    assert_states(qid, f"100 / 16 = {exact}", f"rounds it to {rounded}")
    assert_states(qid, f"keeps the exact coordinate {exact}")
    assert_states(
        qid, f"a shift of {exact - rounded} cells, or {(exact - rounded) * stride:.0f} pixels"
    )


def test_focal_loss_values() -> None:
    qid = "detection-segmentation-focal-loss"
    gamma = 2

    def focal(p_t: float) -> float:
        return -((1 - p_t) ** gamma) * math.log(p_t)

    assert_states(qid, f"-ln 0.9 ≈ {-math.log(0.9):.3f}", f"(1 - 0.9)^2 = {(1 - 0.9) ** 2:.2f}")
    assert_states(qid, f"about {focal(0.9):.5f}", f"a {round(1 / (1 - 0.9) ** gamma)}-fold")
    assert_states(qid, f"-ln 0.1 ≈ {-math.log(0.1):.3f}", f"factor {(1 - 0.1) ** gamma:.2f}")
    assert_states(qid, f"about {focal(0.1):.3f}")
    prior = 0.01
    bias = -math.log((1 - prior) / prior)
    assert_states(qid, f"b = -ln(99) ≈ {bias:.3f}")


def test_detr_matching() -> None:
    qid = "detection-segmentation-detr-hungarian-matching"
    cost = np.array([[0.1, 0.2], [0.3, 0.9], [0.6, 0.8]])
    best = min(
        itertools.permutations(range(3), 2),
        key=lambda preds: sum(cost[p, obj] for obj, p in enumerate(preds)),
    )
    assert best == (1, 0)  # object 1 <- pred 2, object 2 <- pred 1 (1-based in the reference)
    optimum = sum(cost[p, obj] for obj, p in enumerate(best))
    unmatched = ({0, 1, 2} - set(best)).pop()
    assert_states(
        qid,
        f"pairs object 1 with pred {best[0] + 1} and object 2 with pred {best[1] + 1}",
        f"pred {unmatched + 1} becomes no object",
    )
    assert_states(qid, f"total 0.3 + 0.2 = {optimum:.1f}")
    # greedy: cheapest pair first, then the cheapest among what is left
    first = np.unravel_index(np.argmin(cost), cost.shape)
    rest = [cost[p, 1 - first[1]] for p in range(3) if p != first[0]]
    greedy = cost[first] + min(rest)
    second = [p for p in range(3) if p != first[0]][int(np.argmin(rest))]
    assert_states(
        qid,
        f"takes pred {first[0] + 1} for object {first[1] + 1} at {cost[first]}, leaving object "
        f"{2 - first[1]} with pred {second + 1} at {min(rest)}",
    )
    assert_states(qid, f"a total of {greedy:.1f}")
    assert greedy > optimum


def test_soft_nms_scores() -> None:
    qid = "detection-segmentation-soft-nms"
    score, overlap, sigma = 0.8, 0.6, 0.5
    assert_states(qid, f"0.8 × (1 - 0.6) = {score * (1 - overlap):.2f}")
    assert_states(
        qid,
        f"0.8 × exp(-{overlap**2:.2f} / 0.5) = 0.8 × exp(-{overlap**2 / sigma:.2f}) "
        f"≈ {score * math.exp(-(overlap**2) / sigma):.3f}",
    )


def test_fpn_level_assignment() -> None:
    qid = "detection-segmentation-fpn-levels"

    def level(side: float) -> float:
        return 4 + math.log2(side / 224)

    assert math.floor(level(112)) == 3 and math.floor(level(224)) == 4
    assert math.floor(level(448)) == 5
    assert_states(qid, "k = 4 + log2(0.5) = 3, so P3", "k = 4, so P4", "k = 4 + 1 = 5, so P5")
    assert_states(qid, f"≈ {level(32):.2f}, floor {math.floor(level(32))}")
    assert max(2, math.floor(level(32))) == 2
    assert_states(qid, "clamped to the finest available level, P2")
    assert_states(qid, f"P2 to P5, at strides {2**2} to {2**5}")
