"""Rejection feedback: why sales rejects MQLs, who can fix each kind, and the reps' own words."""

from datetime import date

import streamlit as st

from dashboard.charts import charts
from dashboard.data import data
from dashboard.domain import REASON_KIND_FIXERS, ReasonKind
from dashboard.ui import components

settings, filters = components.page_context()
st.title("Rejection feedback")
st.caption(
    "Rejections happen at the SAL gate, before contact, and are feedback on marketing's criteria. "
    "Disqualifications after contact are feedback on the lead and are shown apart, at the bottom."
)
search = st.text_input("Search the sales comments", key="rejections_search", placeholder="e.g. territory, student")
view = data.rejection_view(settings.database_url, filters, search)
explained = int(view.pareto["count"].sum())
if explained == 0 and view.unexplained == 0 and view.disqualifications["count"].sum() == 0:
    st.info("No rejections or disqualifications match these filters in this period.", icon=":material/search_off:")
    st.stop()
if view.unexplained:
    st.info(
        (
            f"None of the {view.unexplained:,} rejections of the period carries a reason in this data: they count in "
            "the acceptance rate, but this page has no reasons to show. "
            if not explained
            else f"{view.unexplained:,} of the {explained + view.unexplained:,} rejections of the period carry no "
            "reason in this data: they count in the acceptance rate, not in the reasons below. "
        )
        + "Map the CRM's rejection reason "
        "column (`feedback` under [columns], its values under [values.feedback]) and import again to see why.",
        icon=":material/help:",
    )
    if explained == 0:
        st.stop()

kinds = {row["reason_kind"]: row for row in view.by_kind.iter_rows(named=True)}
for column, kind in zip(st.columns(len(ReasonKind)), ReasonKind, strict=True):
    row = kinds.get(kind.value, {"count": 0, "rate": None})
    column.metric(
        f"{kind.value.capitalize()} rejections",
        f"{row['count']:,}",
        delta=f"{row['rate']:.1%} of decided MQLs" if row["rate"] is not None else None,
        delta_color="off",
        delta_arrow="off",
        border=True,
    )
    column.caption(f"Who can fix it: {REASON_KIND_FIXERS[kind]}.")
    if kind is ReasonKind.DEFINITIONAL:
        column.page_link("pages/whatif.py", label="Try other scoring criteria in the what-if", icon=":material/tune:")

st.plotly_chart(charts.pareto_chart(view.pareto, title="Pareto of rejection reasons"), key="rejections_pareto")
st.plotly_chart(
    charts.weekly_kind_chart(
        view.weekly,
        title="Rejections per week by kind",
        period=charts.complete_period(filters.start, filters.end, date.today()),
    ),
    key="rejections_weekly",
)
left, right = st.columns(2)
left.plotly_chart(
    charts.kind_rate_bars(view.by_channel, label="channel_label", title="By channel"), key="rejections_channel"
)
right.plotly_chart(
    charts.kind_rate_bars(view.by_campaign, label="campaign", title="By campaign"), key="rejections_campaign"
)
if breakdown := components.attribute_picker(view.by_attribute, key="rejections_attribute"):
    st.plotly_chart(
        charts.kind_rate_bars(breakdown.frame, label=breakdown.column, title=breakdown.title),
        key="rejections_by_attribute",
    )

st.subheader("Sales comments")
components.comments_table(view.comments, shown=100)

st.subheader("Disqualifications after contact")
st.plotly_chart(
    charts.count_bars(
        view.disqualifications,
        label="reason_label",
        title="Disqualified at the SQL gate",
        x_title="Leads",
        color="#7f7f7f",
    ),
    key="rejections_disqualified",
)
