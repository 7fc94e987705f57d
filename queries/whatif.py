"""The threshold what-if: replay the filtered history under a proposed scoring rule and under the rule live today,
and project the difference.

Both rules are replayed the same way over the same leads (see DOMAIN.md, "The what-if"):
  - a lead the rule makes an MQL keeps what actually happened when it was an MQL (its observed decision, SQL and
    win), and is estimated when it never reached sales (p_accept, p_sql, p_win from queries.propensity);
  - spot-checked MQLs (a route the score does not decide) stay in every replay; leads that qualified under the
    rule live at their time but are not MQLs yet stay out of every replay.
Every change is the proposal minus the live rule's replay, so untouched controls change nothing. What actually
happened can differ from the live rule's replay (an older model was live for part of the period): that
reconciliation (actual_* against baseline_*) is its own figure, never mixed into a proposal's effect.
  - removed: leads the live rule makes MQLs and the proposal does not; their observed acceptances and wins are
    its cost;
  - added: leads the proposal makes MQLs and the live rule does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
import polars.selectors as cs

from dashboard.domain import Decision
from queries.acceptance import Z_95, wilson_bounds
from queries.leads import period_bounds
from queries.propensity import Propensities
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
    decisions = latest.select("lead_id", "decision", "decided_at")
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


def _replayed(rule: ScoringRule, crm: bool) -> pl.Expr:
    """Whether a lead is an MQL when rule is replayed: every spot-checked MQL (a route the score does not decide),
    and every lead the rule qualifies, except the ones that qualified under the rule live at their time and are
    not MQLs yet (too recent to have been handed over: no replay makes them MQLs before their time)."""
    mql = pl.col("mql")
    return (mql & pl.col("spot_check")) | (qualifies_expr(rule, crm=crm) & (mql | ~pl.col("live_qualifies")))


def project(base: pl.LazyFrame, rule: ScoringRule, *, baseline: ScoringRule, crm: bool = False) -> pl.LazyFrame:
    """base with the proposal's score and each lead's fate under the proposal and under the baseline (the rule
    live today, replayed over the same leads): in_proposal, in_baseline, removed, added.

    A lead in a replay keeps what actually happened when it was an MQL, and is estimated (p_accept, p_sql, p_win)
    when it was not: the same for both sides, so a proposal equal to the baseline changes nothing.
    With crm both rules are a threshold (and gates) on the CRM's own score; a lead the CRM did not score is not
    decided by the score, so it keeps what happened (like a spot check) and is never added.
    """
    if crm:
        base = base.with_columns((pl.col("spot_check") | pl.col(CRM_SCORE).is_null()).alias("spot_check"))
    return (
        base.with_columns(
            score_expr(rule, crm=crm).alias("score"),
            qualifies_expr(rule, crm=crm).alias("qualifies"),
            qualifies_expr(baseline, crm=crm).alias("baseline_qualifies"),
            _replayed(rule, crm).alias("in_proposal"),
            _replayed(baseline, crm).alias("in_baseline"),
        )
        .with_columns(
            (pl.col("in_baseline") & ~pl.col("in_proposal")).alias("removed"),
            (pl.col("in_proposal") & ~pl.col("in_baseline")).alias("added"),
        )
        .with_columns(pl.col("in_proposal").alias("projected_mql"))
    )


# Estimates are summed in fixed point, in billionths of a lead: integer sums are exact in any order, so the same leads
# give the same figures whichever pass, group or thread sums them (the live rule as the proposal reads exactly zero
# change, and the same data always gives the same interval). _rolled_up turns them back into leads.
FIXED = 1_000_000_000


def _fixed(value: pl.Expr) -> pl.Expr:
    return (value * FIXED).round().cast(pl.Int64)


def _count(condition: pl.Expr) -> pl.Expr:
    return condition.sum().cast(pl.Int64)


def _where(condition: pl.Expr, value: pl.Expr | float) -> pl.Expr:
    return pl.when(condition).then(value).otherwise(0.0)


STEPS = (("accepted", "p_accept"), ("sqls", "p_sql"), ("wins", "p_win"))
SIDES = ("projected", "baseline")  # the proposal replayed, and the rule live today replayed


def _contributions() -> dict[str, pl.Expr]:
    """What each lead adds to every count (and to the removed leads' estimates), as plain per-row columns: a
    group-by then only sums them (far faster than filtering inside the aggregation)."""
    mql, removed, added = pl.col("mql"), pl.col("removed"), pl.col("added")
    decided, accepted, sql, won = (pl.col(c) for c in ("decided", "accepted", "sql", "won"))
    observed = {"decided": decided, "accepted": accepted, "sqls": sql, "wins": won}
    counts = {
        "actual_mqls": mql,
        "actual_decided": decided & mql,
        "actual_accepted": accepted & mql,
        "actual_sqls": sql,
        "actual_wins": won,
        "added": added,
        "removed": removed,
        "lost_accepted": removed & mql & accepted,
        "lost_wins": removed & mql & won,
    }
    estimates = {"est_lost_accepted": _fixed(_where(removed & ~mql, pl.col("p_accept")))}
    estimates["est_lost_wins"] = _fixed(_where(removed & ~mql, pl.col("p_win")))
    for side in SIDES:
        inside = _inside(side)
        counts[f"{side}_mqls"] = inside
        for name, outcome in observed.items():
            counts[f"{side}_observed_{name}"] = inside & mql & outcome
    return {**{k: v.cast(pl.Int64) for k, v in counts.items()}, **estimates}


def _estimated(side: str, propensities: Propensities) -> dict[str, pl.Expr]:
    """What one replay's estimated leads add up to, summed over them alone: how many they are, their estimated
    acceptances, SQLs and wins, each figure's variance from the leads' own chance (the sum of p(1-p)), and its
    gradients in the models' coefficients (propensity.estimate_gradients)."""
    sums = {f"{side}_estimated": pl.len().cast(pl.Int64)}
    for name, column in STEPS:
        p = pl.col(column)
        sums[f"{side}_est_{name}"] = _fixed(p).sum()
        sums[f"{side}_var_{name}"] = _fixed(p * (1 - p)).sum()
        gradients = propensities.estimate_gradients(name, prefix=f"{side}_grad_{name}")
        sums |= {k: _fixed(g).sum() for k, g in gradients.items()}
    return sums


def _inside(side: str) -> pl.Expr:
    return pl.col("in_proposal" if side == "projected" else "in_baseline")


def contribution_sums(projected: pl.LazyFrame, *, by: list[str], propensities: Propensities) -> pl.LazyFrame:
    """Every summed figure per group (by: the finest grouping any view needs): the counts in one pass over the
    leads, and each side's estimates with their intervals' sums in one pass over its estimated leads.

    projected is project(...) of leads that carry propensities.expressions() (p_accept, p_sql, p_win and what
    their gradients need); projection_by and tier_load roll these sums up to coarser groups.
    """
    if by:
        sums = _summed(projected.select(*by, **_contributions()), by)
    else:  # one row: each count summed as it is made, without a column per count (twice as fast)
        sums = projected.select(**{name: count.sum() for name, count in _contributions().items()})
    for side in SIDES:
        # filtered once: dozens of sums (the gradients), far cheaper on the leads a replay estimates than masked on
        # every lead, and cheaper in two filtered passes than in one pass masking both sides
        estimated, summed = projected.filter(_inside(side) & ~pl.col("mql")), _estimated(side, propensities)
        if not by:
            sums = pl.concat([sums, estimated.select(**summed)], how="horizontal")
            continue
        per_group = estimated.group_by(by).agg(**summed)
        sums = sums.join(per_group, on=by, how="left", nulls_equal=True).with_columns(cs.by_name(*summed).fill_null(0))
    return sums


# The summed columns: the counts, and each side's estimates and gradients (as many as the models have coefficients);
# the counts are summed before the estimates are joined to them.
_ESTIMATED = tuple(name for side in SIDES for name in _estimated(side, Propensities(None, None, None)))
CONTRIBUTIONS = cs.by_name(*_contributions()) | cs.by_name(*_ESTIMATED, require_all=False) | cs.contains("_grad_")


# The sums kept in fixed point (everything estimated: the estimates, their variances and gradients).
FIXED_SUMS = cs.by_name("est_lost_accepted", "est_lost_wins", *(n for n in _ESTIMATED if not n.endswith("_estimated")))
FIXED_SUMS = FIXED_SUMS | cs.contains("_grad_")


def _summed(sums: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """sums added up per group of by (one row when by is empty), as they are (the estimated ones in fixed point)."""
    return sums.select(CONTRIBUTIONS.sum()) if not by else sums.group_by(by).agg(CONTRIBUTIONS.sum())


def _rolled_up(sums: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """contribution_sums added up per group of by, the estimated ones back in leads."""
    return _summed(sums, by).with_columns(FIXED_SUMS / FIXED)


def _side_figures(side: str) -> list[pl.Expr]:
    """One replay's figures from its sums: observed plus estimated, with 95% intervals.

    The estimated part's half-width is z * sqrt(variance), the variance being the leads' own chance (the sum of
    p(1-p)) plus the models' own uncertainty (the delta method: g' cov g from the fit's covariance, where g is the
    sum's gradient in the coefficients). An estimate far from the leads the model was fitted on rests on
    coefficients that are less sure there, and its interval widens by that much.
    """
    estimated = pl.col(f"{side}_estimated").cast(pl.Float64)

    def half(name: str) -> pl.Expr:
        return Z_95 * (pl.col(f"{side}_var_{name}") + pl.col(f"{side}_var_model_{name}")).sqrt()

    accepted = pl.col(f"{side}_observed_accepted") + pl.col(f"{side}_est_accepted")
    decided = pl.col(f"{side}_observed_decided") + pl.col(f"{side}_estimated")
    low, high = wilson_bounds(accepted, decided)
    widen = half("accepted") / decided
    suffix = "" if side == "projected" else f"_{side}"
    return [
        accepted.alias(f"{side}_accepted"),
        half("accepted").alias(f"accepted_half_width{suffix}"),
        decided.alias(f"{side}_decided"),
        pl.when(decided > 0).then(accepted / decided).alias(f"{side}_rate"),
        pl.when(decided > 0).then((low - widen).clip(0, 1)).alias(f"{side}_rate_low"),
        pl.when(decided > 0).then((high + widen).clip(0, 1)).alias(f"{side}_rate_high"),
        (pl.col(f"{side}_observed_sqls") + pl.col(f"{side}_est_sqls")).alias(f"{side}_sqls"),
        half("sqls").alias(f"sqls_half_width{suffix}"),
        (pl.col(f"{side}_observed_wins") + pl.col(f"{side}_est_wins")).alias(f"{side}_wins"),
        half("wins").alias(f"wins_half_width{suffix}"),
        pl.when(pl.col(f"{side}_mqls") > 0)
        .then(estimated / pl.col(f"{side}_mqls"))
        .otherwise(0.0)
        .alias(f"estimated_share{suffix}"),
    ]


def _figures(sums: pl.LazyFrame, propensities: Propensities) -> pl.LazyFrame:
    """The proposal's and the baseline's figures with their intervals, what actually happened, and the changes:
    proposal minus baseline (zero everywhere when the proposal is the live rule)."""
    actual_rate = pl.col("actual_accepted") / pl.col("actual_decided")
    model_variances = {
        f"{side}_var_model_{name}": propensities.estimate_variance(name, prefix=f"{side}_grad_{name}")
        for side in SIDES
        for name, _ in STEPS
    }
    return (
        sums.with_columns(**model_variances)
        .with_columns(
            *_side_figures("projected"),
            *_side_figures("baseline"),
            pl.when(pl.col("actual_decided") > 0).then(actual_rate).alias("actual_rate"),
        )
        .with_columns(
            (pl.col("projected_mqls") - pl.col("baseline_mqls")).alias("mql_change"),
            (pl.col("projected_rate") - pl.col("baseline_rate")).alias("rate_change"),
            (pl.col("projected_sqls") - pl.col("baseline_sqls")).alias("sqls_change"),
            (pl.col("projected_wins") - pl.col("baseline_wins")).alias("wins_change"),
            (pl.col("baseline_mqls") - pl.col("actual_mqls")).alias("replay_mql_difference"),
        )
        .drop(cs.contains("_var_", "_grad_"))
    )


def projection_by(sums: pl.LazyFrame, *, by: list[str], propensities: Propensities) -> pl.LazyFrame:
    """Actual and projected figures per group (one row when by is empty), largest MQL change first.

    sums is contribution_sums(...) by these or finer groups, with the same propensities.
    """
    figures = _figures(_rolled_up(sums, by), propensities)
    if not by:
        return figures
    return figures.sort(pl.col("mql_change").abs(), *by, descending=[True] + [False] * len(by))


def tier_load(sums: pl.LazyFrame, *, junior_capacity: int, senior_capacity: int) -> pl.LazyFrame:
    """Per week: MQLs for the junior tier to decide and SQLs for the senior tier to work, under the live rule
    replayed and under the proposal, against each tier's weekly capacity. sums is contribution_sums(...) by week
    (or finer)."""
    return (
        _rolled_up(sums, ["week"])
        .select(
            "week",
            pl.col("baseline_mqls").alias("junior_baseline"),
            pl.col("projected_mqls").alias("junior_projected"),
            (pl.col("baseline_observed_sqls") + pl.col("baseline_est_sqls")).alias("senior_baseline"),
            (pl.col("projected_observed_sqls") + pl.col("projected_est_sqls")).alias("senior_projected"),
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

    return pl.concat([quality("baseline_qualifies", "Live rule"), quality("qualifies", "Proposal")]).with_columns(
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
