"""The weekly review page's widgets: the week picker, the headline (live, or as the meeting saw it when the week was
closed), the week's tables and charts, the action items, the meeting notes, closing the week and the report
downloads."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import streamlit as st

from dashboard.auth import Action
from dashboard.charts import review_charts
from dashboard.data import review_data as rd
from dashboard.data import users_data
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


def week_snapshot(url: str, week: IsoWeek) -> rd.Snapshot | None:
    """The closed week's snapshot, or None (open, or the database cannot be read: said, and live figures shown)."""
    try:
        return rd.week_snapshot(url, week)
    except DatabaseUnavailable as exc:
        st.error(f"{exc} The figures shown are live.", icon=":material/cloud_off:")
        return None


def snapshot_status(snapshot: rd.Snapshot | None, live: rd.Shown, *, sla_hours: float) -> None:
    """Whether the figures on top are live or the closed week's snapshot; for a closed week, what moved since."""
    if snapshot is None:
        st.caption(":material/update: Live figures: this week's review is open.")
        return
    st.info(
        f"{snapshot.as_of(plain)}. The headline and top movers are the figures the meeting saw; the charts and "
        "tables under them are live.",
        icon=":material/lock:",
    )
    since = rd.since_closed(snapshot, live, sla_hours=sla_hours)
    if since is None:
        st.caption("The week's live figures are still the ones the meeting saw.")
        return
    st.warning(since, icon=":material/difference:")
    with st.expander("What changed since, figure by figure"):
        _table(rd.moved_table(snapshot.shown, live), empty="", key="review_since")


def headline(shown: rd.Shown) -> None:
    """One metric per headline figure with its change on the week before; the 4-week average beneath."""
    for note in shown.notes:
        st.caption(f":material/help: {note}")
    figures = rd.headline_figures(shown.headline)
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


def movers(shown: rd.Shown) -> None:
    """The campaigns and channels whose change stands out from noise, clearest first; the rest folded away."""
    st.caption(
        "The campaigns and channels whose acceptance or MQL volume changed against the week before by more than chance "
        "alone could at their sample sizes, the clearest first. Acceptance: Newcomb's 95% interval for the difference "
        "of two rates excludes 0; volume: the change exceeds 1.96 standard deviations of two Poisson counts."
    )
    titles = [title for title, *_ in rd.MOVER_TABS]
    for tab, (title, by, _) in zip(st.tabs(titles), rd.MOVER_TABS, strict=True):
        top, noise = shown.movers.get(title, (pl.DataFrame(), pl.DataFrame()))
        key = f"review_movers_{by.removesuffix('_label')}"
        with tab:
            _table(top, empty="No change stands out from noise this week.", key=key)
            if noise.height:
                with st.expander(f"{noise.height:,} changes within noise"):
                    _table(noise, empty="", key=f"{key}_noise")


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
        people = users_data.owner_names(url)
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
        owner = owner_col.selectbox(
            "Owner",
            options=people,
            index=None,
            key="review_item_owner",
            placeholder="Pick a person or type a name",
            accept_new_options=True,
            help="The active users and reps; a name not on the list can be typed in.",
        )
        due = due_col.date_input("Due", value=today + timedelta(days=7), key="review_item_due", format="YYYY-MM-DD")
        if st.form_submit_button("Add action item", icon=":material/add_task:"):
            _refusable(
                lambda: rd.add_action_item(
                    url=url,
                    title=title,
                    owner=owner or "",
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
    with st.expander("Edit the notes", expanded=not (note and note["text"])):
        with st.form("review_notes", border=False):
            text = st.text_area(f"Notes for {week} (plain text)", key=NOTE_KEY, height=180)
            author = signin.author_field("Your name", key="review_note_author", max_chars=OWNER_CHARS)
            if st.form_submit_button("Save notes", icon=":material/save:"):
                _refusable(
                    lambda: rd.save_meeting_note(
                        url=url, week=week, text=text, author=author, now=datetime.now(), actor=signin.acting()
                    ),
                    f"Saved the notes of {week}.",
                )
    return note


def close_review(url: str, review: rd.Review, snapshot: rd.Snapshot | None, live: rd.Shown) -> None:
    """Close the week's review, keeping the figures on top as they read now, with who closed it and when; or reopen a
    closed one. Only for those who may edit the review."""
    week, actor, now = review.week, signin.acting(), datetime.now()
    may = actor.may(Action.REVIEW)
    if snapshot is not None:
        st.caption(
            f"{snapshot.as_of(plain)}. Reopening it drops the kept figures from the page (the audit log keeps them) "
            "and shows live figures again."
        )
        if may and st.button("Reopen this week's review", key="review_reopen", icon=":material/lock_open:"):
            _refusable(
                lambda: rd.reopen_week(url=url, actor=actor, week=week, now=now), f"Reopened the review of {week}."
            )
        return
    if not may:
        st.caption("Closing the review needs the right to edit the weekly review.")
        return
    if now < week.end:
        st.caption(f"{week} is not over yet: its review can be closed from {week.end:%A %-d %b %Y}.")
        return
    with st.form("review_close", border=True):
        st.markdown(
            f"**Close the review of {week}**: the headline and top movers are kept as they read now, with who "
            "closed it and when; the page then shows what changes in them after."
        )
        closed_by = signin.author_field("Closed by", key="review_close_by", max_chars=OWNER_CHARS)
        if st.form_submit_button("Close this week's review", icon=":material/lock:"):
            _refusable(
                lambda: rd.close_week(
                    url=url,
                    actor=actor,
                    week=week,
                    shown=live,
                    sla_hours=review.sla_hours,
                    closed_by=closed_by,
                    now=datetime.now(),
                ),
                f"Closed the review of {week}: its figures are kept as they read now.",
            )


def report_downloads(url: str, review: rd.Review, today: date, snapshot: rd.Snapshot | None = None) -> None:
    """The week as a file to mail: HTML always, PDF when Chromium is installed to print it."""

    def make(pdf: bool) -> bytes:
        return report.render(
            review,
            actions=rd.week_action_items(url, review.week, today),
            note=rd.meeting_note(url, review.week),
            generated_at=datetime.now(),
            pdf=pdf,
            snapshot=snapshot,
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
