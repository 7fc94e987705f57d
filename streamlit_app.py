"""The frame: page config, navigation, shared sidebar filters, session defaults."""

from datetime import date

import streamlit as st

from dashboard import components, data, whatif_widgets
from dashboard.config import load_settings
from dashboard.db import DatabaseUnavailable

st.set_page_config(page_title="Handoff", layout="wide")
components.leave_legacy_multipage_mode()
settings = load_settings()
st.session_state.setdefault("settings", settings)

try:
    components.prepare_database(settings)
    options, channel_labels, campaign_labels = data.filter_options(settings.database_url)
except DatabaseUnavailable as exc:
    st.error(str(exc), icon=":material/cloud_off:")
    st.stop()

st.session_state["filters"] = components.filter_bar(options, channel_labels, campaign_labels, date.today())
page = st.navigation(
    [
        st.Page("pages/overview.py", title="Funnel overview", default=True),
        st.Page("pages/acceptance.py", title="Sales acceptance"),
        st.Page("pages/rejections.py", title="Rejection feedback"),
        st.Page("pages/sla.py", title="SLA and hand-off speed"),
        st.Page("pages/whatif.py", title="Threshold what-if"),
        st.Page("pages/queue.py", title="Acceptance queue"),
        st.Page("pages/imports.py", title="Import leads"),
    ]
)
whatif_widgets.keep_state()
components.link_notices()
page.run()
