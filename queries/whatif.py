"""The threshold what-if: replay the filtered history under a proposed scoring rule and project its effect.

A proposal changes only the leads whose qualification it changes; everything else keeps what actually happened:
  - kept: leads that became MQLs and still qualify (or came through a spot check, a route the score does not
    decide) keep their observed decision, SQL and win;
  - removed: MQLs by score that the proposal would not qualify; their observed acceptances and wins are its cost;
  - added: leads that never became MQLs because the rule live at the time did not qualify them, and that the
    proposal qualifies; sales never saw them, so their acceptance, SQL and win are estimated (p_accept, p_sql,
    p_win from queries.propensity) and every figure says how much of it is estimated.
A proposal equal to the rule that was live reproduces the actual figures exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from dashboard.domain import Decision
from queries.acceptance import Z_95, wilson_bounds
from queries.leads import period_bounds
from queries.scoring import CRM_SCORE, SCORE_COLUMNS, ScoringRule, gates_expr, qualifies_expr, score_expr


@dataclass(frozen=True)
class LiveRule:
    """A scoring model version and the time it was live: [active_from, active_to)."""

    version: int
    rule: ScoringRule
    active_from: datetime
    active_to: datetime | None


def live_qualifies_expr(models: tuple[LiveRule, ...]) -> pl.Expr:
    """Whether the rule live at each lead's creation qualified it (the earliest rule before the first version)."""
    ordered = sorted(models, key=lambda m: m.active_from)
    if not ordered:
        return pl.lit(False)
    expr = qualifies_expr(ordered[0].rule)
    for model in ordered[1:]:
        expr = pl.when(pl.col("created_at") >= model.active_from).then(qualifies_expr(model.rule)).otherwise(expr)
    return expr


def whatif_base(
    leads: pl.LazyFrame, journeys: pl.LazyFrame, latest: pl.LazyFrame, models: tuple[LiveRule, ...]
) -> pl.LazyFrame:
    """One row per lead with what the what-if needs: scores, gate facts, live qualification and what happened.

    leads carries the component scores (scoring.component_scores) and the gate facts; journeys is
    sla.lead_journeys(...) with its filter columns; latest is acceptance.latest_decisions(...), the decision
    that stands.
    """
    facts = leads.select(
        pl.col("id").alias("lead_id"),
        *SCORE_COLUMNS.values(),
        CRM_SCORE,
        "company",
        "role",
        "has_budget",
        "has_need",
        "is_authority",
        "timeline_months",
        (pl.col("mql_route") == "spot_check").fill_null(False).alias("spot_check"),
        pl.col("imported_at").is_not_null().alias("imported"),
    )
    decisions = latest.select("lead_id", "decision")
    return (
        journeys.join(facts, on="lead_id", how="inner")
        .join(decisions, on="lead_id", how="left")
        .with_columns(
            # An imported lead was qualified by the CRM's own rule, not by a Handoff model: that is its live rule.
            pl.when(pl.col("imported"))
            .then(pl.col("mql_at").is_not_null())
            .otherwise(live_qualifies_expr(models))
            .alias("live_qualifies"),
            pl.col("mql_at").is_not_null().alias("mql"),
            pl.col("decision").is_not_null().alias("decided"),
            (pl.col("decision") == Decision.ACCEPTED.value).fill_null(False).alias("accepted"),
            pl.col("sql_at").is_not_null().alias("sql"),
            pl.col("customer_at").is_not_null().alias("won"),
            pl.col("created_at").dt.truncate("1w").dt.date().alias("week"),
        )
        .drop("decision")
    )


def reproduced_threshold(base: pl.LazyFrame, *, top: int) -> pl.LazyFrame:
    """One row: the whole threshold on the CRM's own score that best reproduces which leads the CRM handed to sales
    (score >= threshold for the MQLs, below it for the rest), and the share of the scored leads it agrees on.

    An export holds the CRM's score and its MQLs but not the rule between them; this is that rule as the data shows
    it. Spot checks and leads without a score are left out (the score did not decide them).
    """
    scored = base.filter(pl.col(CRM_SCORE).is_not_null() & ~pl.col("spot_check"))
    buckets = scored.group_by(pl.col(CRM_SCORE).floor().clip(0, top).cast(pl.Int64).alias("threshold")).agg(
        pl.col("mql").sum().cast(pl.Int64).alias("mqls"), (~pl.col("mql")).sum().cast(pl.Int64).alias("others")
    )
    grid = pl.LazyFrame({"threshold": list(range(top + 1))}, schema={"threshold": pl.Int64})
    counted = grid.join(buckets, on="threshold", how="left").fill_null(0).sort("threshold")
    # at threshold t: the non-MQLs scored below t and the MQLs scored t or more agree with the rule
    agree = pl.col("others").cum_sum() - pl.col("others") + pl.col("mqls").cum_sum(reverse=True)
    total = pl.col("mqls").sum() + pl.col("others").sum()
    return (
        counted.select("threshold", agree.alias("agree"), total.alias("scored"))
        .filter(pl.col("scored") > 0)
        .sort(["agree", "threshold"], descending=[True, False])
        .head(1)
        .select(pl.col("threshold").cast(pl.Float64), (pl.col("agree") / pl.col("scored")).alias("agreement"))
    )


def in_period(base: pl.LazyFrame, *, start: date, end: date) -> pl.LazyFrame:
    """The leads created in the period: the history a proposal is replayed on."""
    lo, hi = period_bounds(start, end)
    return base.filter(pl.col("created_at").is_between(lo, hi, closed="left"))


def project(base: pl.LazyFrame, rule: ScoringRule, *, crm: bool = False) -> pl.LazyFrame:
    """base with the proposal's score and each lead's fate under it: kept, removed, added, projected_mql.

    With crm the proposal is a threshold (and gates) on the CRM's own score; a lead the CRM did not score is not
    decided by the score, so it keeps what happened (like a spot check) and is never added.
    """
    qualifies = qualifies_expr(rule, crm=crm)
    if crm:
        base = base.with_columns((pl.col("spot_check") | pl.col(CRM_SCORE).is_null()).alias("spot_check"))
    return (
        base.with_columns(score_expr(rule, crm=crm).alias("score"), qualifies.alias("qualifies"))
        .with_columns(
            (pl.col("mql") & (pl.col("spot_check") | pl.col("qualifies"))).alias("kept"),
            (pl.col("mql") & ~pl.col("spot_check") & ~pl.col("qualifies")).alias("removed"),
            (~pl.col("mql") & pl.col("qualifies") & ~pl.col("live_qualifies")).alias("added"),
        )
        .with_columns((pl.col("kept") | pl.col("added")).alias("projected_mql"))
    )


def _count(condition: pl.Expr) -> pl.Expr:
    return condition.sum().cast(pl.Int64)


def _where(condition: pl.Expr, value: pl.Expr | float) -> pl.Expr:
    return pl.when(condition).then(value).otherwise(0.0)


def _contributions() -> dict[str, pl.Expr]:
    """What each lead adds to every summed figure, as plain per-row columns: a group-by then only sums them
    (far faster than filtering inside the aggregation)."""
    kept, removed, mql, added = (pl.col(c) for c in ("kept", "removed", "mql", "added"))
    accepted, decided, sql, won = (pl.col(c) for c in ("accepted", "decided", "sql", "won"))
    counts = {
        "actual_mqls": mql,
        "projected_mqls": pl.col("projected_mql"),
        "added": added,
        "removed": removed,
        "actual_decided": decided & mql,
        "actual_accepted": accepted & mql,
        "actual_sqls": sql,
        "actual_wins": won,
        "kept_decided": decided & kept,
        "kept_accepted": accepted & kept,
        "kept_sqls": sql & kept,
        "kept_wins": won & kept,
        "lost_accepted": accepted & removed,
        "lost_wins": won & removed,
    }
    estimates = {}
    for name, column in (("accepted", "p_accept"), ("sqls", "p_sql"), ("wins", "p_win")):
        p = pl.col(column)
        estimates[f"est_{name}"] = _where(added, p)
        estimates[f"var_{name}"] = _where(added, p * (1 - p))
    return {**{k: v.cast(pl.Int64) for k, v in counts.items()}, **estimates}


CONTRIBUTIONS = tuple(_contributions())


def contribution_sums(projected: pl.LazyFrame, *, by: list[str]) -> pl.LazyFrame:
    """Every summed figure per group (by: the finest grouping any view needs), in one pass over the leads.

    projected is project(...) of leads that carry p_accept, p_sql and p_win; projection_by and tier_load roll
    these sums up to coarser groups.
    """
    return _rolled_up(projected.select(*by, **_contributions()), by)


def _rolled_up(sums: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    if not by:
        return sums.select(pl.col(CONTRIBUTIONS).sum())
    return sums.group_by(by).agg(pl.col(CONTRIBUTIONS).sum())


def _figures(sums: pl.LazyFrame, errors: dict[str, float]) -> pl.LazyFrame:
    """Projected totals with intervals from contribution sums.

    The estimated part's half-width is z * sqrt(sum of p(1-p)) (the leads' own chance) plus the model's held-out
    calibration error times the leads estimated (how wrong the probabilities themselves may be).
    """
    added = pl.col("added").cast(pl.Float64)
    accept_error = errors["accept"]
    sql_error = accept_error + errors["sql"]
    win_error = sql_error + errors["win"]

    def half(var: str, error: float) -> pl.Expr:
        return Z_95 * pl.col(var).sqrt() + error * added

    projected_accepted = pl.col("kept_accepted") + pl.col("est_accepted")
    projected_decided = pl.col("kept_decided") + pl.col("added")
    low, high = wilson_bounds(projected_accepted, projected_decided)
    widen = half("var_accepted", accept_error) / projected_decided
    actual_rate = pl.col("actual_accepted") / pl.col("actual_decided")
    return sums.with_columns(
        projected_accepted.alias("projected_accepted"),
        half("var_accepted", accept_error).alias("accepted_half_width"),
        projected_decided.alias("projected_decided"),
        pl.when(pl.col("actual_decided") > 0).then(actual_rate).alias("actual_rate"),
        pl.when(projected_decided > 0).then(projected_accepted / projected_decided).alias("projected_rate"),
        pl.when(projected_decided > 0).then((low - widen).clip(0, 1)).alias("projected_rate_low"),
        pl.when(projected_decided > 0).then((high + widen).clip(0, 1)).alias("projected_rate_high"),
        (pl.col("kept_sqls") + pl.col("est_sqls")).alias("projected_sqls"),
        half("var_sqls", sql_error).alias("sqls_half_width"),
        (pl.col("kept_wins") + pl.col("est_wins")).alias("projected_wins"),
        half("var_wins", win_error).alias("wins_half_width"),
        pl.when(pl.col("projected_mqls") > 0)
        .then(pl.col("added") / pl.col("projected_mqls"))
        .otherwise(0.0)
        .alias("estimated_share"),
        (pl.col("projected_mqls") - pl.col("actual_mqls")).alias("mql_change"),
    ).drop("var_accepted", "var_sqls", "var_wins")


def projection_by(sums: pl.LazyFrame, *, by: list[str], errors: dict[str, float]) -> pl.LazyFrame:
    """Actual and projected figures per group (one row when by is empty), largest MQL change first.

    sums is contribution_sums(...) by these or finer groups; errors is Propensities.calibration_error.
    """
    figures = _figures(_rolled_up(sums, by), errors)
    if not by:
        return figures
    return figures.sort(pl.col("mql_change").abs(), *by, descending=[True] + [False] * len(by))


def tier_load(sums: pl.LazyFrame, *, junior_capacity: int, senior_capacity: int) -> pl.LazyFrame:
    """Per week: MQLs for the junior tier to decide and SQLs for the senior tier to work, actual and projected,
    against each tier's weekly capacity. sums is contribution_sums(...) by week (or finer)."""
    return (
        _rolled_up(sums, ["week"])
        .select(
            "week",
            pl.col("actual_mqls").alias("junior_actual"),
            pl.col("projected_mqls").alias("junior_projected"),
            pl.col("actual_sqls").alias("senior_actual"),
            (pl.col("kept_sqls") + pl.col("est_sqls")).alias("senior_projected"),
            pl.lit(junior_capacity).alias("junior_capacity"),
            pl.lit(senior_capacity).alias("senior_capacity"),
        )
        .sort("week")
    )


def threshold_sweep(projected: pl.LazyFrame, *, rule: ScoringRule, top: int = 100) -> pl.LazyFrame:
    """For every whole threshold 0..top with the proposal's weights and gates: projected MQLs, decided (observed
    and estimated), acceptance rate and wins. One pass: leads are bucketed by score, then summed from the top down."""
    gates = gates_expr(rule) & pl.col("score").is_not_null()
    spot = pl.col("mql") & pl.col("spot_check")
    candidate_kept = pl.col("mql") & ~pl.col("spot_check") & gates
    candidate_added = ~pl.col("mql") & ~pl.col("live_qualifies") & gates
    bucket = pl.col("score").floor().clip(0, top).cast(pl.Int64).alias("threshold")
    per_bucket = (
        projected.select(
            bucket,
            (candidate_kept | candidate_added).cast(pl.Int64).alias("mqls"),
            (
                (candidate_kept & pl.col("accepted")).cast(pl.Float64) + _where(candidate_added, pl.col("p_accept"))
            ).alias("accepted"),
            ((candidate_kept & pl.col("decided")) | candidate_added).cast(pl.Int64).alias("decided"),
            ((candidate_kept & pl.col("won")).cast(pl.Float64) + _where(candidate_added, pl.col("p_win"))).alias(
                "wins"
            ),
        )
        .group_by("threshold")
        .agg(pl.col("mqls", "accepted", "decided", "wins").sum())
    )
    always = projected.select(
        _count(spot).alias("spot_mqls"),
        _count(spot & pl.col("accepted")).alias("spot_accepted"),
        _count(spot & pl.col("decided")).alias("spot_decided"),
        _count(spot & pl.col("won")).alias("spot_wins"),
    )
    grid = pl.LazyFrame({"threshold": list(range(top + 1))}, schema={"threshold": pl.Int64})
    summed = (
        grid.join(per_bucket, on="threshold", how="left")
        .fill_null(0)
        .sort("threshold", descending=True)
        .with_columns(pl.col("mqls", "accepted", "decided", "wins").cum_sum())
        .join(always, how="cross")
    )
    decided = pl.col("decided") + pl.col("spot_decided")
    return summed.select(
        "threshold",
        (pl.col("mqls") + pl.col("spot_mqls")).alias("mqls"),
        decided.alias("decided"),
        pl.when(decided > 0).then((pl.col("accepted") + pl.col("spot_accepted")) / decided).alias("acceptance_rate"),
        (pl.col("wins") + pl.col("spot_wins")).cast(pl.Float64).alias("wins"),
    ).sort("threshold")


def score_distribution(projected: pl.LazyFrame, *, width: int = 2) -> pl.LazyFrame:
    """Decided leads per band of the proposal's score (width points wide) and decision: accepted or rejected."""
    band = (pl.col("score") / width).floor().cast(pl.Int64) * width
    return (
        projected.filter(pl.col("decided"))
        .group_by(band.alias("score_band"), pl.col("accepted"))
        .agg(pl.len().cast(pl.Int64).alias("leads"))
        .with_columns(
            pl.when(pl.col("accepted")).then(pl.lit("accepted")).otherwise(pl.lit("rejected")).alias("decision")
        )
        .drop("accepted")
        .sort("score_band", "decision")
    )


def gate_quality(projected: pl.LazyFrame) -> pl.LazyFrame:
    """Precision and recall of the MQL gate against sales' decisions, for the live rules and the proposal.

    Measured on the leads sales decided (most of them passed the live rule: the spot checks are what lets the
    live rule miss anything); precision = accepted among those the gate passes, recall = share of the accepted
    that the gate passes.
    """
    decided = projected.filter(pl.col("decided"))

    def quality(gate: str, label: str) -> pl.LazyFrame:
        passed = pl.col(gate)
        true_positive = _count(passed & pl.col("accepted"))
        return decided.select(
            pl.lit(label).alias("rule"),
            _count(passed).alias("passed"),
            _count(pl.col("accepted")).alias("accepted"),
            true_positive.alias("accepted_passed"),
        )

    return pl.concat([quality("live_qualifies", "Live rules"), quality("qualifies", "Proposal")]).with_columns(
        pl.when(pl.col("passed") > 0).then(pl.col("accepted_passed") / pl.col("passed")).alias("precision"),
        pl.when(pl.col("accepted") > 0).then(pl.col("accepted_passed") / pl.col("accepted")).alias("recall"),
    )


def removed_wins_and_acceptances(projected: pl.LazyFrame, *, limit: int | None = None) -> pl.LazyFrame:
    """What the proposal costs: accepted leads it would have excluded, wins first, then by score (the first limit)."""
    lost = projected.filter(pl.col("removed") & pl.col("accepted"))
    return _first(lost, ["won", "score"], limit)


def added_leads(projected: pl.LazyFrame, *, limit: int | None = None) -> pl.LazyFrame:
    """What the proposal adds: newly qualifying leads, likeliest to be accepted first (the first limit)."""
    return _first(projected.filter(pl.col("added")), ["p_accept", "score"], limit)


def _first(rows: pl.LazyFrame, by: list[str], limit: int | None) -> pl.LazyFrame:
    # top_k finds the first rows without sorting them all; the list shown on a page needs only a few hundred.
    if limit is None:
        return rows.sort(by, descending=True)
    return rows.top_k(limit, by=by).sort(by, descending=True)
