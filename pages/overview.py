"""Funnel overview: KPIs against the previous period, the funnel, and the weekly trend."""

from dataclasses import replace
from datetime import date

import polars as pl
import streamlit as st

from dashboard.charts import charts
from dashboard.data import data
from dashboard.domain import MAIN_PATH, STAGE_LABELS
from dashboard.ui import components
from dashboard.ui.text import plain

settings, shared = components.page_context()
st.title("Funnel overview")
mode = components.counting_mode_toggle()
filters = replace(shared, mode=mode)
st.caption(components.period_caption(filters))

overview = data.overview(settings.database_url, filters, date.today(), settings.cohort_maturity_days)
if overview.kpis["count"].sum() == 0 and overview.kpis["previous"].sum() == 0:
    st.info(
        "No leads match these filters in this period or the one before. Widen the dates or clear a filter.",
        icon=":material/search_off:",
    )
    st.stop()

facts = data.facts(settings.database_url)
components.kpi_row(overview.kpis, filters.previous(), facts, as_of=overview.previous_as_of)
components.facts_summary(facts)

cohort = mode == "cohort"
if overview.undated_leads:
    st.caption(
        f":material/event_busy: {overview.undated_leads:,} of these leads were imported from a file without dates: "
        "they are counted at the date of their import, so the weekly trend and cohort maturity say nothing about them."
    )
if not cohort and facts.stage_timed_leads < facts.leads:
    st.caption(
        ":material/schedule: In-period counts need the time of each stage change: stages the data does not date "
        "(reached, but not when) are left out of this mode and counted in the cohort mode."
    )
if cohort and overview.previous_as_of is not None:
    st.caption(
        ":material/balance: Compared at equal age: the previous period's leads are counted as they stood on "
        f"{overview.previous_as_of:%d %b %Y}, as long after their creation as these leads are now, so a change is "
        "not just how young these leads are."
    )
if cohort and overview.immature_share > 0:
    st.caption(
        f":material/hourglass_top: {overview.immature_share:.0%} of these {overview.cohort_leads:,} leads "
        f"were created in the last {settings.cohort_maturity_days} days: their later stages are still filling, "
        "so their conversion is still rising (the funnel below shows them as they stand today)."
    )
recorded = [s.value for s in MAIN_PATH if facts.stage_recorded(s)]
if len(recorded) < len(MAIN_PATH):
    first_missing, last_kept = STAGE_LABELS[MAIN_PATH[len(recorded)]], STAGE_LABELS[MAIN_PATH[len(recorded) - 1]]
    st.caption(
        f":material/block: No lead in this data reached {first_missing} or beyond: the export does not record those "
        f"stages, so the funnel stops at {last_kept}."
    )
st.plotly_chart(
    charts.funnel_chart(
        overview.funnel.filter(pl.col("stage").is_in(recorded)),
        title="Funnel: count, % of previous stage, % of first stage",
    ),
    key="overview_funnel",
)
trend_title = "Leads per week by creation week (cohorts)" if cohort else "Stage entries per week"
st.plotly_chart(
    charts.weekly_trend_chart(
        overview.weekly.filter(pl.col("stage").is_in(recorded)),
        title=trend_title,
        immature_from=overview.immature_since.date() if cohort else None,
        period=charts.complete_period(filters.start, filters.end, date.today()),
    ),
    key="overview_trend",
)
if breakdown := components.attribute_picker(overview.by_attribute, key="overview_attribute"):
    st.caption(
        f"Leads {'created' if cohort else 'entering each stage'} in the period, per {plain(breakdown.name)}"
        + (": Share won is the share of them that became customers." if cohort else ".")
        + components.attribute_coverage(breakdown, count="inquiry")
    )
    components.attribute_funnel_table(breakdown, file_stem="overview_by_attribute")
