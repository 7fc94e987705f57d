"""The estimator of unobserved acceptance: recovers a known model, says when it cannot fit, measures calibration."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning

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


NOW = datetime(2026, 6, 1)


def test_reached_by_age_counts_a_recent_lead_only_for_the_days_it_was_watched():
    """Four leads 40 days old reached SQL 1, 2 and 10 days after creation or never; one 3 days old reached it after
    2 days. Day by day from the horizon down (each day's share among the leads that got there by then and were
    watched that long): day 10, 1 of A, B, C took it (2/3 got there sooner); day 2, 2 of A, B, E (1/3 sooner);
    day 1, the only one watched (A) took it (none sooner)."""
    created = [NOW - timedelta(days=d) for d in (40, 40, 40, 40, 3, 3)]
    delays = (1, 2, 10, None, 2, None)
    sql_at = [c + timedelta(days=d) if d is not None else None for c, d in zip(created, delays, strict=True)]
    leads = pl.DataFrame({"created_at": created, "sql_at": sql_at})
    shares = propensity.reached_by_age(leads, at="sql_at", now=NOW, horizon_days=30, min_watched=1)
    expected = {0: 0.0, 1: 2 / 9, 2: 2 / 3, 3: 2 / 3, 9: 2 / 3, 10: 1.0, 30: 1.0}
    assert {age: shares[age] for age in expected} == pytest.approx(expected)
    scaled = leads.with_columns(p=pl.lit(0.6)).select(propensity.as_of_now(pl.col("p"), shares, now=NOW))
    # the old leads keep their chance; the ones 3 days old have had the time two in three of them needed
    assert scaled.to_series().to_list() == pytest.approx([0.6] * 4 + [0.4] * 2)
    # too few leads that got there to measure a delay: nothing to scale by
    assert propensity.reached_by_age(leads, at="sql_at", now=NOW, horizon_days=5) == dict.fromkeys(range(6), 1.0)


def _hypoexponential_cdf(t: np.ndarray, a: float, b: float) -> np.ndarray:
    """P(X + Y <= t) for independent exponential X, Y with means a and b."""
    return 1 - (b * np.exp(-t / b) - a * np.exp(-t / a)) / (b - a)


def test_reached_by_age_recovers_a_known_delay_where_recent_leads_hide_the_slow_outcomes():
    """Delays of 3 + 21 days on average (exponential steps), leads of every age up to 180 days, each delay seen only
    if shorter than the lead's age: the shares follow the known distribution, where the leads 56 days old alone
    would say every outcome comes within 56 days."""
    rng = np.random.default_rng(8)
    age, delay = rng.uniform(0, 180, 6_000), rng.exponential(3, 6_000) + rng.exponential(21, 6_000)
    leads = pl.DataFrame(
        {
            "created_at": [NOW - timedelta(days=float(a)) for a in age],
            "won_at": [NOW - timedelta(days=float(a - d)) if d <= a else None for a, d in zip(age, delay, strict=True)],
        }
    )
    shares = propensity.reached_by_age(leads, at="won_at", now=NOW, horizon_days=180)
    ages = np.array([2, 7, 14, 28, 56, 90, 120])
    truth = _hypoexponential_cdf(ages, 3, 21) / _hypoexponential_cdf(np.array(180.0), 3, 21)
    assert [shares[a] for a in ages] == pytest.approx(truth, abs=0.03)
    assert truth[ages == 56][0] < 0.95  # a real tail beyond 56 days, which the shares see


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
    below = (
        frame.filter(pl.col("score_firmographic") < 50)
        .with_columns(**fitted.expressions())
        .with_columns(**fitted.gradient_weights())
    )
    gradients = {k: g.sum() for k, g in fitted.estimate_gradients(figure, prefix="g").items()}
    variance = below.select(**gradients).select(fitted.estimate_variance(figure, prefix="g")).item()
    drawn = _drawn_sums(
        [accept] if figure == "accepted" else [accept, sql], below.with_columns(**fitted.expressions()), 4_000
    )
    assert variance == pytest.approx(drawn.var(), rel=0.15)
    assert variance > 0.5  # a real spread, not a rounding error


DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("sal_days_ago", "sql_after", "sql_days_ago", "won_after", "sql", "won"),
    [
        pytest.param(60, 5, 55, 20, True, None, id="SQL within the window; its SQL too recent to tell"),
        pytest.param(90, 5, 85, 20, True, True, id="both within the window"),
        pytest.param(90, 5, 85, 70, True, False, id="a win later than the window counts as none"),
        pytest.param(90, 40, 50, None, True, None, id="an SQL late in the window"),
        pytest.param(90, 70, 20, None, False, None, id="an SQL after the window"),
        pytest.param(30, None, None, None, None, None, id="accepted too recently to tell"),
        pytest.param(90, None, None, None, False, None, id="never an SQL"),
    ],
)
def test_step_outcomes_watch_every_fitted_lead_for_the_same_window(
    sal_days_ago, sql_after, sql_days_ago, won_after, sql, won
):
    sal_at = NOW - sal_days_ago * DAY
    sql_at = sal_at + sql_after * DAY if sql_after is not None else None
    customer_at = sql_at + won_after * DAY if won_after is not None else None
    decided = pl.DataFrame(
        {"sal_at": [sal_at], "sql_at": [sql_at], "customer_at": [customer_at]},
        schema={"sal_at": pl.Datetime("us"), "sql_at": pl.Datetime("us"), "customer_at": pl.Datetime("us")},
    )
    known = propensity.step_outcomes(decided, now=NOW, horizon_days=56).row(0, named=True)
    assert (known["sql"], known["won"]) == (sql, won)


def _funnel(n: int, seed: int) -> pl.DataFrame:
    """Leads created over 180 days, each an MQL a day later; 90% decided half a day after; half of those accepted;
    60% of the accepted an SQL 5 days later on average; 40% of the SQLs won 7 + 21 days later on average. Every
    time after now is not yet known."""
    rng = np.random.default_rng(seed)

    def days(x) -> np.ndarray:
        return (np.asarray(x) * 86_400_000_000).astype("timedelta64[us]")

    now = np.datetime64(NOW, "us")
    created = now - days(rng.uniform(0, 180, n))
    mql_at = created + days(1)
    decided_at = mql_at + days(0.5)
    decided = rng.random(n) < 0.9
    accepted = decided & (rng.random(n) < 0.5)
    sql_at = decided_at + days(rng.exponential(5, n))
    sql = accepted & (rng.random(n) < 0.6)
    customer_at = sql_at + days(rng.exponential(7, n) + rng.exponential(21, n))
    won = sql & (rng.random(n) < 0.4)

    def known(when: np.ndarray, happened: np.ndarray) -> pl.Series:
        return pl.Series(when).set(pl.Series(~(happened & (when <= now))), None)

    frame = pl.DataFrame({"created_at": pl.Series(created), "mql_at": pl.Series(mql_at)})
    return frame.with_columns(
        mql=pl.col("mql_at") <= NOW,
        decided=pl.Series(decided & (decided_at <= now)),
        accepted=pl.Series(accepted & (decided_at <= now)),
        sal_at=known(decided_at, accepted),
        sql_at=known(sql_at, sql),
        customer_at=known(customer_at, won),
    )


def test_by_now_shares_turn_the_fitted_chances_into_the_chance_of_having_got_there_by_now():
    """On a funnel with known rates and delays: the fitted steps' chances (here their observed rates, each step
    within 56 days of the one before) times the shares give, for a lead of each age, its chance of having reached
    SQL and a win by now, which the same process run forward on fresh leads of that age shows (brute force)."""
    leads = _funnel(40_000, seed=2)
    known = propensity.step_outcomes(leads.filter(pl.col("decided")), now=NOW, horizon_days=56)
    p_accept = known["accepted"].mean()
    q_sql = known.filter(pl.col("accepted"))["sql"].drop_nulls().mean()
    q_win = known.filter(pl.col("sql"))["won"].drop_nulls().mean()
    shares = propensity.by_now_shares(leads, now=NOW, horizon_days=56)
    rng = np.random.default_rng(3)
    m = 400_000
    to_sql = 1.5 + rng.exponential(5, m)
    to_win = to_sql + rng.exponential(7, m) + rng.exponential(21, m)
    for age in (3, 10, 30, 60, 120, 175):
        sql_by_now = 0.9 * 0.5 * 0.6 * np.mean(to_sql <= age)
        won_by_now = 0.9 * 0.5 * 0.6 * 0.4 * np.mean(to_win <= age)
        assert p_accept * q_sql * shares["sqls"][age] == pytest.approx(sql_by_now, rel=0.06, abs=0.002), age
        assert p_accept * q_sql * q_win * shares["wins"][age] == pytest.approx(won_by_now, rel=0.08, abs=0.002), age


def _same_design(frame: pl.DataFrame, fit: propensity.Fit) -> tuple[np.ndarray, np.ndarray]:
    """The fit's inputs (an intercept, then its features in order) and outcome, as statsmodels takes them."""
    x = frame.select(*(propensity.FEATURES[name] for name in fit.features)).to_numpy()
    return np.column_stack([np.ones(frame.height), x]), frame["accepted"].cast(pl.Float64).to_numpy()


def test_the_fit_and_its_covariance_are_statsmodels_logit():
    """On a design with both outcomes everywhere, the coefficients and their covariance are statsmodels' Logit's:
    the small ridge moves no coefficient by a thousandth of its standard error."""
    frame, _ = with_outcome(leads())
    fit = propensity.fit(frame, outcome="accepted")
    x, y = _same_design(frame, fit)
    logit = sm.Logit(y, x).fit(method="newton", disp=0, tol=1e-12)
    standard_errors = np.sqrt(np.diag(logit.cov_params()))
    assert np.abs(np.array(fit.coefficients) - logit.params).max() < 1e-3 * standard_errors.min()
    np.testing.assert_allclose(np.array(fit.covariance), logit.cov_params(), rtol=1e-3, atol=1e-9)


def test_where_a_fact_separates_the_outcomes_the_fit_is_statsmodels_ridge_fit():
    """Every student rejected: the unpenalised Logit has no maximum (the student coefficient runs off to minus
    infinity and statsmodels says it did not converge); the ridge keeps it finite. The penalised fit is statsmodels'
    ridge GLM with the same penalty (alpha = ridge / n, the intercept unpenalised); the optimum is where statsmodels'
    score equals the penalty's pull, and the covariance is the inverse of statsmodels' information plus the penalty.
    statsmodels' ridge is a general optimiser, so it is held to a thousandth of each standard error."""
    frame, _ = with_outcome(leads())
    separated = frame.with_columns(
        pl.when(pl.col("role") == "student").then(False).otherwise(pl.col("accepted")).alias("accepted")
    )
    fit = propensity.fit(separated, outcome="accepted")
    x, y = _same_design(separated, fit)
    beta, covariance = np.array(fit.coefficients), np.array(fit.covariance)
    with pytest.warns(ConvergenceWarning):
        sm.Logit(y, x).fit(method="newton", disp=0)
    penalty = np.full(x.shape[1], propensity.RIDGE)
    penalty[0] = 0.0
    ridge = sm.GLM(y, x, family=sm.families.Binomial()).fit_regularized(
        alpha=penalty / len(y), L1_wt=0.0, opt_method="trust-constr"
    )
    standard_errors = np.sqrt(np.diag(covariance))
    assert np.all(np.abs(beta - ridge.params) < 1e-3 * standard_errors)
    assert beta[fit.features.index("x_non_buyer") + 1] < -8  # far out, but finite
    model = sm.Logit(y, x)
    np.testing.assert_allclose(model.score(beta), penalty * beta, atol=1e-8)
    np.testing.assert_allclose(covariance, np.linalg.inv(-model.hessian(beta) + np.diag(penalty)), rtol=1e-8)
