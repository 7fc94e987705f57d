"""Reusable widgets: the shared filter bar, the first-start seeding, the KPI row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
import streamlit as st

from dashboard import export
from dashboard.auth import ACTION_LABELS, ROLE_LABELS
from dashboard.charts import charts
from dashboard.config import Settings
from dashboard.data import data
from dashboard.data.data import Facts
from dashboard.domain import (
    COUNTING_MODE_LABELS,
    MAIN_PATH,
    REJECTION_REASONS,
    STAGE_LABELS,
    TIER_LABELS,
    CountingMode,
    Stage,
)
from dashboard.filters import FilterOptions, Filters, parse_params, to_params
from dashboard.ui.columns import columns
from dashboard.ui.text import plain, plain_table
from queries.leads import ATTRIBUTE, NOT_SET

TIER_NAMES = {tier.value: label for tier, label in TIER_LABELS.items()}
FILTER_KEYS = {
    "start": "filter_start",
    "end": "filter_end",
    "channels": "filter_channels",
    "campaigns": "filter_campaigns",
    "tiers": "filter_tiers",
    "mode": "filter_mode",
}
ATTRIBUTE_KEY = "filter_attr_"
PAGE_PARAMS = ("week",)  # URL parameters a page reads for itself, which the shared filters leave alone


def prepare_database(settings: Settings) -> None:
    """Create the schema; on the very first start, fill the empty database with demo data behind a progress bar."""
    if not _is_empty(settings.database_url) or not settings.seed_demo_on_first_start:
        return
    bar = st.progress(0.0, text="First start: creating the demo database…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"First start: writing demo leads ({done:,} of {total:,})…")

    data.seed_demo_once(settings, progress)
    _is_empty.clear()
    bar.empty()


# No ttl: once the database has data it cannot become empty again; seeding clears this cache.
@st.cache_resource(max_entries=4)
def _is_empty(url: str) -> bool:
    return data.database_is_empty(url)


def _initialise(options: FilterOptions, today: date) -> None:
    params = {k: st.query_params[k] for k in st.query_params}
    parsed = parse_params(params, options, today)
    f = parsed.filters
    for name, key in FILTER_KEYS.items():
        value = getattr(f, name)
        st.session_state[key] = list(value) if isinstance(value, tuple) else value
    chosen = dict(f.attributes)
    for name, _ in options.attributes:
        st.session_state[ATTRIBUTE_KEY + name] = list(chosen.get(name, ()))
    st.session_state["filter_notices"] = parsed.notices
    st.session_state["filter_parsed"] = f


def filter_bar(
    options: FilterOptions, channel_labels: dict[str, str], campaign_labels: dict[int, str], today: date
) -> Filters:
    """The sidebar filters shared by every page, kept in the URL so a link reproduces the view."""
    if "filter_parsed" not in st.session_state:
        _initialise(options, today)
    with st.sidebar:
        st.header("Filters")
        st.date_input("From", key=FILTER_KEYS["start"], format="YYYY-MM-DD")
        st.date_input("To", key=FILTER_KEYS["end"], format="YYYY-MM-DD")
        st.multiselect(
            "Channel",
            options=list(options.channels),
            format_func=lambda k: channel_labels.get(k, k),
            key=FILTER_KEYS["channels"],
            placeholder="All channels",
        )
        st.multiselect(
            "Campaign",
            options=list(options.campaigns),
            format_func=lambda i: campaign_labels.get(i, str(i)),
            key=FILTER_KEYS["campaigns"],
            placeholder="All campaigns",
        )
        st.multiselect(
            "Rep tier",
            options=list(options.tiers),
            format_func=lambda t: TIER_NAMES.get(t, t),
            key=FILTER_KEYS["tiers"],
            placeholder="Both tiers",
        )
        # The lead attributes an import kept (segment, lead type, region...), one filter each.
        for name, values in options.attributes:
            st.multiselect(
                plain(name), options=list(values), key=ATTRIBUTE_KEY + name, placeholder=f"Any {name.lower()}"
            )
    state = st.session_state
    start, end = state[FILTER_KEYS["start"]], state[FILTER_KEYS["end"]]
    if start > end:
        st.sidebar.error("“From” is after “To”: the dates were swapped.")
        start, end = end, start
    filters = Filters(
        start=start,
        end=end,
        channels=tuple(state[FILTER_KEYS["channels"]]),
        campaigns=tuple(state[FILTER_KEYS["campaigns"]]),
        tiers=tuple(state[FILTER_KEYS["tiers"]]),
        mode=CountingMode(state.get(FILTER_KEYS["mode"]) or CountingMode.COHORT),
        attributes=tuple(
            (name, tuple(state.get(ATTRIBUTE_KEY + name, [])))
            for name, _ in options.attributes
            if state.get(ATTRIBUTE_KEY + name)
        ),
    )
    # A page's own parameters (the weekly review's ?week=) are left in the address for that page to read.
    current = {k: st.query_params[k] for k in st.query_params}
    params = to_params(filters, today) | {k: v for k, v in current.items() if k in PAGE_PARAMS}
    if current != params:
        st.query_params.from_dict(params)
    if filters != state["filter_parsed"]:
        state["filter_notices"] = []
    return filters


def link_notices() -> None:
    """Say which parts of the opened link were ignored, until the user changes a filter (the link's text shown as it
    is: a shared link must not plant a link or an image in the page)."""
    for notice in st.session_state.get("filter_notices", []):
        st.warning(plain(notice), icon=":material/link_off:")


def counting_mode_toggle() -> CountingMode:
    """The visible cohort / in-period switch (shared through the URL)."""
    if st.session_state.get(FILTER_KEYS["mode"]) is None:
        st.session_state[FILTER_KEYS["mode"]] = CountingMode.COHORT
    value = st.radio(
        "Counting mode",
        options=list(CountingMode),
        format_func=lambda m: COUNTING_MODE_LABELS[CountingMode(m)],
        key=FILTER_KEYS["mode"],
        horizontal=True,
        help="Cohort: leads created in the period, followed to wherever they got. "
        "In-period: stage changes that happened in the period, whenever the lead was created.",
    )
    return CountingMode(value)


def kpi_row(kpis: pl.DataFrame, previous: Filters, facts: Facts, *, as_of: datetime | None = None) -> None:
    """One metric per stage with its change against the previous period of the same length (its leads counted as
    they stood at as_of, when given: the same age as this period's); a stage the data never records reads "–"."""
    period = f"{previous.start:%d %b %Y} – {previous.end:%d %b %Y}"
    against = f"the previous period ({period}"
    if as_of is not None:
        against = f"the leads created {period}, counted as they stood on {as_of:%d %b %Y} (the same age as these"
    for column, row in zip(st.columns(kpis.height), kpis.iter_rows(named=True), strict=False):
        if not facts.stage_recorded(Stage(row["stage"])):
            column.metric(
                row["stage_label"],
                "–",
                help="No lead in this data reached this stage: the export does not record it, so there is no count.",
                border=True,
            )
            continue
        delta = None
        if row["previous"]:
            relative = f" ({row['relative_change']:+.0%})" if row["relative_change"] is not None else ""
            delta = f"{row['change']:+,}{relative}"
        column.metric(
            row["stage_label"],
            f"{row['count']:,}",
            delta=delta,
            help=f"Leads at this stage; the change is against {against}: {row['previous']:,}).",
            border=True,
        )


def period_caption(filters: Filters) -> str:
    period = f"{filters.start:%d %b %Y} – {filters.end:%d %b %Y}"
    return f"{period} ({filters.days} days), compared with the {filters.days} days before"


def selected_points(event) -> list[dict]:
    """The points a plotly selection event picked (empty when nothing is selected)."""
    try:
        return list(event.selection.points)
    except AttributeError:
        return []


def point_label(point: dict) -> str | None:
    """The group a selected bar or cell stands for: a bar's first customdata, else the cell's row label."""
    custom = point.get("customdata")
    if isinstance(custom, list | tuple) and custom:
        return custom[0]
    return point.get("y")


def picked(event, *columns: str) -> list[dict[str, str]]:
    """What a chart's selection picked, as column -> value per point: a bar's group (one column), or a heatmap
    cell's row and column (two columns, the row's first)."""
    points = selected_points(event)
    if len(columns) == 1:
        return [{columns[0]: point_label(p)} for p in points]
    return [{columns[0]: p.get("y"), columns[1]: p.get("x")} for p in points]


def picked_text(picked: list[list[dict[str, str]]]) -> str:
    """What the charts' selections picked, as a person reads it: "Email or Events; Spring launch" (for a caption: the
    names are plain text)."""
    return "; ".join(
        " or ".join(" · ".join(plain(v) for v in p.values()) for p in points) for points in picked if points
    )


def duration(hours: float | None) -> str:
    """A span as a person reads it: hours up to 48, days beyond ("3.2 days")."""
    if hours is None:
        return "–"
    return f"{hours:.1f} h" if hours <= 48 else f"{hours / 24:.1f} days"


def waited(frame: pl.DataFrame) -> pl.DataFrame:
    """frame with how long each lead has waited as text (hours up to 48, days beyond) in place of the hours."""
    if "hours_waiting" not in frame.columns:
        return frame
    # one rule for every span shown (duration); a table shows at most SHOWN_ROWS of them
    return frame.with_columns(pl.col("hours_waiting").map_elements(duration, return_dtype=pl.String))


OUTCOME_LABELS = {"accepted": "Accepted", "rejected": "Rejected", "pending": "Pending"}
REASON_LABELS = {r.key: r.label for r in REJECTION_REASONS}
# The columns that hold codes, and the labels a person reads instead.
CODE_LABELS = {
    "outcome": OUTCOME_LABELS,
    "reason": REASON_LABELS,
    "tier": TIER_NAMES,
    "decider_tier": TIER_NAMES,
    "role": {role.value: label for role, label in ROLE_LABELS.items()},
    "action": {action.value: label.capitalize() for action, label in ACTION_LABELS.items()},
}


def labelled(frame: pl.DataFrame) -> pl.DataFrame:
    """frame with the codes of its code columns (outcomes, rejection reasons, tiers) replaced by their labels."""
    return frame.with_columns(
        pl.col(c).cast(pl.String).replace(labels) for c, labels in CODE_LABELS.items() if c in frame.columns
    )


def readable(frame: pl.DataFrame) -> pl.DataFrame:
    """frame as a person reads it: codes by their labels, and "–" for a value that does not apply (a pending lead's
    decision time), never "None"."""
    labelled_ = labelled(frame)
    return labelled_.with_columns(
        *(
            pl.col(c).dt.strftime("%Y-%m-%d %H:%M").fill_null("–")
            for c, t in labelled_.schema.items()
            if t.is_temporal()
        ),
        *(
            pl.col(c).cast(pl.String).fill_null("–")
            for c, t in labelled_.schema.items()
            if t in (pl.String, pl.Categorical)
        ),
    )


LEAD_COLUMNS = {
    **columns("external_id", "campaign", "channel_label", "owner"),
    "mql_at": st.column_config.TextColumn("MQL at"),
    "outcome": st.column_config.TextColumn("Outcome"),
    "reason": st.column_config.TextColumn("Rejection reason"),
    "decided_at": st.column_config.TextColumn("Decided at"),
    "hours_waiting": st.column_config.TextColumn("Waiting"),
}


SHOWN_ROWS = 1_000


def table_downloads(
    frame: pl.DataFrame | Callable[[], pl.DataFrame], *, file_stem: str, what: str = "", columns: dict | None = None
) -> None:
    """CSV and Excel downloads of a table (frame, or a function that makes it when a button is pressed), with the
    table's column titles (columns: the column_config it is shown with) and labels in place of codes.

    Written only when pressed, not on every rerun; text that a spreadsheet would run as a formula is neutralised.
    """

    def table() -> pl.DataFrame:
        return download_frame(frame() if callable(frame) else frame, columns or {})

    label = f" {what}" if what else ""
    # A row of buttons as wide as their labels, each label wrapping rather than cut short.
    with st.container(horizontal=True):
        for kind, suffix, mime, write, icon in DOWNLOADS:
            st.download_button(
                f"Download{label} ({kind})",
                data=lambda write=write: write(table()),
                file_name=f"{file_stem}.{suffix}",
                mime=mime,
                key=f"download_{file_stem}_{suffix}",
                icon=icon,
                width="content",
                wrap=True,
            )


def download_frame(frame: pl.DataFrame, columns: dict) -> pl.DataFrame:
    """frame as a download holds it: waits as the page writes them, labels in place of codes, the columns the page
    hides left out and the others under the titles the page gives them (columns: its column_config)."""
    hidden = [name for name, config in columns.items() if config is None and name in frame.columns]
    titles = {
        name: config if isinstance(config, str) else config.get("label") or name
        for name, config in columns.items()
        if config is not None and name in frame.columns
    }
    return labelled(waited(frame)).drop(hidden).rename(titles)


DOWNLOADS = (
    ("CSV", "csv", "text/csv", export.csv_bytes, ":material/download:"),
    ("Excel", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", export.excel_bytes,
     ":material/table_view:"),
)  # fmt: skip


def leads_table(frame: pl.DataFrame, *, caption: str, file_stem: str, reverse: bool = False) -> None:
    """A table of leads (the first SHOWN_ROWS, or the last ones reversed) with every row downloadable as CSV.

    Every value is shown as plain text. reverse: frame is oldest first and the table should show the newest first.
    """
    shown = frame.tail(SHOWN_ROWS).reverse() if reverse else frame.head(SHOWN_ROWS)
    more = f"; the first {SHOWN_ROWS:,} shown, all in the download" if frame.height > SHOWN_ROWS else ""
    st.caption(caption + more)
    st.dataframe(readable(waited(shown)), hide_index=True, width="stretch", column_config=LEAD_COLUMNS)
    table_downloads(
        lambda: frame.reverse() if reverse else frame, file_stem=file_stem, what="these leads", columns=LEAD_COLUMNS
    )


def leave_legacy_multipage_mode() -> None:
    """Rerun once if Streamlit still runs this app as a legacy pages/-folder app.

    Streamlit treats an app with a pages/ folder as a legacy multipage app until its first
    st.navigation call: the first run after a server start is wrapped (with other widget ids)
    or, when it opens a page's own URL, runs that page without the entry script.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_context() -> tuple[Settings, Filters]:
    """The settings and shared filters the entry script prepared for this page."""
    if "filters" not in st.session_state:
        leave_legacy_multipage_mode()
    return st.session_state["settings"], st.session_state["filters"]


def timing_chart(frame: pl.DataFrame, *, label: str, title: str, key: str) -> None:
    """SLA compliance bars per group with the median and p90 hours beside each."""
    frame = labelled(frame)
    text = [
        f"{c:.0%} · median {duration(m)} · p90 {duration(p)} · {n:,} decisions"
        for c, m, p, n in frame.select("sla_compliance", "median_hours", "p90_hours", "decisions").iter_rows()
    ]
    fig = charts.hbar(
        frame,
        label=label,
        value="sla_compliance",
        title=title,
        x_title="Decided within the SLA",
        text=text,
        tickformat=".0%",
        highlight_below=0.8,
    )
    fig.update_xaxes(range=[0, 1])
    fig.update_layout(margin={"r": 330})
    st.plotly_chart(fig, key=key)


ESCALATION_COLUMNS = {
    "owner": st.column_config.TextColumn("Junior rep"),
    "accepted": st.column_config.NumberColumn("Accepted (SAL)", format="%d"),
    "escalated": st.column_config.NumberColumn("Escalated to a senior (SQL)", format="%d"),
    "median_days_junior": st.column_config.NumberColumn("Median days in the junior tier", format="%.1f"),
    "escalation_rate": st.column_config.ProgressColumn("Escalation rate", format="percent", min_value=0, max_value=1),
}


USER_COLUMNS = {
    "email": st.column_config.TextColumn("Email"),
    "name": st.column_config.TextColumn("Name"),
    "role": st.column_config.TextColumn("Role"),
    "rep": st.column_config.TextColumn("Rep record"),
    "team": st.column_config.TextColumn("Team"),
    "active": st.column_config.CheckboxColumn("Active"),
}
AUDIT_COLUMNS = {
    "at": st.column_config.TextColumn("When"),
    "actor": st.column_config.TextColumn("Signed in as"),
    "actor_name": st.column_config.TextColumn("Name"),
    "role": st.column_config.TextColumn("Role"),
    "action": st.column_config.TextColumn("Action"),
    "target": st.column_config.TextColumn("What"),
}


def load_chart(frame: pl.DataFrame):
    """Each rep's leads worked per week against their weekly capacity."""
    labels = labelled(frame).with_columns(pl.format("{} ({})", "name", "tier").alias("rep"))
    text = [
        f"{w:.0f} of {c} per week" + (f" · over capacity ({u:.0%})" if u is not None and u > 1 else "")
        for w, c, u in labels.select("per_week", "weekly_capacity", "utilisation").iter_rows()
    ]
    over = int((labels["utilisation"] > 1).sum())
    return charts.hbar(
        labels,
        label="rep",
        value="utilisation",
        title="Load against weekly capacity"
        + (f" <span style='font-size:13px;color:#c0504d'>({over} over capacity, in red)</span>" if over else ""),
        x_title="Share of capacity",
        text=text,
        tickformat=".0%",
        reference=(1.0, "capacity"),
        highlight_above=1.0,
    )


def velocity_chart(frame: pl.DataFrame):
    """Median days between successive stages."""
    text = [
        "–" if d is None else f"{d:.1f} days ({n:,} leads)" for d, n in frame.select("median_days", "leads").iter_rows()
    ]
    return charts.hbar(
        frame.fill_null(0),
        label="step",
        value="median_days",
        title="Stage velocity (median days)",
        x_title="Days",
        text=text,
    )


def comments_table(frame: pl.DataFrame, *, shown: int) -> None:
    """The newest comments as a plain-text table (markup in a comment is never rendered), all of them downloadable."""
    if frame.is_empty():
        st.caption("No rejection under these filters carries a comment.")
        return
    plural = "" if frame.height == 1 else "s"
    st.caption(f"{frame.height:,} rejection{plural} with a comment; the newest {min(shown, frame.height):,} shown.")
    st.table(
        plain_table(
            labelled(frame.head(shown)).with_columns(pl.col("decided_at").dt.strftime("%Y-%m-%d %H:%M"))
        ).rename(COMMENT_TITLES)
    )
    table_downloads(frame, file_stem="rejection_comments", what="all comments", columns=COMMENT_TITLES)


COMMENT_TITLES = {
    "decided_at": "Decided",
    "external_id": "Lead",
    "campaign": "Campaign",
    "reason": "Reason",
    "decided_by_name": "Rep",
    "comment": "Comment",
}


def _share(part: int, whole: int) -> str:
    return f"{part:,} of {whole:,} ({part / whole:.0%})" if whole else "none"


def facts_summary(facts: Facts) -> None:
    """Say once which facts the data holds and for what share of the leads: the figures rest only on these."""
    rows = [
        ("Lead dates", _share(facts.dated_leads, facts.leads) + " leads carry their own creation date"),
        ("Sales decisions", _share(facts.decided, facts.mqls) + " MQLs have a recorded accept or reject decision"),
        (
            "Rejections",
            f"{facts.rejected:,} recorded" if facts.rejections_recorded else "none recorded: no acceptance rate",
        ),
        (
            "Decision times",
            _share(facts.timed_decisions, facts.decided) + " decisions are dated"
            if facts.decision_times_recorded
            else "none recorded: no SLA figure",
        ),
        ("Stage times", _share(facts.stage_timed_leads, facts.leads) + " leads have a dated stage after creation"),
        (
            "Score inputs",
            _share(facts.scored_leads, facts.leads) + " leads have profile, activity or a CRM score"
            if facts.scored_leads
            else "none: the what-if cannot score these leads",
        ),
    ]
    complete = facts.rejections_recorded and facts.decision_times_recorded and facts.dated_leads == facts.leads
    with st.expander("What this data can tell", expanded=not complete, icon=":material/fact_check:"):
        st.dataframe(
            pl.DataFrame(rows, schema=["Fact", "In this data"], orient="row"),
            hide_index=True,
            width="stretch",
            key="facts_table",
        )


def no_acceptance_rate(facts: Facts) -> bool:
    """Say so, and return True, when the data records no rejection: a rate would read 100% by construction."""
    if facts.rejections_recorded:
        return False
    st.info(
        "No rejections are recorded in this data, so there is no acceptance rate to show: with nothing rejected it "
        f"would read 100% by construction. {facts.decided:,} of {facts.mqls:,} MQLs are known to have been accepted "
        "(they reached a later stage); for the others the export does not say what sales decided.",
        icon=":material/help:",
    )
    return True


@dataclass(frozen=True)
class Breakdown:
    """One lead attribute's figures: its name, the frame's column that holds its values, and the frame."""

    name: str
    column: str
    frame: pl.DataFrame

    @property
    def title(self) -> str:
        return f"By {self.name}"


def attribute_picker(frames: dict[str, pl.DataFrame], *, key: str) -> Breakdown | None:
    """Under a "By lead attribute" heading, a choice of the attributes the data keeps (segment, lead type...);
    the chosen one, or None (and nothing drawn) when the data keeps none."""
    if not frames:
        return None
    st.subheader("By lead attribute")
    names = list(frames)
    name = st.selectbox("Break down by", names, key=key) if len(names) > 1 else names[0]
    return Breakdown(name, ATTRIBUTE + name, frames[name])


def attribute_coverage(breakdown: Breakdown, *, count: str) -> str:
    """ " Segment is recorded for 73 of these 632 leads." (for a caption) when some leads have no value (count: the
    frame's count column), else nothing."""
    values = breakdown.frame[breakdown.column]
    total = int(breakdown.frame[count].sum())
    missing = int(breakdown.frame.filter(values == NOT_SET)[count].sum())
    if not missing or not total:
        return ""
    return f" {plain(breakdown.name)} is recorded for {total - missing:,} of these {total:,} leads."


def attribute_funnel_table(breakdown: Breakdown, *, file_stem: str) -> None:
    """Stage counts per value of one lead attribute (funnel.lead_stage_counts_by), with its downloads."""
    labels = {
        breakdown.column: breakdown.name,
        **{s.value: STAGE_LABELS[s] for s in MAIN_PATH},
        "won_share": "Share won",
    }
    columns = {breakdown.column: st.column_config.TextColumn(breakdown.name)}
    columns |= {stage.value: st.column_config.NumberColumn(STAGE_LABELS[stage], format="%d") for stage in MAIN_PATH}
    columns["won_share"] = st.column_config.ProgressColumn("Share won", format="percent", min_value=0, max_value=1)
    st.dataframe(breakdown.frame, hide_index=True, width="stretch", column_config=columns)
    table_downloads(breakdown.frame.rename(labels, strict=False), file_stem=file_stem)
