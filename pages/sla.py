"""SLA and hand-off speed: time to decision, compliance, breaches, escalation, load and velocity."""

from datetime import date

import streamlit as st

from dashboard.charts import charts
from dashboard.data import data
from dashboard.ui import components

settings, filters = components.page_context()
st.title("SLA and hand-off speed")
st.session_state.setdefault("sla_hours", settings.sla_hours)
sla_hours = st.number_input(
    "SLA (hours from MQL to accept/reject)",
    min_value=1.0,
    max_value=240.0,
    step=1.0,
    key="sla_hours",
    help="24 hours is the common best practice; 72 business hours is the usual outer limit.",
)
view = data.handoff_view(settings.database_url, filters, sla_hours, date.today())
overall = view.overall.row(0, named=True) if view.overall.height else None
if overall is not None and not overall["decisions"]:
    overall = None
facts = data.facts(settings.database_url)
work_recorded = facts.decision_times_recorded  # a period without work is then a real 0%
if view.undated:
    st.caption(
        f"{view.undated:,} MQLs of the period have no date of their own for the hand-off; they are left out of these "
        "figures."
    )
if not facts.decision_times_recorded:
    st.info(
        "No decision times are recorded in this data: the export says which leads sales accepted (or rejected) but "
        "not when, so there is no time to decision and no SLA compliance to show. Import the CRM's status history "
        "(an events file with the time of each accept or reject) to measure it.",
        icon=":material/timer_off:",
    )
elif view.timed < view.decided:
    st.caption(
        f":material/rule: Measured on the {view.timed:,} of {view.decided:,} decided MQLs of the period whose "
        "decision time is recorded."
    )
if overall is None and view.breached.is_empty() and facts.decision_times_recorded:
    st.info("No MQLs were decided or are waiting under these filters.", icon=":material/search_off:")
    st.stop()

cols = st.columns(4) if facts.decision_times_recorded else []
if overall:
    cols[0].metric(
        "SLA compliance", f"{overall['sla_compliance']:.1%}", border=True, help=f"Decided within {sla_hours:g} h"
    )
    cols[1].metric("Median time to decision", components.duration(overall["median_hours"]), border=True)
    cols[2].metric("p90 time to decision", components.duration(overall["p90_hours"]), border=True)
if cols:
    cols[3].metric("Pending past the SLA", f"{view.breached.height:,}", border=True)

if overall:
    components.timing_chart(
        view.by_rep, label="decided_by_name", title="By rep (worst compliance first)", key="sla_by_rep"
    )
    worst = view.by_rep.head(2)["decided_by_name"].to_list()
    st.plotly_chart(
        charts.weekly_compliance_chart(
            view.weekly_by_rep,
            title="Weekly SLA compliance by rep",
            highlight=worst,
            period=charts.complete_period(filters.start, filters.end, date.today()),
        ),
        key="sla_weekly",
    )
    components.timing_chart(view.by_tier, label="decider_tier", title="By tier of the deciding rep", key="sla_by_tier")
    components.timing_chart(view.by_channel, label="channel_label", title="By channel", key="sla_by_channel")
    if breakdown := components.attribute_picker(view.by_attribute, key="sla_attribute"):
        components.timing_chart(breakdown.frame, label=breakdown.column, title=breakdown.title, key="sla_by_attribute")
if facts.decision_times_recorded:
    st.subheader("Pending MQLs past the SLA, oldest first")
    if (clock := view.clock).date() < date.today():
        st.caption(
            f":material/history: Waiting is counted up to {clock:%d %b %Y %H:%M}, the last moment this data records: "
            "what happened to these leads after the export was taken is not in it."
        )
    components.leads_table(view.breached, caption=f"{view.breached.height:,} MQLs waiting", file_stem="sla_breaches")

st.subheader("Junior → senior escalation and load")
st.dataframe(view.escalation, hide_index=True, width="stretch", column_config=components.ESCALATION_COLUMNS)
components.table_downloads(view.escalation, file_stem="sla_escalation", columns=components.ESCALATION_COLUMNS)
if view.load["leads"].fill_null(0).sum() or work_recorded:
    st.plotly_chart(components.load_chart(view.load), key="sla_load")
else:
    st.caption(
        ":material/person_off: No rep's work is dated in this data (no stage change names the rep who made it), so "
        "there is no load against capacity to show."
    )
st.plotly_chart(components.velocity_chart(view.velocity), key="sla_velocity")
