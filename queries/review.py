"""The weekly review's questions: ISO weeks, the week's headline, movers, rising rejections, breaches, load,
the scoring-model decision log and the action items carried from week to week."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import polars as pl

from dashboard.domain import Decision, Stage
from queries.acceptance import Z_95, acceptance_rates, mql_outcomes
from queries.rejection import REASONS
from queries.sla import decision_times, rep_load

WEEK_PATTERN = re.compile(r"(\d{4})-W(\d{2})", re.IGNORECASE)
# An ISO week as text, the way the database stores it ("2026-W07"): the text sorts like the weeks.
ISO_WEEK_FORMAT = "%G-W%V"
AVERAGE_WEEKS = 4


def weeks_in_year(year: int) -> int:
    """52 or 53: the ISO week of 28 December is always the year's last."""
    return date(year, 12, 28).isocalendar().week


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week: Monday to Sunday, numbered within its ISO year (which can differ from the calendar's)."""

    year: int
    week: int

    def __post_init__(self) -> None:
        if not 1 <= self.week <= weeks_in_year(self.year):
            raise ValueError(f"{self.year} has no week {self.week}: it has {weeks_in_year(self.year)} ISO weeks.")

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """The week written as YYYY-Www (e.g. 2026-W07); ValueError with a sentence otherwise."""
        match = WEEK_PATTERN.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"“{text}” is not an ISO week: write it as YYYY-Www, for example 2026-W07.")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, moment: date | datetime) -> IsoWeek:
        """The week a day (or a moment) falls in."""
        iso = moment.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def last_complete(cls, today: date) -> IsoWeek:
        """The last week that has ended by today: the week before today's."""
        return cls.of(today - timedelta(days=7))

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def start(self) -> datetime:
        """Monday 00:00, the first moment of the week."""
        return datetime.combine(self.monday, time())

    @property
    def end(self) -> datetime:
        """The next Monday 00:00: the week is [start, end)."""
        return self.start + timedelta(days=7)

    def shifted(self, weeks: int) -> IsoWeek:
        """The week `weeks` later (earlier when negative), across year boundaries."""
        return IsoWeek.of(self.monday + timedelta(weeks=weeks))

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"

    @property
    def label(self) -> str:
        """The week and its days, e.g. "2026-W10 (2 Mar – 8 Mar 2026)"."""
        return f"{self} ({self.monday:%-d %b} – {self.sunday:%-d %b %Y})"


def weeks_between(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """Every week from first to last, both included (empty when first is after last)."""
    count = (last.monday - first.monday).days // 7 + 1
    return [first.shifted(k) for k in range(max(count, 0))]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str  # count, rate or hours: how it is averaged, shown and compared


# The week's headline, in the order the meeting reads it.
HEADLINE: tuple[Figure, ...] = (
    Figure("mqls", "MQLs", "count"),
    Figure("acceptance_rate", "Acceptance rate", "rate"),
    Figure("sqls", "SQLs", "count"),
    Figure("wins", "Wins", "count"),
    Figure("sla_compliance", "SLA compliance", "rate"),
    Figure("median_hours", "Median time to decision", "hours"),
)
PERIODS = ("this_week", "previous_week", "four_week_average")


def _in(column: str, lo: datetime, hi: datetime) -> pl.Expr:
    return pl.col(column).is_between(lo, hi, closed="left")


def weekly_outcomes(mqls: pl.LazyFrame, *, weeks: list[IsoWeek]) -> pl.LazyFrame:
    """The hand-offs to sales (MQL events) of each week, with their outcome and the week as text."""
    return pl.concat(
        [mql_outcomes(mqls, start=w.monday, end=w.sunday).with_columns(pl.lit(str(w)).alias("week")) for w in weeks],
        how="diagonal_relaxed",
    )


def _stage_entries(stage_events: pl.LazyFrame, stage: Stage, weeks: list[IsoWeek]) -> pl.LazyFrame:
    """Leads that reached stage in each week (once per lead and week), with the week as text."""
    lo, hi = min(weeks).start, max(weeks).end
    return (
        stage_events.filter((pl.col("stage") == stage.value) & _in("occurred_at", lo, hi))
        .select("lead_id", pl.col("occurred_at").dt.strftime(ISO_WEEK_FORMAT).alias("week"))
        .unique()
    )


def _period_figures(
    outcomes: pl.LazyFrame, times: pl.LazyFrame, sqls: pl.LazyFrame, wins: pl.LazyFrame, weeks: list[IsoWeek]
) -> pl.LazyFrame:
    """One row of the headline figures over weeks: counts per week on average, rates and the median pooled."""
    names = [str(w) for w in weeks]
    n = float(len(weeks))
    mine = pl.col("week").is_in(names)
    accepted = (pl.col("outcome") == Decision.ACCEPTED.value).sum()
    decided = (pl.col("outcome") != "pending").sum()
    counts = outcomes.filter(mine).select(
        (pl.len() / n).alias("mqls"),
        pl.when(decided > 0).then(accepted / decided).alias("acceptance_rate"),
    )
    timing = times.filter(mine).select(
        pl.col("within_sla").mean().alias("sla_compliance"), pl.col("hours").median().alias("median_hours")
    )
    stages = [frame.filter(mine).select((pl.len() / n).alias(name)) for name, frame in (("sqls", sqls), ("wins", wins))]
    return pl.concat([counts, timing, *stages], how="horizontal").select(
        [pl.col(f.key).cast(pl.Float64) for f in HEADLINE]
    )


def headline(mqls: pl.LazyFrame, stage_events: pl.LazyFrame, *, week: IsoWeek, sla_hours: float) -> pl.LazyFrame:
    """One row per headline figure: this week, the week before, the average of the 4 weeks before, and changes.

    mqls is acceptance.mql_journeys(...) (mql_at, outcome, decided_at: one row per hand-off); stage_events has lead_id,
    stage and occurred_at. MQLs, acceptance, SLA and time to decision follow the week's MQLs; SQLs and wins count
    the leads that reached the stage in the week. Rates and the median over the 4 weeks are pooled, not averaged.
    """
    weeks = [week.shifted(-k) for k in range(AVERAGE_WEEKS + 1)]
    outcomes = weekly_outcomes(mqls, weeks=weeks)
    times = decision_times(outcomes, sla_hours=sla_hours)
    sqls, wins = (_stage_entries(stage_events, stage, weeks) for stage in (Stage.SQL, Stage.CUSTOMER))
    spans = {"this_week": weeks[:1], "previous_week": weeks[1:2], "four_week_average": weeks[1:]}
    columns = []
    for period, span in spans.items():
        row = _period_figures(outcomes, times, sqls, wins, span)
        columns.append(row.unpivot(variable_name="figure", value_name=period))
    figures = pl.LazyFrame(
        {
            "order": list(range(len(HEADLINE))),
            "figure": [f.key for f in HEADLINE],
            "label": [f.label for f in HEADLINE],
            "unit": [f.unit for f in HEADLINE],
        }
    )
    for column in columns:
        figures = figures.join(column, on="figure", how="left")
    return figures.with_columns(
        (pl.col("this_week") - pl.col("previous_week")).alias("change"),
        (pl.col("this_week") - pl.col("four_week_average")).alias("change_vs_average"),
    ).sort("order")


def weekly_trend(mqls: pl.LazyFrame, *, weeks: list[IsoWeek]) -> pl.LazyFrame:
    """Per week (every week listed, 0 where none): MQLs, decided, accepted and the acceptance rate."""
    outcomes = weekly_outcomes(mqls, weeks=weeks)
    rates = acceptance_rates(outcomes, by=["week"]).select(
        "week", (pl.col("decided") + pl.col("pending")).alias("mqls"), "decided", "accepted", "rate"
    )
    grid = pl.LazyFrame({"week": [str(w) for w in weeks], "monday": [w.monday for w in weeks]})
    return (
        grid.join(rates, on="week", how="left")
        .with_columns(pl.col("mqls", "decided", "accepted").fill_null(0).cast(pl.Int64))
        .sort("monday")
    )


def movers(mqls: pl.LazyFrame, *, week: IsoWeek, by: str) -> pl.LazyFrame:
    """Per group (by: campaign or channel_label): MQLs and acceptance this week against the week before.

    A change is within noise when chance alone could make it at those sample sizes: for acceptance, Newcomb's 95%
    interval for the difference of two proportions (hybrid score, from both weeks' Wilson intervals) holds 0; for
    volume, the change is within 1.96 standard deviations of the difference of two Poisson counts (sqrt of their
    sum). evidence is how many standard errors the clearer of the two changes stands from 0 (its z).
    """
    this = acceptance_rates(mql_outcomes(mqls, start=week.monday, end=week.sunday), by=[by])
    before = acceptance_rates(mql_outcomes(mqls, start=week.shifted(-1).monday, end=week.shifted(-1).sunday), by=[by])
    before = before.select(
        by,
        (pl.col("decided") + pl.col("pending")).alias("mqls_before"),
        pl.col("decided").alias("decided_before"),
        pl.col("rate").alias("rate_before"),
        pl.col("rate_low").alias("rate_low_before"),
        pl.col("rate_high").alias("rate_high_before"),
    )
    mqls_now = pl.col("mqls")
    change = pl.col("rate") - pl.col("rate_before")
    # Newcomb (1998), method 10: each week's Wilson interval carried into the difference
    low = (
        change
        - (
            (pl.col("rate") - pl.col("rate_low")) ** 2 + (pl.col("rate_high_before") - pl.col("rate_before")) ** 2
        ).sqrt()
    )
    high = (
        change
        + (
            (pl.col("rate_high") - pl.col("rate")) ** 2 + (pl.col("rate_before") - pl.col("rate_low_before")) ** 2
        ).sqrt()
    )
    # the change's z: its size over the standard error on the side towards 0
    toward_zero = pl.when(change >= 0).then(change - low).otherwise(high - change)
    rate_z = pl.when(toward_zero > 0).then(Z_95 * change.abs() / toward_zero).otherwise(0.0)
    volume_z = (
        pl.when(mqls_now + pl.col("mqls_before") > 0)
        .then((mqls_now - pl.col("mqls_before")).abs() / (mqls_now + pl.col("mqls_before")).sqrt())
        .otherwise(0.0)
    )
    return (
        this.with_columns((pl.col("decided") + pl.col("pending")).alias("mqls"))
        .join(before, on=by, how="full", coalesce=True)
        .with_columns(pl.col("mqls", "mqls_before", "decided", "accepted", "decided_before").fill_null(0))
        .with_columns(
            (mqls_now - pl.col("mqls_before")).alias("mql_change"),
            change.alias("rate_change"),
            low.alias("rate_change_low"),
            high.alias("rate_change_high"),
            ((low <= 0) & (high >= 0)).alias("rate_within_noise"),
            ((mqls_now - pl.col("mqls_before")).abs() <= Z_95 * (mqls_now + pl.col("mqls_before")).sqrt()).alias(
                "volume_within_noise"
            ),
            rate_z.alias("rate_evidence"),
            volume_z.alias("volume_evidence"),
            pl.max_horizontal(rate_z.fill_null(0.0), volume_z).alias("evidence"),
        )
        .select(
            by,
            "mqls",
            "mqls_before",
            "mql_change",
            "volume_within_noise",
            "decided",
            "accepted",
            "rate",
            "rate_low",
            "rate_high",
            "decided_before",
            "rate_before",
            "rate_change",
            "rate_change_low",
            "rate_change_high",
            "rate_within_noise",
            "rate_evidence",
            "volume_evidence",
            "evidence",
        )
    )


def _beyond_noise() -> pl.Expr:
    return (pl.col("rate_within_noise") == False).fill_null(False) | ~pl.col("volume_within_noise")  # noqa: E712


def top_movers(moved: pl.LazyFrame, *, by: str, n: int = 5) -> pl.LazyFrame:
    """The n groups whose change stands out from noise (in acceptance or in volume), the clearest first."""
    return moved.filter(_beyond_noise()).sort(["evidence", by], descending=[True, False]).head(n)


def within_noise(moved: pl.LazyFrame, *, by: str) -> pl.LazyFrame:
    """The groups that changed, but by no more than chance alone could (folded away under the top movers)."""
    changed = (pl.col("mql_change") != 0) | (pl.col("rate_change").fill_null(0.0) != 0)
    return moved.filter(~_beyond_noise() & changed).sort(["evidence", by], descending=[True, False])


def rejection_trend(mqls: pl.LazyFrame, *, week: IsoWeek) -> pl.LazyFrame:
    """Every rejection reason: rejections decided this week, the week before and per week over the 4 weeks before.

    status is "new" (none in the 4 weeks before), "growing" (above both last week and the 4-week average) or null.
    """
    first = week.shifted(-AVERAGE_WEEKS)
    rejected = mqls.filter(
        (pl.col("outcome") == Decision.REJECTED.value) & _in("decided_at", first.start, week.end)
    ).with_columns(pl.col("decided_at").dt.strftime(ISO_WEEK_FORMAT).alias("week"))
    counts = rejected.group_by("reason").agg(
        (pl.col("week") == str(week)).sum().cast(pl.Int64).alias("this_week"),
        (pl.col("week") == str(week.shifted(-1))).sum().cast(pl.Int64).alias("previous_week"),
        (pl.col("week") != str(week)).sum().cast(pl.Int64).alias("four_weeks"),
    )
    this, previous, average = pl.col("this_week"), pl.col("previous_week"), pl.col("four_weeks") / AVERAGE_WEEKS
    status = (
        pl.when((this > 0) & (pl.col("four_weeks") == 0))
        .then(pl.lit("new"))
        .when((this > previous) & (this > average))
        .then(pl.lit("growing"))
    )
    return (
        REASONS.join(counts, on="reason", how="left")
        .with_columns(pl.col("this_week", "previous_week", "four_weeks").fill_null(0))
        .with_columns(average.alias("four_week_average"))
        .with_columns((this - previous).alias("change"), status.alias("status"))
        .drop("four_weeks")
        .sort(["this_week", "reason"], descending=[True, False])
    )


def rising_rejections(mqls: pl.LazyFrame, *, week: IsoWeek) -> pl.LazyFrame:
    """The rejection reasons that are new or growing this week, largest first."""
    return rejection_trend(mqls, week=week).filter(pl.col("status").is_not_null())


def sla_breaches_by_rep(mqls: pl.LazyFrame, *, week: IsoWeek, sla_hours: float, now: datetime) -> pl.LazyFrame:
    """Per rep, the week's MQLs past the SLA: decided late (by the rep who decided) or still waiting past it now
    (by the lead's owner). Reps with the most breaches first."""
    outcomes = mql_outcomes(mqls, start=week.monday, end=week.sunday)
    pending = pl.col("outcome") == "pending"
    waited = pl.when(pending).then(pl.lit(now)).otherwise(pl.col("decided_at")) - pl.col("mql_at")
    late = (waited.dt.total_seconds() / 3600) > sla_hours
    rep = pl.when(pending).then(pl.col("owner").cast(pl.String)).otherwise(pl.col("decided_by_name").cast(pl.String))
    return (
        outcomes.group_by(rep.fill_null("Unassigned").alias("rep"))
        .agg(
            pl.len().cast(pl.Int64).alias("mqls"),
            (~pending).sum().cast(pl.Int64).alias("decided"),
            (late & ~pending).sum().cast(pl.Int64).alias("decided_late"),
            (late & pending).sum().cast(pl.Int64).alias("waiting_late"),
        )
        .with_columns(
            (pl.col("decided_late") + pl.col("waiting_late")).alias("breaches"),
            pl.when(pl.col("decided") > 0).then(1 - pl.col("decided_late") / pl.col("decided")).alias("sla_compliance"),
        )
        .sort(["breaches", "rep"], descending=[True, False])
    )


def tier_load(reps: pl.LazyFrame, work: pl.LazyFrame, *, week: IsoWeek) -> pl.LazyFrame:
    """Per sales tier: leads worked this week and the week before against the weekly capacity of its active reps.

    work is sla.rep_work(reps, events).
    """

    def worked(w: IsoWeek, name: str) -> pl.LazyFrame:
        load = rep_load(reps, work, start=w.monday, end=w.sunday)
        return load.group_by("tier").agg(pl.col("leads").sum().cast(pl.Int64).alias(name))

    capacity = (
        reps.filter(pl.col("active"))
        .group_by("tier")
        .agg(pl.len().cast(pl.Int64).alias("reps"), pl.col("weekly_capacity").sum().cast(pl.Int64).alias("capacity"))
    )
    return (
        capacity.join(worked(week, "leads"), on="tier", how="full", coalesce=True)
        .join(worked(week.shifted(-1), "leads_before"), on="tier", how="full", coalesce=True)
        .with_columns(pl.col("reps", "capacity", "leads", "leads_before").fill_null(0))
        .with_columns(
            pl.when(pl.col("capacity") > 0).then(pl.col("leads") / pl.col("capacity")).alias("utilisation"),
            pl.when(pl.col("capacity") > 0)
            .then(pl.col("leads_before") / pl.col("capacity"))
            .alias("utilisation_before"),
        )
        .sort("tier")
    )


WINDOW = timedelta(weeks=AVERAGE_WEEKS)


def model_changes(scoring_models: pl.LazyFrame, mqls: pl.LazyFrame, *, as_of: datetime) -> pl.LazyFrame:
    """Every scoring-model change live by as_of: the week it took effect, and MQLs per week and acceptance in the
    (up to) 4 weeks after it against the 4 weeks before.

    The window after ends at as_of or when the next version took over; the window before starts no earlier than
    the previous version. MQLs count the hand-offs to sales; rates are accepted / decided among them.
    """
    versions = (
        scoring_models.sort("active_from")
        .with_columns(pl.col("active_from").shift(1).alias("previous_from"))
        .filter(pl.col("previous_from").is_not_null() & (pl.col("active_from") < as_of))
        .with_columns(
            pl.max_horizontal(pl.col("active_from") - WINDOW, pl.col("previous_from")).alias("before_start"),
            pl.min_horizontal(
                pl.col("active_from") + WINDOW, pl.col("active_to").fill_null(pl.lit(as_of)), pl.lit(as_of)
            ).alias("after_end"),
        )
    )
    windows = versions.select("version", "active_from", "before_start", "after_end")
    after = pl.col("mql_at") >= pl.col("active_from")
    counted = (
        windows.join_where(
            mqls.select("mql_at", "outcome"),
            pl.col("mql_at") >= pl.col("before_start"),
            pl.col("mql_at") < pl.col("after_end"),
        )
        .group_by("version")
        .agg(
            *(
                expr.alias(f"{name}_{side}")
                for side, in_side in (("before", ~after), ("after", after))
                for name, expr in (
                    ("mqls", in_side.sum().cast(pl.Int64)),
                    ("decided", (in_side & (pl.col("outcome") != "pending")).sum().cast(pl.Int64)),
                    ("accepted", (in_side & (pl.col("outcome") == Decision.ACCEPTED.value)).sum().cast(pl.Int64)),
                )
            )
        )
    )
    week_seconds = 7 * 86400
    result = versions.join(counted, on="version", how="left").with_columns(
        pl.col("^(mqls|decided|accepted)_(before|after)$").fill_null(0),
        ((pl.col("active_from") - pl.col("before_start")).dt.total_seconds() / week_seconds).alias("weeks_before"),
        ((pl.col("after_end") - pl.col("active_from")).dt.total_seconds() / week_seconds).alias("weeks_after"),
        pl.col("active_from").dt.strftime(ISO_WEEK_FORMAT).alias("week"),
    )
    per_week = {
        side: pl.when(pl.col(f"weeks_{side}") > 0).then(pl.col(f"mqls_{side}") / pl.col(f"weeks_{side}"))
        for side in ("before", "after")
    }
    rate = {
        side: pl.when(pl.col(f"decided_{side}") > 0).then(pl.col(f"accepted_{side}") / pl.col(f"decided_{side}"))
        for side in ("before", "after")
    }
    return (
        result.with_columns(
            per_week["before"].alias("mqls_per_week_before"),
            per_week["after"].alias("mqls_per_week_after"),
            rate["before"].alias("rate_before"),
            rate["after"].alias("rate_after"),
        )
        .with_columns(
            (pl.col("mqls_per_week_after") - pl.col("mqls_per_week_before")).alias("mql_change"),
            (pl.col("rate_after") - pl.col("rate_before")).alias("rate_change"),
        )
        .drop("previous_from")
        .sort("active_from", descending=True)
    )


def action_items_in_week(items: pl.LazyFrame, *, week: IsoWeek, today: date) -> pl.LazyFrame:
    """The action items that belong to week: created in it or before, and not closed before it.

    status_in_week is "done" for the item closed in that week, else "open"; an open item is overdue when its due
    date had passed at the end of that week (or by today, for the week in progress). Overdue first, then by due date.
    """
    name = str(week)
    closed_week = pl.col("closed_at").dt.strftime(ISO_WEEK_FORMAT)
    as_of = min(today, week.sunday + timedelta(days=1))
    done = closed_week.is_not_null() & (closed_week <= name)
    return (
        items.filter((pl.col("created_week") <= name) & (closed_week.is_null() | (closed_week >= name)))
        .with_columns(
            pl.when(done).then(pl.lit("done")).otherwise(pl.lit("open")).alias("status_in_week"),
            (~done & (pl.col("due_date") < as_of)).alias("overdue"),
            (pl.col("created_week") < name).alias("carried_over"),
        )
        .sort(["overdue", "status_in_week", "due_date", "id"], descending=[True, True, False, False])
    )
