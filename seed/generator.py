"""Vectorised generation of demo leads and their history, one batch at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from dashboard.domain import DISQUALIFICATION_REASONS, REJECTION_REASONS, Decision, Stage, Tier
from queries.scoring import NON_BUYER_ROLES, component_scores, score_expr
from seed import reference as ref

BATCH_SIZE = 100_000
US_PER_HOUR = 3_600_000_000

REGIONS = ("north_america", "emea", "apac", "latam")
COUNTRIES = {
    "north_america": ("US", "CA"),
    "emea": ("GB", "DE", "FR", "NL", "ES"),
    "apac": ("AU", "JP", "SG", "IN"),
    "latam": ("BR", "MX", "AR"),
}
SENIORITIES = ("entry", "manager", "director", "vp", "c_level")
ROLES = ("marketing", "sales", "it", "finance", "operations", "student", "job_seeker")
INDUSTRIES = (
    "software",
    "financial_services",
    "healthcare",
    "manufacturing",
    "retail",
    "education",
    "public_sector",
    "other",
)
SIZES = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")
REVENUES = ("<1M", "1-10M", "10-50M", "50-250M", "250M+")
TIMELINES = (1, 3, 6, 12, 24)


@dataclass(frozen=True)
class Plan:
    """What to generate: lead count, the weeks it spans (ending at `now`), the random seed."""

    leads: int
    weeks: int
    seed: int
    now: datetime

    @property
    def start(self) -> datetime:
        monday = self.now.date() - timedelta(days=self.now.weekday())
        return datetime.combine(monday - timedelta(weeks=self.weeks - 1), datetime.min.time())

    def week_start(self, index: int) -> datetime:
        """Monday 00:00 of the plan's week `index` (0 = the first week), clamped to the plan."""
        return self.start + timedelta(weeks=min(max(index, 0), self.weeks - 1))

    @property
    def misroute_weeks(self) -> tuple[datetime, datetime]:
        return self.week_start(self.weeks - 11), self.week_start(self.weeks - 9)

    @property
    def slow_rep_weeks(self) -> tuple[datetime, datetime]:
        return self.week_start(self.weeks - 7), self.week_start(self.weeks - 4)

    @property
    def model_change(self) -> datetime:
        return self.week_start(self.weeks - 9)


def _to_us(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def _pick(rng: np.random.Generator, options: tuple, p: list[float], n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=np.asarray(p) / sum(p))]


def _text(values) -> pl.Series:
    """A string column from an object array (None stays null)."""
    return pl.Series(np.asarray(values, dtype=object).tolist(), dtype=pl.String)


def _masked(values: np.ndarray, mask: np.ndarray, dtype: pl.DataType) -> pl.Series:
    """values where mask holds, null elsewhere."""
    return pl.select(pl.when(pl.lit(pl.Series(mask))).then(pl.lit(pl.Series(values).cast(dtype)))).to_series()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _day_weights(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    days = (plan.now.date() - plan.start.date()).days + 1
    day_list = [plan.start.date() + timedelta(days=i) for i in range(days)]
    weekday = np.array([d.weekday() for d in day_list])
    weights = np.where(weekday < 5, 1.0, np.where(weekday == 5, 0.35, 0.3))
    position = np.arange(days) / max(days - 1, 1)
    weights = weights * (1.0 + 0.25 * position) * (1.0 + 0.12 * np.sin(2 * np.pi * position * 3))
    starts = np.array([_to_us(datetime.combine(d, datetime.min.time())) for d in day_list], dtype=np.int64)
    return starts, weights / weights.sum()


def true_propensities(leads: pl.DataFrame) -> pl.DataFrame:
    """The generator's hidden acceptance, SQL and win probabilities of each lead (what scoring tries to find)."""
    scored = component_scores(leads.lazy()).collect()
    fit = (0.55 * scored["score_firmographic"] + 0.45 * scored["score_demographic"]).to_numpy() / 100
    behaviour = scored["score_behavioural"].to_numpy() / 100
    no_company = scored["company"].is_null().to_numpy()
    non_buyer = scored["role"].is_in(NON_BUYER_ROLES).fill_null(False).to_numpy()
    budget = scored["has_budget"].fill_null(False).to_numpy()
    need = scored["has_need"].fill_null(False).to_numpy()
    authority = scored["is_authority"].fill_null(False).to_numpy()
    p_accept = _sigmoid(-3.4 + 6.0 * fit + 0.4 * behaviour - 1.6 * no_company - 3.0 * non_buyer)
    p_sql = _sigmoid(-1.6 + 3.0 * fit + 0.8 * budget + 0.8 * need)
    p_win = _sigmoid(-2.0 + 2.5 * fit + 0.6 * authority)
    return pl.DataFrame(
        {"id": scored["id"], "p_accept": p_accept, "p_sql": p_sql, "p_opportunity": 0.7, "p_win": p_win}
    )


@dataclass(frozen=True)
class Cast:
    """Ids of the reference rows the leads point at."""

    campaign_ids: np.ndarray
    campaign_channels: np.ndarray  # channel key per campaign
    campaign_weights: np.ndarray
    campaign_names: np.ndarray
    rep_ids: np.ndarray
    rep_names: np.ndarray
    rep_teams: np.ndarray  # team index per rep
    rep_tiers: np.ndarray
    model_ids: tuple[int, int]


def lead_attributes(plan: Plan, cast: Cast, rng: np.random.Generator, first_id: int, n: int) -> pl.DataFrame:
    """n leads with their attributes, campaign, owner and creation time."""
    day_starts, day_p = _day_weights(plan)
    created = day_starts[rng.choice(len(day_starts), size=n, p=day_p)] + rng.integers(
        7 * US_PER_HOUR, 21 * US_PER_HOUR, size=n
    )
    created = np.minimum(created, _to_us(plan.now) - 60_000_000)
    campaign_idx = rng.choice(len(cast.campaign_ids), size=n, p=cast.campaign_weights)
    channel = cast.campaign_channels[campaign_idx]
    low_fit_ctv = cast.campaign_names[campaign_idx] == ref.LOW_FIT_CTV_CAMPAIGN
    view_through = np.isin(channel, ["ctv", "ott"])

    region_idx = rng.choice(4, size=n, p=[0.45, 0.30, 0.15, 0.10])
    region = np.asarray(REGIONS, dtype=object)[region_idx]
    country = np.array(
        [COUNTRIES[r][i % len(COUNTRIES[r])] for r, i in zip(region, rng.integers(0, 5, size=n), strict=True)],
        dtype=object,
    )
    seniority = _pick(rng, SENIORITIES, [0.35, 0.30, 0.18, 0.11, 0.06], n)
    seniority[rng.random(n) < 0.05] = None
    role = _pick(rng, ROLES, [0.25, 0.2, 0.2, 0.1, 0.15, 0.06, 0.04], n)

    industry = np.where(
        low_fit_ctv,
        _pick(rng, INDUSTRIES, [0.04, 0.03, 0.03, 0.05, 0.30, 0.30, 0.05, 0.20], n),
        _pick(rng, INDUSTRIES, [0.24, 0.14, 0.12, 0.12, 0.1, 0.08, 0.08, 0.12], n),
    )
    size_idx = np.where(
        low_fit_ctv,
        rng.choice(6, size=n, p=[0.45, 0.35, 0.12, 0.05, 0.02, 0.01]),
        rng.choice(6, size=n, p=[0.12, 0.2, 0.24, 0.22, 0.12, 0.1]),
    )
    revenue_idx = np.clip(size_idx - 1 + rng.integers(-1, 2, size=n), 0, 4)
    company_known = rng.random(n) > np.where(view_through, 0.25, 0.1)
    company = np.where(company_known, np.char.add("Company ", (rng.integers(1, 40_000, size=n)).astype(str)), None)

    interest = rng.gamma(2.0, 0.5, size=n) * np.where(low_fit_ctv, 2.2, 1.0)
    web_visits = rng.poisson(1.5 + 3.0 * interest)
    downloads = rng.poisson(0.6 * interest)
    email_clicks = rng.poisson(1.2 * interest)
    ctv = np.where(view_through, rng.poisson(2.0 + 3.0 * interest), 0)
    events = np.where(np.isin(channel, ["webinar", "events"]), 1 + rng.poisson(0.3, size=n), rng.poisson(0.05, size=n))
    engagement = rng.poisson(0.5 * interest)

    senior_enough = np.isin(seniority.astype(str), ["director", "vp", "c_level"])
    fit_hint = (size_idx >= 2) & np.isin(industry.astype(str), ["software", "financial_services", "healthcare"])
    frame = pl.DataFrame(
        {
            "id": np.arange(first_id, first_id + n, dtype=np.int64),
            "created_at": pl.Series(created, dtype=pl.Int64).cast(pl.Datetime("us")),
            "campaign_id": cast.campaign_ids[campaign_idx],
            "role": _text(role),
            "seniority": _text(seniority),
            "country": _text(country),
            "region": _text(region),
            "company": _text(company),
            "industry": _text(industry),
            "company_size_band": _text(np.asarray(SIZES, dtype=object)[size_idx]),
            "revenue_band": _text(np.asarray(REVENUES, dtype=object)[revenue_idx]),
            "web_visits": web_visits,
            "content_downloads": downloads,
            "email_clicks": email_clicks,
            "ctv_completions": ctv,
            "event_attendance": events,
            "sales_engagement": engagement,
            "has_budget": rng.random(n) < 0.25 + 0.35 * fit_hint,
            "is_authority": np.where(senior_enough, rng.random(n) < 0.8, rng.random(n) < 0.1),
            "has_need": rng.random(n) < 0.35 + 0.35 * fit_hint,
            "timeline_months": np.asarray(TIMELINES)[rng.choice(5, size=n, p=[0.1, 0.25, 0.3, 0.2, 0.15])],
        }
    )
    return frame.with_columns(pl.format("DEMO-{}", pl.col("id").cast(pl.String).str.zfill(7)).alias("external_id"))


@dataclass
class Batch:
    leads: pl.DataFrame
    events: pl.DataFrame
    decisions: pl.DataFrame
    disqualifications: pl.DataFrame
    # per lead, what it did or would have done by now had it been handed to sales when it qualified (the same draws
    # as the history): the truth a what-if estimate for a lead that never reached sales is checked against
    would_have: pl.DataFrame


def misrouted_leads(plan: Plan, campaign_names: np.ndarray, created: np.ndarray) -> np.ndarray:
    """True for the leads the plan routes to the wrong team: the misrouted campaign's, in its weeks."""
    lo, hi = (np.datetime64(t) for t in plan.misroute_weeks)
    return (campaign_names == ref.MISROUTED_CAMPAIGN) & (created >= lo) & (created < hi)


# Sales accepts a misrouted lead far less often: the wrong rep rejects it for territory.
MISROUTED_ACCEPTANCE = 0.25


def _owners(
    plan: Plan, cast: Cast, rng: np.random.Generator, leads: pl.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Owner (junior) and escalation (senior) rep per lead, by territory; the misrouted weeks go wrong."""
    n = leads.height
    team = np.array([ref.REGION_TEAM[r] for r in leads["region"].to_list()])
    created = leads["created_at"].to_numpy()
    campaign_names = dict(zip(cast.campaign_ids.tolist(), cast.campaign_names.tolist(), strict=True))
    misrouted = misrouted_leads(plan, np.array([campaign_names[c] for c in leads["campaign_id"].to_list()]), created)
    routed_team = np.where(misrouted, (team + 1) % len(ref.TEAMS), team)

    def pick(tier: Tier, teams: np.ndarray) -> np.ndarray:
        out = np.empty(n, dtype=np.int64)
        for t in range(len(ref.TEAMS)):
            pool = cast.rep_ids[(cast.rep_teams == t) & (cast.rep_tiers == tier.value)]
            mask = teams == t
            out[mask] = pool[rng.integers(0, len(pool), size=mask.sum())]
        return out

    return pick(Tier.JUNIOR, routed_team), pick(Tier.SENIOR, team), misrouted


def _choose_reason(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return (rng.random((weights.shape[0], 1)) > cumulative).sum(axis=1).clip(0, weights.shape[1] - 1)


def history(plan: Plan, cast: Cast, rng: np.random.Generator, leads: pl.DataFrame) -> Batch:
    """Score, route and decide each lead, and play its history forward until `now`."""
    n = leads.height
    now = np.datetime64(plan.now, "us")
    created = leads["created_at"].to_numpy()
    scored = component_scores(leads.lazy()).collect()
    late = created >= np.datetime64(plan.model_change, "us")
    v1_score = scored.select(score_expr(ref.MODEL_V1)).to_series().to_numpy()
    v2_score = scored.select(score_expr(ref.MODEL_V2)).to_series().to_numpy()
    score = np.where(late, v2_score, v1_score)
    threshold = np.where(late, ref.MODEL_V2.mql_threshold, ref.MODEL_V1.mql_threshold)
    model_id = np.where(late, cast.model_ids[1], cast.model_ids[0])

    def hours(h: np.ndarray) -> np.ndarray:
        return (h * US_PER_HOUR).astype("int64").astype("timedelta64[us]")

    mql_at = created + hours(rng.exponential(30.0, size=n))
    arrived = mql_at <= now  # a lead qualifies some time after it is created; not yet for the newest
    by_score = (score >= threshold) & arrived
    spot_check = (score < threshold) & (rng.random(n) < 0.02) & arrived
    mql = by_score | spot_check

    owner, senior, misrouted = _owners(plan, cast, rng, leads)
    props = true_propensities(leads)
    p_accept = np.where(misrouted, MISROUTED_ACCEPTANCE * props["p_accept"].to_numpy(), props["p_accept"].to_numpy())

    slow_lo, slow_hi = (np.datetime64(t, "us") for t in plan.slow_rep_weeks)
    slow_rep_id = cast.rep_ids[cast.rep_names == ref.SLOW_REP][0]
    slow = (owner == slow_rep_id) & (mql_at >= slow_lo) & (mql_at < slow_hi)
    delay_h = np.where(slow, rng.lognormal(np.log(44.0), 0.5, size=n), rng.lognormal(np.log(4.5), 1.0, size=n))
    decided_at = mql_at + hours(delay_h)
    forgotten = rng.random(n) < 0.01
    decided = mql & (decided_at <= now) & ~forgotten
    would_accept = rng.random(n) < p_accept
    accepted = decided & would_accept
    rejected = decided & ~accepted

    # Rejection reasons follow what is wrong with the lead.
    s = scored
    no_company = s["company"].is_null().to_numpy()
    non_buyer = s["role"].is_in(NON_BUYER_ROLES).fill_null(False).to_numpy()
    firmo = s["score_firmographic"].to_numpy() / 100
    behav = s["score_behavioural"].to_numpy() / 100
    reason_weights = np.column_stack(
        [
            np.full(n, 0.02),  # wrong_territory
            np.full(n, 0.06),  # duplicate
            np.full(n, 0.07),  # bad_contact
            0.03 + 0.6 * no_company,  # incomplete_record
            0.6 * (1 - firmo) ** 2,  # not_target_market
            0.35 * (1 - behav) ** 2,  # low_activity
            0.01 + 2.0 * non_buyer,  # student_competitor
        ]
    )
    reason_idx = np.where(misrouted & (rng.random(n) < 0.9), 0, _choose_reason(rng, reason_weights))
    reason_keys = np.asarray([r.key for r in REJECTION_REASONS], dtype=object)[reason_idx]
    reason_kinds = np.asarray([r.kind.value for r in REJECTION_REASONS], dtype=object)[reason_idx]

    sql_at = decided_at + hours(rng.exponential(5 * 24.0, size=n))
    would_qualify = rng.random(n) < props["p_sql"].to_numpy()
    reached_sql = accepted & would_qualify
    disq_at = decided_at + hours(rng.exponential(6 * 24.0, size=n))
    disqualified = accepted & ~reached_sql & (disq_at <= now)
    sql = reached_sql & (sql_at <= now)
    opp_at = sql_at + hours(rng.exponential(7 * 24.0, size=n))
    would_open = rng.random(n) < 0.7
    opp = sql & would_open & (opp_at <= now)
    close_at = opp_at + hours(rng.exponential(21 * 24.0, size=n))
    closed = opp & (close_at <= now)
    would_win = rng.random(n) < props["p_win"].to_numpy()
    won = closed & would_win
    # The same draws for a lead that never became an MQL: what it would have done by now, had it been handed over.
    decided_by_now = (decided_at <= now) & ~forgotten
    sql_by_now = decided_by_now & would_accept & would_qualify & (sql_at <= now)
    would_have = pl.DataFrame(
        {
            "lead_id": leads["id"],
            "accepted": would_accept,
            "sql": sql_by_now,
            "won": sql_by_now & would_open & (close_at <= now) & would_win,
        }
    )
    lost = closed & ~won
    recycled_at = decided_at + hours(np.full(n, 24.0))
    recycled = rejected & (reason_kinds == "definitional") & (rng.random(n) < 0.3) & (recycled_at <= now)

    ids = leads["id"].to_numpy()
    rep_name = dict(zip(cast.rep_ids.tolist(), cast.rep_names.tolist(), strict=True))
    owner_names = np.array([rep_name[i] for i in owner], dtype=object)
    senior_names = np.array([rep_name[i] for i in senior], dtype=object)
    model_actor = np.where(late, "scoring model v2", "scoring model v1")
    mql_actor = np.where(spot_check, "spot check", model_actor)
    null_rep = np.full(n, None, dtype=object)
    steps = (
        (np.ones(n, dtype=bool), Stage.INQUIRY, created, np.full(n, "web form", dtype=object), null_rep),
        (mql, Stage.MQL, mql_at, mql_actor, null_rep),
        (accepted, Stage.SAL, decided_at, owner_names, owner),
        (rejected, Stage.REJECTED, decided_at, owner_names, owner),
        (recycled, Stage.RECYCLED, recycled_at, np.full(n, "marketing nurture", dtype=object), null_rep),
        (disqualified, Stage.DISQUALIFIED, disq_at, owner_names, owner),
        (sql, Stage.SQL, sql_at, senior_names, senior),
        (opp, Stage.OPPORTUNITY, opp_at, senior_names, senior),
        (won, Stage.CUSTOMER, close_at, senior_names, senior),
        (lost, Stage.LOST, close_at, senior_names, senior),
    )
    events = pl.concat(
        [
            pl.DataFrame(
                {
                    "lead_id": ids[mask],
                    "stage": _text([stage.value] * int(mask.sum())),
                    "occurred_at": pl.Series(when[mask], dtype=pl.Datetime("us")),
                    "actor": _text(actor[mask]),
                    "rep_id": pl.Series(rep[mask].tolist(), dtype=pl.Int64),
                }
            )
            for mask, stage, when, actor, rep in steps
        ]
    )
    current = events.sort("occurred_at").group_by("lead_id").agg(pl.col("stage").last()).rename({"lead_id": "id"})
    comment_pick = rng.integers(0, 3, size=n)
    comments = np.array(
        [
            ref.REJECTION_COMMENTS[k][i % len(ref.REJECTION_COMMENTS[k])]
            for k, i in zip(reason_keys, comment_pick, strict=True)
        ],
        dtype=object,
    )
    with_comment = rng.random(n) < 0.4
    decisions = pl.DataFrame(
        {
            "lead_id": ids[decided],
            "decision": _text(np.where(accepted, Decision.ACCEPTED.value, Decision.REJECTED.value)[decided]),
            "reason": _text(np.where(rejected, reason_keys, None)[decided]),
            "reason_kind": _text(np.where(rejected, reason_kinds, None)[decided]),
            "comment": _text(np.where(rejected & with_comment, comments, None)[decided]),
            "rep_id": owner[decided],
            "decided_at": pl.Series(decided_at[decided], dtype=pl.Datetime("us")),
        }
    )
    disq_reason = np.asarray([r.key for r in DISQUALIFICATION_REASONS], dtype=object)[
        rng.choice(len(DISQUALIFICATION_REASONS), size=n, p=[0.25, 0.2, 0.12, 0.2, 0.1, 0.13])
    ]
    disqualifications = pl.DataFrame(
        {
            "lead_id": ids[disqualified],
            "reason": _text(disq_reason[disqualified]),
            "comment": _text([None] * int(disqualified.sum())),
            "rep_id": owner[disqualified],
            "disqualified_at": pl.Series(disq_at[disqualified], dtype=pl.Datetime("us")),
        }
    )
    leads_out = leads.with_columns(
        pl.Series("owner_rep_id", owner),
        _masked(senior, sql, pl.Int64).alias("senior_rep_id"),
        _text(np.where(by_score, "score", np.where(spot_check, "spot_check", None))).alias("mql_route"),
        _masked(np.round(score, 2), mql, pl.Float64).alias("mql_score"),
        _masked(model_id, mql, pl.Int64).alias("scoring_model_id"),
    ).join(current, on="id", how="left")
    return Batch(leads_out, events, decisions, disqualifications, would_have)


def batches(plan: Plan, cast: Cast, first_id: int = 1):
    """Yield the plan's leads in batches of BATCH_SIZE, each with its history."""
    for index, offset in enumerate(range(0, plan.leads, BATCH_SIZE)):
        n = min(BATCH_SIZE, plan.leads - offset)
        rng = np.random.default_rng([plan.seed, index])
        leads = lead_attributes(plan, cast, rng, first_id + offset, n)
        yield history(plan, cast, rng, leads)


def today_plan(leads: int, weeks: int, seed: int, now: datetime | None = None) -> Plan:
    """A plan whose last week is the current one."""
    moment = now or datetime.now().replace(microsecond=0)
    return Plan(leads=leads, weeks=weeks, seed=seed, now=moment)
