"""The what-if's track record: a forecast made at a cut-off from the weeks before it, set against what happened after.

At a cut-off (a scoring-model change, or a date a person picks) the estimates are fitted only on what was known
then: leads created and decided before it, with SQLs and wins counted only where they had had time to happen
(maturity). The leads created after it that the rule live after it handed to sales are then projected with those
estimates alone, as if nothing after the cut-off had been seen, and set against what they actually did:
  - acceptance, on the ones sales has decided since;
  - SQLs and wins, on the ones old enough now to have got there.
A forecast whose interval holds what happened, change after change, is a reason to trust the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from queries import propensity
from queries.acceptance import Z_95
from queries.scoring import ScoringRule, qualifies_expr


@dataclass(frozen=True)
class Forecast:
    """One cut-off's forecast against what happened (rates as shares, counts as counts)."""

    cutoff: datetime
    until: datetime
    fitted_on: int  # decided leads known at the cut-off
    mqls: int  # leads created after it that the rule handed to sales
    decided: int  # of them, decided by now
    projected_rate: float | None
    rate_low: float | None
    rate_high: float | None
    actual_rate: float | None
    mature: int  # of the MQLs, old enough now for their SQL and win to have happened
    projected_sqls: float
    sqls_half_width: float
    actual_sqls: int
    projected_wins: float
    wins_half_width: float
    actual_wins: int

    @property
    def rate_held(self) -> bool | None:
        """Whether what happened is inside the forecast's 95% interval (None without decided leads)."""
        if self.actual_rate is None or self.rate_low is None:
            return None
        return self.rate_low <= self.actual_rate <= self.rate_high

    @property
    def sqls_held(self) -> bool:
        return abs(self.actual_sqls - self.projected_sqls) <= self.sqls_half_width

    @property
    def wins_held(self) -> bool:
        return abs(self.actual_wins - self.projected_wins) <= self.wins_half_width


def _known_at(base: pl.DataFrame, cutoff: datetime, maturity_days: int) -> pl.DataFrame:
    """The decided leads as they stood at the cut-off: decided before it, SQL and win known only where the lead
    had had time to get there by then (null otherwise, so the fit leaves them out)."""
    mature = cutoff - timedelta(days=maturity_days)
    return base.filter(
        pl.col("decided") & (pl.col("created_at") < cutoff) & (pl.col("decided_at") < cutoff)
    ).with_columns(
        pl.when(pl.col("sal_at") <= mature).then(pl.col("sql_at").fill_null(cutoff) < cutoff).alias("sql"),
        pl.when(pl.col("sql_at") <= mature).then(pl.col("customer_at").fill_null(cutoff) < cutoff).alias("won"),
        (pl.col("accepted") & pl.col("sal_at").fill_null(cutoff).lt(cutoff)).alias("accepted"),
    )


def forecast(
    base: pl.DataFrame,
    *,
    cutoff: datetime,
    until: datetime,
    rule: ScoringRule,
    now: datetime,
    maturity_days: int,
    crm: bool = False,
) -> Forecast:
    """The forecast made at cutoff for the leads created in [cutoff, until) under rule, against what happened.

    base is whatif.whatif_base(...) (with decided_at), sorted or not: the fit sorts what it learns from.
    """
    known = _known_at(base, cutoff, maturity_days).sort("lead_id")
    fitted = propensity.fit_propensities(known, crm=crm)
    after = (
        base.filter(
            pl.col("created_at").is_between(cutoff, until, closed="left")
            & pl.col("mql")
            & (qualifies_expr(rule, crm=crm) | pl.col("spot_check"))
        )
        .with_columns(**fitted.expressions())
        .with_columns(**fitted.gradient_weights())
    )
    decided = after.filter(pl.col("decided"))
    mature = after.filter(pl.col("created_at") <= now - timedelta(days=maturity_days))

    def summed(frame: pl.DataFrame, figure: str) -> tuple[float, float]:
        """The estimated sum and its 95% half-width: the leads' own chance and the models' uncertainty."""
        p = pl.col(propensity.FIGURE_CHANCE[figure])
        gradients = {k: g.sum() for k, g in fitted.estimate_gradients(figure, prefix="g").items()}
        sums = frame.select(p.sum().alias("estimate"), (p * (1 - p)).sum().alias("own"), **gradients)
        row = sums.with_columns(fitted.estimate_variance(figure, prefix="g").alias("model")).row(0, named=True)
        return float(row["estimate"]), Z_95 * float(row["own"] + row["model"]) ** 0.5

    expected, half = summed(decided, "accepted")
    n = decided.height
    sqls, sqls_half = summed(mature, "sqls")
    wins, wins_half = summed(mature, "wins")
    return Forecast(
        cutoff=cutoff,
        until=until,
        fitted_on=known.height,
        mqls=after.height,
        decided=n,
        projected_rate=expected / n if n else None,
        rate_low=max(expected - half, 0.0) / n if n else None,
        rate_high=min(expected + half, n) / n if n else None,
        actual_rate=float(decided["accepted"].sum()) / n if n else None,
        mature=mature.height,
        projected_sqls=sqls,
        sqls_half_width=sqls_half,
        actual_sqls=int(mature["sql"].sum()),
        projected_wins=wins,
        wins_half_width=wins_half,
        actual_wins=int(mature["won"].sum()),
    )
