"""Recompute the numbers stated in the time-series references: differencing, AR(1)
autocorrelations, rolling-origin folds, forecast metrics, the MAPE-optimal forecast, pinball
losses, the newsvendor quantile, exponential smoothing and MASE."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from tests.questions.numeric import assert_states


def test_differencing_to_stationarity() -> None:
    qid = "time-series-stationarity-differencing"
    series = np.array([100, 104, 109, 115, 122])
    first = np.diff(series)
    second = np.diff(series, n=2)
    assert len(set(first)) > 1 and len(set(second)) == 1  # d = 2
    assert_states(
        qid,
        "first differences are " + ", ".join(str(v) for v in first),
        "second differences are " + ", ".join(str(v) for v in second) + ", constant",
        "needs d = 2",
    )


def test_ar1_autocorrelation() -> None:
    qid = "time-series-acf-pacf-identification"
    phi = 0.8
    acf = [phi**k for k in (1, 2, 3)]
    # Cross-check against a long simulated AR(1) series.
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(200_000)
    y = np.zeros_like(noise)
    for t in range(1, len(y)):
        y[t] = phi * y[t - 1] + noise[t]
    sample_acf = [np.corrcoef(y[:-k], y[k:])[0, 1] for k in (1, 2, 3)]
    assert np.allclose(sample_acf, acf, atol=0.01)
    assert_states(qid, f"so it is {acf[0]:.1f}, {acf[1]:.2f} and {acf[2]:.3f} at lags 1, 2 and 3")


def test_rolling_origin_folds() -> None:
    qid = "time-series-rolling-origin-evaluation"
    months, initial, horizon, step = 36, 24, 3, 3
    origins = list(range(initial, months - horizon + 1, step))
    windows = [f"{o + 1}-{o + horizon}" for o in origins]
    assert_states(
        qid,
        "origins fall after months "
        + ", ".join(str(o) for o in origins[:-1])
        + f" and {origins[-1]}",
        f"giving {len(origins)} folds",
        "months " + ", ".join(windows[:-1]) + f" and {windows[-1]}",
    )


def test_forecast_metrics() -> None:
    qid = "time-series-forecast-metrics-example"
    actual = np.array([100.0, 50.0, 10.0, 200.0])
    forecast = np.array([110.0, 45.0, 20.0, 190.0])
    errors = np.abs(actual - forecast)
    ape = errors / actual
    smape_terms = errors / ((np.abs(actual) + np.abs(forecast)) / 2)
    assert_states(
        qid,
        "absolute errors are "
        + ", ".join(f"{e:.0f}" for e in errors[:3])
        + f" and {errors[3]:.0f}",
        f"MAE = {errors.sum():.0f} / 4 = {errors.mean():.2f}",
        ", ".join(f"{100 * a:.0f}%" for a in ape[:3]) + f" and {100 * ape[3]:.0f}%",
        f"MAPE = {100 * ape.sum():.0f}% / 4 = {100 * ape.mean():.2f}%",
        f"10 / 105 = {100 * smape_terms[0]:.1f}%",
        f"5 / 47.5 = {100 * smape_terms[1]:.1f}%",
        f"10 / 15 = {100 * smape_terms[2]:.1f}%",
        f"10 / 195 = {100 * smape_terms[3]:.1f}%",
        f"giving {100 * smape_terms.mean():.2f}%",
        f"{errors.sum():.0f} / {actual.sum():.0f} = {100 * errors.sum() / actual.sum():.2f}%",
    )


def test_mape_optimal_forecast() -> None:
    qid = "time-series-mape-optimal-forecast-bias"
    outcomes = np.array([50.0, 150.0])
    grid = np.linspace(1, 200, 19_901)  # steps of 0.01

    def expected(loss: np.ndarray) -> np.ndarray:
        return loss.mean(axis=1)

    diff = grid[:, None] - outcomes[None, :]
    mape = expected(np.abs(diff) / outcomes)
    mae = expected(np.abs(diff))
    mse = expected(diff**2)
    assert grid[mape.argmin()] == 50.0
    assert grid[mse.argmin()] == 100.0
    in_range = (grid >= 50) & (grid <= 150)
    assert np.allclose(mae[in_range], 50.0) and (mae[~in_range] > 50.0).all()
    assert np.allclose(mape[in_range], grid[in_range] / 150)

    def at(value: float) -> float:
        return float(mape[np.isclose(grid, value)][0])

    assert_states(
        qid,
        f"expected MAPE of 1/3, or {100 * at(50):.1f}%",
        f"100 scores {100 * at(100):.1f}% and 150 scores {100 * at(150):.0f}%",
        "is the same, 50,",
        "the mean, 100",
    )


def pinball(actual: float, forecast: float, tau: float) -> float:
    diff = actual - forecast
    return max(tau * diff, (tau - 1) * diff)


def test_pinball_losses() -> None:
    qid = "time-series-quantile-pinball-loss"
    tau = 0.9
    low, high = pinball(100, 90, tau), pinball(100, 110, tau)
    # The empirical minimiser of the average pinball loss is the tau-quantile.
    sample = np.random.default_rng(0).normal(size=20_001)
    candidates = np.linspace(0.5, 2.0, 301)
    losses = [np.mean(np.maximum(tau * (sample - q), (tau - 1) * (sample - q))) for q in candidates]
    assert abs(candidates[int(np.argmin(losses))] - np.quantile(sample, tau)) < 0.01
    assert_states(
        qid,
        f"costs 0.9 × 10 = {low:.0f}",
        f"costs 0.1 × 10 = {high:.0f}",
        "nine times as expensive",
        f"roughly {round(100 * (0.9 - 0.1))}% of outcomes",
    )
    assert round(low / high) == 9


def test_newsvendor_quantile() -> None:
    qid = "time-series-probabilistic-newsvendor"
    under, over = 3, 1
    ratio = under / (under + over)
    z = NormalDist().inv_cdf(ratio)
    stock = NormalDist(100, 20).inv_cdf(ratio)
    assert_states(
        qid,
        f"3 / (3 + 1) = {ratio:.2f}",
        f"100 + {z:.3f} × 20 = {stock:.1f}",
        f"about {int(stock)} or {int(stock) + 1} units",
    )


def test_simple_exponential_smoothing() -> None:
    qid = "time-series-exponential-smoothing"
    alpha, level = 0.5, 10.0
    levels = []
    for observation in (12.0, 14.0):
        level = alpha * observation + (1 - alpha) * level
        levels.append(level)
    weights = [alpha * (1 - alpha) ** j for j in range(3)]
    assert_states(
        qid,
        "weights are " + ", ".join(f"{w:g}" for w in weights),
        f"l_1 = 0.5 × 12 + 0.5 × 10 = {levels[0]:g}",
        f"l_2 = 0.5 × 14 + 0.5 × 11 = {levels[1]:g}",
        f"so {levels[1]:g} for each of the next three periods",
    )


def test_mase() -> None:
    qid = "time-series-mase-scaled-error"
    train = np.array([10.0, 12.0, 11.0, 13.0, 12.0])
    actual, forecast = np.array([14.0, 13.0]), np.array([11.0, 16.0])
    naive_errors = np.abs(np.diff(train))
    scale = naive_errors.mean()
    mae = np.abs(actual - forecast).mean()
    assert_states(
        qid,
        "a mean of " + f"{scale:.1f}",
        f"an MAE of {mae:.1f}",
        f"MASE = {mae:.1f} / {scale:.1f} = {mae / scale:.1f}",
    )
    assert list(naive_errors) == [2.0, 1.0, 2.0, 1.0]
