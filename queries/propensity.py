"""Estimating what sales never saw: acceptance, SQL and win probabilities of any lead, fitted on decided leads.

The model is a logistic regression per step (accepted | decided, SQL | accepted, won | SQL) on the score
components and the BANT and record facts, fitted by Newton's method with a small ridge penalty. Why this one:
  - sales decided only MQLs, and which leads became MQLs depends only on these same columns (score and gates),
    so the decided leads are a sample selected on the features: a regression on the features stays unbiased
    outside the region where it was fitted as long as its form holds there;
  - the below-threshold leads that sales reviewed anyway (spot checks, hand-raisers) are in the fit and are the
    only direct evidence below the threshold, so the model is also checked on them alone (calibration below);
  - it is calibrated by construction on the fitted sample (a logistic fit matches the observed rate overall and
    per feature), and its calibration error on held-out leads is measured and shown as a check;
  - its own uncertainty is known: the inverse of the information at the fit is the coefficients' covariance, and
    the delta method carries it to any sum of estimated chances (g' cov g, g the sum's gradient), so an interval
    widens where a proposal reaches leads unlike the ones the model was fitted on. The fit is numpy alone at run
    time; tests hold its coefficients and covariance to statsmodels' Logit, and where a fact separates the outcomes
    (every student rejected), where only the small ridge keeps a coefficient finite, to statsmodels' ridge fit.
The later steps are fitted on one window each (step_outcomes): whether an accepted lead reached SQL, and an SQL a
win, within the maturity days after it, on the leads at least that old, so that recent leads that simply have not
had time do not pull the chances down, and every fitted lead is watched for the same time. by_now_shares turns those
chances into a lead's chance of having got there by now, from how long the leads that got there took, each lead
watched only for as long as it has existed (a 56-day window from creation would miss the slow wins, and make the
estimate for a lead a few weeks old too high). The shares rest on thousands of delays: their own spread moves an
estimated sum by about a tenth of its interval's spread (measured by bootstrap), so the intervals leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import numpy as np
import polars as pl

from dashboard.domain import ScoreComponent
from queries.scoring import CRM_SCORE, NON_BUYER_ROLES, SCORE_COLUMNS

# The models' inputs, each scaled to about 0..1, as polars expressions over a lead's columns.
FACTS: dict[str, pl.Expr] = {
    "x_company_known": pl.col("company").is_not_null().cast(pl.Float64),
    "x_non_buyer": pl.col("role").is_in(NON_BUYER_ROLES).fill_null(False).cast(pl.Float64),
    "x_budget": pl.col("has_budget").fill_null(False).cast(pl.Float64),
    "x_need": pl.col("has_need").fill_null(False).cast(pl.Float64),
    "x_authority": pl.col("is_authority").fill_null(False).cast(pl.Float64),
}
# On Handoff's own scoring: the four component sub-scores and the facts.
FEATURES: dict[str, pl.Expr] = {**{f"x_{c.value}": pl.col(SCORE_COLUMNS[c]) / 100 for c in ScoreComponent}, **FACTS}
# On the CRM's own score (what a replay on it varies), whether the CRM scored the lead at all, and the facts.
CRM_FEATURES: dict[str, pl.Expr] = {
    "x_crm": pl.col(CRM_SCORE).cast(pl.Float64).fill_null(0.0) / 100,
    "x_crm_missing": pl.col(CRM_SCORE).is_null().cast(pl.Float64),
    **FACTS,
}
RIDGE = 1e-3
MIN_FIT_ROWS = 50  # fewer decided leads than this: every lead gets the observed rate
MAX_FIT_ROWS = 200_000  # a larger sample changes the coefficients less than their standard error
CALIBRATION_BINS = 10
# Below this many held-out leads the calibration error is not measurable; assume this much.
UNMEASURED_CALIBRATION_ERROR = 0.05


@dataclass(frozen=True)
class Fit:
    """A fitted logistic model: coefficients (intercept first) and how well it is calibrated on held-out leads."""

    coefficients: tuple[float, ...]
    features: tuple[str, ...]  # the inputs it weighs (names in FEATURES or CRM_FEATURES), one coefficient each
    rows: int  # leads it was fitted on
    base_rate: float  # the observed rate among them
    calibration_error: float  # weighted mean |observed - predicted| over probability bins, held-out leads
    # how uncertain the coefficients are: the inverse of the (penalised) information at the fit, intercept first
    covariance: tuple[tuple[float, ...], ...]

    def probability(self) -> pl.Expr:
        """The fitted probability, as an expression over a lead's columns."""
        intercept, *weights = self.coefficients
        inputs = [(FEATURES | CRM_FEATURES)[name] for name in self.features]
        logit = pl.lit(intercept) + pl.sum_horizontal(w * e for w, e in zip(weights, inputs, strict=True))
        return 1.0 / (1.0 + (-logit).exp())


def _design(frame: pl.DataFrame, features: dict[str, pl.Expr]) -> np.ndarray:
    features = frame.select(**features).to_numpy().astype(np.float64)
    return np.column_stack([np.ones(frame.height), features])


def _penalty(k: int) -> np.ndarray:
    penalty = RIDGE * np.eye(k)
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    return penalty


def _information(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The penalised log-likelihood's negative Hessian at beta (its inverse is the coefficients' covariance)."""
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    return (x * (p * (1 - p))[:, None]).T @ x + _penalty(x.shape[1])


def _newton(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    beta = np.zeros(x.shape[1])
    penalty = _penalty(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        gradient = x.T @ (y - p) - penalty @ beta
        step = np.linalg.solve(_information(x, beta), gradient)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def _as_tuples(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in matrix)


def calibration_error(predicted: np.ndarray, observed: np.ndarray) -> float:
    """Weighted mean of |observed rate - mean prediction| over equal-count bins of the prediction."""
    if predicted.size < CALIBRATION_BINS * 20:
        return UNMEASURED_CALIBRATION_ERROR
    order = np.argsort(predicted)
    errors = [
        abs(observed[part].mean() - predicted[part].mean()) * part.size
        for part in np.array_split(order, CALIBRATION_BINS)
    ]
    return float(sum(errors) / predicted.size)


def fit(frame: pl.DataFrame, *, outcome: str, seed: int = 0, features: dict[str, pl.Expr] = FEATURES) -> Fit | None:
    """Fit outcome (a boolean column) on the features of frame; None when frame has no labelled lead at all.

    With too few leads, or only one outcome among them, the fit is the observed rate for every lead (clipped
    away from 0 and 1) with the assumed calibration error. Otherwise one lead in five is held out to measure the
    calibration error, and the coefficients use every lead (up to MAX_FIT_ROWS, sampled).
    """
    labelled = frame.drop_nulls(outcome)
    if labelled.is_empty():
        return None
    y_all = labelled[outcome].cast(pl.Float64).to_numpy()
    if labelled.height < MIN_FIT_ROWS or y_all.min() == y_all.max():
        rate = float(np.clip(y_all.mean(), 0.001, 0.999))
        flat = (float(np.log(rate / (1 - rate))),) + (0.0,) * len(features)
        # only the intercept is estimated: the variance of a logit of a rate from n leads
        covariance = np.zeros((len(flat), len(flat)))
        covariance[0, 0] = 1.0 / (labelled.height * rate * (1 - rate))
        return Fit(
            flat,
            tuple(features),
            labelled.height,
            float(y_all.mean()),
            UNMEASURED_CALIBRATION_ERROR,
            _as_tuples(covariance),
        )
    rng = np.random.default_rng(seed)
    x_all = _design(labelled, features)
    held_out = rng.random(labelled.height) < 0.2
    beta = _newton(x_all[~held_out], y_all[~held_out])
    predicted = 1.0 / (1.0 + np.exp(-(x_all[held_out] @ beta)))
    error = calibration_error(predicted, y_all[held_out])
    sample = np.arange(labelled.height)
    if sample.size > MAX_FIT_ROWS:
        sample = rng.choice(sample, size=MAX_FIT_ROWS, replace=False)
    beta = _newton(x_all[sample], y_all[sample])
    covariance = np.linalg.inv(_information(x_all[sample], beta))
    return Fit(
        tuple(float(b) for b in beta),
        tuple(features),
        int(sample.size),
        float(y_all.mean()),
        error,
        _as_tuples(covariance),
    )


# Each estimated figure, the per-lead chance it sums, and the steps that chance is the product of.
FIGURE_CHANCE = {"accepted": "p_accept", "sqls": "p_sql", "wins": "p_win"}
FIGURE_STEPS = {"accepted": ("accept",), "sqls": ("accept", "sql"), "wins": ("accept", "sql", "win")}
STEP_CHANCE = {"accept": "p_accept", "sql": "q_sql", "win": "q_win"}  # a step's own chance per lead


def _weight(figure: str, step: str) -> str:
    """The column holding a figure's gradient weight in one step's coefficients (Propensities.gradient_weights)."""
    return f"w_{figure}_{step}"


def _quadratic_form(gradients: list[pl.Series], *, covariance: np.ndarray) -> pl.Series:
    """g' cov g for each row, g being the row's values of the gradients (one series per coefficient)."""
    g = np.column_stack([series.to_numpy().astype(np.float64) for series in gradients])
    return pl.Series(np.einsum("ij,jk,ik->i", g, covariance, g), dtype=pl.Float64)


@dataclass(frozen=True)
class Propensities:
    """The three step models; a missing step (no lead ever got there to learn from) estimates 0."""

    accept: Fit | None
    sql: Fit | None
    win: Fit | None

    def expressions(self) -> dict[str, pl.Expr]:
        """Per lead: p_accept, p_sql and p_win (each the probability of getting that far from an MQL); the later
        steps' own chances q_sql (SQL once accepted) and q_win (a win once an SQL); and the models' inputs (x_*),
        which the delta method weighs (estimate_gradients)."""

        def step(model: Fit | None) -> pl.Expr:
            return model.probability() if model else pl.repeat(0.0, pl.len())

        accept, sql, win = step(self.accept), step(self.sql), step(self.win)
        inputs = {name: (FEATURES | CRM_FEATURES)[name] for model in self.fitted.values() for name in model.features}
        chances = {"p_accept": accept, "p_sql": accept * sql, "p_win": accept * sql * win, "q_sql": sql, "q_win": win}
        return chances | inputs

    @property
    def fitted(self) -> dict[str, Fit]:
        """The steps that have a model, by name (accept, sql, win)."""
        return {name: model for name, model in (("accept", self.accept), ("sql", self.sql), ("win", self.win)) if model}

    def gradient_weights(self) -> dict[str, pl.Expr]:
        """Per lead, p (1 - q_step) for each figure (its chance p) and each step it rests on: the part of the
        chance's gradient the coefficients share (estimate_gradients multiplies it by each input). Made once for a
        set of leads, not on every proposal, from the columns expressions() makes, after any scaling of p_sql and
        p_win to now (the derivative scales alike)."""
        return {
            _weight(figure, step): pl.col(FIGURE_CHANCE[figure]) * (1 - pl.col(STEP_CHANCE[step]))
            for figure, steps in FIGURE_STEPS.items()
            for step in steps
            if step in self.fitted
        }

    def estimate_gradients(self, figure: str, *, prefix: str) -> dict[str, pl.Expr]:
        """Per lead, how its chance in figure (accepted, sqls or wins) moves with each coefficient of each step it
        rests on: d p / d beta = p (1 - q_step) x. Summed over a set of leads, this is the gradient g of their
        estimated sum, and g' cov g its variance from the coefficients' uncertainty (estimate_variance).

        Reads the models' inputs (expressions()) and the weights p (1 - q_step) (gradient_weights()). Named
        <prefix>_<step>_<coefficient index>.
        """
        out = {}
        for step in FIGURE_STEPS[figure]:
            model = self.fitted.get(step)
            if model is None:
                continue
            weight = pl.col(_weight(figure, step))
            out[f"{prefix}_{step}_0"] = weight
            for index, name in enumerate(model.features, start=1):
                out[f"{prefix}_{step}_{index}"] = weight * pl.col(name)
        return out

    def estimate_variance(self, figure: str, *, prefix: str) -> pl.Expr:
        """The variance of an estimated sum owing to the coefficients' uncertainty, g' cov g per step (the steps are
        fitted on separate leads, so independently), from the sums of estimate_gradients(figure, prefix=prefix)."""
        parts = []
        for step in FIGURE_STEPS[figure]:
            model = self.fitted.get(step)
            if model is None:
                continue
            columns = [f"{prefix}_{step}_{i}" for i in range(len(model.covariance))]
            # one small matrix product per row of sums (a handful of rows), not a polars term per covariance entry
            parts.append(
                pl.map_batches(
                    columns,
                    partial(_quadratic_form, covariance=np.array(model.covariance)),
                    return_dtype=pl.Float64,
                    is_elementwise=True,
                )
            )
        return pl.sum_horizontal(parts) if parts else pl.lit(0.0)

    @property
    def calibration_error(self) -> dict[str, float]:
        """Held-out calibration error per step (the assumed one where a step could not be fitted)."""
        return {
            name: model.calibration_error if model else UNMEASURED_CALIBRATION_ERROR
            for name, model in (("accept", self.accept), ("sql", self.sql), ("win", self.win))
        }


def fit_propensities(decided: pl.DataFrame, *, seed: int = 0, crm: bool = False) -> Propensities:
    """Fit the three steps on decided MQLs (on the CRM's own score with crm, on the score components without).

    decided carries the features' columns and accepted (bool), sql (bool, null while too recent to tell) and
    won (bool, null while too recent to tell).
    """
    accepted = decided.filter(pl.col("accepted"))
    reached_sql = accepted.filter(pl.col("sql").fill_null(False))
    features = CRM_FEATURES if crm else FEATURES
    return Propensities(
        accept=fit(decided, outcome="accepted", seed=seed, features=features),
        sql=fit(accepted, outcome="sql", seed=seed, features=features),
        win=fit(reached_sql, outcome="won", seed=seed, features=features),
    )


# A delay is measured only up to the last day at least this many leads that got there were old enough to show; the
# days after it rest on a handful of leads (one of them could move every share) and count as having got there.
MIN_WATCHED = 20


def reached_by_age(
    leads: pl.DataFrame,
    *,
    at: str,
    now: datetime,
    horizon_days: int,
    since: str = "created_at",
    min_watched: int = MIN_WATCHED,
) -> dict[int, float]:
    """For each age in whole days (0..horizon_days) since since (a lead's creation, or the step before), the share
    of the leads that get to a step (column at: when) within the horizon that have got there by that age: how far
    an eventual outcome has come by then.

    Each lead shows its delay only if it is old enough: a recent lead's slow outcome has not happened yet, so the
    share is not counted over the recent leads alone (that would make every outcome look quick). Day by day from
    the horizon down, the share that had got there a day sooner is taken among the leads old enough to have shown
    both (the product-limit estimate for delays seen only when shorter than the time watched, Lynden-Bell's).
    Where fewer than min_watched leads that got there were watched long enough, every age gets 1 (nothing to
    scale by).
    """
    start, end = leads[since], leads[at]
    watched = ((now - start).dt.total_seconds() / 86_400).fill_null(-1.0).to_numpy()
    delay = ((end - start).dt.total_seconds() / 86_400).to_numpy()
    reached = ~np.isnan(delay) & (delay <= watched) & (delay <= horizon_days)
    delay, watched = np.maximum(delay[reached], 0.0), watched[reached]
    day = np.maximum(np.ceil(delay), 1).astype(np.int64)  # the day (d-1, d] a lead got there in
    last = np.minimum(np.floor(watched), horizon_days).astype(np.int64)  # the last whole day it was watched to
    shown = day <= last
    # day d: among the leads that got there within d days and were watched d days, those that took the whole d
    at_risk = np.zeros(horizon_days + 2)
    np.add.at(at_risk, day[shown], 1.0)
    np.add.at(at_risk, last[shown] + 1, -1.0)
    at_risk = np.cumsum(at_risk)[: horizon_days + 1]
    on_day = np.bincount(day[shown], minlength=horizon_days + 1)[: horizon_days + 1].astype(np.float64)
    enough = np.flatnonzero(at_risk >= min_watched)
    if not enough.size:
        return dict.fromkeys(range(horizon_days + 1), 1.0)
    step = 1.0 - on_day / np.maximum(at_risk, 1.0)
    step[enough[-1] + 1 :] = 1.0
    # share by age a: the product of day d's step over the days after a
    share = np.append(np.cumprod(step[:0:-1])[::-1], 1.0)
    return {age: float(value) for age, value in enumerate(share)}


# The later steps, in order: the fit's outcome, the figure that counts it, when the step before happened and when
# the lead got there (an SQL follows an acceptance, a win an SQL).
LATER_STEPS = (("sql", "sqls", "sal_at", "sql_at"), ("won", "wins", "sql_at", "customer_at"))


def step_outcomes(decided: pl.DataFrame, *, now: datetime, horizon_days: int) -> pl.DataFrame:
    """decided with sql and won as the later steps' fits read them: whether the lead got there within horizon_days
    of the step before (an SQL from its acceptance, a win from its SQL), known where that step is at least
    horizon_days old and null elsewhere (too recent to tell). Every fitted lead is watched for the same time."""
    window = timedelta(days=horizon_days)
    return decided.with_columns(
        pl.when(pl.col(before) <= now - window)
        .then(pl.col(at).is_not_null() & ((pl.col(at) - pl.col(before)) <= window))
        .alias(outcome)
        for outcome, _, before, at in LATER_STEPS
    )


def by_now_shares(leads: pl.DataFrame, *, now: datetime, horizon_days: int) -> dict[str, dict[int, float]]:
    """For the later figures (sqls, wins): per age of a lead in whole days, what its chance from the fits (each
    step within horizon_days of the one before, step_outcomes) is multiplied by for its chance of having got
    there by now, as the leads it is counted beside are counted by what they did by now.

    Three measured shares, each on the leads old enough to show it (reached_by_age over the whole history):
      - of the MQLs old enough, the share sales decided (the fits start from a decision: an MQL never decided
        never gets further);
      - of the leads that get to a step, the share that got there within horizon_days of the step before
        (what the fit counts); dividing by it gives the eventual chance;
      - of the leads that get to the figure's stage, the share that got there by a lead's age since creation.
    """
    history = max(horizon_days, (now - leads["created_at"].min()).days if leads.height else 0)
    mature = leads.filter(pl.col("mql") & (pl.col("mql_at") <= now - timedelta(days=horizon_days)))
    scale = float(mature["decided"].mean()) if mature.height else 1.0
    shares = {}
    for _, figure, before, at in LATER_STEPS:
        within = reached_by_age(leads, at=at, since=before, now=now, horizon_days=history)[horizon_days]
        scale /= within if within > 0 else 1.0
        by_age = reached_by_age(leads, at=at, now=now, horizon_days=history)
        shares[figure] = {age: scale * share for age, share in by_age.items()}
    return shares


def as_of_now(p: pl.Expr, shares: dict[int, float], *, now: datetime) -> pl.Expr:
    """p (an eventual chance) scaled to the chance of having got there by now, from the lead's age in whole days."""
    horizon = max(shares)
    age = ((pl.lit(now) - pl.col("created_at")).dt.total_days()).clip(0, horizon)
    return p * age.replace_strict(shares, return_dtype=pl.Float64)
