"""The acceptance queue: a rep accepts or rejects each MQL, inside the SLA, and marketing sees it at once."""

from datetime import datetime

import polars as pl
import streamlit as st

from dashboard.auth import Action
from dashboard.data import queue_data
from dashboard.domain import Tier
from dashboard.store.db import DatabaseUnavailable
from dashboard.ui import queue_widgets as widgets
from dashboard.ui import signin
from dashboard.ui.components import page_context

settings, _ = page_context()
url = settings.database_url
st.title("Acceptance queue")
st.caption(
    f"Pending MQLs against the {settings.sla_hours:g}-hour SLA: the newest breaches first, then the next deadlines. "
    "Select leads to see why they qualified and to accept or reject them; a rejection needs a reason, and its kind "
    "follows from the reason."
)
widgets.show_message()
try:
    reps = queue_data.reps(url)
    rep = widgets.working_as(reps)
    pending = queue_data.pending_queue(url, rep_id=rep["id"], now=datetime.now(), sla_hours=settings.sla_hours)
except DatabaseUnavailable as exc:
    st.error(str(exc), icon=":material/cloud_off:")
    st.stop()

juniors = reps.filter(pl.col("tier") == Tier.JUNIOR.value)
breached = int(pending["breached"].sum())
cols = st.columns(3)
cols[0].metric("Waiting for you", f"{pending.height:,}", border=True)
cols[1].metric("Past the SLA", f"{breached:,}", border=True)
soonest = pending.filter(~pl.col("breached"))["hours_left"].min()
cols[2].metric("Next SLA deadline", widgets.time_left(soonest) if soonest is not None else "–", border=True)
widgets.undo_panel(url, rep)

if pending.is_empty():
    st.success("Nothing is waiting: the queue is clear.", icon=":material/task_alt:")
else:
    selected = widgets.queue_table(pending)
    if not selected:
        st.info("Select one or more leads in the table to decide them.", icon=":material/touch_app:")
    else:
        with st.container(border=True):
            widgets.lead_card(url, selected[0])
            if len(selected) > 1:
                st.caption(f"…and {len(selected) - 1} more selected: the decision applies to all of them.")
        widgets.decision_panel(url, rep, selected, juniors)

if signin.acting().may(Action.ESCALATE):
    st.subheader("Accepted: hand to a senior rep")
    widgets.escalation_panel(url, rep, reps.filter(pl.col("tier") == Tier.SENIOR.value))
