"""Weekly review: the alignment meeting's one page, and the record it keeps from one week to the next."""

from datetime import date

import streamlit as st

from dashboard.charts import review_charts
from dashboard.data import data
from dashboard.data import review_data as rd
from dashboard.ui import components
from dashboard.ui import review_widgets as widgets

settings, _ = components.page_context()
url, today = settings.database_url, date.today()
st.title("Weekly review")
st.caption(
    f"Every channel and campaign (the sidebar filters do not apply here). SLA: {settings.sla_hours:g} hours from "
    "MQL to accept/reject. Each lead counts at its own dates; stages the data does not date have no week to count in."
)
choices = rd.week_choices(data.tables(url), today)
week = widgets.week_picker(choices, rd.default_week(data.tables(url), choices, today), today)
review = rd.review_view(
    url, week, sla_hours=settings.sla_hours, today=today, maturity_days=settings.cohort_maturity_days
)
if review.is_empty:
    st.info(f"No MQLs in {week} or the four weeks before it: pick another week.", icon=":material/search_off:")
live, snapshot = rd.shown_of(review), widgets.week_snapshot(url, week)
shown = snapshot.shown if snapshot else live  # a closed week: the figures as the meeting saw them

widgets.snapshot_status(snapshot, live, sla_hours=settings.sla_hours)
widgets.headline(shown)
st.plotly_chart(
    review_charts.trend_chart(
        review.trend,
        week=str(week),
        title=f"MQLs and acceptance, {rd.TREND_WEEKS} weeks",
        partial=rd.unfinished_weeks(review.trend, date.today()),
    ),
    key="review_trend",
)

st.subheader("Top movers against the week before")
widgets.movers(shown)
st.subheader("Rejection reasons, new or growing")
widgets.rejections(review)
st.subheader("SLA breaches and the sales tiers' load")
widgets.breaches_and_load(review)
st.subheader("Decision log: scoring-model changes")
widgets.decision_log(review)

st.subheader("Action items")
widgets.action_items(url, week, today)
st.subheader("Meeting notes")
widgets.meeting_notes(url, week)
st.subheader("Closing the review")
widgets.close_review(url, review, snapshot, live)

st.subheader("Report")
st.caption(
    "The week as one file to mail: figures, tables, charts (as images), action items and notes; it opens offline."
)
widgets.report_downloads(url, review, today, snapshot)
