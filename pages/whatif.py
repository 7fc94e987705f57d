"""Threshold what-if: tune the scoring rule and see what sales would have received, accepted and won."""

from datetime import date

import streamlit as st

from dashboard.charts import charts
from dashboard.data import data
from dashboard.ui import components
from dashboard.ui import whatif_widgets as widgets

settings, filters = components.page_context()
url, today, maturity = settings.database_url, date.today(), settings.cohort_maturity_days
st.title("Threshold what-if")
st.caption(
    "Replays the leads created in the filtered period under a proposed scoring rule. Leads the proposal does not "
    "change keep what actually happened; leads it removes are its cost; leads it adds never reached sales, so "
    "their figures are estimated and marked ≈."
)
if notice := st.session_state.pop("whatif_applied", None):
    st.success(notice, icon=":material/check_circle:")
facts = data.facts(url)
missing = []
if not facts.scored_leads:
    missing.append(
        "score inputs for the leads: profile columns (role, seniority, industry, company size, revenue band), "
        "activity counts (visits, downloads, clicks, events), or the CRM's own score column"
    )
if not facts.rejections_recorded:
    missing.append("sales decisions that include rejections, to estimate what sales would accept")
if missing:
    st.info(
        "The what-if cannot replay this data yet. It needs "
        + "; and ".join(missing)
        + ". Map those columns on the Import leads page ([columns] in the mapping) and import again.",
        icon=":material/science:",
    )
    st.stop()
base = data.whatif_base_view(url, today, maturity)
if base.active is None:
    st.info("There is no scoring model yet: import leads or seed the demo first.", icon=":material/info:")
    st.stop()
rule = widgets.rule_controls(base.active)
view = data.whatif_view(url, filters, rule, today, maturity)
total = view.total.row(0, named=True)
if total["actual_mqls"] + total["projected_mqls"] == 0:
    st.info("No leads were created in this period under these filters.", icon=":material/search_off:")
    st.stop()

widgets.projected_kpis(total)
widgets.estimate_note(total, base)
widgets.earlier_models_note(base, filters.start)
weekly = charts.whatif_weekly_chart(view.weekly, title="MQLs per week: actual and projected")
st.plotly_chart(weekly, key="whatif_weekly")

st.subheader("What it costs and what it adds")
costs = st.columns(3)
costs[0].metric("Accepted leads excluded", f"{total['lost_accepted']:,}", border=True)
costs[1].metric("Wins excluded", f"{total['lost_wins']:,}", border=True)
costs[2].metric("Leads added (estimated)", f"{total['added']:,}", border=True, help="Never seen by sales.")
lost, added = st.tabs(["Accepted leads it would have excluded", "Leads it adds (estimated)"])
with lost:
    widgets.leads_list(
        view.lost,
        total=total["lost_accepted"],
        columns=["external_id", "campaign", "channel_label", "created_at", "score", "won"],
        file_stem="whatif_excluded",
        empty="None: the proposal keeps every lead that sales accepted.",
        every=lambda: data.whatif_list(url, filters, rule, today, maturity, which="lost"),
    )
with added:
    widgets.leads_list(
        view.added,
        total=total["added"],
        columns=["external_id", "campaign", "channel_label", "created_at", "score", "p_accept", "p_win"],
        file_stem="whatif_added",
        empty="None: the proposal qualifies no lead that the live rules did not.",
        every=lambda: data.whatif_list(url, filters, rule, today, maturity, which="added"),
    )

st.subheader("Load on each sales tier")
juniors, seniors = st.columns(2)
juniors.plotly_chart(
    charts.tier_load_chart(view.load, tier="junior", title="Junior reps: MQLs to decide"), key="whatif_load_junior"
)
seniors.plotly_chart(
    charts.tier_load_chart(view.load, tier="senior", title="Senior reps: SQLs to work"), key="whatif_load_senior"
)
by_channel, by_campaign = st.tabs(["By channel", "By campaign"])
with by_channel:
    widgets.figures_table(view.by_channel, label="channel_label", file_stem="whatif_by_channel")
with by_campaign:
    widgets.figures_table(view.by_campaign, label="campaign", file_stem="whatif_by_campaign")

st.subheader("Trade-off")
live = base.active.rule.mql_threshold
left, right = st.columns([3, 2])
left.plotly_chart(
    charts.tradeoff_chart(view.sweep, title="As the threshold moves", current=live, proposed=rule.mql_threshold),
    key="whatif_tradeoff",
)
right.plotly_chart(
    charts.score_distribution_chart(view.distribution, title="Decided leads by score", threshold=rule.mql_threshold),
    key="whatif_distribution",
)
st.caption("How well the MQL gate predicts sales' decisions, on the leads sales decided:")
st.dataframe(view.quality, hide_index=True, width="stretch", column_config=widgets.QUALITY_COLUMNS)
components.table_downloads(view.quality, file_stem="whatif_gate_quality")

st.subheader("Scenarios")
widgets.scenario_panel(url, rule, lambda r: data.whatif_view(url, filters, r, today, maturity))
with st.expander("Scoring model history"):
    widgets.model_history(data.model_history(url))
