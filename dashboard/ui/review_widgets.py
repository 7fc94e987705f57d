"""The weekly review page's widgets: the week picker, the headline, the week's tables and charts, the action items,
the meeting notes and the report downloads."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import streamlit as st

from dashboard.charts import review_charts
from dashboard.data import review_data as rd
from dashboard.refusals import Refused
from dashboard.report import report
from dashboard.store.db import DatabaseUnavailable
from dashboard.store.review import OWNER_CHARS, TITLE_CHARS
from dashboard.ui import signin
from dashboard.ui.text import plain, plain_table
from queries.review import IsoWeek

WEEK_KEY = "review_week"
WEEK_PARAM = "week"  # ?week=2026-W07: a link (the mailed report's, the Slack post's) opens that week
JUMP_KEY = "review_jump"
JUMP_ERROR_KEY = "review_jump_error"
LINK_ERROR_KEY = "review_link_error"
NOTE_KEY, NOTE_FOR_KEY = "review_note_text", "review_note_for"


def week_picker(choices: list[IsoWeek], default: IsoWeek, today: date) -> IsoWeek:
    """The ISO week under review: the last complete week with data unless another is picked or typed."""
    names = [str(w) for w in choices]
    if WEEK_KEY not in st.session_state and (linked := st.query_params.get(WEEK_PARAM)):
        linked = linked.strip().upper()
        if linked in names:
            st.session_state[WEEK_KEY] = linked
        else:
            st.session_state[LINK_ERROR_KEY] = (
                f"The week “{linked}” in the link is not a week of this data (YYYY-Www, from {names[-1]} to "
                f"{names[0]}): the last complete week is shown."
            )
    if st.session_state.get(WEEK_KEY) not in names:
        st.session_state[WEEK_KEY] = str(default) if str(default) in names else names[0]

    def jump() -> None:
        typed = (st.session_state.get(JUMP_KEY) or "").strip().upper()
        st.session_state[JUMP_ERROR_KEY] = None
        if typed in names:
            st.session_state[WEEK_KEY] = typed
        elif typed:
            st.session_state[JUMP_ERROR_KEY] = (
                f"{plain(typed)} is not a week of this data (YYYY-Www, from {names[-1]} to {names[0]})."
            )

    left, right = st.columns([3, 1])
    picked = left.selectbox(
        "Week under review",
        options=names,
        key=WEEK_KEY,
        format_func=lambda name: rd.week_label(IsoWeek.parse(name), today),
        help="ISO weeks, Monday to Sunday, newest first. The figures compare it with the week before and the four "
        "weeks before.",
        on_change=lambda: st.session_state.pop(LINK_ERROR_KEY, None),
    )
    right.text_input("Jump to week", key=JUMP_KEY, placeholder="YYYY-Www", on_change=jump)
    for error in (LINK_ERROR_KEY, JUMP_ERROR_KEY):
        if st.session_state.get(error):
            st.warning(st.session_state[error], icon=":material/event_busy:")
    if st.query_params.get(WEEK_PARAM) != picked:  # the address bar reproduces the week on screen
        st.query_params[WEEK_PARAM] = picked
    return IsoWeek.parse(picked)


def headline(review: rd.Review) -> None:
    """One metric per headline figure with its change on the week before; the 4-week average beneath."""
    for note in review.notes:
        st.caption(f":material/help: {note}")
    figures = rd.headline_figures(review.headline)
    per_row = 3  # six metrics side by side would cut their labels short
    for start in range(0, len(figures), per_row):
        for column, f in zip(st.columns(per_row), figures[start : start + per_row], strict=False):
            column.metric(
                f.label,
                f.value,
                delta=f"{f.change} on the week before" if f.change else None,
                delta_color="off" if rd.is_no_change(f.change) else "inverse" if f.lower_is_better else "normal",
                border=True,
                help=f"Week before: {f.previous}. Average of the four weeks before: {f.average}.",
            )
            column.caption(f"Week before {f.previous} · 4-week average {f.average}")


def _table(frame: pl.DataFrame, *, empty: str, key: str) -> None:
    """A table of text (every value plain text, long cells wrapped), or a line saying why there is none."""
    if frame.is_empty():
        st.caption(empty)
        return
    with st.container(key=key):
        st.table(plain_table(frame))  # st.table reads cells as markdown: names and titles come from people and files


def movers(review: rd.Review) -> None:
    """The campaigns and channels whose change stands out from noise, clearest first; the rest folded away."""
    st.caption(
        "The campaigns and channels whose acceptance or MQL volume changed against the week before by more than chance "
        "alone could at their sample sizes, the clearest first. Acceptance: Newcomb's 95% interval for the difference "
        "of two rates excludes 0; volume: the change exceeds 1.96 standard deviations of two Poisson counts."
    )
    campaigns, channels = st.tabs(["Campaigns", "Channels"])
    for tab, moved, noise, by, header, key in (
        (campaigns, review.campaign_movers, review.campaign_noise, "campaign", "Campaign", "review_movers_campaign"),
        (channels, review.channel_movers, review.channel_noise, "channel_label", "Channel", "review_movers_channel"),
    ):
        with tab:
            _table(
                rd.movers_table(moved, by=by, header=header),
                empty="No change stands out from noise this week.",
                key=key,
            )
            if noise.height:
                with st.expander(f"{noise.height:,} changes within noise"):
                    _table(rd.movers_table(noise, by=by, header=header), empty="", key=f"{key}_noise")


def rejections(review: rd.Review) -> None:
    _table(
        rd.display(review.rejections, rd.REJECTION_COLUMNS),
        empty="No rejection reason is new or growing this week.",
        key="review_rejections",
    )


def breaches_and_load(review: rd.Review) -> None:
    """SLA breaches by rep beside the tiers' load against capacity."""
    left, right = st.columns(2)
    left.plotly_chart(
        review_charts.breaches_chart(review.breaches, sla_hours=review.sla_hours, title="SLA breaches by rep"),
        key="review_breaches",
    )
    right.plotly_chart(
        review_charts.load_chart(rd.tier_labels(review.load), title="Sales tiers' load against capacity"),
        key="review_load",
    )
    with st.expander("Every rep's MQLs and SLA this week"):
        _table(rd.display(review.breaches, rd.BREACH_COLUMNS), empty="No MQLs this week.", key="review_breach_table")


def decision_log(review: rd.Review) -> None:
    st.caption(
        "MQLs per week and acceptance in the (up to) four weeks after each scoring-model change against the four "
        "weeks before. The what-if column is **estimated**: the new rule replayed on the weeks before it took effect. "
        "The forecast column is the page's track record: what it would have forecast for the leads the new rule "
        "handed to sales, from what was known when it went live, against what they did."
    )
    _table(
        rd.decisions_table(review.decisions) if review.decisions.height else pl.DataFrame(),
        empty="No scoring-model change so far.",
        key="review_decisions",
    )


def _refusable(action, success: str) -> None:
    """Run a write; a refusal or an unreachable database is shown as a sentence, a success (markdown: names in it
    plain() already) as a toast and a rerun."""
    try:
        action()
    except (Refused, DatabaseUnavailable) as exc:
        st.error(plain(exc), icon=":material/error:")
    else:
        st.toast(success, icon=":material/check:")
        st.rerun()


def action_items(url: str, week: IsoWeek, today: date) -> pl.DataFrame:
    """The week's action items (carried over until closed, overdue ones marked), a form to add one, and closing."""
    try:
        items = rd.week_action_items(url, week, today)
    except DatabaseUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        return pl.DataFrame()
    overdue = int(items["overdue"].sum()) if items.height else 0
    still_open = items.filter(pl.col("status_in_week") == "open")
    st.caption(
        f"{still_open.height:,} open ({overdue:,} overdue at the end of the week), "
        f"{items.height - still_open.height:,} closed this week. Items stay on every week's list until closed."
    )
    _table(rd.actions_table(items) if items.height else pl.DataFrame(), empty="No action items.", key="review_items")
    add, close = st.columns(2)
    with add.form("review_add_item", clear_on_submit=True, border=True):
        st.markdown(f"**New action item** (agreed in the review of {week})")
        title = st.text_input("Action", key="review_item_title", max_chars=TITLE_CHARS)
        owner_col, due_col = st.columns(2)
        owner = owner_col.text_input("Owner", key="review_item_owner", max_chars=OWNER_CHARS)
        due = due_col.date_input("Due", value=today + timedelta(days=7), key="review_item_due", format="YYYY-MM-DD")
        if st.form_submit_button("Add action item", icon=":material/add_task:"):
            _refusable(
                lambda: rd.add_action_item(
                    url=url,
                    title=title,
                    owner=owner,
                    due_date=due,
                    week=week,
                    now=datetime.now(),
                    actor=signin.acting(),
                ),
                f"Added “{plain(title.strip())}”.",
            )
    if still_open.height:
        labels = {row["id"]: f"{row['title']} ({row['owner']})" for row in still_open.iter_rows(named=True)}
        with close.form("review_close_item", border=True):
            st.markdown("**Close an action item**")
            chosen = st.selectbox("Item", options=list(labels), format_func=labels.get, key="review_close_choice")
            if st.form_submit_button("Mark as done", icon=":material/task_alt:"):
                _refusable(
                    lambda: rd.close_action_item(url=url, item_id=chosen, now=datetime.now(), actor=signin.acting()),
                    f"Closed “{plain(labels[chosen])}”: it shows as done in the review of {IsoWeek.of(today)}.",
                )
    return items


def meeting_notes(url: str, week: IsoWeek) -> dict | None:
    """The week's notes shown as plain text (never rendered as markup), and an editor to save them."""
    try:
        note = rd.meeting_note(url, week)
    except DatabaseUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
        return None
    if note and note["text"]:
        st.text(note["text"])
        st.caption(f"Saved by {plain(note['author'])} on {note['updated_at']:%d %b %Y at %H:%M}.")
    else:
        st.caption(f"No notes saved for {week} yet.")
    if st.session_state.get(NOTE_FOR_KEY) != str(week):  # another week picked: its saved text in the editor
        st.session_state[NOTE_FOR_KEY] = str(week)
        st.session_state[NOTE_KEY] = note["text"] if note else ""
    actor = signin.acting()
    if actor is not None and actor.email != "local":  # signed in: the name is known
        st.session_state.setdefault("review_note_author", actor.name)
    with st.expander("Edit the notes", expanded=not (note and note["text"])):
        with st.form("review_notes", border=False):
            text = st.text_area(f"Notes for {week} (plain text)", key=NOTE_KEY, height=180)
            author = st.text_input("Your name", key="review_note_author", max_chars=OWNER_CHARS)
            if st.form_submit_button("Save notes", icon=":material/save:"):
                _refusable(
                    lambda: rd.save_meeting_note(
                        url=url, week=week, text=text, author=author, now=datetime.now(), actor=signin.acting()
                    ),
                    f"Saved the notes of {week}.",
                )
    return note


def report_downloads(url: str, review: rd.Review, today: date) -> None:
    """The week as a file to mail: HTML always, PDF when Chromium is installed to print it."""

    def make(pdf: bool) -> bytes:
        return report.render(
            review,
            actions=rd.week_action_items(url, review.week, today),
            note=rd.meeting_note(url, review.week),
            generated_at=datetime.now(),
            pdf=pdf,
        )

    html_col, pdf_col, _ = st.columns([1, 1, 2])
    html_col.download_button(
        "Download the report (HTML)",
        data=lambda: make(pdf=False),
        file_name=report.report_filename(review.week, "html"),
        mime="text/html",
        key="review_report_html",
        on_click="ignore",
        icon=":material/download:",
        width="content",
        wrap=True,  # in a column a label is otherwise cut short
    )
    if report.chromium_path() is None:
        pdf_col.caption("No PDF: it is printed by Chromium, which is not installed on this server.")
        return
    pdf_col.download_button(
        "Download the report (PDF)",
        data=lambda: make(pdf=True),
        file_name=report.report_filename(review.week, "pdf"),
        mime="application/pdf",
        key="review_report_pdf",
        on_click="ignore",
        icon=":material/picture_as_pdf:",
        width="content",
        wrap=True,
    )
