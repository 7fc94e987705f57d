"""SAL acceptance by channel and campaign: rates with counts and intervals, trend, drill-down."""

from datetime import date

import streamlit as st

from dashboard.charts import charts
from dashboard.data import data
from dashboard.ui import components

settings, filters = components.page_context()
st.title("Sales acceptance")
st.caption(
    "Acceptance rate = accepted ÷ (accepted + rejected) among MQLs of the period that sales has decided on; "
    "pending MQLs are counted apart. Bars show the 95% Wilson interval; grey bars have fewer than 30 decisions."
)
order = st.radio(
    "Sort",
    options=["worst_first", "largest_first"],
    format_func={"worst_first": "Worst acceptance first", "largest_first": "Largest volume first"}.get,
    horizontal=True,
    key="acceptance_order",
)
view = data.acceptance_view(settings.database_url, filters, order)
total = view.total.row(0, named=True) if view.total.height else None
if total is None or total["decided"] + total["pending"] == 0:
    st.info(
        "No MQLs match these filters in this period. Widen the dates or clear a filter.", icon=":material/search_off:"
    )
    st.stop()

facts = data.facts(settings.database_url)
if components.no_acceptance_rate(facts):
    st.metric("MQLs of the period", f"{total['decided'] + total['pending']:,}", border=True)
    st.stop()
if total["decided"] < total["decided"] + total["pending"]:
    st.caption(
        f":material/rule: Measured on the {total['decided']:,} of {total['decided'] + total['pending']:,} MQLs "
        "of the period that have a recorded decision."
    )
kpis = st.columns(4)
kpis[0].metric(
    "Acceptance rate",
    f"{total['rate']:.1%}" if total["rate"] is not None else "–",
    border=True,
    help=f"95% interval {total['rate_low']:.1%}–{total['rate_high']:.1%}" if total["rate"] is not None else None,
)
kpis[1].metric("Accepted", f"{total['accepted']:,}", border=True)
kpis[2].metric("Rejected", f"{total['rejected']:,}", border=True)
kpis[3].metric("Pending decision", f"{total['pending']:,}", border=True, help="MQLs not yet decided; not in the rate.")

by_channel = st.plotly_chart(
    charts.acceptance_bars(view.by_channel, label="channel_label", title="By channel", benchmark=total["rate"]),
    key="acceptance_by_channel",
    on_select="rerun",
    selection_mode="points",
)
by_campaign = st.plotly_chart(
    charts.acceptance_bars(view.by_campaign, label="campaign", title="By campaign", benchmark=total["rate"]),
    key="acceptance_by_campaign",
    on_select="rerun",
    selection_mode="points",
)
matrix = st.plotly_chart(
    charts.acceptance_heatmap(view.matrix, title="Campaign × channel"),
    key="acceptance_matrix",
    on_select="rerun",
    selection_mode="points",
)
st.plotly_chart(
    charts.weekly_acceptance_chart(
        view.weekly,
        view.weekly_previous,
        title="Weekly acceptance by channel",
        period=charts.complete_period(filters.start, filters.end, date.today()),
    ),
    key="acceptance_weekly",
)
if breakdown := components.attribute_picker(view.by_attribute, key="acceptance_attribute"):
    st.plotly_chart(
        charts.acceptance_bars(breakdown.frame, label=breakdown.column, title=breakdown.title, benchmark=total["rate"]),
        key="acceptance_by_attribute",
    )

st.subheader("Leads behind the figures")
# Every chart's selection counts: the leads of one of its selected bars or cells, in each chart that has one.
picked = [
    components.picked(by_channel, "channel_label"),
    components.picked(by_campaign, "campaign"),
    components.picked(matrix, "campaign", "channel_label"),
]
rows = data.leads_behind(view, picked)
what = components.picked_text(picked) or "all MQLs of the period (select a bar or cell to narrow)"
components.leads_table(rows, caption=f"{rows.height:,} leads: {what}", file_stem="acceptance_leads")
