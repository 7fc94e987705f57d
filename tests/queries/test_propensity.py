"""The estimator of unobserved acceptance: recovers a known model, says when it cannot fit, measures calibration."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from queries import propensity

N = 6_000


def leads(seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "score_demographic": rng.uniform(0, 100, N),
            "score_firmographic": rng.uniform(0, 100, N),
            "score_behavioural": rng.uniform(0, 100, N),
            "score_engagement": rng.uniform(0, 100, N),
            "company": np.where(rng.random(N) < 0.8, "Acme", None),
            "role": np.where(rng.random(N) < 0.1, "student", "manager"),
            "has_budget": rng.random(N) < 0.5,
            "has_need": rng.random(N) < 0.5,
            "is_authority": rng.random(N) < 0.3,
        }
    )


def with_outcome(frame: pl.DataFrame, seed: int = 4) -> tuple[pl.DataFrame, np.ndarray]:
    """An outcome drawn from a known logistic model in firmographic fit and a missing company."""
    rng = np.random.default_rng(seed)
    logit = -2.0 + 4.0 * frame["score_firmographic"].to_numpy() / 100 - 1.5 * frame["company"].is_null().to_numpy()
    p = 1 / (1 + np.exp(-logit))
    return frame.with_columns(pl.Series("accepted", rng.random(N) < p)), p


def test_the_fit_recovers_the_true_probabilities():
    frame, truth = with_outcome(leads())
    fit = propensity.fit(frame, outcome="accepted")
    estimated = frame.select(fit.probability()).to_series().to_numpy()
    assert np.mean(np.abs(estimated - truth)) < 0.03
    assert fit.calibration_error < 0.05
    assert fit.base_rate == pytest.approx(frame["accepted"].mean())


def test_the_fit_extrapolates_beyond_the_region_it_saw():
    """Fitted only on leads above a score cut (as sales only decides MQLs), it still predicts those below."""
    frame, truth = with_outcome(leads())
    seen = (frame["score_firmographic"] >= 50).to_numpy()
    fit = propensity.fit(frame.filter(pl.Series(seen)), outcome="accepted")
    below = frame.filter(pl.Series(~seen))
    estimated = below.select(fit.probability()).to_series().to_numpy()
    assert abs(estimated.sum() - truth[~seen].sum()) < 0.1 * truth[~seen].sum()


@pytest.mark.parametrize(
    ("outcomes", "rate"),
    [
        pytest.param([True] * 100, 0.999, id="one class only"),
        pytest.param([True, False] * 5, 0.5, id="too few leads"),
    ],
)
def test_a_flat_rate_when_the_data_cannot_support_a_model(outcomes, rate):
    frame = leads().head(len(outcomes)).with_columns(pl.Series("accepted", outcomes))
    fit = propensity.fit(frame, outcome="accepted")
    assert frame.select(fit.probability()).to_series().to_list() == pytest.approx([rate] * len(outcomes))
    assert fit.calibration_error == propensity.UNMEASURED_CALIBRATION_ERROR


def test_no_fit_without_a_single_labelled_lead():
    frame = leads().head(5).with_columns(pl.Series("accepted", [None] * 5, dtype=pl.Boolean))
    assert propensity.fit(frame, outcome="accepted") is None


def test_missing_steps_fall_back_to_zero_and_the_assumed_error():
    fitted = propensity.Propensities(accept=None, sql=None, win=None)
    values = leads().head(3).select(**fitted.expressions())
    assert values["p_accept"].to_list() == [0.0, 0.0, 0.0]
    assert fitted.calibration_error["accept"] == propensity.UNMEASURED_CALIBRATION_ERROR


@pytest.mark.parametrize(
    ("predicted", "observed", "expected"),
    [
        (np.full(400, 0.5), np.tile([1.0, 0.0], 200), 0.0),  # perfectly calibrated
        (np.full(400, 0.8), np.tile([1.0, 0.0], 200), 0.3),  # 0.3 too high everywhere
        (np.full(10, 0.5), np.ones(10), propensity.UNMEASURED_CALIBRATION_ERROR),  # too few to measure
    ],
)
def test_calibration_error(predicted, observed, expected):
    assert propensity.calibration_error(predicted, observed) == pytest.approx(expected)


def test_reached_by_age_and_as_of_now():
    from datetime import datetime, timedelta

    from queries.propensity import as_of_now, reached_by_age

    now = datetime(2026, 6, 1)
    created = [now - timedelta(days=d) for d in (40, 40, 40, 40, 3)]
    # mature leads reached SQL 1, 2, 10 days after creation, one never; the young one is not measured
    sql_at = [
        created[0] + timedelta(days=1),
        created[1] + timedelta(days=2),
        created[2] + timedelta(days=10),
        None,
        None,
    ]
    leads = pl.DataFrame({"created_at": created, "sql_at": sql_at})
    shares = reached_by_age(leads, at="sql_at", now=now, horizon_days=30)
    assert (shares[0], shares[1], shares[2], shares[9], shares[10], shares[30]) == pytest.approx(
        (0, 1 / 3, 2 / 3, 2 / 3, 1, 1)
    )
    scaled = leads.with_columns(p=pl.lit(0.6)).select(as_of_now(pl.col("p"), shares, now=now).alias("p"))["p"]
    # the old leads keep their chance; the lead 3 days old has had the time two in three of them needed
    assert scaled.to_list() == pytest.approx([0.6, 0.6, 0.6, 0.6, 0.4])
    assert reached_by_age(leads.head(0), at="sql_at", now=now, horizon_days=5) == dict.fromkeys(range(6), 1.0)


def test_the_covariance_is_how_much_the_coefficients_move_between_samples():
    """Refits on fresh outcomes drawn from the same known model scatter as much as one fit's covariance says."""
    frame, truth = with_outcome(leads())
    rng = np.random.default_rng(11)
    refits = np.array(
        [
            propensity.fit(
                frame.with_columns(pl.Series("accepted", rng.random(N) < truth)), outcome="accepted"
            ).coefficients
            for _ in range(60)
        ]
    )
    stated = np.sqrt(np.diag(propensity.fit(frame, outcome="accepted").covariance))
    ratio = refits.std(axis=0, ddof=1) / stated
    assert np.all((ratio > 0.7) & (ratio < 1.3)), ratio


def _drawn_sums(fits: list[propensity.Fit], frame: pl.DataFrame, draws: int) -> np.ndarray:
    """Brute force: the sum over frame of the product of the steps' chances, with coefficients drawn from each
    fit's stated distribution, once per draw."""
    rng = np.random.default_rng(5)
    product = np.ones((draws, frame.height))
    for f in fits:
        x = np.column_stack([np.ones(frame.height), frame.select(*f.features).to_numpy()])
        beta = rng.multivariate_normal(f.coefficients, f.covariance, size=draws)
        product *= 1 / (1 + np.exp(-(beta @ x.T)))
    return product.sum(axis=1)


@pytest.mark.parametrize("figure", ["accepted", "sqls"])
def test_the_delta_method_gives_the_spread_of_an_estimated_sum(figure):
    """Where the model extrapolates (leads below a cut it was fitted above), the variance of a sum of estimated
    chances from the summed gradients matches the spread of that sum over coefficients drawn from the fit."""
    frame, truth = with_outcome(leads())
    seen = frame.filter(pl.col("score_firmographic") >= 50)
    accept = propensity.fit(seen, outcome="accepted")
    sql = propensity.fit(seen.with_columns(pl.col("accepted").alias("sql")).head(1_500), outcome="sql")
    fitted = propensity.Propensities(accept=accept, sql=sql, win=None)
    below = frame.filter(pl.col("score_firmographic") < 50).with_columns(**fitted.expressions())
    gradients = {k: g.sum() for k, g in fitted.estimate_gradients(figure, prefix="g").items()}
    variance = below.select(**gradients).select(fitted.estimate_variance(figure, prefix="g")).item()
    drawn = _drawn_sums(
        [accept] if figure == "accepted" else [accept, sql], below.with_columns(**fitted.expressions()), 4_000
    )
    assert variance == pytest.approx(drawn.var(), rel=0.15)
    assert variance > 0.5  # a real spread, not a rounding error
