"""The frame: page config, sign-in, navigation, shared sidebar filters, session defaults."""

from datetime import date

import streamlit as st

from dashboard.auth import Action, Role
from dashboard.config import load_settings
from dashboard.data import data
from dashboard.filters import data_today
from dashboard.store.db import DatabaseUnavailable
from dashboard.ui import components, signin, whatif_widgets

st.set_page_config(page_title="Handoff", layout="wide")
components.leave_legacy_multipage_mode()
settings = load_settings()
st.session_state.setdefault("settings", settings)

try:
    components.prepare_database(settings)
    actor = signin.current_actor(settings.database_url)
    options, channel_labels, campaign_labels = data.filter_options(settings.database_url)
    facts = data.facts(settings.database_url)
except DatabaseUnavailable as exc:
    st.error(str(exc), icon=":material/cloud_off:")
    st.stop()

# Windows follow the data: an export that ended before the default window opens on its own last weeks.
anchor = data_today(date.today(), facts.last_day)
st.session_state["filters"] = components.filter_bar(options, channel_labels, campaign_labels, anchor)
if anchor != date.today():
    st.sidebar.caption(
        f":material/history: The newest lead in this data is from {anchor:%d %b %Y}: the default period ends there."
    )
signin.sidebar_identity(actor)
pages = [
    st.Page("pages/overview.py", title="Funnel overview", default=True),
    st.Page("pages/acceptance.py", title="Sales acceptance"),
    st.Page("pages/rejections.py", title="Rejection feedback"),
    st.Page("pages/sla.py", title="SLA and hand-off speed"),
    st.Page("pages/whatif.py", title="Threshold what-if"),
    st.Page("pages/review.py", title="Weekly review"),
]
if actor.may(Action.DECIDE) or actor.may(Action.REASSIGN):
    pages.append(st.Page("pages/queue.py", title="Acceptance queue"))
if actor.may(Action.IMPORT):
    pages.append(st.Page("pages/imports.py", title="Import leads"))
if actor.role is Role.ADMIN:
    pages += [st.Page("pages/users.py", title="Users"), st.Page("pages/audit.py", title="Audit log")]
page = st.navigation(pages)
whatif_widgets.keep_state()
components.link_notices()
page.run()
