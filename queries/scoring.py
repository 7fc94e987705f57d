"""Lead scoring: the four component sub-scores, the weighted score and the MQL gates."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from dashboard.domain import ScoreComponent

# Points per attribute value (0-100); a missing value earns the "None" entry.
SENIORITY_POINTS = {"c_level": 100, "vp": 90, "director": 75, "manager": 50, "entry": 20, None: 10}
REGION_POINTS = {"north_america": 100, "emea": 90, "apac": 60, "latam": 50, None: 30}
INDUSTRY_POINTS = {
    "software": 100,
    "financial_services": 90,
    "healthcare": 80,
    "manufacturing": 60,
    "retail": 50,
    "public_sector": 40,
    "education": 30,
    "other": 20,
    None: 10,
}
SIZE_POINTS = {"1-10": 10, "11-50": 35, "51-200": 65, "201-1000": 90, "1001-5000": 100, "5000+": 85, None: 20}
REVENUE_POINTS = {"<1M": 10, "1-10M": 40, "10-50M": 70, "50-250M": 95, "250M+": 100, None: 20}
# Students and job seekers are never a demographic fit, whatever their title says.
NON_BUYER_ROLES = ("student", "job_seeker")

SCORE_COLUMNS: dict[ScoreComponent, str] = {c: f"score_{c.value}" for c in ScoreComponent}
CRM_SCORE = "crm_score"  # the CRM's own lead score, when an import maps one: a replay on it ignores the weights


@dataclass(frozen=True)
class ScoringRule:
    """Weights per component, the MQL threshold and the gates a lead must pass."""

    w_demographic: float = 0.25
    w_firmographic: float = 0.25
    w_behavioural: float = 0.35
    w_engagement: float = 0.15
    mql_threshold: float = 50.0
    gate_known_company: bool = False
    gate_budget: bool = False
    gate_authority: bool = False
    gate_timeline_months: int | None = None

    def weight(self, component: ScoreComponent) -> float:
        return getattr(self, f"w_{component.value}")


def _points(column: str, table: dict) -> pl.Expr:
    known = {k: v for k, v in table.items() if k is not None}
    return pl.col(column).replace_strict(known, default=table[None], return_dtype=pl.Float64).fill_null(table[None])


def component_scores(leads: pl.LazyFrame) -> pl.LazyFrame:
    """leads with one 0-100 sub-score column per score component (score_<component>)."""
    demographic = (0.7 * _points("seniority", SENIORITY_POINTS) + 0.3 * _points("region", REGION_POINTS)) * (
        pl.when(pl.col("role").is_in(NON_BUYER_ROLES)).then(0.0).otherwise(1.0)
    )
    firmographic = (
        0.4 * _points("industry", INDUSTRY_POINTS)
        + 0.35 * _points("company_size_band", SIZE_POINTS)
        + 0.25 * _points("revenue_band", REVENUE_POINTS)
    )
    behavioural = pl.min_horizontal(
        pl.lit(100.0),
        4.0 * pl.col("web_visits")
        + 12.0 * pl.col("content_downloads")
        + 5.0 * pl.col("email_clicks")
        + 6.0 * pl.col("ctv_completions")
        + 20.0 * pl.col("event_attendance"),
    )
    engagement = pl.min_horizontal(pl.lit(100.0), 25.0 * pl.col("sales_engagement").cast(pl.Float64))
    return leads.with_columns(
        demographic.alias(SCORE_COLUMNS[ScoreComponent.DEMOGRAPHIC]),
        firmographic.alias(SCORE_COLUMNS[ScoreComponent.FIRMOGRAPHIC]),
        behavioural.cast(pl.Float64).alias(SCORE_COLUMNS[ScoreComponent.BEHAVIOURAL]),
        engagement.alias(SCORE_COLUMNS[ScoreComponent.ENGAGEMENT]),
    )


def score_expr(rule: ScoringRule, *, crm: bool = False) -> pl.Expr:
    """The weighted score (0-100) of rows that carry the component sub-scores; with crm, the CRM's own score
    (null for a lead the CRM did not score)."""
    if crm:
        return pl.col(CRM_SCORE).cast(pl.Float64)
    total = sum(rule.weight(c) for c in ScoreComponent)
    if total <= 0:
        return pl.col(SCORE_COLUMNS[ScoreComponent.DEMOGRAPHIC]) * 0.0  # one 0 per row, not a scalar
    return pl.sum_horizontal([pl.col(SCORE_COLUMNS[c]) * (rule.weight(c) / total) for c in ScoreComponent])


def gates_expr(rule: ScoringRule) -> pl.Expr:
    """True where a lead passes every gate the rule turns on."""
    gates = [pl.int_range(pl.len()) >= 0]  # all true, one per row (a bare literal would be a scalar)
    if rule.gate_known_company:
        gates.append(pl.col("company").is_not_null())
    if rule.gate_budget:
        gates.append(pl.col("has_budget").fill_null(False))
    if rule.gate_authority:
        gates.append(pl.col("is_authority").fill_null(False))
    if rule.gate_timeline_months is not None:
        gates.append(pl.col("timeline_months").fill_null(10_000) <= rule.gate_timeline_months)
    return pl.all_horizontal(gates)


def qualifies_expr(rule: ScoringRule, *, crm: bool = False) -> pl.Expr:
    """True where a lead would become an MQL under rule (scored by the CRM's own score with crm)."""
    return (score_expr(rule, crm=crm) >= rule.mql_threshold).fill_null(False) & gates_expr(rule)
