"""SLA and hand-off speed: time to decision, compliance, breaches, escalation, load and velocity."""

from datetime import date

import streamlit as st

from dashboard import charts, components, data

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
if view.undated:
    st.caption(
        f"{view.undated:,} MQLs of the period were imported without stage times; they are left out of these figures."
    )
if overall is None and view.breached.is_empty():
    st.info("No MQLs were decided or are waiting under these filters.", icon=":material/search_off:")
    st.stop()

cols = st.columns(4)
if overall:
    cols[0].metric(
        "SLA compliance", f"{overall['sla_compliance']:.1%}", border=True, help=f"Decided within {sla_hours:g} h"
    )
    cols[1].metric("Median time to decision", f"{overall['median_hours']:.1f} h", border=True)
    cols[2].metric("p90 time to decision", f"{overall['p90_hours']:.1f} h", border=True)
cols[3].metric("Pending past the SLA", f"{view.breached.height:,}", border=True)

components.timing_chart(view.by_rep, label="decided_by_name", title="By rep (worst compliance first)", key="sla_by_rep")
worst = view.by_rep.head(2)["decided_by_name"].to_list()
st.plotly_chart(
    charts.weekly_compliance_chart(view.weekly_by_rep, title="Weekly SLA compliance by rep", highlight=worst),
    key="sla_weekly",
)
components.timing_chart(view.by_tier, label="decider_tier", title="By tier of the deciding rep", key="sla_by_tier")
components.timing_chart(view.by_channel, label="channel_label", title="By channel", key="sla_by_channel")

st.subheader("Pending MQLs past the SLA, oldest first")
components.leads_table(view.breached, caption=f"{view.breached.height:,} MQLs waiting", file_stem="sla_breaches")

st.subheader("Junior → senior escalation and load")
st.dataframe(view.escalation, hide_index=True, width="stretch", column_config=components.ESCALATION_COLUMNS)
components.table_downloads(view.escalation, file_stem="sla_escalation")
st.plotly_chart(components.load_chart(view.load), key="sla_load")
st.plotly_chart(components.velocity_chart(view.velocity), key="sla_velocity")
