"""Recompute the numbers stated in the graph-neural-networks references.

Each test rebuilds the small graph or setting of its question with numpy, recomputes the values
and checks that the reference states them (tests/questions/numeric.py).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from tests.questions.numeric import (
    assert_states,
    assert_states_number,
    fmt_list,
    softmax,
    thousands,
)


def adjacency(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
    """Symmetric 0/1 adjacency matrix of an undirected graph with nodes 0..n-1."""
    matrix = np.zeros((n, n))
    for u, v in edges:
        matrix[u, v] = matrix[v, u] = 1.0
    return matrix


def test_mean_aggregation_by_hand() -> None:
    qid = "graph-neural-networks-mean-aggregation-by-hand"
    x = np.array([4.0, 2.0, 6.0, 8.0])
    a_tilde = adjacency(4, [(0, 1), (0, 2), (0, 3), (1, 2)]) + np.eye(4)
    propagation = a_tilde / a_tilde.sum(axis=1, keepdims=True)
    new = propagation @ x
    assert np.allclose(propagation.sum(axis=1), 1.0)
    assert np.allclose(new, np.round(new))
    assert_states(qid, fmt_list(np.round(new)))
    closed = a_tilde > 0
    neighbours = {v + 1: [u + 1 for u in range(4) if closed[v, u] and u != v] for v in range(4)}
    assert neighbours == {1: [2, 3, 4], 2: [1, 3], 3: [1, 2], 4: [1]}
    assert_states(qid, "Node 1 has neighbours 2, 3 and 4", "Node 2 has neighbours 1 and 3")
    assert_states(qid, "Node 3 has neighbours 1 and 2", "Node 4 has only node 1 as a neighbour")
    for node in range(4):
        # the node's own value first, then its neighbours in index order, as the reference writes it
        order = [node] + [u for u in range(4) if closed[node, u] and u != node]
        terms = " + ".join(f"{x[u]:.0f}" for u in order)
        assert_states(qid, f"({terms}) / {len(order)} = {new[node]:.0f}")
    assert_states(qid, f"lie between {new.min():.0f} and {new.max():.0f}")
    assert_states(qid, f"instead of between {x.min():.0f} and {x.max():.0f}")


def test_orderings_of_ten_nodes() -> None:
    assert_states(
        "graph-neural-networks-why-not-mlp-on-adjacency", f"10! = {thousands(math.factorial(10))}"
    )


def test_gcn_star_normalisation() -> None:
    qid = "graph-neural-networks-gcn-normalisation"
    a_tilde = adjacency(4, [(0, 1), (0, 2), (0, 3)]) + np.eye(4)
    degree = a_tilde.sum(axis=1)
    inv_sqrt = np.diag(degree**-0.5)
    propagation = inv_sqrt @ a_tilde @ inv_sqrt
    assert degree[0] == 4 and degree[1] == 2
    assert_states(qid, "centre has degree 4", "each leaf has degree 2")
    assert_states(qid, f"1/4 = {propagation[0, 0]:.2f}", f"1/2 = {propagation[1, 1]:.1f}")
    assert_states(qid, f"1 / sqrt({degree[0] * degree[1]:.0f}) ≈ {propagation[0, 1]:.3f}")
    assert propagation[1, 2] == 0
    eigenvalues = np.linalg.eigvalsh(propagation)
    assert eigenvalues.min() >= -1 - 1e-12 and eigenvalues.max() <= 1 + 1e-12
    assert_states(qid, f"row sums to about {propagation[0].sum():.2f}")


def test_graphsage_fanout() -> None:
    qid = "graph-neural-networks-graphsage-sampling"
    fanouts, batch = (25, 10), 512
    per_target = 1 + fanouts[0] + fanouts[0] * fanouts[1]
    assert_states(qid, f"1 + 25 + 25 × 10 = {per_target}")
    assert_states(qid, f"512 × {per_target} = {thousands(batch * per_target)}")


def test_gat_softmax_and_aggregate() -> None:
    qid = "graph-neural-networks-gat-attention"
    weights = softmax([1.0, 0.0, 2.0])
    aggregate = float(weights @ np.array([2.0, -1.0, 4.0]))
    features = [2, -1, 4]
    terms = " + ".join(
        f"{w:.3f} × {f if f >= 0 else f'({f})'}" for w, f in zip(weights, features, strict=True)
    )
    assert_states(qid, fmt_list(weights, 3), f"{terms} ≈ {aggregate:.2f}")


def test_graph_batch_offsets() -> None:
    qid = "graph-neural-networks-mini-batching-graphs"
    sizes = [5, 3, 4]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    batch_vector = np.repeat(np.arange(len(sizes)), sizes)
    assert_states(qid, f"the batch has {sum(sizes)} nodes")
    assert_states(qid, "offsets are " + ", ".join(str(o) for o in offsets[:-1]))
    assert_states(
        qid, f"and {offsets[-1]}, so node 0 of the third graph becomes node {offsets[-1]}"
    )
    assert_states(qid, fmt_list(batch_vector))


def test_over_squashing_receptive_field() -> None:
    assert_states("graph-neural-networks-over-squashing", f"3^5 = {3**5}")


def wl_histograms(a: np.ndarray, rounds: int) -> list[Counter[int]]:
    """1-WL colour refinement from a uniform start; colours are relabelled per round jointly for
    every graph passed, so histograms of different graphs compare (see the caller)."""
    n = a.shape[0]
    colours = [0] * n
    history = []
    for _ in range(rounds):
        signatures = [
            (colours[v], tuple(sorted(colours[u] for u in range(n) if a[v, u]))) for v in range(n)
        ]
        colours = [hash(signature) for signature in signatures]
        history.append(Counter(colours))
    return history


def test_wl_cannot_separate_two_triangles_from_hexagon() -> None:
    qid = "graph-neural-networks-wl-expressiveness"
    triangles = adjacency(6, [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3)])
    hexagon = adjacency(6, [(i, (i + 1) % 6) for i in range(6)])
    assert wl_histograms(triangles, 4) == wl_histograms(hexagon, 4)
    for graph in (triangles, hexagon):
        assert graph.shape[0] == 6 and set(graph.sum(axis=1)) == {2.0}
    assert_states(qid, "each have 6 nodes, all of degree 2")
    triangle_counts = [
        round(np.trace(np.linalg.matrix_power(g, 3)) / 6) for g in (triangles, hexagon)
    ]
    assert_states(
        qid, f"contains {triangle_counts[0]} triangles", f"has {triangle_counts[1]} triangles"
    )


def test_aggregator_multisets() -> None:
    qid = "graph-neural-networks-aggregator-injectivity"
    multisets = {"A": [1, 1], "B": [1], "C": [1, 3], "D": [2, 2]}
    for name, values in multisets.items():
        mean, top, total = np.mean(values), max(values), sum(values)
        assert_states(qid, f"{name}: mean {mean:g}, max {top}, sum {total}")
    squares = {name: sum(v**2 for v in values) for name, values in multisets.items()}
    assert squares["C"] != squares["D"]
    assert_states(qid, f"C gives 1 + 9 = {squares['C']}", f"D gives 4 + 4 = {squares['D']}")
    assert_states_number(qid, squares["C"], squares["D"])
