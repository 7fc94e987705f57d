"""The table columns several tables show, declared once: each column's title and format wherever it appears."""

from __future__ import annotations

import streamlit as st

COLUMNS = {
    "external_id": st.column_config.TextColumn("Lead"),
    "campaign": st.column_config.TextColumn("Campaign"),
    "channel_label": st.column_config.TextColumn("Channel"),
    "owner": st.column_config.TextColumn("Owner"),
    "projected_mqls": st.column_config.NumberColumn("Projected MQLs", format="localized"),
    "lost_wins": st.column_config.NumberColumn("Wins lost", format="localized"),
    "estimated_share": st.column_config.NumberColumn("Estimated share", format="percent"),
}


def columns(*names: str) -> dict:
    """The shared configs of the named columns, in that order, to unpack into a table's column_config."""
    return {name: COLUMNS[name] for name in names}
