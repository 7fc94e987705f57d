"""Threshold what-if: tune the scoring rule and see what sales would have received, accepted and won."""

from datetime import date

import streamlit as st

from dashboard.charts import charts
from dashboard.data import data
from dashboard.ui import components
from dashboard.ui import whatif_widgets as widgets
from queries.scoring import ScoringRule

settings, filters = components.page_context()
url, today, maturity = settings.database_url, date.today(), settings.cohort_maturity_days
st.title("Threshold what-if")
st.caption(
    "Replays the leads created in the filtered period under a proposed scoring rule and under the rule live today, "
    "and shows the difference: with the controls at the live settings every change is zero. A lead either rule "
    "hands to sales keeps what actually happened when it was an MQL; one that never reached sales is estimated "
    "(marked ≈, with its 95% interval)."
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
crm = bool(facts.crm_scored_leads)
if crm and facts.model_scored_leads:
    crm = (
        st.segmented_control(
            "Replay on",
            ["crm", "model"],
            format_func={"crm": "The CRM's own score", "model": "Handoff's scoring model"}.get,
            default="crm",
            key="whatif_score_source",
            required=True,
        )
        == "crm"
    )
base = data.whatif_base_view(url, today, maturity, crm)
if not crm and base.active is None:
    st.info("There is no scoring model yet: import leads or seed the demo first.", icon=":material/info:")
    st.stop()


@st.fragment
def proposal() -> None:
    """The controls and everything they change: moving one reruns this alone, not the app around it."""
    rule = widgets.crm_rule_controls(base) if crm else widgets.rule_controls(base.active)
    # The headline first, from its own small query; the charts and tables after, from the whole view.
    total = data.whatif_headline(url, filters, rule, today, maturity, crm).row(0, named=True)
    if total["actual_mqls"] + total["projected_mqls"] + total["baseline_mqls"] == 0:
        st.info("No leads were created in this period under these filters.", icon=":material/search_off:")
        return
    widgets.projected_kpis(total)
    widgets.estimate_note(total, base)
    widgets.reconciliation_note(total, base, filters.start)
    with st.spinner("Drawing the charts…", show_time=False):
        view = data.whatif_view(url, filters, rule, today, maturity, crm)
    period = charts.complete_period(filters.start, filters.end, today)
    weekly = charts.whatif_weekly_chart(
        view.weekly, title="MQLs per week: live rule, proposal and what happened", period=period
    )
    st.plotly_chart(weekly, key="whatif_weekly")

    # The sections below run only when opened (lazy tabs): a slider move and the page's first paint draw the
    # headline, the weekly chart and one section, not every chart and table of the page.
    sections = [s for s in widgets.SECTIONS if not (crm and s == widgets.SCENARIOS)]
    tabs = dict(zip(sections, st.tabs(sections, key=widgets.SECTION_KEY, on_change="rerun"), strict=True))
    if tabs["What it costs and adds"].open:
        with tabs["What it costs and adds"]:
            _costs_and_additions(view, total, rule)
    if tabs["Load on sales"].open:
        with tabs["Load on sales"]:
            _load_on_sales(view, period)
    if tabs["By channel and campaign"].open:
        with tabs["By channel and campaign"]:
            by_channel, by_campaign = st.tabs(["By channel", "By campaign"])
            with by_channel:
                widgets.figures_table(view.by_channel, label="channel_label", file_stem="whatif_by_channel")
            with by_campaign:
                widgets.figures_table(view.by_campaign, label="campaign", file_stem="whatif_by_campaign")
    if tabs["Trade-off"].open:
        with tabs["Trade-off"]:
            _tradeoff(view, rule)
    if tabs["Track record"].open:
        with tabs["Track record"]:
            widgets.track_record_panel(
                lambda cutoff: data.track_record(url, today, maturity, crm, cutoff),
                first=facts.first_day or today,
                last=facts.last_day or today,
            )
    if crm:
        st.caption(
            ":material/info: Scenarios and scoring model versions are Handoff's own scoring model; a threshold on the "
            "CRM's score is changed in the CRM itself. Switch to Handoff's scoring model to save or apply one."
            if facts.model_scored_leads
            else ":material/info: A threshold on the CRM's score is changed in the CRM itself: this page shows what it "
            "would change, and scenarios apply to Handoff's own scoring model."
        )
    elif tabs[widgets.SCENARIOS].open:
        with tabs[widgets.SCENARIOS]:
            widgets.scenario_panel(url, rule, lambda r: data.whatif_view(url, filters, r, today, maturity))
            with st.expander("Scoring model history"):
                widgets.model_history(data.model_history(url))


def _costs_and_additions(view: data.WhatIf, total: dict, rule: ScoringRule) -> None:
    """The accepted leads and wins the proposal would exclude, and the leads it adds."""
    costs = st.columns(3)
    costs[0].metric("Accepted leads excluded", f"{total['lost_accepted']:,}", border=True)
    costs[1].metric("Wins excluded", f"{total['lost_wins']:,}", border=True)
    costs[2].metric(
        "Leads added",
        f"{total['added']:,}",
        border=True,
        help="Leads the proposal hands to sales and the live rule does not; the ones sales never saw are estimated.",
    )
    lost, added = st.tabs(["Accepted leads it would have excluded", "Leads it adds (estimated)"])
    with lost:
        widgets.leads_list(
            view.lost,
            total=total["lost_accepted"],
            columns=["external_id", "campaign", "channel_label", "created_at", "score", "won"],
            file_stem="whatif_excluded",
            empty="None: the proposal keeps every lead that sales accepted.",
            every=lambda: data.whatif_list(url, filters, rule, today, maturity, which="lost", crm=crm),
        )
    with added:
        widgets.leads_list(
            view.added,
            total=total["added"],
            columns=["external_id", "campaign", "channel_label", "created_at", "score", "p_accept", "p_win"],
            file_stem="whatif_added",
            empty="None: the proposal qualifies no lead that the live rule does not.",
            every=lambda: data.whatif_list(url, filters, rule, today, maturity, which="added", crm=crm),
        )


def _load_on_sales(view: data.WhatIf, period: charts.Period | None) -> None:
    """Each sales tier's weekly work under the live rule and the proposal, against its capacity."""
    juniors, seniors = st.columns(2)
    juniors.plotly_chart(
        charts.tier_load_chart(view.load, tier="junior", title="Junior reps: MQLs to decide", period=period),
        key="whatif_load_junior",
    )
    seniors.plotly_chart(
        charts.tier_load_chart(view.load, tier="senior", title="Senior reps: SQLs to work", period=period),
        key="whatif_load_senior",
    )
    if view.load["junior_capacity"].max() or view.load["senior_capacity"].max():
        st.caption(
            "Under the proposal: "
            + "; ".join(
                charts.over_capacity_words(view.load, tier=tier, who=who)
                for tier, who in (("junior", "junior reps"), ("senior", "senior reps"))
                if view.load[f"{tier}_capacity"].max()
            )
            + "."
        )


def _tradeoff(view: data.WhatIf, rule: ScoringRule) -> None:
    """The threshold swept with the proposal's weights and gates, and the decided leads by score."""
    live = base.crm_threshold if crm else base.active.rule.mql_threshold
    left, right = st.columns([3, 2])
    left.plotly_chart(
        charts.tradeoff_chart(
            view.sweep, title="As the threshold moves", current=live, proposed=rule.mql_threshold, top=base.score_top
        ),
        key="whatif_tradeoff",
    )
    right.plotly_chart(
        charts.score_distribution_chart(
            view.distribution, title="Decided leads by score", threshold=rule.mql_threshold, top=base.score_top
        ),
        key="whatif_distribution",
    )
    st.caption("How well the MQL gate predicts sales' decisions, on the leads sales decided:")
    st.dataframe(view.quality, hide_index=True, width="stretch", column_config=widgets.QUALITY_COLUMNS)
    components.table_downloads(view.quality, file_stem="whatif_gate_quality", columns=widgets.QUALITY_COLUMNS)


proposal()
