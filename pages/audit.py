"""Audit log: every write, with who made it and when."""

from datetime import date, timedelta

import streamlit as st

from dashboard.auth import ACTION_LABELS, Action
from dashboard.data import audit_data
from dashboard.ui import components

settings, _ = components.page_context()
st.title("Audit log")
st.caption("Decisions, reassignments, scoring-model versions, scenarios, imports, review items and user changes.")
left, middle, right = st.columns(3)
since = left.date_input("Since", value=date.today() - timedelta(days=30), key="audit_since")
actions = middle.multiselect(
    "Action", options=list(Action), format_func=lambda a: ACTION_LABELS[Action(a)], key="audit_actions"
)
who = right.text_input("Who (email contains)", key="audit_who")
log = audit_data.audit_log(settings.database_url, since=since, actions=tuple(actions), who=who)
if log.is_empty():
    st.info("No write matches these filters.", icon=":material/search_off:")
    st.stop()
st.caption(f"{log.height:,} {'write' if log.height == 1 else 'writes'}, newest first")
st.dataframe(components.readable(log), hide_index=True, width="stretch", column_config=components.AUDIT_COLUMNS)
components.table_downloads(log, file_stem="audit_log", columns=components.AUDIT_COLUMNS)
